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
