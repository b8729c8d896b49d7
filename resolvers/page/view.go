package page

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// How many suspects the page lists before folding the rest away, and how
// many changes it asks the engine for.
const (
	shownSuspects = 10
	rankedChanges = 200
)

// kindStyle is how one event kind is drawn: a letter and a shape, so
// colour is never the only thing that tells kinds apart.
type kindStyle struct {
	Letter string
	Shape  string // circle, square, diamond, triangle, down (a triangle pointing down)
	Label  string
}

var kindStyles = map[graph.Kind]kindStyle{
	graph.KindDeploy:    {"D", "circle", "deploy"},
	graph.KindRollback:  {"R", "circle", "rollback"},
	graph.KindConfig:    {"C", "square", "config change"},
	graph.KindFlag:      {"F", "square", "feature flag"},
	graph.KindScale:     {"S", "square", "scale"},
	graph.KindTicket:    {"T", "diamond", "ticket"},
	graph.KindIncident:  {"I", "diamond", "incident"},
	graph.KindSLOBreach: {"B", "triangle", "SLO breach"},
	graph.KindAnomaly:   {"!", "triangle", "anomaly"},
	// sregraph's own verdict, not an event anyone sent: the O of where a
	// degradation originates, on a triangle pointing down.
	graph.KindDegradation: {"O", "down", "degraded on its own"},
}

// pageKinds are the kinds the page draws, in its stable order: every
// event kind, then sregraph's degradation verdict, which graph.Kinds
// leaves out because no event is ever ingested with it.
func pageKinds() []graph.Kind {
	return append(append(make([]graph.Kind, 0, len(graph.Kinds)+1), graph.Kinds...), graph.KindDegradation)
}

// isChange reports whether k is something done to a service (a cause
// candidate), not a symptom or sregraph's own verdict.
func isChange(k graph.Kind) bool { return !k.Symptom() && k != graph.KindDegradation }

func styleOf(k graph.Kind) kindStyle {
	if s, ok := kindStyles[k]; ok {
		return s
	}
	return kindStyle{Letter: "?", Shape: "circle", Label: string(k)}
}

// legendItem is one row of the legend.
type legendItem struct {
	Kind  graph.Kind
	Style kindStyle
}

// legend lists every kind the page draws, degradation last.
func legend() []legendItem {
	kinds := pageKinds()
	out := make([]legendItem, 0, len(kinds))
	for _, k := range kinds {
		out = append(out, legendItem{Kind: k, Style: styleOf(k)})
	}
	return out
}

// link is a control on the page: a plain link, or a label alone when the
// control is at its limit or already selected.
type link struct {
	Label   string
	Hint    string
	Href    string
	Current bool
}

// controls are the links that change the view.
type controls struct {
	Narrower, Wider       link
	Shallower, Deeper     link
	Directions            []link
	BeforeText, AfterText string
	Depth                 int
}

// breachView is the breach a page is about.
type breachView struct {
	ID       string
	Service  string
	SLO      string
	Summary  string
	Started  stamp
	Resolved *stamp
	OpenFor  string
	// Duration says how long it lasted, or has been open.
	Duration    string
	Open        bool
	URL         string
	SourceURL   string
	SourceLabel string
}

// stamp is an instant shown to people: absolute UTC, machine-readable and
// relative to something.
type stamp struct {
	ISO      string
	Text     string
	Relative string
}

func stampOf(t, ref time.Time, refName string) stamp {
	t = t.UTC()
	s := stamp{ISO: t.Format(time.RFC3339), Text: t.Format("2006-01-02 15:04 UTC")}
	if !ref.IsZero() {
		s.Relative = relative(t, ref, refName)
	}
	return s
}

// relative says how t lies from ref: "12 min before", "3 min after",
// "at the same time"; with refName, "12 min ago" style for now.
func relative(t, ref time.Time, refName string) string {
	d := ref.Sub(t)
	if refName == "now" {
		switch {
		case d >= -time.Minute && d < time.Minute:
			return "just now"
		case d > 0:
			return graph.FormatAgo(d) + " ago"
		default:
			return "in " + graph.FormatAgo(d)
		}
	}
	switch {
	case d == 0:
		return "at the same time"
	case d > 0:
		return graph.FormatAgo(d) + " before"
	default:
		return graph.FormatAgo(d) + " after"
	}
}

// suspectView is one ranked change as the page shows it.
type suspectView struct {
	// ConfirmAction, on a breach page that can record it, is where the
	// "This was the cause" button posts.
	ConfirmAction string
	Rank          int
	Score         string
	ScorePct      int
	Kind          graph.Kind
	Style         kindStyle
	Service       string
	Summary       string
	When          string
	At            stamp
	Hops          int
	HopsText      string
	// Path runs in the direction of the calls, so every arrow reads
	// "calls".
	Path     []string
	Reasons  []string
	Source   string
	URL      string
	LinkText string
	EventID  string
	Symptom  bool
	// FocusHref re-centres the page on the changed service at the same
	// instant.
	FocusHref string
	// Anchor is the id of the element that shows this change on the page
	// (see cardAnchors); the timeline's marker links to it.
	Anchor string
}

// originView is where the telemetry says the degradation starts: the
// verdict's "Where it starts" line.
type originView struct {
	Service string
	Onset   stamp
	// Time is the onset's minute, "11:42"; When says how it lies from the
	// breach (or the instant asked about): "8 min before the breach".
	Time string
	When string
	// Evidence is the first (strongest) shift on calls into the service.
	Evidence string
	// Linked is true when the breached service reaches the origin along
	// degraded calls: the breach is this degradation's effect.
	Linked    bool
	FocusHref string
}

// contextView is everything the context and breach pages render.
type contextView struct {
	Title    string
	Focus    string
	Breach   *breachView
	At       stamp
	From, To stamp
	Window   string
	Relation string
	Controls controls
	Top      *suspectView
	Origin   *originView
	// Confirmation is what a responder confirmed caused the breach.
	Confirmation *confirmView
	// Suspects are the ranked changes shown, the top one first; Rest are
	// those after the top one, which the verdict shows on its own.
	Suspects  []suspectView
	Rest      []suspectView
	More      []suspectView
	Human     []suspectView
	Symptoms  []suspectView
	Truncated bool
	Services  int
	Timeline  timeline
	Map       neighbourhood
	Legend    []legendItem
	Generated stamp
	// Permalink is this view's canonical address (absolute when a public
	// URL is configured).
	Permalink string
}

// linker builds the links of one view.
type linker struct {
	base      string // "/context" or "/breaches/{id}"
	withFocus bool
	p         params
}

func (l linker) href(p params) string {
	q := p.values(l.withFocus).Encode()
	if q == "" {
		return l.base
	}
	return l.base + "?" + q
}

// focusHref is the context page for another service at the same instant
// and window.
func (l linker) focusHref(service string) string {
	p := l.p
	p.Service = service
	return "/context?" + p.values(true).Encode()
}

func (l linker) controls() controls {
	p := l.p
	c := controls{BeforeText: formatDuration(p.Before), AfterText: formatDuration(p.After), Depth: p.Depth}

	narrow := p
	narrow.Before = p.Before / 2
	narrow.After = p.After / 2
	c.Narrower = link{Label: "Narrower", Hint: "halve the window"}
	if narrow.Before >= MinBefore {
		c.Narrower.Href = l.href(narrow)
		c.Narrower.Hint = fmt.Sprintf("%s before, %s after", formatDuration(narrow.Before), formatDuration(narrow.After))
	}
	wide := p
	wide.Before = p.Before * 2
	wide.After = p.After * 2
	if wide.Before == 0 {
		wide.Before = MinBefore
	}
	c.Wider = link{Label: "Wider", Hint: "double the window"}
	if wide.Before+wide.After <= graph.MaxWindow {
		c.Wider.Href = l.href(wide)
		c.Wider.Hint = fmt.Sprintf("%s before, %s after", formatDuration(wide.Before), formatDuration(wide.After))
	}

	shallow, deep := p, p
	shallow.Depth, deep.Depth = p.Depth-1, p.Depth+1
	c.Shallower = link{Label: "−", Hint: "one hop fewer"}
	if shallow.Depth >= 1 {
		c.Shallower.Href = l.href(shallow)
		c.Shallower.Hint = fmt.Sprintf("depth %d", shallow.Depth)
	}
	c.Deeper = link{Label: "+", Hint: "one hop more"}
	if deep.Depth <= graph.MaxDepth {
		c.Deeper.Href = l.href(deep)
		c.Deeper.Hint = fmt.Sprintf("depth %d", deep.Depth)
	}

	for _, d := range []struct {
		dir   graph.Direction
		label string
		hint  string
	}{
		{graph.Both, "Both", "services it calls and services that call it"},
		{graph.Dependencies, "Dependencies", "services it calls"},
		{graph.Dependents, "Dependents", "services that call it"},
	} {
		q := p
		q.Direction = d.dir
		c.Directions = append(c.Directions, link{Label: d.label, Hint: d.hint, Href: l.href(q), Current: d.dir == p.Direction})
	}
	return c
}

// buildView turns a breach context into what the page shows.
func buildView(c *graph.Context, p params, l linker, now time.Time, publicURL string) *contextView {
	v := &contextView{
		Focus:     c.Focus,
		At:        stampOf(c.At, now, "now"),
		From:      stampOf(c.From, time.Time{}, ""),
		To:        stampOf(c.To, time.Time{}, ""),
		Window:    windowText(c.From, c.To),
		Relation:  directionText(p.Direction, p.Depth),
		Controls:  l.controls(),
		Truncated: c.Truncated,
		Services:  len(c.Services),
		Legend:    legend(),
		Generated: stampOf(now, time.Time{}, ""),
		Permalink: strings.TrimRight(publicURL, "/") + l.href(p),
	}
	if c.Breach != nil {
		v.Breach = breachViewOf(c.Breach, now, publicURL)
		v.Title = fmt.Sprintf("%s: %s breach", c.Focus, v.Breach.SLO)
	} else {
		v.Title = fmt.Sprintf("%s around %s", c.Focus, v.At.Text)
	}
	anchors := cardAnchors(c.Changes)
	for i := range c.Changes {
		s := suspectOf(&c.Changes[i], c.At, l)
		s.Anchor = anchors[i]
		switch {
		case s.Symptom:
			v.Symptoms = append(v.Symptoms, s)
		default:
			if len(v.Suspects) < shownSuspects {
				v.Suspects = append(v.Suspects, s)
			} else {
				v.More = append(v.More, s)
			}
		}
		if s.Kind == graph.KindTicket || s.Kind == graph.KindIncident {
			// A ticket is a suspect too; its card holds the anchor.
			h := s
			h.Anchor = ""
			v.Human = append(v.Human, h)
		}
	}
	sort.SliceStable(v.Human, func(i, j int) bool { return v.Human[i].At.ISO > v.Human[j].At.ISO })
	if len(v.Suspects) > 0 {
		// The top suspect is drawn once, as the verdict; the ranked list
		// carries on from #2.
		v.Top = &v.Suspects[0]
		v.Rest = v.Suspects[1:]
	}
	v.Origin = originOf(c, l)
	v.Timeline = layoutTimeline(c, l, anchors)
	v.Map = layoutNeighbourhood(c, l)
	return v
}

// cardAnchors returns, for each change, the id of the element that shows
// it: the verdict for the top suspect, "suspect-N" for the card of rank N,
// "symptom-N" for the Nth line under other breaches and anomalies. A
// marker on the timeline links there, so a tap or a key press reaches
// what a pointer's hover would show.
func cardAnchors(changes []graph.RankedChange) []string {
	out := make([]string, len(changes))
	top, symptoms := true, 0
	for i, ch := range changes {
		switch {
		case ch.Symptom:
			symptoms++
			out[i] = "symptom-" + strconv.Itoa(symptoms)
		case top:
			top = false
			out[i] = "top-suspect"
		default:
			out[i] = "suspect-" + strconv.Itoa(ch.Rank)
		}
	}
	return out
}

// firstOrigin is where the degradation the breach belongs to starts (or,
// when none is linked to it, the strongest one nearby), if the telemetry
// shows one with evidence.
func firstOrigin(c *graph.Context) (graph.Origin, bool) {
	if len(c.Origins) == 0 || len(c.Origins[0].Evidence) == 0 {
		return graph.Origin{}, false
	}
	return c.Origins[0], true
}

func originOf(c *graph.Context, l linker) *originView {
	o, ok := firstOrigin(c)
	if !ok {
		return nil
	}
	return &originView{
		Service: o.Service, Onset: stampOf(o.Onset, time.Time{}, ""), Time: o.Onset.UTC().Format("15:04"),
		When: relativeToAt(o.Onset, c), Evidence: o.Evidence[0].Sentence(), Linked: o.Linked,
		FocusHref: l.focusHref(o.Service),
	}
}

// relativeToAt says how t lies from c's instant, naming it: "8 min before
// the breach", "at the same time as the instant asked about".
func relativeToAt(t time.Time, c *graph.Context) string {
	what := "the instant asked about"
	if c.Breach != nil {
		what = "the breach"
	}
	if t.Equal(c.At) {
		return "at the same time as " + what
	}
	return relative(t, c.At, "") + " " + what
}

func breachViewOf(b *graph.Breach, now time.Time, publicURL string) *breachView {
	bv := &breachView{
		ID: b.ID, Service: b.Service, SLO: b.SLO, Summary: b.Summary,
		Started: stampOf(b.StartedAt, now, "now"),
		Open:    b.ResolvedAt == nil,
		URL:     breachURL(publicURL, b.ID),
	}
	if b.ResolvedAt != nil {
		r := stampOf(*b.ResolvedAt, now, "now")
		bv.Resolved = &r
		bv.OpenFor = graph.FormatAgo(b.ResolvedAt.Sub(b.StartedAt))
		bv.Duration = "lasted " + bv.OpenFor
	} else if now.After(b.StartedAt) {
		bv.OpenFor = graph.FormatAgo(now.Sub(b.StartedAt))
		bv.Duration = "open for " + bv.OpenFor
	}
	if safeURL(b.Event.URL) {
		bv.SourceURL = b.Event.URL
		bv.SourceLabel = "alert in " + b.Event.Source
	}
	return bv
}

// breachURL is the absolute (when publicURL is set) link to a breach page.
func breachURL(publicURL, id string) string {
	return strings.TrimRight(publicURL, "/") + "/breaches/" + url.PathEscape(id)
}

func suspectOf(rc *graph.RankedChange, at time.Time, l linker) suspectView {
	e := rc.Event
	s := suspectView{
		Rank: rc.Rank, Score: strconv.FormatFloat(rc.Score, 'f', 2, 64), ScorePct: int(rc.Score*100 + 0.5),
		Kind: e.Kind, Style: styleOf(e.Kind), Service: e.Service, Summary: e.Summary,
		When: relative(e.At, at, ""), At: stampOf(e.At, time.Time{}, ""),
		Hops: rc.Hops, HopsText: hopsText(rc.Hops, rc.Relation, rc.Path), Path: callPath(rc.Path, rc.Relation), Reasons: rc.Reasons,
		Source: e.Source, EventID: e.ID, Symptom: rc.Symptom,
		FocusHref: l.focusHref(e.Service),
	}
	if safeURL(e.URL) {
		s.URL = e.URL
		s.LinkText = sourceNoun(e)
	}
	return s
}

// sourceNoun names what a source link leads to.
func sourceNoun(e graph.Event) string {
	u := strings.ToLower(e.URL)
	switch {
	case strings.Contains(u, "/pull/") || strings.Contains(u, "/merge_requests/"):
		return "pull request"
	case strings.Contains(u, "/commit/"):
		return "commit"
	}
	switch e.Kind {
	case graph.KindDeploy, graph.KindRollback:
		return "deploy"
	case graph.KindTicket:
		return "ticket"
	case graph.KindIncident:
		return "incident"
	case graph.KindSLOBreach, graph.KindAnomaly:
		return "alert"
	case graph.KindConfig, graph.KindFlag:
		return "change"
	}
	return "source"
}

// safeURL accepts only absolute http(s) links for source links.
func safeURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

func hopsText(hops int, rel graph.Direction, path []string) string {
	switch {
	case hops == 0:
		return "on the service itself"
	case rel == graph.Dependents:
		return countText(hops, "hop") + " away, a caller"
	case rel == graph.Siblings:
		if dep, ok := siblingOf(path); ok {
			return countText(hops, "hop") + " away, another caller of " + dep
		}
		return countText(hops, "hop") + " away, another caller of a dependency"
	default:
		return countText(hops, "hop") + " away, a dependency"
	}
}

// callPath orders a path so that each arrow reads "calls": the focus
// first for a dependency, the caller first for a dependent. A sibling
// calls the last service before it, so its path stops there (the sibling
// is named beside it).
func callPath(path []string, rel graph.Direction) []string {
	switch rel {
	case graph.Dependents:
		return reversed(path)
	case graph.Siblings:
		if len(path) >= 2 {
			return path[:len(path)-1]
		}
	}
	return path
}

// siblingOf returns the dependency a sibling calls: the service before it
// on its path from the focus.
func siblingOf(path []string) (string, bool) {
	if len(path) < 2 {
		return "", false
	}
	return path[len(path)-2], true
}

func directionText(d graph.Direction, depth int) string {
	hops := "hops"
	if depth == 1 {
		hops = "hop"
	}
	switch d {
	case graph.Dependencies:
		return fmt.Sprintf("services it calls, up to %d %s", depth, hops)
	case graph.Dependents:
		return fmt.Sprintf("services that call it, up to %d %s", depth, hops)
	}
	return fmt.Sprintf("services it calls and that call it, up to %d %s", depth, hops)
}

func windowText(from, to time.Time) string {
	from, to = from.UTC(), to.UTC()
	if from.Format("2006-01-02") == to.Format("2006-01-02") {
		return from.Format("2006-01-02 15:04") + " – " + to.Format("15:04 UTC")
	}
	return from.Format("2006-01-02 15:04") + " – " + to.Format("2006-01-02 15:04 UTC")
}

// confirmView is a recorded confirmation as the verdict shows it.
type confirmView struct {
	graph.Confirmation
	When stamp
}
