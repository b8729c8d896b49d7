package resolvers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
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

// TestNoIntrospectionNoSuggestions: with introspection off, validation
// errors do not name the schema's fields, arguments, types or enum
// values through "Did you mean …?" hints; with it on they still help.
func TestNoIntrospectionNoSuggestions(t *testing.T) {
	s := mustDemoStore(t)
	queries := []string{
		`{ servics { totalCount } }`,
		`{ services(frist: 1) { totalCount } }`,
		`{ changesNear(service: "checkout", at: "2026-01-01T00:00:00Z", direction: BOTHH) { at } }`,
		`query($d: Directon) { changesNear(service: "checkout", at: "2026-01-01T00:00:00Z", direction: $d) { at } }`,
		`{ services { totalCount nodes } }`,
	}
	for _, tc := range []struct {
		name    string
		opts    Options
		suggest bool
	}{{"introspection on", Options{}, true}, {"introspection off", Options{NoIntrospection: true}, false}} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(s, tc.opts)
			suggested := 0
			for _, q := range queries {
				_, errs := post(t, c, q)
				if len(errs) == 0 {
					t.Fatalf("%s: no error", q)
				}
				for _, e := range errs {
					if strings.Contains(strings.ToLower(e.Message), "did you mean") {
						suggested++
						if !tc.suggest {
							t.Errorf("%s: %q leaks the schema", q, e.Message)
						}
					}
				}
			}
			if tc.suggest && suggested < len(queries)-1 {
				t.Errorf("only %d of %d queries got a hint with introspection on", suggested, len(queries))
			}
		})
	}
}

// TestIDESecurityHeaders: the GraphiQL page carries the same security
// headers as the other pages, with a policy that allows exactly the
// scripts it loads and its one inline script.
func TestIDESecurityHeaders(t *testing.T) {
	h := New(Options{Store: mustDemoStore(t)})
	req := httptest.NewRequest(http.MethodGet, "/graphql", nil)
	req.Header.Set("Accept", "text/html")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(strings.ToLower(rec.Body.String()), "graphiql") {
		t.Fatalf("IDE: %d %.200s", rec.Code, rec.Body)
	}
	for k, want := range map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	} {
		if got := rec.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	csp := rec.Header().Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "connect-src 'self'", "'sha256-", "script-src 'self' "} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"'unsafe-eval'", "script-src *", "script-src 'unsafe-inline'", "http:", "https:", "cdn"} {
		if strings.Contains(csp, bad) {
			t.Errorf("Content-Security-Policy %q allows %q", csp, bad)
		}
	}
	if n := len(inlineScript.FindAllString(rec.Body.String(), -1)); n == 0 || strings.Count(csp, "'sha256-") != n {
		t.Errorf("%d inline scripts, %d hashes in the policy", n, strings.Count(csp, "'sha256-"))
	}
	// Every file the page loads comes from this server, matches its
	// integrity hash and carries the same headers.
	loads := ideLoads.FindAllStringSubmatch(rec.Body.String(), -1)
	if len(loads) != 4 {
		t.Fatalf("the page loads %d files, want GraphiQL's script and stylesheet, React and ReactDOM", len(loads))
	}
	for _, m := range loads {
		src, integrity := html.UnescapeString(m[1]), html.UnescapeString(m[2])
		if !strings.HasPrefix(src, IDEAssetsPath) {
			t.Errorf("the page loads %s from elsewhere", src)
			continue
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, src, nil))
		sum := sha256.Sum256(rec.Body.Bytes())
		if rec.Code != http.StatusOK || "sha256-"+base64.StdEncoding.EncodeToString(sum[:]) != integrity {
			t.Errorf("GET %s: %d, %d bytes not matching %s", src, rec.Code, rec.Body.Len(), integrity)
		}
		wantType := "text/javascript; charset=utf-8"
		if strings.HasSuffix(src, ".css") {
			wantType = "text/css; charset=utf-8"
		}
		if rec.Header().Get("Content-Type") != wantType || rec.Header().Get("X-Content-Type-Options") != "nosniff" || rec.Header().Get("Content-Security-Policy") != csp {
			t.Errorf("GET %s: headers %v", src, rec.Header())
		}
	}
	for _, path := range []string{IDEAssetsPath + "graphiql@4.1.2/LICENSE", IDEAssetsPath + "../ide.go", IDEAssetsPath + "nope.js"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, rec.Code)
		}
	}
}

// ideLoads finds the files the IDE page loads and their integrity hashes.
var ideLoads = regexp.MustCompile(`(?s)(?:src|href)="([^"]+)"\s+integrity="([^"]+)"`)

// wsConn is a graphql-transport-ws client for tests that need several
// subscriptions on one connection.
type wsConn struct {
	t  *testing.T
	ws *websocket.Conn
}

func dialWS(t *testing.T, url string) *wsConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http"), &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	c := &wsConn{t: t, ws: ws}
	c.send(`{"type":"connection_init"}`)
	if typ, _ := c.next(); typ != "connection_ack" {
		t.Fatalf("got %s, want connection_ack", typ)
	}
	return c
}

func (c *wsConn) send(msg string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

// next returns the type and raw payload of the next message.
func (c *wsConn) next() (string, string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, raw, err := c.ws.Read(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	var m struct {
		Type    string          `json:"type"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		c.t.Fatalf("%s: %v", raw, err)
	}
	return m.Type, string(m.Payload)
}

// refused reports whether a message answers a subscribe with errors:
// an error message, or a next whose payload holds errors.
func refused(typ, payload string) bool {
	return typ == "error" || typ == "next" && strings.Contains(payload, `"errors"`)
}

func (c *wsConn) subscribe(id int) {
	c.send(fmt.Sprintf(`{"id":"%d","type":"subscribe","payload":{"query":"subscription { changes { id } }"}}`, id))
}

// TestSubscriptionCaps: a websocket connection may hold only so many
// subscriptions, and the server only so many in all; a refusal says
// which cap was hit, and closing a connection frees its share.
func TestSubscriptionCaps(t *testing.T) {
	feed := NewFeed()
	srv := httptest.NewServer(New(Options{Store: mustDemoStore(t), Feed: feed, MaxSubscriptionsPerConnection: 3, MaxSubscriptions: 5}))
	defer srv.Close()

	a := dialWS(t, srv.URL)
	for i := 1; i <= 3; i++ {
		a.subscribe(i)
	}
	waitFor(t, func() bool { return feed.Subscribers() == 3 })
	a.subscribe(4)
	if typ, payload := a.next(); !refused(typ, payload) || !strings.Contains(payload, "limit per connection") || !strings.Contains(payload, "SUBSCRIPTION_LIMIT") {
		t.Fatalf("4th subscription on one connection: %s %s; want an error naming the per-connection limit", typ, payload)
	}

	b := dialWS(t, srv.URL)
	b.subscribe(1)
	b.subscribe(2)
	waitFor(t, func() bool { return feed.Subscribers() == 5 })
	b.subscribe(3)
	if typ, payload := b.next(); !refused(typ, payload) || !strings.Contains(payload, "server already has 5") {
		t.Fatalf("6th subscription on the server: %s %s; want an error naming the server's limit", typ, payload)
	}

	// Closing a frees its three.
	a.ws.CloseNow()
	waitFor(t, func() bool { return feed.Subscribers() == 2 })
	b.subscribe(4)
	waitFor(t, func() bool { return feed.Subscribers() == 3 })
}
