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
					if strings.Contains(e.Message, "Did you mean") {
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
	for _, want := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'", "connect-src 'self'", "'sha256-", "https://cdn.jsdelivr.net/npm/graphiql@"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
	for _, bad := range []string{"'unsafe-eval'", "script-src *", "script-src 'unsafe-inline'"} {
		if strings.Contains(csp, bad) {
			t.Errorf("Content-Security-Policy %q allows %q", csp, bad)
		}
	}
	// Every script the page loads is one the policy names.
	for _, m := range scriptSrc.FindAllStringSubmatch(rec.Body.String(), -1) {
		if !strings.Contains(csp, m[1]) {
			t.Errorf("the page loads %s, which the policy does not allow", m[1])
		}
	}
	if n := len(inlineScript.FindAllString(rec.Body.String(), -1)); n == 0 || strings.Count(csp, "'sha256-") != n {
		t.Errorf("%d inline scripts, %d hashes in the policy", n, strings.Count(csp, "'sha256-"))
	}
}
