package page

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/sregraph/sregraph/graph"
)

// The browser tests drive Debian's chromium, headless, against the pages
// on a loopback server loaded with the demo. They skip when chromium is
// not installed (scripts/browser/install.sh installs it), unless
// SREGRAPH_REQUIRE_BROWSER=1, which CI sets so that a missing browser
// fails instead. Screenshots go to $SREGRAPH_TEST_OUT/page when that is
// set, else to the test's artifact directory (go test -artifacts).

// Viewports the pages must work at.
var (
	laptop = viewport{name: "laptop", width: 1280, height: 800}
	phone  = viewport{name: "phone", width: 390, height: 844, mobile: true}
)

type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("SREGRAPH_CHROMIUM")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("SREGRAPH_REQUIRE_BROWSER") == "1" {
			t.Fatalf("SREGRAPH_REQUIRE_BROWSER=1 but there is no chromium at %s: run scripts/browser/install.sh", bin)
		}
		t.Skipf("no chromium at %s (run scripts/browser/install.sh; SREGRAPH_REQUIRE_BROWSER=1 turns this skip into a failure)", bin)
	}
	return bin
}

func outputDir(t *testing.T) string {
	t.Helper()
	if dir := os.Getenv("SREGRAPH_TEST_OUT"); dir != "" {
		dir = filepath.Join(dir, "page")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatalf("screenshot directory: %v", err)
		}
		return dir
	}
	return t.ArtifactDir()
}

// browser starts a fresh headless chromium with its own profile and
// returns a tab context. Console errors, uncaught exceptions and
// Content-Security-Policy violations are collected in problems.
type browser struct {
	ctx      context.Context
	mu       sync.Mutex
	problems []string
}

func startBrowser(t *testing.T) *browser {
	t.Helper()
	bin := chromiumPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(bin),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(int(laptop.width), int(laptop.height)),
	)
	t.Cleanup(acancel)
	tab, tcancel := chromedp.NewContext(actx)
	t.Cleanup(tcancel)
	b := &browser{ctx: tab}
	if err := chromedp.Listen(tab, func(ev any) {
		var p string
		switch e := ev.(type) {
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError {
				p = fmt.Sprintf("console %s: %s", e.Entry.Source, e.Entry.Text)
			}
		case *runtime.EventExceptionThrown:
			p = "exception: " + e.ExceptionDetails.Text
		}
		if p != "" {
			b.mu.Lock()
			b.problems = append(b.problems, p)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(tab, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatalf("enable the log domain: %v", err)
	}
	return b
}

// takeProblems returns and clears what the browser complained about.
func (b *browser) takeProblems() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

func (b *browser) viewport(t *testing.T, v viewport) {
	t.Helper()
	opts := []chromedp.EmulateViewportOption{chromedp.EmulateScale(1)}
	if v.mobile {
		opts = []chromedp.EmulateViewportOption{chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch}
	}
	if err := chromedp.Do(b.ctx, chromedp.EmulateViewport(v.width, v.height, opts...)); err != nil {
		t.Fatalf("emulate %s: %v", v.name, err)
	}
}

func (b *browser) open(t *testing.T, u string) {
	t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	if res.Status != 200 {
		t.Fatalf("open %s: status %d", u, res.Status)
	}
}

// follow clicks a link and waits for the page it leads to.
func (b *browser) follow(t *testing.T, css string) {
	t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(css)))); err != nil {
		t.Fatalf("follow %s: %v", css, err)
	}
}

func (b *browser) screenshot(t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("write screenshot: %v", err)
	}
	t.Logf("screenshot: %s", path)
}

// screen saves what is on the screen, without scrolling: what a responder
// sees first.
func (b *browser) screen(t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatalf("write screenshot: %v", err)
	}
}

// pageState is what the tests read from a rendered breach page.
type pageState struct {
	Location     string   `json:"location"`
	TopEventID   string   `json:"topEventId"`
	TopService   string   `json:"topService"`
	TopText      string   `json:"topText"`
	VerdictEvent string   `json:"verdictEvent"`
	Nodes        []string `json:"nodes"`
	Edges        []string `json:"edges"`
	Lanes        []string `json:"lanes"`
	Markers      []string `json:"markers"`
	TopMarker    string   `json:"topMarker"`
	ChangedNodes []string `json:"changedNodes"`
	HotEdges     []string `json:"hotEdges"`
	NodeWidth    float64  `json:"nodeWidth"`
	MarkerWidth  float64  `json:"markerWidth"`
	Depth        string   `json:"depth"`
	Background   string   `json:"background"`
	ScrollWidth  float64  `json:"scrollWidth"`
	InnerWidth   float64  `json:"innerWidth"`
	InnerHeight  float64  `json:"innerHeight"`
	VerdictTop   float64  `json:"verdictTop"`
	VerdictBot   float64  `json:"verdictBottom"`
	H1           string   `json:"h1"`
	// Cards counts, per event, the suspect cards the page shows (the
	// verdict and the ranked list), visible or folded away.
	Cards map[string]int `json:"cards"`
}

const readState = `(() => {
  const all = (sel, f) => [...document.querySelectorAll(sel)].map(f);
  const top = document.querySelector('#top-suspect[data-rank="1"]');
  const verdict = document.getElementById('top-suspect');
  const node = document.querySelector('#neighbourhood g.node rect');
  const marker = document.querySelector('#timeline g.marker');
  const vbox = verdict ? verdict.getBoundingClientRect() : {top: -1, bottom: -1};
  return {
    location: location.href,
    topEventId: top ? top.dataset.eventId : '',
    topService: top ? top.dataset.service : '',
    topText: top ? top.innerText : '',
    verdictEvent: verdict ? verdict.dataset.eventId : '',
    nodes: all('#neighbourhood g.node', n => n.dataset.service),
    edges: all('#neighbourhood g.edge', e => e.dataset.edge),
    lanes: all('#timeline g.lane', l => l.dataset.lane),
    markers: all('#timeline g.marker', m => m.dataset.eventId),
    topMarker: (document.querySelector('#timeline g.marker.top') || {dataset: {}}).dataset.eventId || '',
    changedNodes: all('#neighbourhood g.node.changed', n => n.dataset.service),
    hotEdges: all('#neighbourhood g.edge.hot', e => e.dataset.edge),
    nodeWidth: node ? node.getBoundingClientRect().width : 0,
    markerWidth: marker ? marker.getBoundingClientRect().width : 0,
    depth: (document.getElementById('depth-value') || {}).textContent || '',
    background: getComputedStyle(document.documentElement).backgroundColor,
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    innerHeight: window.innerHeight,
    verdictTop: vbox.top,
    verdictBottom: vbox.bottom,
    h1: document.querySelector('h1').innerText,
    cards: [...document.querySelectorAll('#verdict [data-event-id][data-rank], #suspects [data-event-id][data-rank]')]
      .reduce((m, c) => (m[c.dataset.eventId] = (m[c.dataset.eventId] || 0) + 1, m), {}),
  };
})()`

func (b *browser) state(t *testing.T) pageState {
	t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Evaluate[pageState](readState))
	if err != nil {
		t.Fatalf("read the page: %v", err)
	}
	return s
}

// expectedContext is what the engine itself answers for the breach page's
// query; the page must draw exactly this.
func expectedContext(t *testing.T, d *demo, depth int) *graph.Context {
	t.Helper()
	b := d.current
	c, err := graph.BuildContext(context.Background(), d.store, graph.ContextQuery{
		Service: b.Service, At: b.StartedAt, Before: graph.DefaultBefore, After: graph.DefaultAfter,
		Depth: depth, Direction: graph.Both, First: rankedChanges, Breach: &b,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestBrowserBreachPage(t *testing.T) {
	b := startBrowser(t)
	d := openDemo(t)
	srv := serve(t, d.store)
	out := outputDir(t)
	breachPage := srv.URL + "/breaches/" + url.PathEscape(d.current.ID)

	want := expectedContext(t, d, graph.DefaultDepth)
	var wantNodes, wantEdges []string
	for _, s := range want.Services {
		wantNodes = append(wantNodes, s.Service)
	}
	for _, e := range want.Edges {
		wantEdges = append(wantEdges, e.From+"->"+e.To)
	}

	b.viewport(t, laptop)
	b.open(t, breachPage)
	s := b.state(t)
	b.screenshot(t, out, "breach-laptop")
	b.screen(t, out, "breach-laptop-first-screen")

	if s.TopEventID != d.culprit.ID || s.VerdictEvent != d.culprit.ID {
		t.Errorf("top suspect row is event %q (%s), verdict %q; want the planted culprit %q (%s)", s.TopEventID, s.TopService, s.VerdictEvent, d.culprit.ID, d.culprit.Summary)
	}
	if !strings.Contains(s.TopText, d.culprit.Summary) || !strings.Contains(s.TopText, "7 min before") {
		t.Errorf("top suspect row reads %q; want %q and its timing", s.TopText, d.culprit.Summary)
	}
	if len(s.Cards) == 0 {
		t.Error("no suspect cards on the page")
	}
	for id, n := range s.Cards {
		if n != 1 {
			t.Errorf("event %s is shown on %d suspect cards, want one (the top suspect is not repeated as #1)", id, n)
		}
	}
	if !strings.Contains(s.H1, d.current.Service) || !strings.Contains(s.H1, d.current.SLO) {
		t.Errorf("h1 = %q, want the service and the SLO", s.H1)
	}
	if s.Background != "rgb(244, 246, 250)" {
		t.Errorf("body background %q: the stylesheet did not load (CSP or route)", s.Background)
	}
	if !sameSet(s.Nodes, wantNodes) {
		t.Errorf("neighbourhood nodes = %v\nwant %v", s.Nodes, wantNodes)
	}
	if !sameSet(s.Edges, wantEdges) {
		t.Errorf("neighbourhood edges = %v\nwant %v", s.Edges, wantEdges)
	}
	if !slices.Contains(s.ChangedNodes, d.culprit.Service) {
		t.Errorf("the culprit's service %s is not marked changed: %v", d.culprit.Service, s.ChangedNodes)
	}
	if !slices.Contains(s.HotEdges, "payments->ledger") {
		t.Errorf("the failing call edge payments->ledger is not marked: %v", s.HotEdges)
	}
	if s.TopMarker != d.culprit.ID || !slices.Contains(s.Markers, d.culprit.ID) {
		t.Errorf("timeline top marker %q, want the culprit %q", s.TopMarker, d.culprit.ID)
	}
	if len(s.Lanes) == 0 || s.Lanes[0] != d.current.Service || !slices.Contains(s.Lanes, d.culprit.Service) {
		t.Errorf("timeline lanes %v: want the focus first and the culprit's service", s.Lanes)
	}
	if s.NodeWidth < 50 || s.MarkerWidth < 8 {
		t.Errorf("SVG shapes render at %.0f px (node) and %.0f px (marker): too small to read", s.NodeWidth, s.MarkerWidth)
	}
	if s.VerdictTop < 0 || s.VerdictTop > float64(laptop.height) {
		t.Errorf("the top suspect starts at y=%.0f, below the first screen", s.VerdictTop)
	}
	for _, sel := range []string{"#timeline-section", "#neighbourhood", "#suspects", "#human"} {
		png, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("screenshot %s: %v", sel, err)
		}
		path := filepath.Join(out, "breach-laptop-"+strings.TrimPrefix(sel, "#")+".png")
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// One more hop: the link is a plain link, so following it is a page load.
	b.follow(t, "#depth-more a")
	deeper := b.state(t)
	b.screenshot(t, out, "breach-laptop-depth3")
	wantDeeper := expectedContext(t, d, graph.DefaultDepth+1)
	if u, _ := url.Parse(deeper.Location); u == nil || u.Query().Get("depth") != "3" || !strings.HasSuffix(u.Path, "/breaches/"+d.current.ID) {
		t.Errorf("depth link led to %s", deeper.Location)
	}
	if deeper.Depth != "3 hops" {
		t.Errorf("depth now reads %q", deeper.Depth)
	}
	if len(deeper.Nodes) <= len(s.Nodes) || len(deeper.Nodes) != len(wantDeeper.Services) {
		t.Errorf("depth 3 shows %d services (depth 2 showed %d, the engine has %d)", len(deeper.Nodes), len(s.Nodes), len(wantDeeper.Services))
	}
	for _, n := range s.Nodes {
		if !slices.Contains(deeper.Nodes, n) {
			t.Errorf("service %s vanished at depth 3", n)
		}
	}
	if deeper.TopEventID != d.culprit.ID {
		t.Errorf("at depth 3 the top suspect is %q, want the culprit still", deeper.TopEventID)
	}

	// Phone: the same page, no sideways scrolling, the verdict on the first screen.
	b.viewport(t, phone)
	b.open(t, breachPage)
	p := b.state(t)
	b.screenshot(t, out, "breach-phone")
	b.screen(t, out, "breach-phone-first-screen")
	if p.InnerWidth != float64(phone.width) {
		t.Errorf("phone viewport is %.0f px wide, want %d (is the viewport meta tag there?)", p.InnerWidth, phone.width)
	}
	if p.ScrollWidth > p.InnerWidth {
		t.Errorf("the page scrolls sideways on a phone: %.0f px of content in %.0f px", p.ScrollWidth, p.InnerWidth)
	}
	if p.VerdictTop < 0 || p.VerdictTop > p.InnerHeight {
		t.Errorf("on a phone the top suspect starts at y=%.0f, below the first screen (%.0f px)", p.VerdictTop, p.InnerHeight)
	}
	if p.TopEventID != d.culprit.ID {
		t.Errorf("phone: top suspect %q, want %q", p.TopEventID, d.culprit.ID)
	}
	for _, sel := range []string{"#timeline-section", "#neighbourhood-section"} {
		png, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("screenshot %s: %v", sel, err)
		}
		if err := os.WriteFile(filepath.Join(out, "breach-phone-"+strings.TrimPrefix(sel, "#")+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if probs := b.takeProblems(); len(probs) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(probs, "\n"))
	}
}

func TestBrowserIndexAndContext(t *testing.T) {
	b := startBrowser(t)
	d := openDemo(t)
	srv := serve(t, d.store)
	out := outputDir(t)

	for _, v := range []viewport{laptop, phone} {
		t.Run(v.name, func(t *testing.T) {
			b.viewport(t, v)
			b.open(t, srv.URL+"/")
			b.screenshot(t, out, "index-"+v.name)
			type row struct {
				ID  string `json:"id"`
				Top string `json:"top"`
			}
			type indexState struct {
				Rows        []row   `json:"rows"`
				ScrollWidth float64 `json:"scrollWidth"`
				InnerWidth  float64 `json:"innerWidth"`
				// Offered is what the browser offers in the service
				// field: the options of the datalist it is bound to.
				Offered []string `json:"offered"`
			}
			s, err := chromedp.Run(b.ctx, chromedp.Evaluate[indexState](`({
  rows: [...document.querySelectorAll('li.breach-row')].map(r => ({id: r.dataset.breachId, top: (r.querySelector('[data-top-service]') || {dataset: {}}).dataset.topService || ''})),
  scrollWidth: document.documentElement.scrollWidth, innerWidth: innerWidth,
  offered: [...((document.querySelector('form.lookup input[name="service"]') || {}).list || {options: []}).options].map(o => o.value)})`))
			if err != nil {
				t.Fatal(err)
			}
			if len(s.Rows) != 2 || s.Rows[0].ID != d.current.ID || s.Rows[1].ID != d.older.ID {
				t.Fatalf("index rows %+v, want the current breach then the older one", s.Rows)
			}
			if s.Rows[0].Top != d.culprit.Service || s.Rows[1].Top != d.olderCulprit.Service {
				t.Errorf("index top suspects %q, %q; want %q, %q", s.Rows[0].Top, s.Rows[1].Top, d.culprit.Service, d.olderCulprit.Service)
			}
			if s.ScrollWidth > s.InnerWidth {
				t.Errorf("the index scrolls sideways: %.0f px in %.0f px", s.ScrollWidth, s.InnerWidth)
			}
			if known := demoServices(t, d); !slices.Equal(s.Offered, known) {
				t.Errorf("the service field offers %v\nwant the store's services %v", s.Offered, known)
			}
		})
	}

	// From the index to the older breach's page, then refocus the page on
	// the culprit's service by selecting its node.
	b.viewport(t, laptop)
	b.open(t, srv.URL+"/")
	b.follow(t, `li.breach-row[data-breach-id="`+d.older.ID+`"] a`)
	s := b.state(t)
	if s.TopEventID != d.olderCulprit.ID {
		t.Errorf("older breach page: top suspect %q, want %q (%s)", s.TopEventID, d.olderCulprit.ID, d.olderCulprit.Summary)
	}
	b.follow(t, `#neighbourhood a:has(g.node[data-service="`+d.culprit.Service+`"])`)
	s = b.state(t)
	u, _ := url.Parse(s.Location)
	if u == nil || u.Path != "/context" || u.Query().Get("service") != d.culprit.Service {
		t.Fatalf("selecting the node led to %s", s.Location)
	}
	if len(s.Nodes) == 0 || !slices.Contains(s.Nodes, d.culprit.Service) {
		t.Errorf("context page of %s draws nodes %v", d.culprit.Service, s.Nodes)
	}
	b.screenshot(t, out, "context-laptop")
	if probs := b.takeProblems(); len(probs) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(probs, "\n"))
	}
}

func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
