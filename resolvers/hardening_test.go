package resolvers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestOversizedBodyIsRefused: a GraphQL body over the limit gets 413 and
// a JSON error saying why, whether its length is declared or not; a
// normal query still passes.
func TestOversizedBodyIsRefused(t *testing.T) {
	srv := httptest.NewServer(New(Options{Store: mustDemoStore(t), MaxBodyBytes: 64 << 10}))
	defer srv.Close()
	big := `{"query":"{ services { totalCount } }","variables":{"pad":"` + strings.Repeat("x", 128<<10) + `"}}`
	for _, tc := range []struct {
		name    string
		body    io.Reader
		chunked bool
	}{
		{"content-length", strings.NewReader(big), false},
		{"chunked", io.MultiReader(strings.NewReader(big)), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, srv.URL, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.chunked {
				req.ContentLength = -1
			}
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out struct {
				Errors []struct {
					Message    string         `json:"message"`
					Extensions map[string]any `json:"extensions"`
				} `json:"errors"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
				t.Fatalf("status %d, body not JSON: %v", resp.StatusCode, err)
			}
			if resp.StatusCode != http.StatusRequestEntityTooLarge || len(out.Errors) != 1 || !strings.Contains(out.Errors[0].Message, "limit") {
				t.Fatalf("status %d, %+v; want 413 saying the limit", resp.StatusCode, out)
			}
		})
	}
	resp, err := http.Post(srv.URL, "application/json", bytes.NewReader([]byte(`{"query":"{ services { totalCount } }"}`)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), "totalCount") {
		t.Fatalf("a small query: %d %s", resp.StatusCode, raw)
	}
}
