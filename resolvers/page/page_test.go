package page

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/sregraph/sregraph/graph"
)

// demoContext is what the engine answers for a breach page's default
// query; the page must show exactly this.
func demoContext(t testing.TB, src graph.ContextSource, b graph.Breach, depth int) *graph.Context {
	t.Helper()
	c, err := graph.BuildContext(context.Background(), src, graph.ContextQuery{
		Service: b.Service, At: b.StartedAt, Before: graph.DefaultBefore, After: graph.DefaultAfter,
		Depth: depth, Direction: graph.Both, First: rankedChanges, Breach: &b,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func checkPageHeaders(t *testing.T, res *http.Response, status int) {
	t.Helper()
	if res.StatusCode != status {
		t.Errorf("status %d, want %d", res.StatusCode, status)
	}
	for k, want := range map[string]string{
		"Content-Type":            "text/html; charset=utf-8",
		"Cache-Control":           "no-store",
		"Content-Security-Policy": contentSecurityPolicy,
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
	} {
		if got := res.Header.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(contentSecurityPolicy, "default-src 'none'") || strings.Contains(contentSecurityPolicy, "unsafe") {
		t.Errorf("the policy must deny by default and allow nothing unsafe: %s", contentSecurityPolicy)
	}
}

func TestBreachPage(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	res, body := fetch(t, srv, "/breaches/"+d.current.ID)
	checkPageHeaders(t, res, http.StatusOK)
	if !strings.Contains(res.Header.Get("Server-Timing"), "build;dur=") {
		t.Errorf("Server-Timing = %q", res.Header.Get("Server-Timing"))
	}
	doc := parseHTML(t, body)
	want := demoContext(t, d.store, d.current, graph.DefaultDepth)

	h1 := byTag(doc, "h1")
	if len(h1) != 1 || !strings.Contains(text(h1[0]), d.current.Service) || !strings.Contains(text(h1[0]), d.current.SLO) {
		t.Fatalf("h1 = %v, want one naming %s and %s", h1, d.current.Service, d.current.SLO)
	}
	summary := text(byID(doc, "summary"))
	for _, want := range []string{"still open", "2026-11-21 11:50 UTC", "20 min ago", "not yet", "2026-11-21 09:50 – 12:05 UTC", "up to 2 hops"} {
		if !strings.Contains(summary, want) {
			t.Errorf("header lacks %q: %s", want, summary)
		}
	}

	// The ranked suspects are the engine's ranking, causes only, with the
	// planted culprit first and the breach itself left out.
	// The top suspect is drawn once, as the verdict; the list carries on
	// from #2, so every ranked change has exactly one card.
	rows := suspectCards(doc)
	cards := map[string]int{}
	for _, n := range findAll(doc, func(n *html.Node) bool {
		return hasAttr(n, "data-event-id") && hasAttr(n, "data-rank") && n.Data != "g"
	}) {
		cards[attr(n, "data-event-id")]++
	}
	for id, n := range cards {
		if n != 1 {
			t.Errorf("event %s has %d suspect cards, want one", id, n)
		}
	}
	var wantCauses []graph.RankedChange
	for _, ch := range want.Changes {
		if !ch.Symptom {
			wantCauses = append(wantCauses, ch)
		}
	}
	if len(rows) != len(wantCauses) {
		t.Fatalf("%d suspect rows, want %d", len(rows), len(wantCauses))
	}
	for i, row := range rows {
		ch := wantCauses[i]
		if attr(row, "data-event-id") != ch.Event.ID || attr(row, "data-rank") != strconv.Itoa(ch.Rank) {
			t.Errorf("row %d is event %s rank %s, want %s rank %d", i, attr(row, "data-event-id"), attr(row, "data-rank"), ch.Event.ID, ch.Rank)
		}
		if attr(row, "data-event-id") == d.current.ID {
			t.Errorf("the breach's own event is listed as a suspect")
		}
		rowText := text(row)
		for _, reason := range ch.Reasons {
			if !strings.Contains(rowText, reason) {
				t.Errorf("row %d lacks the reason %q", i, reason)
			}
		}
	}
	top := rows[0]
	if attr(top, "data-event-id") != d.culprit.ID {
		t.Fatalf("top suspect is %s (%s), want the culprit %s (%s)", attr(top, "data-event-id"), text(top), d.culprit.ID, d.culprit.Summary)
	}
	topText := text(top)
	for _, want := range []string{"#1", d.culprit.Service, d.culprit.Summary, "7 min before", "checkout → payments → ledger", "2 hops away, a dependency"} {
		if !strings.Contains(topText, want) {
			t.Errorf("top row lacks %q: %s", want, topText)
		}
	}
	links := byTag(top, "a")
	if !slices.ContainsFunc(links, func(a *html.Node) bool { return attr(a, "href") == d.culprit.URL }) {
		t.Errorf("top row has no link to the culprit's source %s", d.culprit.URL)
	}
	if v := byID(doc, "top-suspect"); v == nil || attr(v, "data-event-id") != d.culprit.ID {
		t.Errorf("the verdict box does not name the culprit")
	}

	// The timeline: the focus lane first, the culprit marked #1.
	tl := byID(doc, "timeline")
	lanes := byClass(tl, "g", "lane")
	if len(lanes) == 0 || attr(lanes[0], "data-lane") != d.current.Service {
		t.Fatalf("timeline lanes start with %v", lanes)
	}
	withEvents := map[string]bool{d.current.Service: true}
	for _, ch := range want.Changes {
		withEvents[ch.Event.Service] = true
	}
	if len(lanes) != len(withEvents) {
		t.Errorf("%d lanes, want one per service with events plus the focus (%d)", len(lanes), len(withEvents))
	}
	markers := byClass(tl, "g", "marker")
	if len(markers) != len(want.Changes) {
		t.Errorf("%d markers, want %d", len(markers), len(want.Changes))
	}
	tops := byClass(tl, "g", "top")
	if len(tops) != 1 || attr(tops[0], "data-event-id") != d.culprit.ID || !strings.Contains(childTitle(tops[0]), "7 min before") {
		t.Errorf("timeline top markers = %d, want the culprit alone", len(tops))
	}
	if len(byClass(tl, "rect", "breach-band")) != 1 || len(byClass(tl, "line", "at-line")) != 1 {
		t.Errorf("timeline lacks the breach band or start line")
	}
	shades := byClass(tl, "rect", "shade")
	anomalies := 0
	for _, ch := range want.Changes {
		if ch.Event.Kind.Symptom() {
			anomalies++
		}
	}
	if anomalies == 0 || len(shades) != anomalies {
		t.Errorf("%d shaded anomalies, want %d", len(shades), anomalies)
	}

	// The neighbourhood: every service and edge of the context, counts in
	// the titles.
	nb := byID(doc, "neighbourhood")
	var gotNodes []string
	for _, n := range byClass(nb, "g", "node") {
		gotNodes = append(gotNodes, attr(n, "data-service"))
	}
	var wantNodes []string
	for _, s := range want.Services {
		wantNodes = append(wantNodes, s.Service)
	}
	if !sameSet(gotNodes, wantNodes) {
		t.Errorf("nodes %v\nwant %v", gotNodes, wantNodes)
	}
	edges := map[string]*html.Node{}
	for _, e := range byClass(nb, "g", "edge") {
		edges[attr(e, "data-edge")] = e
	}
	if len(edges) != len(want.Edges) {
		t.Errorf("%d edges, want %d", len(edges), len(want.Edges))
	}
	for _, e := range want.Edges {
		g := edges[e.From+"->"+e.To]
		if g == nil {
			t.Errorf("edge %s->%s missing", e.From, e.To)
			continue
		}
		title := childTitle(g)
		if e.Declared && e.Calls == 0 {
			if !strings.Contains(title, "declared dependency") || !hasClass(g, "declared") {
				t.Errorf("declared edge %s->%s: %q", e.From, e.To, title)
			}
			continue
		}
		wantTitle := fmt.Sprintf("%s → %s: %s calls, %s errors (", e.From, e.To, thousands(e.Calls), thousands(e.Errors))
		if !strings.HasPrefix(title, wantTitle) {
			t.Errorf("edge title %q, want it to start %q", title, wantTitle)
		}
		hot := float64(e.Errors) >= HotErrorRatio*float64(e.Calls) && e.Errors > 0
		if hasClass(g, "hot") != hot {
			t.Errorf("edge %s->%s hot = %v, want %v (%d/%d)", e.From, e.To, hasClass(g, "hot"), hot, e.Errors, e.Calls)
		}
	}
	if g := edges["payments->ledger"]; g == nil || !hasClass(g, "hot") {
		t.Errorf("the failing edge into the culprit's service is not marked")
	}
	culpritNode := findAll(nb, func(n *html.Node) bool { return n.Data == "g" && attr(n, "data-service") == d.culprit.Service })
	if len(culpritNode) != 1 || !hasClass(culpritNode[0], "changed") || !hasClass(culpritNode[0], "top") {
		t.Errorf("the culprit's service is not marked changed and top")
	}
	if !strings.Contains(text(culpritNode[0]), "#1 suspect") {
		t.Errorf("the culprit's node does not say #1 in text: %q", text(culpritNode[0]))
	}

	// Tickets and incidents on those services.
	human := byID(doc, "human")
	var wantHuman []string
	for _, ch := range want.Changes {
		if ch.Event.Kind == graph.KindTicket || ch.Event.Kind == graph.KindIncident {
			wantHuman = append(wantHuman, ch.Event.ID)
		}
	}
	var gotHuman []string
	for _, li := range byClass(human, "li", "event") {
		if k := attr(li, "data-kind"); k == "ticket" || k == "incident" {
			gotHuman = append(gotHuman, attr(li, "data-event-id"))
		}
	}
	if len(wantHuman) == 0 || !sameSet(gotHuman, wantHuman) {
		t.Errorf("tickets and incidents %v, want %v", gotHuman, wantHuman)
	}

	// The breach page links its own source and its permalink is absolute.
	if !strings.Contains(body, `href="`+html.EscapeString(d.current.Event.URL)+`"`) {
		t.Errorf("no link to the alert")
	}
	if !strings.Contains(body, `href="https://sregraph.example.com/breaches/`+d.current.ID+`"`) {
		t.Errorf("no absolute permalink")
	}
}

func TestBreachPageControls(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	base := "/breaches/" + d.current.ID
	tests := []struct {
		query string
		// links maps a control's text to the query it must lead to; "-"
		// means the control is shown without a link.
		links map[string]string
	}{
		{"", map[string]string{
			"Narrower": "after=7m30s&before=1h", "Wider": "after=30m&before=4h",
			"−": "depth=1", "+": "depth=3",
			"Dependencies": "direction=DEPENDENCIES", "Dependents": "direction=DEPENDENTS",
		}},
		{"?depth=6&direction=dependents&before=8m&after=0m", map[string]string{
			"Narrower": "-", "Wider": "after=0m&before=16m&depth=6&direction=DEPENDENTS",
			"−": "after=0m&before=8m&depth=5&direction=DEPENDENTS", "+": "-",
			"Both": "after=0m&before=8m&depth=6",
		}},
		{"?depth=1", map[string]string{"−": "-", "+": ""}},
		{"?before=20d&after=10d", map[string]string{"Wider": "-", "Narrower": "after=5d&before=10d"}},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			res, body := fetch(t, srv, base+tt.query)
			checkPageHeaders(t, res, http.StatusOK)
			controls := byID(parseHTML(t, body), "controls")
			for label, wantQuery := range tt.links {
				var found *html.Node
				for _, n := range findAll(controls, func(n *html.Node) bool { return hasClass(n, "ctl") }) {
					if strings.TrimPrefix(text(n), "✓ ") == label {
						found = n
					}
				}
				if found == nil {
					t.Errorf("no %q control", label)
					continue
				}
				if wantQuery == "-" {
					if found.Data == "a" {
						t.Errorf("%q links to %s; want no link at the limit", label, attr(found, "href"))
					}
					continue
				}
				href := attr(found, "href")
				u, err := url.Parse(href)
				if err != nil || found.Data != "a" || u.Path != base {
					t.Errorf("%q: %s %q, want a link to %s", label, found.Data, href, base)
					continue
				}
				if u.RawQuery != wantQuery {
					t.Errorf("%q links to ?%s, want ?%s", label, u.RawQuery, wantQuery)
				}
				// Every link the page offers must itself draw a page.
				if res, _ := fetch(t, srv, href); res.StatusCode != http.StatusOK {
					t.Errorf("%q → %s answers %d", label, href, res.StatusCode)
				}
			}
		})
	}
}

// suspectCards returns the suspects' cards in rank order: the verdict's
// top suspect, then the ranked list, which carries on from #2.
func suspectCards(doc *html.Node) []*html.Node {
	var out []*html.Node
	if top := byID(doc, "top-suspect"); top != nil {
		out = append(out, top)
	}
	return append(out, findAll(byID(doc, "suspects"), func(n *html.Node) bool { return n.Data == "li" && hasClass(n, "suspect") })...)
}

func TestOlderBreachPage(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	_, body := fetch(t, srv, "/breaches/"+d.older.ID)
	doc := parseHTML(t, body)
	rows := suspectCards(doc)
	if len(rows) == 0 || attr(rows[0], "data-event-id") != d.olderCulprit.ID {
		t.Fatalf("older breach: top suspect is not %s (%s)", d.olderCulprit.ID, d.olderCulprit.Summary)
	}
	summary := text(byID(doc, "summary"))
	resolved := d.older.ResolvedAt.UTC().Format("2006-01-02 15:04 UTC")
	if !strings.Contains(summary, "resolved") || !strings.Contains(summary, resolved) || !strings.Contains(summary, "after "+graph.FormatAgo(d.older.ResolvedAt.Sub(d.older.StartedAt))) {
		t.Errorf("older breach header lacks its resolve at %s: %s", resolved, summary)
	}
	// A change after the breach started reads "after", not "before".
	if !strings.Contains(text(byID(doc, "verdict"))+text(byID(doc, "suspects")), " after") {
		t.Errorf("no change is shown as after the breach")
	}
}

func TestContextPage(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	// Two minutes after the breach: a context, not the breach itself.
	at := d.current.StartedAt.Add(2 * time.Minute)
	tests := []struct {
		name, query string
		// relations the services other than the focus may have.
		relations []graph.Direction
		depth     int
		at        time.Time
	}{
		{"rfc3339", "service=checkout&at=" + at.Format(time.RFC3339), []graph.Direction{graph.Dependencies, graph.Dependents}, 2, at},
		{"unix seconds", "service=checkout&at=" + strconv.FormatInt(at.Unix(), 10), []graph.Direction{graph.Dependencies, graph.Dependents}, 2, at},
		{"unix milliseconds (Grafana)", "service=checkout&at=" + strconv.FormatInt(at.UnixMilli(), 10), []graph.Direction{graph.Dependencies, graph.Dependents}, 2, at},
		{"unencoded offset", "service=checkout&at=2026-11-21T12:52:00+01:00", []graph.Direction{graph.Dependencies, graph.Dependents}, 2, at},
		{"dependencies only", "service=checkout&at=" + at.Format(time.RFC3339) + "&direction=downstream&depth=1", []graph.Direction{graph.Dependencies}, 1, at},
		{"dependents only", "service=checkout&at=" + at.Format(time.RFC3339) + "&direction=DEPENDENTS&depth=3", []graph.Direction{graph.Dependents}, 3, at},
		{"at defaults to now", "service=checkout", []graph.Direction{graph.Dependencies, graph.Dependents}, 2, demoNow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := fetch(t, srv, "/context?"+tt.query)
			checkPageHeaders(t, res, http.StatusOK)
			doc := parseHTML(t, body)
			if h1 := text(byTag(doc, "h1")[0]); !strings.Contains(h1, "checkout") || !strings.Contains(h1, tt.at.Format("2006-01-02 15:04 UTC")) {
				t.Errorf("h1 = %q", h1)
			}
			for _, n := range byClass(byID(doc, "neighbourhood"), "g", "node") {
				rel := graph.Direction(attr(n, "data-relation"))
				if attr(n, "data-service") != "checkout" && !slices.Contains(tt.relations, rel) {
					t.Errorf("service %s is %s", attr(n, "data-service"), rel)
				}
				// Past the depth asked for only where the evidence followed a
				// degradation the breach reaches (graph.MaxFollow hops more).
				if h, _ := strconv.Atoi(attr(n, "data-hops")); h > tt.depth+graph.MaxFollow {
					t.Errorf("service %s is %d hops away at depth %d", attr(n, "data-service"), h, tt.depth)
				}
			}
			if v := text(byID(doc, "depth-value")); v != fmt.Sprintf("%d hops", tt.depth) {
				t.Errorf("depth reads %q", v)
			}
			current := findAll(byID(doc, "controls"), func(n *html.Node) bool { return attr(n, "aria-current") == "page" })
			if len(current) != 1 {
				t.Errorf("%d controls marked current, want the direction alone", len(current))
			}
			// Links on a context page keep the service and the instant.
			more := byID(doc, "depth-more")
			for _, a := range byTag(more, "a") {
				u, _ := url.Parse(attr(a, "href"))
				if u.Path != "/context" || u.Query().Get("service") != "checkout" || u.Query().Get("at") != tt.at.UTC().Format(time.RFC3339) {
					t.Errorf("depth link %s loses the focus", attr(a, "href"))
				}
			}
			if tt.at.Equal(at) && tt.depth >= 2 && len(tt.relations) == 2 {
				// Just after the breach, the culprit is still on top.
				rows := suspectCards(doc)
				if len(rows) == 0 || attr(rows[0], "data-event-id") != d.culprit.ID {
					t.Errorf("top suspect is not the culprit")
				}
			}
		})
	}
}

// An alert links /context with the service and the instant it fired; when
// a breach on that service started then, the link lands on its page.
func TestContextLinkFindsTheBreach(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	client := srv.Client()
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	start := d.current.StartedAt
	for _, tt := range []struct {
		query, location string
	}{
		{"service=checkout&at=" + url.QueryEscape(start.Format(time.RFC3339)), "/breaches/" + d.current.ID},
		{"service=checkout&at=" + strconv.FormatInt(start.Add(900*time.Millisecond).UnixMilli(), 10) + "&depth=3", "/breaches/" + d.current.ID + "?depth=3"},
		{"service=checkout&at=" + url.QueryEscape(d.older.StartedAt.Add(-10*time.Second).Format(time.RFC3339)) + "&before=1h", "/breaches/" + d.older.ID + "?before=1h"},
		{"service=checkout&at=" + url.QueryEscape(start.Add(2*time.Minute).Format(time.RFC3339)), ""},
		{"service=payments&at=" + url.QueryEscape(start.Format(time.RFC3339)), ""},
		{"service=checkout", ""},
	} {
		res, err := client.Get(srv.URL + "/context?" + tt.query)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if tt.location == "" {
			if res.StatusCode != http.StatusOK {
				t.Errorf("%s: %d, want the context page itself", tt.query, res.StatusCode)
			}
			continue
		}
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != tt.location {
			t.Errorf("%s: %d to %q, want %d to %q", tt.query, res.StatusCode, res.Header.Get("Location"), http.StatusSeeOther, tt.location)
		}
	}
}

func TestContextPageOfUnknownService(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	res, body := fetch(t, srv, "/context?service=chekout&at=2026-11-21T11:50:00Z")
	checkPageHeaders(t, res, http.StatusOK)
	doc := parseHTML(t, body)
	verdict := text(byID(doc, "verdict"))
	if !strings.Contains(verdict, "No suspects") || !strings.Contains(verdict, "Check the service name") {
		t.Errorf("verdict for an unknown service: %s", verdict)
	}
	if nodes := byClass(byID(doc, "neighbourhood"), "g", "node"); len(nodes) != 1 {
		t.Errorf("%d nodes, want the focus alone", len(nodes))
	}
	wider := findAll(byID(doc, "verdict"), func(n *html.Node) bool { return n.Data == "a" && text(n) == "wider window" })
	if len(wider) != 1 || !strings.Contains(attr(wider[0], "href"), "before=4h") {
		t.Errorf("no link to a wider window")
	}
}

func TestIndexPage(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	res, body := fetch(t, srv, "/")
	checkPageHeaders(t, res, http.StatusOK)
	doc := parseHTML(t, body)
	rows := byClass(doc, "li", "breach-row")
	want := []struct {
		b       graph.Breach
		culprit graph.Event
	}{{d.current, d.culprit}, {d.older, d.olderCulprit}}
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, w := range want {
		row := rows[i]
		if attr(row, "data-breach-id") != w.b.ID {
			t.Errorf("row %d is breach %s, want %s (newest first)", i, attr(row, "data-breach-id"), w.b.ID)
		}
		hrefs := byTag(row, "a")
		if len(hrefs) == 0 || attr(hrefs[0], "href") != "/breaches/"+w.b.ID {
			t.Errorf("row %d does not link its breach page", i)
		}
		top := findAll(row, func(n *html.Node) bool { return hasAttr(n, "data-top-service") })
		if len(top) != 1 || attr(top[0], "data-top-service") != w.culprit.Service || !strings.Contains(text(row), w.culprit.Summary) {
			t.Errorf("row %d top suspect: %s; want %s", i, text(row), w.culprit.Summary)
		}
	}
	if !strings.Contains(text(rows[0]), "open") || !strings.Contains(text(rows[1]), "resolved") {
		t.Errorf("rows do not say open and resolved")
	}
	form := byTag(doc, "form")
	if len(form) != 1 || attr(form[0], "action") != "/context" || attr(form[0], "method") != "get" {
		t.Fatalf("no lookup form to /context")
	}

	// The service field offers every service the store knows, by name.
	known := demoServices(t, d)
	inputs := findAll(form[0], func(n *html.Node) bool { return n.Data == "input" && attr(n, "name") == "service" })
	if len(inputs) != 1 || attr(inputs[0], "list") == "" {
		t.Fatalf("the service field offers no list of services")
	}
	list := byID(doc, attr(inputs[0], "list"))
	if list == nil || list.Data != "datalist" {
		t.Fatalf("the service field's list %q is not a datalist on the page", attr(inputs[0], "list"))
	}
	var offered []string
	for _, o := range byTag(list, "option") {
		offered = append(offered, attr(o, "value"))
	}
	if !slices.Equal(offered, known) {
		t.Errorf("the service field offers %v\nwant the store's services %v", offered, known)
	}
}

// demoServices lists the services the demo store knows, by name.
func demoServices(t *testing.T, d *demo) []string {
	t.Helper()
	page, err := d.store.Services(context.Background(), graph.ServiceFilter{First: graph.MaxFirst})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range page.Items {
		names = append(names, s.Name)
	}
	if len(names) < 10 {
		t.Fatalf("the demo store knows %d services: %v", len(names), names)
	}
	return names
}

func TestBadRequests(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	b := "/breaches/" + d.current.ID
	tests := []struct {
		path string
		// params that must be named, each with what it accepts.
		params []string
		says   string
	}{
		{b + "?depth=0", []string{"depth"}, "0 is out of range"},
		{b + "?depth=7", []string{"depth"}, "7 is out of range"},
		{b + "?depth=two", []string{"depth"}, `"two" is not a whole number`},
		{b + "?before=-1h", []string{"before"}, "negative"},
		{b + "?after=soon", []string{"after"}, `bad duration "soon"`},
		{b + "?direction=sideways", []string{"direction"}, "no direction named `sideways`"},
		{b + "?before=40d", []string{"before"}, "longer than the maximum"},
		{b + "?depth=9&direction=up&before=x", []string{"depth", "direction", "before"}, "out of range"},
		{"/context", []string{"service"}, "service is required"},
		{"/context?service=checkout&at=yesterday", []string{"at"}, `"yesterday" is not an RFC 3339 time`},
		{"/context?service=checkout&at=1", []string{"at"}, "outside the accepted range"},
		{"/context?service=a%2Fb", []string{"service"}, "'/'"},
		{"/context?at=2026-11-21T11:50:00Z&depth=-1", []string{"service", "depth"}, "service is required"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := fetch(t, srv, tt.path)
			checkPageHeaders(t, res, http.StatusBadRequest)
			doc := parseHTML(t, body)
			items := findAll(doc, func(n *html.Node) bool { return n.Data == "li" && hasAttr(n, "data-param") })
			var named []string
			for _, li := range items {
				named = append(named, attr(li, "data-param"))
				if !strings.Contains(text(li), "Accepted: "+accepted[attr(li, "data-param")]) {
					t.Errorf("%s: the problem with %s does not say what is accepted: %s", tt.path, attr(li, "data-param"), text(li))
				}
			}
			for _, p := range tt.params {
				if !slices.Contains(named, p) {
					t.Errorf("problems name %v, want %s", named, p)
				}
			}
			if !strings.Contains(text(doc), tt.says) {
				t.Errorf("page does not say %q: %s", tt.says, text(byTag(doc, "main")[0]))
			}
		})
	}
}

func TestNotFound(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	for _, id := range []string{"no-such-breach", d.culprit.ID} {
		res, body := fetch(t, srv, "/breaches/"+url.PathEscape(id))
		checkPageHeaders(t, res, http.StatusNotFound)
		if !strings.Contains(body, "No such breach") || !strings.Contains(body, html.EscapeString(fmt.Sprintf("%q", id))) {
			t.Errorf("404 page for %s does not say which id: %s", id, body)
		}
	}
	if res, _ := fetch(t, srv, "/nothing-here"); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nothing-here: %d; the index must match / alone", res.StatusCode)
	}
}

func TestStoreErrors(t *testing.T) {
	d := openDemo(t)
	tests := []struct {
		fail string
		path string
	}{
		{"Event", "/breaches/" + d.current.ID},
		{"EdgesTouching", "/breaches/" + d.current.ID},
		{"Events", "/breaches/" + d.current.ID},
		{"EdgesTouching", "/context?service=checkout"},
		{"Events", "/"},
		{"EdgesTouching", "/"},
		{"Services", "/"},
	}
	for _, tt := range tests {
		t.Run(tt.fail+" "+tt.path, func(t *testing.T) {
			var logs bytes.Buffer
			src := &failingSource{Source: d.store, fail: map[string]bool{tt.fail: true}}
			mux := http.NewServeMux()
			newPages(src, slog.New(slog.NewTextHandler(&logs, nil))).Register(mux)
			srv := httptest.NewServer(mux)
			defer srv.Close()
			res, body := fetch(t, srv, tt.path)
			switch {
			case tt.path == "/" && tt.fail == "EdgesTouching":
				// The list still draws; the row says its suspect is unavailable.
				checkPageHeaders(t, res, http.StatusOK)
				if !strings.Contains(body, "Top suspect unavailable") {
					t.Errorf("index does not say the top suspect is unavailable")
				}
			case tt.path == "/" && tt.fail == "Services":
				// The breaches still list; the form takes a typed name.
				checkPageHeaders(t, res, http.StatusOK)
				if !strings.Contains(body, "known services is unavailable") || strings.Contains(body, "<datalist") || !strings.Contains(body, `data-breach-id="`+d.current.ID+`"`) {
					t.Errorf("index without services: want the breaches, no picker and a word why")
				}
			default:
				checkPageHeaders(t, res, http.StatusServiceUnavailable)
				if res.Header.Get("Retry-After") == "" {
					t.Errorf("no Retry-After")
				}
				if !strings.Contains(body, "not answering") {
					t.Errorf("503 page does not say the store is not answering")
				}
			}
			if strings.Contains(body, "10.0.0.7") || strings.Contains(body, "refused") {
				t.Errorf("the page leaks the internal error: %s", body)
			}
			if !strings.Contains(logs.String(), "connection refused") {
				t.Errorf("the cause is not logged: %s", logs.String())
			}
		})
	}
}

func TestStylesheet(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	_, body := fetch(t, srv, "/")
	links := findAll(parseHTML(t, body), func(n *html.Node) bool { return n.Data == "link" && attr(n, "rel") == "stylesheet" })
	if len(links) != 1 || !strings.HasPrefix(attr(links[0], "href"), StylesheetPath+"?v=") {
		t.Fatalf("stylesheet links: %v", links)
	}
	res, css := fetch(t, srv, attr(links[0], "href"))
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/css; charset=utf-8" || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("stylesheet: %d %q %q", res.StatusCode, res.Header.Get("Content-Type"), res.Header.Get("Cache-Control"))
	}
	if css != string(pageCSS) {
		t.Errorf("served stylesheet differs from the embedded one")
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+StylesheetPath, nil)
	req.Header.Set("If-None-Match", res.Header.Get("ETag"))
	res2, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusNotModified {
		t.Errorf("conditional GET: %d, want 304", res2.StatusCode)
	}
}

func TestBreachURL(t *testing.T) {
	for _, tt := range []struct{ public, id, want string }{
		{"https://sregraph.example.com/", "abc", "https://sregraph.example.com/breaches/abc"},
		{"https://ops.example.com/sregraph", "a b", "https://ops.example.com/sregraph/breaches/a%20b"},
		{"", "abc", "/breaches/abc"},
	} {
		p := New(Options{PublicURL: tt.public})
		if got := p.BreachURL(tt.id); got != tt.want {
			t.Errorf("BreachURL(%q) with %q = %q, want %q", tt.id, tt.public, got, tt.want)
		}
	}
}

// The server must draw a breach page in well under 50 ms on the demo.
func BenchmarkBreachPage(b *testing.B) {
	d := openDemo(b)
	mux := http.NewServeMux()
	newPages(d.store, nil).Register(mux)
	for _, bench := range []struct{ name, path string }{
		{"breach", "/breaches/" + d.current.ID},
		{"breach-depth-4", "/breaches/" + d.current.ID + "?depth=4"},
		{"context", "/context?service=payments&at=" + d.current.StartedAt.Format(time.RFC3339)},
		{"index", "/"},
	} {
		b.Run(bench.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, bench.path, nil)
			for b.Loop() {
				rec := httptest.NewRecorder()
				mux.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("status %d", rec.Code)
				}
			}
		})
	}
}

func TestBreachPageServerTime(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("timing check skipped in -short mode and under the race detector")
	}
	d := openDemo(t)
	mux := http.NewServeMux()
	newPages(d.store, nil).Register(mux)
	// Warm up: the first execution of a template prepares its escaping.
	path := "/breaches/" + d.current.ID
	mux.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	var times []time.Duration
	for range 15 {
		start := time.Now()
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		times = append(times, time.Since(start))
	}
	slices.Sort(times)
	if median := times[len(times)/2]; median > 50*time.Millisecond {
		t.Errorf("median server time %s for the breach page, want under 50 ms", median)
	}
}
