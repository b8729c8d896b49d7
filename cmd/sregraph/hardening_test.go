package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

// TestTracesHonourMaxBody: --max-body bounds /v1/traces like every other
// ingest route, and a body over it gets 413 with a JSON reason.
func TestTracesHonourMaxBody(t *testing.T) {
	c := startServer(t, t.TempDir(), "--max-body", "4KiB")
	body := append([]byte(`{"resourceSpans":[],"pad":"`), bytes.Repeat([]byte("x"), 8<<10)...)
	body = append(body, `"}`...)
	resp, err := http.Post(c.url+"/v1/traces", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Message string `json:"message"`
	}
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatalf("body %q is not JSON: %v", raw, err)
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge || st.Message == "" {
		t.Fatalf("status %d, body %s; want 413 saying why", resp.StatusCode, raw)
	}
}
