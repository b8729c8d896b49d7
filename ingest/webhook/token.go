package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"
)

// TokenHeader is the header a webhook sender can present the
// shared --webhook-token in, for senders that can set headers but not
// an Authorization header.
const TokenHeader = "X-Sregraph-Token"

// presentedToken returns the shared token a request carries: an
// "Authorization: Bearer" token, a basic-auth password, the
// X-Sregraph-Token header, or the token query parameter.
func presentedToken(r *http.Request) string {
	if v := strings.TrimSpace(r.Header.Get(TokenHeader)); v != "" {
		return v
	}
	auth := strings.TrimSpace(r.Header.Get("Authorization"))
	if scheme, rest, ok := strings.Cut(auth, " "); ok {
		switch strings.ToLower(scheme) {
		case "bearer":
			return strings.TrimSpace(rest)
		case "basic":
			raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
			if err == nil {
				if _, pass, ok := strings.Cut(string(raw), ":"); ok {
					return pass
				}
			}
		}
	}
	return r.URL.Query().Get("token")
}

// tokenMatches compares a presented token with the configured one in
// constant time (hashing both first, so their lengths leak nothing).
func tokenMatches(presented, want string) bool {
	a := sha256.Sum256([]byte(presented))
	b := sha256.Sum256([]byte(want))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
