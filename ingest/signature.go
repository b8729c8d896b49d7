package ingest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"strings"
)

// WebhookTokenHeader is the header a webhook sender can present the
// shared --webhook-token in, for senders that can set headers but not
// an Authorization header.
const WebhookTokenHeader = "X-Sregraph-Token"

// signatureScheme is how a source signs its deliveries: an HMAC of the
// raw body, hex-encoded, in one header.
type signatureScheme struct {
	// header is the header carrying the signature.
	header string
	// secret names the configured secret (a key of HTTP.secrets) and, as
	// "--<secret>", the flag that sets it.
	secret string
	// format describes the header value, for error messages.
	format string
	// parse returns the digests the header value claims; the delivery is
	// authentic when any one of them matches.
	parse func(value string) ([]claimedDigest, error)
}

// claimedDigest is one signature a header carries.
type claimedDigest struct {
	hash func() hash.Hash
	sum  []byte
}

// The secrets of the sources that sign.
const (
	secretGitHub    = "github-secret"
	secretPagerDuty = "pagerduty-secret"
	secretFlux      = "flux-secret"
	secretJira      = "jira-secret"
)

// GitHub signs with X-Hub-Signature-256: sha256=<hex HMAC-SHA256>.
var githubSignature = signatureScheme{
	header: "X-Hub-Signature-256",
	secret: secretGitHub,
	format: "sha256=<hex HMAC-SHA256 of the body>",
	parse: func(v string) ([]claimedDigest, error) {
		d, err := parseAlgDigest(v)
		if err != nil {
			return nil, err
		}
		if len(d.sum) != sha256.Size {
			return nil, fmt.Errorf("want sha256=<64 hex digits>")
		}
		return []claimedDigest{d}, nil
	},
}

// PagerDuty signs with X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...],
// one signature per active secret (so secrets can be rotated).
var pagerdutySignature = signatureScheme{
	header: "X-PagerDuty-Signature",
	secret: secretPagerDuty,
	format: "v1=<hex HMAC-SHA256 of the body>[,v1=...]",
	parse: func(v string) ([]claimedDigest, error) {
		var out []claimedDigest
		for _, part := range strings.Split(v, ",") {
			version, digest, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || version != "v1" {
				continue // a scheme version this server does not know
			}
			sum, err := hex.DecodeString(strings.TrimSpace(digest))
			if err != nil || len(sum) != sha256.Size {
				return nil, fmt.Errorf("v1 signature %q is not 64 hex digits", digest)
			}
			out = append(out, claimedDigest{hash: sha256.New, sum: sum})
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no v1=<hex> signature in it")
		}
		return out, nil
	},
}

// Flux's generic-hmac provider signs with X-Signature:
// <hash function>=<hex HMAC>, the hash being sha1, sha256, sha384 or
// sha512.
var fluxSignature = signatureScheme{
	header: "X-Signature",
	secret: secretFlux,
	format: "<sha1|sha256|sha384|sha512>=<hex HMAC of the body>",
	parse:  oneAlgDigest,
}

// Jira admin webhooks with a secret sign with X-Hub-Signature:
// <method>=<hex HMAC> (WebSub), in practice sha256.
var jiraSignature = signatureScheme{
	header: "X-Hub-Signature",
	secret: secretJira,
	format: "sha256=<hex HMAC-SHA256 of the body>",
	parse:  oneAlgDigest,
}

func oneAlgDigest(v string) ([]claimedDigest, error) {
	d, err := parseAlgDigest(v)
	if err != nil {
		return nil, err
	}
	return []claimedDigest{d}, nil
}

// parseAlgDigest reads "<alg>=<hex>".
func parseAlgDigest(v string) (claimedDigest, error) {
	alg, digest, ok := strings.Cut(strings.TrimSpace(v), "=")
	if !ok {
		return claimedDigest{}, fmt.Errorf("want <algorithm>=<hex digest>")
	}
	var h func() hash.Hash
	switch strings.ToLower(strings.TrimSpace(alg)) {
	case "sha1":
		h = sha1.New
	case "sha256":
		h = sha256.New
	case "sha384":
		h = sha512.New384
	case "sha512":
		h = sha512.New
	default:
		return claimedDigest{}, fmt.Errorf("unknown algorithm %q: want sha1, sha256, sha384 or sha512", alg)
	}
	sum, err := hex.DecodeString(strings.TrimSpace(digest))
	if err != nil || len(sum) != h().Size() {
		return claimedDigest{}, fmt.Errorf("the %s digest is not %d hex digits", alg, 2*h().Size())
	}
	return claimedDigest{hash: h, sum: sum}, nil
}

// verify checks the signature header value against body, in constant
// time per claimed digest. The error says what is wrong and what was
// expected, for the sender's delivery log.
func (s *signatureScheme) verify(secret, body []byte, value string) error {
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("missing %s header: this endpoint requires deliveries signed with the secret set by --%s (%s: %s)",
			s.header, s.secret, s.header, s.format)
	}
	claims, err := s.parse(value)
	if err != nil {
		return fmt.Errorf("malformed %s header: %v (want %s)", s.header, err, s.format)
	}
	for _, c := range claims {
		mac := hmac.New(c.hash, secret)
		mac.Write(body)
		if hmac.Equal(mac.Sum(nil), c.sum) {
			return nil
		}
	}
	return fmt.Errorf("%s does not match the body: the sender's secret differs from --%s, or the body was altered on the way", s.header, s.secret)
}

// presentedToken returns the shared token a request carries: an
// "Authorization: Bearer" token, a basic-auth password, the
// X-Sregraph-Token header, or the token query parameter.
func presentedToken(r *http.Request) string {
	if v := strings.TrimSpace(r.Header.Get(WebhookTokenHeader)); v != "" {
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
