package page

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
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

// readCrossings finds the pairs of call edges whose drawn curves cross
// on the neighbourhood map: each curve is sampled into a polyline, and
// two edges cross where segments of theirs properly intersect (touching
// at a shared end does not count).
const readCrossings = `(() => {
  const n = 48;
  const polys = [...document.querySelectorAll('#neighbourhood g.edge path:not(.hit)')].map(p => {
    const len = p.getTotalLength(), pts = [];
    for (let i = 0; i <= n; i++) { const q = p.getPointAtLength(len * i / n); pts.push([q.x, q.y]); }
    return {key: p.parentNode.dataset.edge, pts};
  });
  const side = (p, q, r) => Math.sign((q[0]-p[0])*(r[1]-p[1]) - (q[1]-p[1])*(r[0]-p[0]));
  const cross = (a, b, c, d) => side(a, b, c) * side(a, b, d) < 0 && side(c, d, a) * side(c, d, b) < 0;
  const out = [];
  for (let i = 0; i < polys.length; i++) for (let j = i + 1; j < polys.length; j++) {
    let hit = false;
    for (let s = 0; s < n && !hit; s++) for (let t = 0; t < n && !hit; t++) hit = cross(polys[i].pts[s], polys[i].pts[s+1], polys[j].pts[t], polys[j].pts[t+1]);
    if (hit) out.push(polys[i].key + ' × ' + polys[j].key);
  }
  return out;
})()`

// mapState is what the tests read of the neighbourhood section.
type mapState struct {
	DrawingShown bool     `json:"drawingShown"`
	ListShown    bool     `json:"listShown"`
	ListItems    []string `json:"listItems"`
	NodeWidth    float64  `json:"nodeWidth"`
	// Clipped lists the elements of the section that hold more than they
	// show sideways, or reach past the right of the viewport.
	Clipped []string `json:"clipped"`
	// Hover is visible text that asks for a hover.
	Hover []string `json:"hover"`
	// HotCalls are the failing calls' labels in the list.
	HotCalls []string `json:"hotCalls"`
	// EdgeLabels are the labels drawn on the map's edges.
	EdgeLabels []string `json:"edgeLabels"`
}

const readMap = `(() => {
  const sec = document.getElementById('neighbourhood-section');
  const shown = el => !!el && getComputedStyle(el).display !== 'none' && el.getClientRects().length > 0;
  const drawing = sec.querySelector('.map-drawing') || sec.querySelector('figure'), list = document.getElementById('neighbourhood-list');
  const clipped = [];
  for (const el of [sec, ...sec.querySelectorAll('*')]) {
    if (!shown(el) || el.closest('svg') && el.tagName !== 'svg') continue;
    const r = el.getBoundingClientRect();
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflowX !== 'visible' || r.right > innerWidth + 0.5)
      clipped.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + ' "' + (el.getAttribute('class') || '') + '": right ' + Math.round(r.right) + ' px, ' + el.scrollWidth + ' px of content in ' + el.clientWidth);
  }
  const hover = document.body.innerText.split('\n').filter(l => /hover/i.test(l));
  const node = document.querySelector('#neighbourhood g.node > rect');
  return {
    drawingShown: shown(drawing), listShown: shown(list),
    listItems: shown(list) ? [...list.querySelectorAll('li.map-item')].map(li => li.dataset.service) : [],
    nodeWidth: shown(drawing) && node ? node.getBoundingClientRect().width : 0,
    clipped, hover,
    hotCalls: list ? [...list.querySelectorAll('.call-label.hot')].map(e => e.textContent) : [],
    edgeLabels: [...document.querySelectorAll('#neighbourhood text.edge-label')].map(e => e.textContent),
  };
})()`

func (b *browser) mapState(t *testing.T) mapState {
	t.Helper()
	m, err := chromedp.Run(b.ctx, chromedp.Evaluate[mapState](readMap))
	if err != nil {
		t.Fatalf("read the neighbourhood: %v", err)
	}
	return m
}

// checkMap checks the neighbourhood at one viewport: drawn legibly or
// listed, nothing cut off, no hover asked for.
func checkMap(t *testing.T, m mapState, v viewport, services []string) {
	t.Helper()
	if m.DrawingShown == m.ListShown {
		t.Errorf("%s: drawing shown %v, list shown %v; want exactly one", v.name, m.DrawingShown, m.ListShown)
	}
	if m.DrawingShown && m.NodeWidth < minMapScale*nodeWidth {
		t.Errorf("%s: the map is drawn at %.0f px a service box, below the legible %.0f", v.name, m.NodeWidth, minMapScale*nodeWidth)
	}
	if m.ListShown && !sameSet(m.ListItems, services) {
		t.Errorf("%s: the list shows %v\nwant %v", v.name, m.ListItems, services)
	}
	if len(m.Clipped) > 0 {
		t.Errorf("%s: the neighbourhood is cut off on the right:\n%s", v.name, strings.Join(m.Clipped, "\n"))
	}
	if len(m.Hover) > 0 {
		t.Errorf("%s: the page asks for a hover: %q", v.name, m.Hover)
	}
}

// tap touches the centre of the element css selects, as a finger would.
func (b *browser) tap(t *testing.T, css string) {
	t.Helper()
	pt, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]float64](`(() => {
  const e = document.querySelector(`+strconv.Quote(css)+`);
  if (!e) return [];
  e.scrollIntoView({block: 'center', inline: 'center'});
  const r = e.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + r.height / 2];
})()`))
	if err != nil || len(pt) != 2 {
		t.Fatalf("tap %s: no such element (%v)", css, err)
	}
	if _, err := chromedp.Call(b.ctx, input.DispatchTouchEvent, input.DispatchTouchEventParams{
		Type: input.DispatchTouchEventTypeTouchStart, TouchPoints: []*input.TouchPoint{{X: pt[0], Y: pt[1]}},
	}); err != nil {
		t.Fatalf("tap %s: %v", css, err)
	}
	if _, err := chromedp.Call(b.ctx, input.DispatchTouchEvent, input.DispatchTouchEventParams{
		Type: input.DispatchTouchEventTypeTouchEnd, TouchPoints: []*input.TouchPoint{},
	}); err != nil {
		t.Fatalf("tap %s: %v", css, err)
	}
}

// targetAfter waits for the page's fragment to change and returns the
// id of the element it targets, and whether that element is on show
// (inside no closed <details>).
func (b *browser) targetAfter(t *testing.T, what string) (string, bool) {
	t.Helper()
	type target struct {
		ID    string `json:"id"`
		Shown bool   `json:"shown"`
	}
	for range 40 {
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[target](`(() => {
  const e = document.querySelector(':target');
  return e ? {id: e.id, shown: e.getClientRects().length > 0} : {id: '', shown: false};
})()`))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got.ID != "" {
			return got.ID, got.Shown
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s led nowhere on the page", what)
	return "", false
}

func (b *browser) crossings(t *testing.T) []string {
	t.Helper()
	c, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]string](readCrossings))
	if err != nil {
		t.Fatalf("read the map's crossings: %v", err)
	}
	return c
}

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
	// The README shows this one, as docs/breach-page.png.
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
	// The map: laid out so that few edges cross (the order by name drew
	// 22 crossing pairs on this breach), drawn whole and legibly.
	if cr := b.crossings(t); len(cr) > maxDemoCrossings {
		t.Errorf("%d pairs of edges cross on the map, want at most %d: %v", len(cr), maxDemoCrossings, cr)
	} else {
		t.Logf("%d pairs of edges cross on the map: %v", len(cr), cr)
	}
	m := b.mapState(t)
	checkMap(t, m, laptop, wantNodes)
	if !m.DrawingShown {
		t.Errorf("at %d px the neighbourhood is not drawn", laptop.width)
	}
	// The failing edge's label says what span it counts, so that it
	// agrees with the top suspect's reason.
	if !slices.ContainsFunc(m.EdgeLabels, func(l string) bool {
		return strings.Contains(l, "0.2% → 8.5% err") && strings.Contains(l, "from 11:43")
	}) {
		t.Errorf("no edge label gives payments→ledger's errors before and after the onset: %q", m.EdgeLabels)
	}
	if !strings.Contains(s.TopText, "rose from 0.2% to 8.5% at 11:43") {
		t.Errorf("the top suspect's reason does not date the rise it cites: %s", s.TopText)
	}
	// Selecting the edge label (by tap or key) shows its row in the edge
	// table, which opens.
	b.tap(t, `#neighbourhood a:has(text.edge-label[data-edge="payments->ledger"])`)
	if id, shown := b.targetAfter(t, "tapping the payments→ledger label"); !strings.HasPrefix(id, "row-edge-") || !shown {
		t.Errorf("tapping the edge label targets #%s (on show: %v), want its row in the open edge table", id, shown)
	}
	b.screenshot(t, out, "breach-laptop-edge-selected")
	b.open(t, breachPage)
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
	pm := b.mapState(t)
	checkMap(t, pm, phone, wantNodes)
	if !pm.ListShown {
		t.Errorf("at %d px the neighbourhood is not listed", phone.width)
	}
	if !slices.ContainsFunc(pm.HotCalls, func(l string) bool { return strings.Contains(l, "0.2% → 8.5% err from 11:43") }) {
		t.Errorf("the list does not give payments→ledger's rise: %q", pm.HotCalls)
	}
	// A tap on the top suspect's marker on the timeline leads to its card.
	b.tap(t, `#timeline a:has(g.marker.top)`)
	if id, shown := b.targetAfter(t, "tapping the top marker"); id != "top-suspect" || !shown {
		t.Errorf("tapping the #1 marker targets #%s (on show: %v), want the top suspect's card", id, shown)
	}
	b.open(t, breachPage)
	// And a tap on a failing call in the list leads to its counts.
	b.tap(t, `#neighbourhood-list a.call.hot[data-edge="payments->ledger"]`)
	if id, shown := b.targetAfter(t, "tapping payments→ledger in the list"); !strings.HasPrefix(id, "row-edge-") || !shown {
		t.Errorf("tapping a failing call targets #%s (on show: %v), want its row in the open edge table", id, shown)
	}
	b.screenshot(t, out, "breach-phone-edge-selected")
	b.open(t, breachPage)
	for _, sel := range []string{"#timeline-section", "#neighbourhood-section", "#verdict"} {
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

// maxDemoCrossings is how many pairs of edges may cross on the demo
// breach's map.
const maxDemoCrossings = 3

// Between a phone and a laptop, the neighbourhood is drawn or listed, never
// cut off; and every detail a pointer's hover shows is a key press away.
func TestBrowserNeighbourhoodAtAnyWidth(t *testing.T) {
	b := startBrowser(t)
	d := openDemo(t)
	srv := serve(t, d.store)
	out := outputDir(t)
	var services []string
	for _, s := range expectedContext(t, d, graph.DefaultDepth).Services {
		services = append(services, s.Service)
	}
	for _, w := range []int64{320, 390, 600, 768, 1024, 1440} {
		v := viewport{name: fmt.Sprintf("%dpx", w), width: w, height: 900, mobile: w < 800}
		b.viewport(t, v)
		b.open(t, srv.URL+"/breaches/"+url.PathEscape(d.current.ID))
		m := b.mapState(t)
		checkMap(t, m, v, services)
		png, err := chromedp.Run(b.ctx, chromedp.Screenshot(chromedp.CSS("#neighbourhood-section")))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(out, "neighbourhood-"+v.name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Keyboard: a marker on the timeline is a link; Enter on it goes to
	// its card.
	b.viewport(t, laptop)
	b.open(t, srv.URL+"/breaches/"+url.PathEscape(d.current.ID))
	focused, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`(() => {
  const a = document.querySelector('#timeline a:has(g.marker[data-rank="2"])');
  a.focus();
  return document.activeElement === a ? a.getAttribute('href') : '';
})()`))
	if err != nil || focused == "" {
		t.Fatalf("the rank-2 marker cannot take the focus (%v)", err)
	}
	if err := chromedp.Do(b.ctx, chromedp.KeyEvent("\r")); err != nil {
		t.Fatal(err)
	}
	if id, shown := b.targetAfter(t, "Enter on the rank-2 marker"); "#"+id != focused || !shown {
		t.Errorf("Enter on the marker targets #%s (on show: %v), want %s", id, shown, focused)
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
