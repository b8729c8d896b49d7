package ingest

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"hash"
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
		scheme  *Signature
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
			err := c.scheme.Verify([]byte(secret), []byte(body), c.value)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("rejected a valid signature: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("err %v, want one containing %q", err, c.wantErr)
			}
		})
	}
}

func BenchmarkSignatureVerify(b *testing.B) {
	body := []byte(strings.Repeat(`{"action":"created","deployment_status":{"state":"success"}}`, 200))
	value := "sha256=" + hmacHex(sha256.New, "gh-secret", string(body))
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if err := githubSignature.Verify([]byte("gh-secret"), body, value); err != nil {
			b.Fatal(err)
		}
	}
}
