package resolvers

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql/playground"
)

// ide serves the GraphiQL page with the same security headers as the
// other pages. The page is gqlgen's: its scripts and stylesheets come from
// a CDN, pinned by subresource integrity, and one inline script starts it.
// It is rendered once, so its Content-Security-Policy can name exactly
// the URLs it loads and the hash of its inline script; anything else,
// injected or not, is refused by the browser.
type ide struct {
	body []byte
	csp  string
}

var (
	inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)
	scriptSrc    = regexp.MustCompile(`(?s)<script\s+src="([^"]+)"`)
	stylesheet   = regexp.MustCompile(`(?s)<link\s+rel="stylesheet"\s+href="([^"]+)"`)
)

// newIDE renders the page for endpoint.
func newIDE(title, endpoint string) *ide {
	w := &pageBuffer{header: http.Header{}}
	playground.Handler(title, endpoint)(w, &http.Request{Method: http.MethodGet})
	body := w.buf.Bytes()

	scripts := []string{}
	for _, m := range scriptSrc.FindAllSubmatch(body, -1) {
		scripts = append(scripts, string(m[1]))
	}
	for _, m := range inlineScript.FindAllSubmatch(body, -1) {
		sum := sha256.Sum256(m[1])
		scripts = append(scripts, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	// GraphiQL sets style attributes as it draws, so inline styles are
	// allowed; style cannot run code.
	styles := []string{"'unsafe-inline'"}
	for _, m := range stylesheet.FindAllSubmatch(body, -1) {
		styles = append(styles, string(m[1]))
	}
	csp := strings.Join([]string{
		"default-src 'none'",
		"script-src " + strings.Join(scripts, " "),
		"style-src " + strings.Join(styles, " "),
		"font-src https://cdn.jsdelivr.net data:",
		"img-src 'self' data:",
		// Queries over fetch, subscriptions over a websocket to this
		// server.
		"connect-src 'self'",
		"form-action 'none'",
		"base-uri 'none'",
		"object-src 'none'",
		"frame-ancestors 'none'",
	}, "; ")
	return &ide{body: body, csp: csp}
}

// ServeHTTP answers with the page and its security headers.
func (p *ide) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", p.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Length", strconv.Itoa(len(p.body)))
	w.WriteHeader(http.StatusOK)
	// A failed write means the browser went away; there is no one left
	// to tell.
	_, _ = w.Write(p.body)
}

// pageBuffer is the http.ResponseWriter a page is rendered into once.
type pageBuffer struct {
	header http.Header
	buf    bytes.Buffer
}

func (b *pageBuffer) Header() http.Header         { return b.header }
func (b *pageBuffer) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *pageBuffer) WriteHeader(int)             {}
