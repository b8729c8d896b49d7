package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/ingest/ingesttest"
)

// hmacHex is the hex HMAC of body under secret with hash h.
func hmacHex(h func() hash.Hash, secret, body string) string {
	mac := hmac.New(h, []byte(secret))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

func TestPresentedToken(t *testing.T) {
	const tok = "0123456789abcdef-token"
	cases := []struct {
		name string
		set  func(r *http.Request)
		want string
	}{
		{"bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }, tok},
		{"bearer lower-case", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+tok) }, tok},
		{"basic password", func(r *http.Request) { r.SetBasicAuth("alertmanager", tok) }, tok},
		{"header", func(r *http.Request) { r.Header.Set(TokenHeader, tok) }, tok},
		{"query", func(r *http.Request) { r.URL.RawQuery = "token=" + tok }, tok},
		{"none", func(*http.Request) {}, ""},
		{"other scheme", func(r *http.Request) { r.Header.Set("Authorization", "Digest x") }, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/webhooks/alertmanager", nil)
			c.set(r)
			if got := presentedToken(r); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
		})
	}
	if !tokenMatches(tok, tok) || tokenMatches(tok, tok+"x") || tokenMatches("", tok) {
		t.Fatal("tokenMatches is wrong")
	}
}

// TestWebhookAuthentication runs signed and token-protected deliveries
// through the real endpoints.
func TestWebhookAuthentication(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef"
	cfg := DefaultConfig()
	cfg.Secrets = map[string]string{"github-secret": "gh-secret", "pagerduty-secret": "pd-secret", "flux-secret": "flux-secret", "jira-secret": "jira-secret"}
	cfg.WebhookToken = token
	github := ingesttest.Testdata("http", "github-deployment-status.json")
	ghBody, ghHdr := mustRead(t, github), sampleHeaders(t, github)
	amBody := mustRead(t, ingesttest.Testdata("ingest", "alertmanager", "sloth-firing.json"))
	with := func(base map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for bk, bv := range base {
			out[bk] = bv
		}
		return out
	}
	cases := []struct {
		name    string
		cfg     Config
		path    string
		body    []byte
		hdr     map[string]string
		status  int
		errHas  string
		wwwAuth bool
	}{
		{"github signed", cfg, "/v1/webhooks/github", ghBody, with(ghHdr, "X-Hub-Signature-256", "sha256="+hmacHex(sha256.New, "gh-secret", string(ghBody))), 200, "", false},
		{"github unsigned", cfg, "/v1/webhooks/github", ghBody, ghHdr, 401, "missing X-Hub-Signature-256 header", false},
		{"github token is not enough", cfg, "/v1/webhooks/github", ghBody, with(ghHdr, "Authorization", "Bearer "+token), 401, "X-Hub-Signature-256", false},
		{"github wrong secret", cfg, "/v1/webhooks/github", ghBody, with(ghHdr, "X-Hub-Signature-256", "sha256="+hmacHex(sha256.New, "nope", string(ghBody))), 401, "does not match the body", false},
		{"github no secret, token required", Config{WebhookToken: token}, "/v1/webhooks/github", ghBody, ghHdr, 401, "missing webhook token", true},
		{"github no secret, token given", Config{WebhookToken: token}, "/v1/webhooks/github", ghBody, with(ghHdr, TokenHeader, token), 200, "", false},
		{"nothing configured", DefaultConfig(), "/v1/webhooks/github", ghBody, ghHdr, 200, "", false},
		{"alertmanager bearer", cfg, "/v1/webhooks/alertmanager", amBody, map[string]string{"Authorization": "Bearer " + token}, 200, "", false},
		{"alertmanager no token", cfg, "/v1/webhooks/alertmanager", amBody, nil, 401, "missing webhook token", true},
		{"alertmanager wrong token", cfg, "/v1/webhooks/alertmanager", amBody, map[string]string{"Authorization": "Bearer " + token + "x"}, 401, "wrong webhook token", true},
		{"pagerduty unsigned", cfg, "/v1/webhooks/pagerduty", []byte(`{"event":{}}`), nil, 401, "X-PagerDuty-Signature", false},
		{"flux unsigned", cfg, "/v1/webhooks/flux", []byte(`{}`), nil, 401, "missing X-Signature header", false},
		{"jira unsigned", cfg, "/v1/webhooks/jira", []byte(`{}`), nil, 401, "missing X-Hub-Signature header", false},
		{"signature checked before the body is decoded", cfg, "/v1/webhooks/flux", []byte(`not json`), map[string]string{"X-Signature": "sha256=" + hmacHex(sha256.New, "flux-secret", "not json")}, 400, "", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rig := mustStartHTTP(t, c.cfg, nil)
			a := rig.post(t, c.path, c.body, c.hdr)
			if a.Status != c.status {
				t.Fatalf("status %d, want %d: %s", a.Status, c.status, a.Raw)
			}
			if !strings.Contains(a.Body.Error, c.errHas) {
				t.Errorf("error %q does not contain %q", a.Body.Error, c.errHas)
			}
			if got := a.Header.Get("WWW-Authenticate") != ""; got != c.wwwAuth {
				t.Errorf("WWW-Authenticate present %v, want %v", got, c.wwwAuth)
			}
			if c.status == 401 && len(rig.events(t)) != 0 {
				t.Error("a refused delivery was stored")
			}
		})
	}
}
