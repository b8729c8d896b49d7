package main

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"

	"github.com/sregraph/sregraph/resolvers"

	"gopkg.in/yaml.v3"
)

// scope is what a token may do.
type scope string

const (
	scopeRead   scope = "read"
	scopeIngest scope = "ingest"
)

// tokenEntry is one line of the tokens file.
type tokenEntry struct {
	Name   string   `yaml:"name"`
	Token  string   `yaml:"token"`
	SHA256 string   `yaml:"sha256"`
	Scopes []string `yaml:"scopes"`
}

// tokens maps the SHA-256 of each token to its name and scopes. Only
// hashes are kept in memory.
type tokens struct {
	byHash map[[32]byte]tokenGrant
}

type tokenGrant struct {
	name   string
	scopes map[scope]bool
}

// loadTokens reads a YAML list of {name, token | sha256, scopes}.
func loadTokens(path string) (*tokens, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	return parseTokens(raw, path)
}

func parseTokens(raw []byte, path string) (*tokens, error) {
	var entries []tokenEntry
	if err := yaml.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("tokens file %s: want a YAML list of {name, token or sha256, scopes}: %w", path, err)
	}
	t := &tokens{byHash: map[[32]byte]tokenGrant{}}
	for i, e := range entries {
		where := fmt.Sprintf("tokens file %s, entry %d (%q)", path, i+1, e.Name)
		var h [32]byte
		switch {
		case e.Token != "" && e.SHA256 != "":
			return nil, fmt.Errorf("%s: give token or sha256, not both", where)
		case e.Token != "":
			if len(e.Token) < 16 {
				return nil, fmt.Errorf("%s: token is shorter than 16 characters; generate one with `openssl rand -hex 24`", where)
			}
			h = sha256.Sum256([]byte(e.Token))
		case e.SHA256 != "":
			b, err := hex.DecodeString(e.SHA256)
			if err != nil || len(b) != 32 {
				return nil, fmt.Errorf("%s: sha256 must be 64 hex digits (`printf %%s TOKEN | sha256sum`)", where)
			}
			copy(h[:], b)
		default:
			return nil, fmt.Errorf("%s: needs a token or its sha256", where)
		}
		g := tokenGrant{name: e.Name, scopes: map[scope]bool{}}
		for _, s := range e.Scopes {
			switch scope(s) {
			case scopeRead, scopeIngest:
				g.scopes[scope(s)] = true
			default:
				return nil, fmt.Errorf("%s: unknown scope %q: want read or ingest", where, s)
			}
		}
		if len(g.scopes) == 0 {
			return nil, fmt.Errorf("%s: needs at least one scope (read, ingest)", where)
		}
		t.byHash[h] = g
	}
	if len(t.byHash) == 0 {
		return nil, fmt.Errorf("tokens file %s has no tokens", path)
	}
	return t, nil
}

// lookup finds the grant for a presented token in constant time per entry.
func (t *tokens) lookup(token string) (tokenGrant, bool) {
	h := sha256.Sum256([]byte(token))
	var found tokenGrant
	ok := false
	for k, g := range t.byHash {
		if subtle.ConstantTimeCompare(k[:], h[:]) == 1 {
			found, ok = g, true
		}
	}
	return found, ok
}

// requiredScope says which scope a request needs, or "" for the open
// endpoints (health and readiness).
func requiredScope(r *http.Request) scope {
	switch {
	case r.URL.Path == "/healthz" || r.URL.Path == "/readyz":
		return ""
	case strings.HasPrefix(r.URL.Path, "/v1/"):
		return scopeIngest
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/breaches/"):
		// The breach page's "this was the cause" button.
		return scopeIngest
	}
	return scopeRead
}

// authenticate wraps h so that every request (except health checks)
// carries a token with the scope its path needs: "Authorization: Bearer
// TOKEN", or "?token=TOKEN" for webhook senders that can only be given a
// URL. With no tokens configured it lets everything through.
func authenticate(t *tokens, h http.Handler) http.Handler {
	if t == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		need := requiredScope(r)
		if need == "" {
			h.ServeHTTP(w, r)
			return
		}
		presented, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			presented = r.URL.Query().Get("token")
		}
		if presented == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sregraph"`)
			refuse(w, http.StatusUnauthorized, "authentication required: send \"Authorization: Bearer TOKEN\" (or ?token=TOKEN for webhooks) with a token that has the "+string(need)+" scope")
			return
		}
		g, ok := t.lookup(strings.TrimSpace(presented))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="sregraph", error="invalid_token"`)
			refuse(w, http.StatusUnauthorized, "unknown token")
			return
		}
		if !g.scopes[need] {
			refuse(w, http.StatusForbidden, fmt.Sprintf("token %q lacks the %s scope this endpoint needs", g.name, need))
			return
		}
		// GraphQL mutations (confirming a cause) write: they need the
		// ingest scope too, which the resolver checks.
		// The token names the client the GraphQL caps count by.
		h.ServeHTTP(w, r.WithContext(resolvers.WithClient(resolvers.WithWriteAccess(r.Context(), g.scopes[scopeIngest]), g.name)))
	})
}

// refuse answers a request the tokens do not allow with status and a
// JSON body {"error": msg}, like every other error answer of the server.
func refuse(w http.ResponseWriter, status int, msg string) {
	body, err := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	if err != nil { // a string always encodes; keep the answer JSON anyway
		body = []byte(`{"error":"refused"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// bearerToken returns the token of an "Authorization: Bearer TOKEN"
// header. The scheme is matched without regard to case (RFC 7235, section
// 2.1), so "bearer" and "BEARER" work too.
func bearerToken(header string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(header), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// isLoopback reports whether a listen address only accepts local
// connections.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
