package resolvers

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql/playground"
)

// graphiqlFiles are the IDE's browser files, fetched from npm at pinned
// versions by scripts/graphiql/fetch.sh (each with its licence): the
// binary serves them itself, so the IDE works with no network.
//
//go:embed graphiql
var graphiqlFiles embed.FS

// IDEAssetsPath is where the IDE's scripts and stylesheet are served,
// under the GraphQL endpoint: /graphql/ide/graphiql@4.1.2/graphiql.min.js.
const IDEAssetsPath = "/graphql/ide/"

// The files the page loads, by their place in graphiqlFiles.
const (
	graphiqlJS  = "graphiql@4.1.2/graphiql.min.js"
	graphiqlCSS = "graphiql@4.1.2/graphiql.min.css"
	reactJS     = "react@18.2.0/react.production.min.js"
	reactDOMJS  = "react-dom@18.2.0/react-dom.production.min.js"
)

// ide serves the GraphiQL page and its files with the same security
// headers as the other pages. The page is gqlgen's, pointed at the files
// this binary carries (pinned by subresource integrity), with one inline
// script that starts it. It is rendered once, so its
// Content-Security-Policy can allow exactly this server's own files and
// the hash of that inline script; anything else, injected or not, is
// refused by the browser.
type ide struct {
	body   []byte
	csp    string
	assets fs.FS
}

var inlineScript = regexp.MustCompile(`(?s)<script>(.*?)</script>`)

// newIDE renders the page for endpoint.
func newIDE(title, endpoint string) (*ide, error) {
	assets, err := fs.Sub(graphiqlFiles, "graphiql")
	if err != nil {
		return nil, fmt.Errorf("graphiql files: %w", err)
	}
	sri := map[string]string{}
	for _, name := range []string{graphiqlJS, graphiqlCSS, reactJS, reactDOMJS} {
		data, err := fs.ReadFile(assets, name)
		if err != nil {
			return nil, fmt.Errorf("graphiql files: %w (run scripts/graphiql/fetch.sh)", err)
		}
		sum := sha256.Sum256(data)
		sri[name] = "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
	}
	w := &pageBuffer{header: http.Header{}}
	playground.Handler(title, endpoint,
		playground.WithGraphiqlVersion(IDEAssetsPath+graphiqlJS, IDEAssetsPath+graphiqlCSS, sri[graphiqlJS], sri[graphiqlCSS]),
		playground.WithGraphiqlReactVersion(IDEAssetsPath+reactJS, IDEAssetsPath+reactDOMJS, sri[reactJS], sri[reactDOMJS]),
	)(w, &http.Request{Method: http.MethodGet})
	body := w.buf.Bytes()

	scripts := []string{"'self'"}
	for _, m := range inlineScript.FindAllSubmatch(body, -1) {
		sum := sha256.Sum256(m[1])
		scripts = append(scripts, "'sha256-"+base64.StdEncoding.EncodeToString(sum[:])+"'")
	}
	csp := strings.Join([]string{
		"default-src 'none'",
		"script-src " + strings.Join(scripts, " "),
		// GraphiQL sets style attributes as it draws, so inline styles
		// are allowed; style cannot run code.
		"style-src 'self' 'unsafe-inline'",
		// Its fonts and icons are inside its stylesheet.
		"font-src data:",
		"img-src 'self' data:",
		// Queries over fetch, subscriptions over a websocket to this
		// server.
		"connect-src 'self'",
		"form-action 'none'",
		"base-uri 'none'",
		"object-src 'none'",
		"frame-ancestors 'none'",
	}, "; ")
	return &ide{body: body, csp: csp, assets: assets}, nil
}

// securityHeaders are the headers every page and file of the IDE carries.
func (p *ide) securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", p.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

// ServeHTTP answers with the page and its security headers.
func (p *ide) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	p.securityHeaders(h)
	h.Set("Content-Length", strconv.Itoa(len(p.body)))
	w.WriteHeader(http.StatusOK)
	// A failed write means the browser went away; there is no one left
	// to tell.
	_, _ = w.Write(p.body)
}

// serveAsset answers GET IDEAssetsPath+name with one of the IDE's files.
// Their paths carry their versions, so browsers may keep them for good.
func (p *ide) serveAsset(w http.ResponseWriter, req *http.Request) {
	name := strings.TrimPrefix(req.URL.Path, IDEAssetsPath)
	var ctype string
	switch path.Ext(name) {
	case ".js":
		ctype = "text/javascript; charset=utf-8"
	case ".css":
		ctype = "text/css; charset=utf-8"
	}
	data, err := fs.ReadFile(p.assets, name)
	if ctype == "" || err != nil || req.Method != http.MethodGet && req.Method != http.MethodHead {
		http.NotFound(w, req)
		return
	}
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	p.securityHeaders(h)
	http.ServeContent(w, req, "", time.Time{}, bytes.NewReader(data))
}

// pageBuffer is the http.ResponseWriter a page is rendered into once.
type pageBuffer struct {
	header http.Header
	buf    bytes.Buffer
}

func (b *pageBuffer) Header() http.Header         { return b.header }
func (b *pageBuffer) Write(p []byte) (int, error) { return b.buf.Write(p) }
func (b *pageBuffer) WriteHeader(int)             {}
