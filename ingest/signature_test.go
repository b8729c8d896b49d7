package ingest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// hmacHex is the hex HMAC of body under secret with hash h.
func hmacHex(h func() hash.Hash, secret, body string) string {
	mac := hmac.New(h, []byte(secret))
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

func TestSignatureVerify(t *testing.T) {
	const secret, body = "It's a Secret to Everybody", "Hello, World!"
	cases := []struct {
		name    string
		scheme  *signatureScheme
		value   string
		wantErr string
	}{
		// GitHub's documented test vector (docs: "Validating webhook deliveries").
		{"github docs vector", &githubSignature, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", ""},
		{"github computed", &githubSignature, "sha256=" + hmacHex(sha256.New, secret, body), ""},
		{"github missing", &githubSignature, "", "missing X-Hub-Signature-256 header"},
		{"github sha1 refused", &githubSignature, "sha1=" + hmacHex(sha1.New, secret, body), "want sha256"},
		{"github not hex", &githubSignature, "sha256=zz", "malformed X-Hub-Signature-256"},
		{"github no prefix", &githubSignature, hmacHex(sha256.New, secret, body), "malformed"},
		{"github wrong secret", &githubSignature, "sha256=" + hmacHex(sha256.New, "other", body), "does not match the body"},
		{"github other body", &githubSignature, "sha256=" + hmacHex(sha256.New, secret, body+" "), "--github-secret"},
		{"pagerduty one", &pagerdutySignature, "v1=" + hmacHex(sha256.New, secret, body), ""},
		{"pagerduty rotation, second matches", &pagerdutySignature, "v1=" + hmacHex(sha256.New, "old", body) + ",v1=" + hmacHex(sha256.New, secret, body), ""},
		{"pagerduty rotation, none matches", &pagerdutySignature, "v1=" + hmacHex(sha256.New, "old", body) + ", v1=" + hmacHex(sha256.New, "older", body), "does not match"},
		{"pagerduty unknown version only", &pagerdutySignature, "v2=abcd", "no v1=<hex>"},
		{"pagerduty unknown version skipped", &pagerdutySignature, "v2=abcd,v1=" + hmacHex(sha256.New, secret, body), ""},
		{"pagerduty missing", &pagerdutySignature, " ", "missing X-PagerDuty-Signature"},
		{"flux sha256", &fluxSignature, "sha256=" + hmacHex(sha256.New, secret, body), ""},
		{"flux sha1", &fluxSignature, "sha1=" + hmacHex(sha1.New, secret, body), ""},
		{"flux sha384", &fluxSignature, "sha384=" + hmacHex(sha512.New384, secret, body), ""},
		{"flux sha512", &fluxSignature, "sha512=" + hmacHex(sha512.New, secret, body), ""},
		{"flux algorithm mismatch", &fluxSignature, "sha512=" + hmacHex(sha256.New, secret, body), "not 128 hex digits"},
		{"flux md5", &fluxSignature, "md5=abcd", "unknown algorithm"},
		{"flux missing", &fluxSignature, "", "missing X-Signature"},
		{"jira", &jiraSignature, "sha256=" + hmacHex(sha256.New, secret, body), ""},
		{"jira wrong", &jiraSignature, "sha256=" + hmacHex(sha256.New, secret, "x"), "--jira-secret"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.scheme.verify([]byte(secret), []byte(body), c.value)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("rejected a valid signature: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("err %v, want one containing %q", err, c.wantErr)
			}
		})
	}
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
		{"header", func(r *http.Request) { r.Header.Set(WebhookTokenHeader, tok) }, tok},
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
	cfg := DefaultHTTPConfig()
	cfg.GitHubSecret, cfg.PagerDutySecret, cfg.FluxSecret, cfg.JiraSecret = "gh-secret", "pd-secret", "flux-secret", "jira-secret"
	cfg.WebhookToken = token
	github := filepath.Join("..", "testdata", "http", "github-deployment-status.json")
	ghBody, ghHdr := mustRead(t, github), sampleHeaders(t, github)
	amBody := mustRead(t, filepath.Join("..", "testdata", "ingest", "alertmanager", "sloth-firing.json"))
	with := func(base map[string]string, k, v string) map[string]string {
		out := map[string]string{k: v}
		for bk, bv := range base {
			out[bk] = bv
		}
		return out
	}
	cases := []struct {
		name    string
		cfg     HTTPConfig
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
		{"github no secret, token required", HTTPConfig{WebhookToken: token}, "/v1/webhooks/github", ghBody, ghHdr, 401, "missing webhook token", true},
		{"github no secret, token given", HTTPConfig{WebhookToken: token}, "/v1/webhooks/github", ghBody, with(ghHdr, WebhookTokenHeader, token), 200, "", false},
		{"nothing configured", DefaultHTTPConfig(), "/v1/webhooks/github", ghBody, ghHdr, 200, "", false},
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

func BenchmarkSignatureVerify(b *testing.B) {
	body := []byte(strings.Repeat(`{"action":"created","deployment_status":{"state":"success"}}`, 200))
	value := "sha256=" + hmacHex(sha256.New, "gh-secret", string(body))
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := githubSignature.verify([]byte("gh-secret"), body, value); err != nil {
			b.Fatal(err)
		}
	}
}
