package page

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
	"github.com/sregraph/sregraph/ingest/scenario"
	"github.com/sregraph/sregraph/ingest/scenario/scenariotest"
)

// The demo is anchored at a fixed breach instant, with the clock a little
// after it, so every page is reproducible.
var (
	demoBreach = scenariotest.Breach()
	demoNow    = scenariotest.Now()
	demoDir    = scenariotest.Dir()
)

// demo is the bundled demo scenario loaded into a real embedded store,
// with what the scenario says the answers are.
type demo struct {
	store *pebble.Store
	batch graph.Batch
	// current is the open breach the demo is built around; older is the
	// resolved one a day earlier.
	current, older graph.Breach
	// culprit and olderCulprit are the events the demo's golden rankings
	// put first for each breach.
	culprit, olderCulprit graph.Event
}

func openDemo(tb testing.TB) *demo {
	tb.Helper()
	b, err := scenario.Load(demoDir, demoBreach, demoNow)
	if err != nil {
		tb.Fatalf("load demo: %v", err)
	}
	st := pebbletest.MustOpen(tb, pebble.Options{Now: func() time.Time { return demoNow }})
	if _, err := st.Apply(context.Background(), b); err != nil {
		tb.Fatalf("apply demo: %v", err)
	}
	d := &demo{store: st, batch: b}
	var breaches []graph.Breach
	for _, e := range b.Events {
		if e.Kind == graph.KindSLOBreach {
			breaches = append(breaches, graph.BreachOf(e))
		}
	}
	if len(breaches) != 2 {
		tb.Fatalf("the demo has %d breaches; these tests expect the current one and an older one", len(breaches))
	}
	if breaches[0].StartedAt.After(breaches[1].StartedAt) {
		breaches[0], breaches[1] = breaches[1], breaches[0]
	}
	d.older, d.current = breaches[0], breaches[1]
	d.culprit = d.rankedFirst(tb, "breach-context.golden")
	d.olderCulprit = d.rankedFirst(tb, "older-breach-context.golden")
	return d
}

// rankedFirst reads the rank-1 change of one of the demo's golden
// rankings ("  1  0.519  deploy    ledger   -7min    ledger 2.14.0
// deployed") and finds that event in the demo.
func (d *demo) rankedFirst(tb testing.TB, golden string) graph.Event {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(demoDir, golden))
	if err != nil {
		tb.Fatalf("read the demo's expected ranking: %v", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	inChanges := false
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "changes:") {
			inChanges = true
			continue
		}
		f := strings.Fields(line)
		if !inChanges || len(f) < 6 || f[0] != "1" {
			continue
		}
		kind, service := graph.Kind(f[2]), f[3]
		summary := strings.TrimSpace(line[strings.Index(line, f[4])+len(f[4]):])
		var found []graph.Event
		for _, e := range d.batch.Events {
			if e.Kind == kind && e.Service == service && e.Summary == summary {
				found = append(found, e)
			}
		}
		if len(found) != 1 {
			tb.Fatalf("%s ranks %s %s %q first; found %d such events in the demo", golden, kind, service, summary, len(found))
		}
		return found[0]
	}
	tb.Fatalf("%s has no rank-1 change", golden)
	return graph.Event{}
}

// newPages returns pages over src with the demo's clock.
func newPages(src Source, log *slog.Logger) *Pages {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return New(Options{Source: src, Now: func() time.Time { return demoNow }, PublicURL: "https://sregraph.example.com/", Logger: log})
}

// serve starts the pages on a loopback server.
func serve(tb testing.TB, src Source) *httptest.Server {
	tb.Helper()
	mux := http.NewServeMux()
	newPages(src, nil).Register(mux)
	srv := httptest.NewServer(mux)
	tb.Cleanup(srv.Close)
	return srv
}

// fetch GETs path and returns the response and its body.
func fetch(tb testing.TB, srv *httptest.Server, path string) (*http.Response, string) {
	tb.Helper()
	res, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		tb.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	return res, string(body)
}

// failingSource wraps a real store and fails the calls named in fail,
// the way a store that lost its disk or its server does.
type failingSource struct {
	Source
	mu   sync.Mutex
	fail map[string]bool
}

var errStoreDown = errors.New("dial tcp 10.0.0.7:7687: connection refused")

func (f *failingSource) failing(call string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fail[call]
}

func (f *failingSource) Event(ctx context.Context, id string) (graph.Event, error) {
	if f.failing("Event") {
		return graph.Event{}, errStoreDown
	}
	return f.Source.Event(ctx, id)
}

func (f *failingSource) Services(ctx context.Context, q graph.ServiceFilter) (graph.Page[graph.Service], error) {
	if f.failing("Services") {
		return graph.Page[graph.Service]{}, errStoreDown
	}
	return f.Source.Services(ctx, q)
}

func (f *failingSource) Events(ctx context.Context, q graph.EventFilter) (graph.Page[graph.Event], error) {
	if f.failing("Events") {
		return graph.Page[graph.Event]{}, errStoreDown
	}
	return f.Source.Events(ctx, q)
}

func (f *failingSource) EdgesTouching(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error) {
	if f.failing("EdgesTouching") {
		return nil, errStoreDown
	}
	return f.Source.EdgesTouching(ctx, services, from, to)
}

// HTML helpers over golang.org/x/net/html.

func parseHTML(tb testing.TB, body string) *html.Node {
	tb.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		tb.Fatalf("parse HTML: %v", err)
	}
	return doc
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, key string) bool {
	for _, a := range n.Attr {
		if a.Key == key {
			return true
		}
	}
	return false
}

func hasClass(n *html.Node, class string) bool {
	for _, c := range strings.Fields(attr(n, "class")) {
		if c == class {
			return true
		}
	}
	return false
}

// findAll returns the elements under n that match, in document order.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func byID(n *html.Node, id string) *html.Node {
	found := findAll(n, func(n *html.Node) bool { return attr(n, "id") == id })
	if len(found) == 0 {
		return nil
	}
	return found[0]
}

func byTag(n *html.Node, tag string) []*html.Node {
	return findAll(n, func(n *html.Node) bool { return n.Data == tag })
}

func byClass(n *html.Node, tag, class string) []*html.Node {
	return findAll(n, func(n *html.Node) bool { return n.Data == tag && hasClass(n, class) })
}

// text is the whitespace-collapsed text content of n.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

// childTitle is the text of n's direct <title> child.
func childTitle(n *html.Node) string {
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == "title" {
			return text(c)
		}
	}
	return ""
}
