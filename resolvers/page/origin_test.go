package page

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/sregraph/sregraph/graph"
)

// The demo breach's page marks where the telemetry says the degradation
// starts: the origin's node on the map (a class, a worded tag, and when
// and why in its title), a line at its onset on the timeline, and a line
// in the verdict. What to expect comes from the engine, so the test
// follows the engine's answer rather than a copy of it.
func TestBreachPageMarksTheOrigin(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	_, body := fetch(t, srv, "/breaches/"+d.current.ID)
	doc := parseHTML(t, body)
	c := demoContext(t, d.store, d.current, graph.DefaultDepth)
	if len(c.Origins) == 0 || len(c.Origins[0].Evidence) == 0 {
		t.Fatalf("the engine finds no origin with evidence for the demo breach: nothing to mark")
	}
	o := c.Origins[0]
	onset := o.Onset.UTC().Format("15:04")
	sentence := o.Evidence[0].Sentence()

	// The map.
	nb := byID(doc, "neighbourhood")
	origins := byClass(nb, "g", "origin")
	var nodes []*html.Node
	for _, n := range origins {
		if hasClass(n, "node") {
			nodes = append(nodes, n)
		}
	}
	if !slices.ContainsFunc(c.Services, func(s graph.NearbyService) bool { return s.Service == o.Service }) {
		t.Fatalf("origin %s is not among the services drawn; the demo should draw it", o.Service)
	}
	if len(nodes) != 1 || attr(nodes[0], "data-service") != o.Service {
		t.Fatalf("%d nodes marked as the origin, want %s alone", len(nodes), o.Service)
	}
	node := nodes[0]
	cues := byClass(node, "g", "origin-cue")
	if len(cues) != 1 || text(cues[0]) != originCue {
		t.Errorf("the origin's node has no %q tag: it would be told by colour alone", originCue)
	}
	if len(byClass(node, "g", "origin-ring")) != 1 {
		t.Errorf("the origin's node has no ring")
	}
	title := childTitle(node)
	for _, want := range []string{onset + " UTC", sentence, "before the breach"} {
		if !strings.Contains(title, want) {
			t.Errorf("origin node title lacks %q: %s", want, title)
		}
	}
	if desc := text(byID(nb, "map-desc")); !strings.Contains(desc, "starts at "+o.Service) {
		t.Errorf("the map's description does not say where it starts: %s", desc)
	}

	// The timeline: a solid line at the onset, apart from the breach's.
	tl := byID(doc, "timeline")
	marks := byClass(tl, "g", "onset")
	if len(marks) != 1 || attr(marks[0], "data-service") != o.Service {
		t.Fatalf("%d onset marks on the timeline, want one for %s", len(marks), o.Service)
	}
	lines := byClass(marks[0], "line", "onset-line")
	labels := byClass(marks[0], "text", "onset-label")
	at := byClass(tl, "line", "at-line")
	if len(lines) != 1 || len(labels) != 1 || len(at) != 1 {
		t.Fatalf("onset mark: %d lines, %d labels; %d breach lines", len(lines), len(labels), len(at))
	}
	if !strings.Contains(text(labels[0]), onset) {
		t.Errorf("onset label %q lacks the time %s", text(labels[0]), onset)
	}
	if attr(lines[0], "x1") == attr(at[0], "x1") || hasClass(lines[0], "at-line") {
		t.Errorf("the onset line is drawn where the breach line is, or like it")
	}
	if !strings.Contains(childTitle(marks[0]), sentence) {
		t.Errorf("onset title %q lacks the evidence %q", childTitle(marks[0]), sentence)
	}
	tlv := layoutTimeline(c, linker{base: "/breaches/" + d.current.ID}, cardAnchors(c.Changes))
	if tlv.Onset == nil || (o.Onset.Before(c.At) && tlv.Onset.X >= tlv.AtX) || tlv.Onset.X < tlv.PlotX || tlv.Onset.X > tlv.PlotEnd {
		t.Errorf("onset at %v, breach line at %.1f: the onset must lie inside the plot, before the breach line", tlv.Onset, tlv.AtX)
	}
	for _, ln := range tlv.Lanes {
		if ln.Y < timelineTop+onsetRow {
			t.Errorf("lane %s at y=%.0f runs into the onset's label row", ln.Service, ln.Y)
		}
	}
	figcaption := text(byTag(byID(doc, "timeline-section"), "figcaption")[0])
	if !strings.Contains(figcaption, "solid line") || !strings.Contains(figcaption, o.Service) {
		t.Errorf("the timeline's caption does not explain the onset line: %s", figcaption)
	}

	// The verdict.
	where := byID(byID(doc, "verdict"), "where-it-starts")
	if where == nil {
		t.Fatal("the verdict has no \"Where it starts\" line")
	}
	for _, want := range []string{o.Service, onset, sentence} {
		if !strings.Contains(text(where), want) {
			t.Errorf("\"Where it starts\" lacks %q: %s", want, text(where))
		}
	}
}

// siblingContext is a breach whose origin, ledger, no change explains
// (the engine's degradation verdict ranks first), with a sibling, billing,
// whose calls into ledger surged.
func siblingContext() *graph.Context {
	at := time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC)
	onset := at.Add(-7 * time.Minute)
	ledger := []string{"checkout", "payments", "ledger"}
	billing := []string{"checkout", "payments", "ledger", "billing"}
	origin := graph.Origin{
		Service: "ledger", Onset: onset, Strength: 0.9, Linked: true,
		Evidence: []graph.Evidence{{Signal: graph.SignalErrors, From: "payments", To: "ledger", Onset: onset, Before: 0.002, After: 0.08}},
		Surges:   []graph.Evidence{{Signal: graph.SignalCalls, From: "billing", To: "ledger", Onset: onset.Add(-time.Minute), Before: 300, After: 540}},
	}
	return &graph.Context{
		Focus: "checkout", At: at, From: at.Add(-2 * time.Hour), To: at.Add(15 * time.Minute), Depth: 2,
		Services: []graph.NearbyService{
			{Service: "checkout", Relation: graph.Both, Path: []string{"checkout"}},
			{Service: "payments", Hops: 1, Relation: graph.Dependencies, Path: ledger[:2]},
			{Service: "web", Hops: 1, Relation: graph.Dependents, Path: []string{"checkout", "web"}},
			{Service: "ledger", Hops: 2, Relation: graph.Dependencies, Path: ledger},
			{Service: "billing", Hops: 3, Relation: graph.Siblings, Path: billing},
		},
		Edges: []graph.Edge{
			{From: "billing", To: "ledger", Calls: 30000, Errors: 40},
			{From: "checkout", To: "payments", Calls: 50000, Errors: 900},
			{From: "payments", To: "ledger", Calls: 48000, Errors: 3000},
			{From: "web", To: "checkout", Calls: 52000, Errors: 950},
		},
		Changes: []graph.RankedChange{
			{Rank: 1, Score: 0.27, Hops: 2, Relation: graph.Dependencies, Path: ledger, Evidence: origin.Evidence,
				Event:   graph.Event{ID: "degradation:ledger", Kind: graph.KindDegradation, Service: "ledger", At: onset, Source: "sregraph", Summary: "ledger degraded at 11:43 and no change explains it"},
				Reasons: []string{"no change explains this: " + origin.Evidence[0].Sentence()}},
			{Rank: 2, Score: 0.2, Hops: 3, Relation: graph.Siblings, Path: billing,
				Event:   graph.Event{ID: "deploy-billing", Kind: graph.KindDeploy, Service: "billing", At: onset.Add(-20 * time.Minute), Source: "argocd", Summary: "billing 7.2.0 deployed"},
				Reasons: []string{"its calls into ledger surged"}},
		},
		Breach:  &graph.Breach{ID: "b1", Service: "checkout", SLO: "checkout-availability", StartedAt: at, Summary: "checkout-availability"},
		Origins: []graph.Origin{origin},
	}
}

// renderContext draws c as the breach page does.
func renderContext(t *testing.T, c *graph.Context) string {
	t.Helper()
	p := newPages(nil, nil)
	win := params{Service: c.Focus, At: c.At, Before: c.At.Sub(c.From), After: c.To.Sub(c.At), Depth: c.Depth, Direction: graph.Both}
	l := linker{base: "/breaches/" + c.Breach.ID, p: win}
	v := buildView(c, win, l, c.At.Add(20*time.Minute), "")
	rec := httptest.NewRecorder()
	p.render(rec, nil, http.StatusOK, "context", v.Title, v, 0)
	if rec.Code != http.StatusOK {
		t.Fatalf("render: status %d", rec.Code)
	}
	return rec.Body.String()
}

// A sibling stands next to the dependency it calls, its node says so, and
// the degradation verdict is drawn like any kind: legend, badge, marker.
func TestSiblingsAndDegradationDrawn(t *testing.T) {
	c := siblingContext()
	body := renderContext(t, c)
	for _, err := range wellFormed(body) {
		t.Error(err)
	}
	doc := parseHTML(t, body)
	for _, err := range accessible(doc) {
		t.Error(err)
	}

	n := layoutNeighbourhood(c, linker{base: "/breaches/b1"})
	pos := map[string]mapNode{}
	for _, nd := range n.Nodes {
		pos[nd.Service] = nd
	}
	sib, dep := pos["billing"], pos["ledger"]
	if sib.Col != dep.Col-1 || sib.Col != pos["payments"].Col {
		t.Errorf("sibling billing in column %d, its dependency ledger in %d: want it one column left, with ledger's other callers", sib.Col, dep.Col)
	}
	for _, e := range n.Edges {
		if e.Key == "billing->ledger" {
			if x, _ := pathStart(t, e.D); x != sib.X+nodeWidth {
				t.Errorf("billing->ledger starts at x=%.1f, not on billing's right side (%.1f)", x, sib.X+nodeWidth)
			}
		}
	}
	for _, want := range []string{"another caller of ledger", "calls from billing to ledger ×1.8"} {
		if !strings.Contains(sib.Title, want) {
			t.Errorf("sibling title lacks %q: %s", want, sib.Title)
		}
	}
	if !dep.Origin || dep.Changed {
		t.Errorf("ledger: origin %v, changed %v; want the origin, and a degradation is no change", dep.Origin, dep.Changed)
	}
	if !strings.Contains(n.Summary, "starts at ledger") {
		t.Errorf("map summary %q", n.Summary)
	}

	// The degradation verdict: last in the legend, a badge and a marker
	// with its letter.
	legend := byTag(findAll(doc, func(n *html.Node) bool { return n.Data == "ul" && hasClass(n, "legend") })[0], "li")
	if len(legend) != len(graph.Kinds)+1 || !strings.Contains(text(legend[len(legend)-1]), "degraded on its own") {
		t.Errorf("legend %d items, last %q; want every kind then degradation", len(legend), text(legend[len(legend)-1]))
	}
	st := styleOf(graph.KindDegradation)
	for _, sel := range []struct{ id, class string }{{"neighbourhood", "badge"}, {"timeline", "marker"}} {
		found := findAll(byID(doc, sel.id), func(n *html.Node) bool {
			return n.Data == "g" && hasClass(n, sel.class) && hasClass(n, "kind-"+string(graph.KindDegradation))
		})
		if len(found) != 1 || text(byClass(found[0], "text", "letter")[0]) != st.Letter || childTitle(found[0]) == "" {
			t.Errorf("%d degradation %ss in #%s, want one with its letter %q and a title", len(found), sel.class, sel.id, st.Letter)
		}
	}

	// The sibling's change reads as another caller of ledger, on the path
	// the focus reaches ledger by.
	row := byID(doc, "suspect-2")
	if row == nil {
		t.Fatal("no suspect row for the sibling's change")
	}
	if !strings.Contains(text(row), "another caller of ledger") {
		t.Errorf("sibling's row does not say it calls ledger: %s", text(row))
	}
	var hops []string
	for _, h := range byClass(row, "span", "hop") {
		hops = append(hops, text(h))
	}
	if !slices.Equal(hops, []string{"checkout", "payments", "ledger"}) {
		t.Errorf("sibling's row shows the path %v, want the calls checkout → payments → ledger", hops)
	}
	tl := layoutTimeline(c, linker{base: "/breaches/b1"}, cardAnchors(c.Changes))
	for _, ln := range tl.Lanes {
		if ln.Service == "billing" && ln.Hint != "also calls ledger" {
			t.Errorf("billing's lane hint %q", ln.Hint)
		}
	}
	if tl.Onset == nil || tl.Onset.Label != "errors start 11:43" || tl.Onset.Anchor != "end" || tl.Onset.X >= tl.AtX {
		t.Errorf("onset mark %+v, breach line at %.1f", tl.Onset, tl.AtX)
	}
	where := text(byID(doc, "where-it-starts"))
	for _, want := range []string{"Where it starts:", "ledger", "from 11:43 UTC", "(7 min before the breach)", "errors on payments→ledger rose from 0.2% to 8.0% at 11:43"} {
		if !strings.Contains(where, want) {
			t.Errorf("where it starts lacks %q: %s", want, where)
		}
	}
}

// Without an origin the page draws as before: no mark, no onset line, no
// line in the verdict; an origin outside the services drawn gets the
// verdict's line alone.
func TestNoOriginNoMark(t *testing.T) {
	c := siblingContext()
	c.Origins = nil
	doc := parseHTML(t, renderContext(t, c))
	if len(byClass(doc, "g", "origin")) != 0 || len(byClass(doc, "g", "onset")) != 0 || byID(doc, "where-it-starts") != nil {
		t.Errorf("a context without origins is drawn with one")
	}

	c = siblingContext()
	c.Origins[0].Service = "postgres-ledger"
	doc = parseHTML(t, renderContext(t, c))
	if len(byClass(doc, "g", "origin")) != 0 || strings.Contains(text(byID(doc, "map-desc")), "starts at") {
		t.Errorf("an origin outside the map is marked on it")
	}
	if where := byID(doc, "where-it-starts"); where == nil || !strings.Contains(text(where), "postgres-ledger") {
		t.Errorf("the verdict does not name the origin outside the map")
	}
}
