package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestParseTokens(t *testing.T) {
	sum := sha256.Sum256([]byte("ingest-token-0123456789"))
	good := `
- name: grafana
  token: read-token-0123456789
  scopes: [read]
- name: ci
  sha256: ` + hex.EncodeToString(sum[:]) + `
  scopes: [ingest]
`
	tok, err := parseTokens([]byte(good), "tokens.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if g, ok := tok.lookup("read-token-0123456789"); !ok || g.name != "grafana" || !g.scopes[scopeRead] || g.scopes[scopeIngest] {
		t.Errorf("lookup by token: %+v %v", g, ok)
	}
	if g, ok := tok.lookup("ingest-token-0123456789"); !ok || g.name != "ci" {
		t.Errorf("lookup by sha256: %+v %v", g, ok)
	}
	if _, ok := tok.lookup("nope"); ok {
		t.Error("unknown token found")
	}
	for _, tt := range []struct{ yaml, want string }{
		{"name: x", "want a YAML list"},
		{"[]", "has no tokens"},
		{"- {name: a, token: short, scopes: [read]}", "shorter than 16"},
		{"- {name: a, token: long-enough-token-123, scopes: [write]}", `unknown scope "write"`},
		{"- {name: a, token: long-enough-token-123}", "at least one scope"},
		{"- {name: a, sha256: abc, scopes: [read]}", "64 hex digits"},
		{"- {name: a, scopes: [read]}", "needs a token"},
	} {
		if _, err := parseTokens([]byte(tt.yaml), "t.yaml"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.yaml, err, tt.want)
		}
	}
}

func TestAuthenticateScopes(t *testing.T) {
	tok, err := parseTokens([]byte(`
- {name: reader, token: read-token-0123456789, scopes: [read]}
- {name: writer, token: ingest-token-0123456789, scopes: [ingest]}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := authenticate(tok, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	tests := []struct {
		method, path, auth string
		want               int
	}{
		{"GET", "/healthz", "", http.StatusTeapot},
		{"GET", "/readyz", "", http.StatusTeapot},
		{"GET", "/", "", http.StatusUnauthorized},
		{"POST", "/graphql", "Bearer read-token-0123456789", http.StatusTeapot},
		{"POST", "/graphql", "Bearer ingest-token-0123456789", http.StatusForbidden},
		{"POST", "/graphql", "Bearer wrong-token-0123456789", http.StatusUnauthorized},
		// The scheme is case-insensitive (RFC 7235).
		{"POST", "/graphql", "bearer read-token-0123456789", http.StatusTeapot},
		{"POST", "/graphql", "BEARER  read-token-0123456789", http.StatusTeapot},
		{"POST", "/graphql", "Basic read-token-0123456789", http.StatusUnauthorized},
		{"POST", "/v1/events", "Bearer ingest-token-0123456789", http.StatusTeapot},
		{"POST", "/v1/events", "Bearer read-token-0123456789", http.StatusForbidden},
		{"POST", "/v1/webhooks/github?token=ingest-token-0123456789", "", http.StatusTeapot},
		{"GET", "/metrics", "", http.StatusUnauthorized},
		// The breach page's "this was the cause" button writes.
		{"POST", "/breaches/b1/confirm", "Bearer read-token-0123456789", http.StatusForbidden},
		{"POST", "/breaches/b1/confirm", "Bearer ingest-token-0123456789", http.StatusTeapot},
		{"GET", "/breaches/b1", "Bearer read-token-0123456789", http.StatusTeapot},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(tt.method, tt.path, nil)
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("%s %s (%q) = %d, want %d: %s", tt.method, tt.path, tt.auth, rec.Code, tt.want, rec.Body)
		}
		if rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden {
			// Refusals are JSON, like every other error answer.
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s %s (%q): Content-Type %q, want application/json", tt.method, tt.path, tt.auth, ct)
			}
			var body struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error == "" {
				t.Errorf("%s %s (%q): body %q is not {\"error\": \"...\"}: %v", tt.method, tt.path, tt.auth, rec.Body, err)
			}
			want := "lacks the" // the same message as before, now in JSON
			switch {
			case rec.Code == http.StatusUnauthorized && strings.HasPrefix(strings.ToLower(tt.auth), "bearer"):
				want = "unknown token"
			case rec.Code == http.StatusUnauthorized:
				want = "authentication required"
			}
			if !strings.Contains(body.Error, want) {
				t.Errorf("%s %s (%q): error %q, want it to contain %q", tt.method, tt.path, tt.auth, body.Error, want)
			}
		}
	}
	open := authenticate(nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	rec := httptest.NewRecorder()
	open.ServeHTTP(rec, httptest.NewRequest("POST", "/v1/events", nil))
	if rec.Code != http.StatusTeapot {
		t.Error("without tokens every request must pass")
	}
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:8080": true, "[::1]:80": true, "localhost:1": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.1:80": false, "bad": false,
	} {
		if got := isLoopback(addr); got != want {
			t.Errorf("isLoopback(%q) = %v", addr, got)
		}
	}
}
