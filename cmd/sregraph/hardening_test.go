package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
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

// TestTrickledBodyIsCutOff: a client that sends its body a byte at a
// time (slow loris) is cut off at --http-read-timeout instead of holding
// the connection forever, and told why with 408 and a JSON body, on the
// ingest routes and on GraphQL.
func TestTrickledBodyIsCutOff(t *testing.T) {
	c := startServer(t, t.TempDir(), "--http-read-timeout", "1s", "--http-write-timeout", "2s")
	for _, route := range []struct{ path, ctype string }{
		{"/v1/events", "application/json"},
		{"/v1/traces", "application/json"},
		{"/graphql", "application/json"},
	} {
		t.Run(route.path, func(t *testing.T) {
			conn, err := net.Dial("tcp", strings.TrimPrefix(c.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: %s\r\nContent-Length: 100000\r\n\r\n{", route.path, route.ctype); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			type answer struct {
				took time.Duration
				raw  []byte
			}
			cut := make(chan answer, 1)
			go func() {
				// The server is done with us once it answers and closes.
				raw, _ := io.ReadAll(conn)
				cut <- answer{time.Since(start), raw}
			}()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case a := <-cut:
					if a.took > 5*time.Second {
						t.Fatalf("cut off after %s; want about the 1s read timeout", a.took)
					}
					head, body, _ := strings.Cut(string(a.raw), "\r\n\r\n")
					if !strings.HasPrefix(head, "HTTP/1.1 408") || !json.Valid([]byte(body)) || !strings.Contains(body, "--http-read-timeout") {
						t.Fatalf("answer %q; want 408 with a JSON body naming --http-read-timeout", a.raw)
					}
					return
				case <-tick.C:
					if time.Since(start) > 10*time.Second {
						t.Fatal("a trickled body held the connection for 10s with --http-read-timeout 1s")
					}
					// Writes may fail once the server has cut us off; the
					// reader above notices.
					_, _ = conn.Write([]byte(" "))
				}
			}
		})
	}
}

// TestWebsocketOutlivesWriteTimeout: a GraphQL subscription's websocket
// is exempt from the HTTP read and write timeouts.
func TestWebsocketOutlivesWriteTimeout(t *testing.T) {
	c := startServer(t, t.TempDir(), "--http-read-timeout", "500ms", "--http-write-timeout", "1s", "--http-idle-timeout", "1s")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(c.url, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	send := func(msg string) {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(typ string) {
		t.Helper()
		for {
			_, raw, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", typ, err)
			}
			var m struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatalf("%s: %v", raw, err)
			}
			if m.Type == typ {
				return
			}
		}
	}
	send(`{"type":"connection_init"}`)
	expect("connection_ack")
	send(`{"id":"1","type":"subscribe","payload":{"query":"subscription { changes { id } }"}}`)
	time.Sleep(2500 * time.Millisecond)
	send(`{"type":"ping"}`)
	expect("pong")
}

// TestIdleKeepAliveIsClosed: a keep-alive connection that sends nothing
// more is closed at --http-idle-timeout.
func TestIdleKeepAliveIsClosed(t *testing.T) {
	c := startServer(t, t.TempDir(), "--http-read-timeout", "5s", "--http-write-timeout", "5s", "--http-idle-timeout", "1s")
	conn, err := net.Dial("tcp", strings.TrimPrefix(c.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := conn.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(conn) // the answer, then EOF when the server closes
	if err != nil {
		t.Fatalf("after %s: %v (the idle connection was not closed)", time.Since(start), err)
	}
	if !strings.HasPrefix(string(raw), "HTTP/1.1 200") {
		t.Fatalf("answer %q", raw)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("idle connection closed after %s; want about 1s", d)
	}
}

// TestGraphQLTimeoutFlag: --graphql-timeout reaches the GraphQL handler: a
// query that cannot finish within it is answered with code TIMEOUT and a
// message naming the flag.
func TestGraphQLTimeoutFlag(t *testing.T) {
	c := startServer(t, t.TempDir(), "--graphql-timeout", "1ns")
	body := `{"query":"{ changesNear(service: \"checkout\", at: \"2026-11-21T11:40:00Z\") { changes { rank } } }"}`
	resp, err := http.Post(c.url+"/graphql", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out.Errors) == 0 ||
		out.Errors[0].Extensions["code"] != "TIMEOUT" || !strings.Contains(out.Errors[0].Message, "--graphql-timeout") {
		t.Fatalf("answer %s (%v); want an error with code TIMEOUT naming --graphql-timeout", raw, err)
	}
}

// TestTracesOlderThanRetentionRejected: --retention bounds /v1/traces too.
// Spans that started before it are answered with an OTLP partial success
// and never stored (the retention job would have deleted them); this
// hour's spans in the same request are kept.
func TestTracesOlderThanRetentionRejected(t *testing.T) {
	c := startServer(t, t.TempDir(), "--retention", "720h")
	span := func(trace, id, parent string, kind int, at time.Time) string {
		p := ""
		if parent != "" {
			p = `"parentSpanId":"` + parent + `",`
		}
		return fmt.Sprintf(`{"traceId":"%s","spanId":"%s",%s"name":"GET /stock","kind":%d,"startTimeUnixNano":"%d","endTimeUnixNano":"%d"}`,
			trace, id, p, kind, at.UnixNano(), at.Add(20*time.Millisecond).UnixNano())
	}
	old, now := time.Date(2022, 6, 23, 9, 30, 0, 0, time.UTC), time.Now().Add(-time.Minute)
	body := `{"resourceSpans":[` +
		`{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}}]},"scopeSpans":[{"spans":[` +
		span("3f2e1d0c9b8a79685746352413021f0e", "b1b2c3d4e5f60718", "", 3, old) + "," +
		span("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "d1b2c3d4e5f60718", "", 3, now) + `]}]},` +
		`{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"inventory"}}]},"scopeSpans":[{"spans":[` +
		span("3f2e1d0c9b8a79685746352413021f0e", "e1b2c3d4e5f60718", "b1b2c3d4e5f60718", 2, old) + "," +
		span("0a1b2c3d4e5f60718293a4b5c6d7e8f9", "f1b2c3d4e5f60718", "d1b2c3d4e5f60718", 2, now) + `]}]}]}`
	resp, err := http.Post(c.url+"/v1/traces", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		PartialSuccess struct {
			RejectedSpans string `json:"rejectedSpans"`
			ErrorMessage  string `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	if err := json.Unmarshal(raw, &r); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s: %v", resp.StatusCode, raw, err)
	}
	if r.PartialSuccess.RejectedSpans != "2" || !strings.Contains(r.PartialSuccess.ErrorMessage, "older than the retention") {
		t.Errorf("partial success %+v; want the 2 spans of 2022 rejected for the retention", r.PartialSuccess)
	}
	var svc struct {
		Service struct {
			Dependencies []struct{ Service struct{ Name string } }
		}
	}
	c.graphql(t, `{ service(name: "checkout") { dependencies { service { name } } } }`, nil, &svc)
	if d := svc.Service.Dependencies; len(d) != 1 || d[0].Service.Name != "inventory" {
		t.Errorf("checkout's dependencies %+v; want inventory, from this hour's spans", d)
	}
}
