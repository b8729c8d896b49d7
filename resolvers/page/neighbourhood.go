package page

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/sregraph/sregraph/graph"
)

// Neighbourhood geometry, in SVG user units.
const (
	columnWidth  = 236.0
	nodeWidth    = 156.0
	nodeHeight   = 40.0
	rowHeight    = 66.0
	mapPadX      = 16.0
	mapTop       = 44.0
	mapBottom    = 20.0
	mapMinWidth  = 560.0
	badgeSpacing = 19.0
	// sameColumnBow is how far an edge between two services of one column
	// bows out to the right.
	sameColumnBow = 36.0
	// The origin's mark: a ring around its box, and a "starts here" tag
	// on the left of its top edge (the kind badges take the right).
	originRing = 3.5
	cueInset   = 8.0
	cueWidth   = 70.0
	cueHeight  = 15.0
)

// originCue is the text of the origin's tag: the map says where the
// degradation starts in words, not by colour alone.
const originCue = "starts here"

// neighbourhood is the server-drawn dependency map: the focus in the
// centre column, dependencies to the right one column per hop, dependents
// to the left, siblings (other callers of a degraded dependency) in the
// column left of that dependency; rows in a column sorted by name. The layout depends only on
// the data, so the same context always draws the same picture.
type neighbourhood struct {
	Width, Height float64
	Columns       []mapColumn
	Nodes         []mapNode
	Edges         []mapEdge
	Summary       string
	// Origin names the service marked as where the degradation starts,
	// when it is drawn; Siblings is true when the map holds siblings.
	Origin   string
	Siblings bool
}

// Table returns the edges for the table under the drawing, worst first.
func (n neighbourhood) Table() []mapEdge { return edgesByErrors(n.Edges) }

type mapColumn struct {
	X     float64
	Label string
}

type mapNode struct {
	ID       string
	Service  string
	Label    string
	X, Y     float64
	TextX    float64
	TextY    float64
	Hops     int
	Relation graph.Direction
	Col      int
	Focus    bool
	Changed  bool
	Top      bool
	// Origin marks where the degradation starts (the context's first
	// origin); Ring and Cue, its ring and tag, are drawn only then.
	Origin bool
	Ring   box
	Cue    cue
	Badges []badge
	Title  string
	Href   string
}

// box is a rectangle in SVG user units.
type box struct{ X, Y, W, H float64 }

// cue is a small tag of text on a node.
type cue struct {
	box
	TextX, TextY float64
	Text         string
}

type badge struct {
	X, Y  float64
	Kind  graph.Kind
	Style kindStyle
	Count int
	Title string
}

type mapEdge struct {
	ID       string
	Key      string
	From, To string
	D        string
	LabelX   float64
	LabelY   float64
	// Label and Label2 are the two lines of a failing edge's label: the
	// errors and the error ratio.
	Label    string
	Label2   string
	Title    string
	Width    string
	Calls    int64
	Errors   int64
	Ratio    float64
	Percent  string
	Hot      bool
	Declared bool
}

// connectionPhrase says, after an edge's ends in its title, what its calls
// go over; nothing for direct calls.
func connectionPhrase(c graph.ConnectionType) string {
	switch c {
	case graph.ConnectionDatabase:
		return ", database calls"
	case graph.ConnectionMessaging:
		return ", through a messaging system"
	case graph.ConnectionVirtual:
		return ", one end not instrumented (virtual node)"
	}
	return ""
}

// HotErrorRatio is the error ratio from which an edge is drawn as failing
// and labelled on the map.
const HotErrorRatio = 0.01

// edgesByErrors returns the edges worst first: by error ratio, then
// errors, then name.
func edgesByErrors(edges []mapEdge) []mapEdge {
	out := append([]mapEdge(nil), edges...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Ratio != out[j].Ratio {
			return out[i].Ratio > out[j].Ratio
		}
		if out[i].Errors != out[j].Errors {
			return out[i].Errors > out[j].Errors
		}
		return out[i].Key < out[j].Key
	})
	return out
}

// layoutNeighbourhood places c's services and edges.
func layoutNeighbourhood(c *graph.Context, l linker) neighbourhood {
	col := columns(c.Services)
	cols := map[int][]graph.NearbyService{}
	minCol, maxCol := 0, 0
	for _, s := range c.Services {
		k := col[s.Service]
		cols[k] = append(cols[k], s)
		minCol, maxCol = min(minCol, k), max(maxCol, k)
	}
	rows := 0
	for k := range cols {
		sort.Slice(cols[k], func(i, j int) bool { return cols[k][i].Service < cols[k][j].Service })
		rows = max(rows, len(cols[k]))
	}
	n := neighbourhood{}
	ncols := maxCol - minCol + 1
	// An edge inside the rightmost column bows out past it.
	bow := 0.0
	for _, e := range c.Edges {
		if k, ok := col[e.From]; ok && k == maxCol && col[e.To] == k {
			bow = 2 * sameColumnBow
		}
	}
	n.Width = max(mapMinWidth, float64(ncols)*columnWidth+2*mapPadX+bow)
	n.Height = mapTop + float64(max(rows, 1))*rowHeight + mapBottom
	left := (n.Width - bow - float64(ncols)*columnWidth) / 2

	origin, hasOrigin := firstOrigin(c)
	// Kinds of change per service, and the top suspect.
	kinds := map[string]map[graph.Kind]int{}
	topService := ""
	for _, ch := range c.Changes {
		s := ch.Event.Service
		if kinds[s] == nil {
			kinds[s] = map[graph.Kind]int{}
		}
		kinds[s][ch.Event.Kind]++
		if topService == "" && !ch.Symptom {
			topService = s
		}
	}

	for k := minCol; k <= maxCol; k++ {
		n.Columns = append(n.Columns, mapColumn{X: left + float64(k-minCol)*columnWidth + columnWidth/2, Label: columnLabel(k)})
	}
	pos := map[string]*mapNode{}
	idx := 0
	for k := minCol; k <= maxCol; k++ {
		col := cols[k]
		offset := float64(rows-len(col)) * rowHeight / 2
		for r, s := range col {
			x := left + float64(k-minCol)*columnWidth + (columnWidth-nodeWidth)/2
			y := mapTop + offset + float64(r)*rowHeight + (rowHeight-nodeHeight)/2
			nd := mapNode{
				ID: "svc-" + strconv.Itoa(idx), Service: s.Service, Label: shorten(s.Service, 18),
				X: x, Y: y, TextX: x + 10, TextY: y + nodeHeight/2 + 5,
				Hops: s.Hops, Relation: s.Relation, Col: k, Focus: s.Service == c.Focus, Top: s.Service == topService,
				Origin: hasOrigin && s.Service == origin.Service,
				Href:   l.focusHref(s.Service),
			}
			idx++
			if nd.Origin {
				nd.Ring = box{X: x - originRing, Y: y - originRing, W: nodeWidth + 2*originRing, H: nodeHeight + 2*originRing}
				nd.Cue = cue{
					box:   box{X: x + cueInset, Y: y - cueHeight/2, W: cueWidth, H: cueHeight},
					TextX: x + cueInset + cueWidth/2, TextY: y + 3.5, Text: originCue,
				}
			}
			var changed []string
			for _, kind := range pageKinds() {
				count := kinds[s.Service][kind]
				if count == 0 {
					continue
				}
				st := styleOf(kind)
				if isChange(kind) {
					nd.Changed = true
				}
				what := countText(count, st.Label)
				if kind == graph.KindDegradation {
					what = "degraded, and no change explains it"
				}
				nd.Badges = append(nd.Badges, badge{Kind: kind, Style: st, Count: count, Title: what})
				changed = append(changed, what)
			}
			// Badges sit on the node's top edge, right-aligned.
			for i := range nd.Badges {
				nd.Badges[i].X = x + nodeWidth - 12 - float64(len(nd.Badges)-1-i)*badgeSpacing
				nd.Badges[i].Y = y
			}
			nd.Title = nodeTitle(s, changed, nd.Top)
			if nd.Origin {
				nd.Title += ". " + originTitle(origin, c)
			}
			if s.Relation == graph.Siblings {
				if surge, ok := surgeOf(c.Origins, s); ok {
					nd.Title += ". Its calls surged as that service degraded: " + surge.Sentence()
				}
			}
			n.Nodes = append(n.Nodes, nd)
			pos[s.Service] = &n.Nodes[len(n.Nodes)-1]
		}
	}

	present := map[string]bool{}
	for _, e := range c.Edges {
		present[e.From+"\x00"+e.To] = true
	}
	for i, e := range c.Edges {
		a, b := pos[e.From], pos[e.To]
		if a == nil || b == nil {
			continue
		}
		// Two edges between the same pair run side by side.
		shift := 0.0
		if present[e.To+"\x00"+e.From] {
			shift = 5
			if e.From > e.To {
				shift = -5
			}
		}
		me := mapEdge{
			ID: "edge-" + strconv.Itoa(i), Key: e.From + "->" + e.To, From: e.From, To: e.To,
			Calls: e.Calls, Errors: e.Errors, Declared: e.Declared && e.Calls == 0,
			Width: strconv.FormatFloat(edgeWidth(e.Calls), 'f', 1, 64),
		}
		me.D, me.LabelX, me.LabelY = route(a, b, shift)
		ratio := 0.0
		if e.Calls > 0 {
			ratio = float64(e.Errors) / float64(e.Calls)
		}
		me.Ratio = ratio
		me.Percent = percent(ratio)
		// Only failing edges get a label on the drawing; every edge has
		// its counts in its title and in the table under the drawing.
		me.Hot = e.Errors > 0 && ratio >= HotErrorRatio
		if me.Hot {
			me.Label, me.Label2 = compact(e.Errors)+" err", percent(ratio)
		}
		if me.Declared {
			me.Title = fmt.Sprintf("%s → %s: declared dependency, no calls seen in the window", e.From, e.To)
		} else {
			me.Title = fmt.Sprintf("%s → %s%s: %s calls, %s errors (%s)", e.From, e.To, connectionPhrase(e.ConnectionType),
				thousands(e.Calls), thousands(e.Errors), percent(ratio))
		}
		n.Edges = append(n.Edges, me)
	}
	changed := 0
	for _, nd := range n.Nodes {
		if nd.Changed {
			changed++
		}
		// The origin may lie outside the services drawn (the breach
		// reaches it past the depth asked for); then the verdict names it
		// alone.
		if nd.Origin {
			n.Origin = nd.Service
		}
		n.Siblings = n.Siblings || nd.Relation == graph.Siblings
	}
	n.Summary = fmt.Sprintf("%s and %s around %s; %d changed in the window", countText(len(n.Nodes), "service"), countText(len(n.Edges), "call edge"), c.Focus, changed)
	if n.Origin != "" {
		n.Summary += fmt.Sprintf("; the degradation starts at %s, marked “%s”", n.Origin, originCue)
	}
	return n
}

// columns places every service of a neighbourhood in its column (see
// column).
func columns(services []graph.NearbyService) map[string]int {
	byName := make(map[string]graph.NearbyService, len(services))
	for _, s := range services {
		byName[s.Service] = s
	}
	out := make(map[string]int, len(services))
	for _, s := range services {
		out[s.Service] = column(s, byName)
	}
	return out
}

// column is a service's signed hop distance: dependencies to the right,
// dependents to the left. A sibling calls a degraded dependency the walk
// reached, so it stands one column left of that dependency, among its
// callers, and its call runs left to right like every other. byName holds
// the neighbourhood's services.
func column(s graph.NearbyService, byName map[string]graph.NearbyService) int {
	switch s.Relation {
	case graph.Dependents:
		return -s.Hops
	case graph.Siblings:
		if dep, ok := siblingOf(s.Path); ok {
			if d, ok := byName[dep]; ok && d.Relation != graph.Siblings {
				return column(d, byName) - 1
			}
		}
		// The dependency is one hop nearer the focus than the sibling.
		return s.Hops - 2
	}
	return s.Hops
}

// surgeOf finds, among the origins, the surge of a sibling's calls into
// the dependency it shares with the focus.
func surgeOf(origins []graph.Origin, s graph.NearbyService) (graph.Evidence, bool) {
	dep, ok := siblingOf(s.Path)
	if !ok {
		return graph.Evidence{}, false
	}
	for _, o := range origins {
		if o.Service != dep {
			continue
		}
		for _, e := range o.Surges {
			if e.From == s.Service {
				return e, true
			}
		}
	}
	return graph.Evidence{}, false
}

// originTitle says, in the origin node's title, when the degradation
// started there and what shows it.
func originTitle(o graph.Origin, c *graph.Context) string {
	at := fmt.Sprintf("from %s UTC, %s", o.Onset.UTC().Format("15:04"), relativeToAt(o.Onset, c))
	if !o.Linked {
		return fmt.Sprintf("A degradation starts here %s, though %s does not reach it along degraded calls: %s", at, c.Focus, o.Evidence[0].Sentence())
	}
	return fmt.Sprintf("Where the degradation starts, %s: %s", at, o.Evidence[0].Sentence())
}

func columnLabel(k int) string {
	switch {
	case k == 0:
		return "focus"
	case k < 0:
		return "← calls it · " + countText(-k, "hop")
	default:
		return "it calls · " + countText(k, "hop") + " →"
	}
}

// route draws an edge from a to b and returns the path and the label
// position. Calls run left to right between columns; an edge inside one
// column bows out to the right.
func route(a, b *mapNode, shift float64) (string, float64, float64) {
	y1, y2 := a.Y+nodeHeight/2+shift, b.Y+nodeHeight/2+shift
	var x1, x2, c1, c2 float64
	switch {
	case a.Col < b.Col:
		x1, x2 = a.X+nodeWidth, b.X-4
		dx := (x2 - x1) / 2
		c1, c2 = x1+dx, x2-dx
	case a.Col > b.Col:
		x1, x2 = a.X, b.X+nodeWidth+4
		dx := (x1 - x2) / 2
		c1, c2 = x1-dx, x2+dx
	default:
		x1, x2 = a.X+nodeWidth, b.X+nodeWidth+4
		c1, c2 = x1+sameColumnBow*1.3, x2+sameColumnBow*1.3
		return fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, c1, y1, c2, y2, x2, y2),
			x1 + sameColumnBow, (y1+y2)/2 + 4
	}
	return fmt.Sprintf("M%.1f %.1f C%.1f %.1f %.1f %.1f %.1f %.1f", x1, y1, c1, y1, c2, y2, x2, y2),
		(x1 + x2) / 2, (y1+y2)/2 - 8
}

func edgeWidth(calls int64) float64 {
	if calls <= 0 {
		return 1
	}
	return 1 + math.Min(2.5, math.Log10(float64(calls)+1)*0.5)
}

func nodeTitle(s graph.NearbyService, changed []string, top bool) string {
	var b strings.Builder
	b.WriteString(s.Service)
	switch {
	case s.Hops == 0:
		b.WriteString(": the focus service")
	case s.Relation == graph.Dependents:
		fmt.Fprintf(&b, ": calls the focus, %s (%s)", countText(s.Hops, "hop"), strings.Join(reversed(s.Path), " → "))
	case s.Relation == graph.Siblings:
		if dep, ok := siblingOf(s.Path); ok {
			fmt.Fprintf(&b, ": another caller of %s, which the focus reaches (%s; %s calls %s too)", dep, strings.Join(s.Path[:len(s.Path)-1], " → "), s.Service, dep)
		} else {
			b.WriteString(": another caller of a dependency of the focus")
		}
	default:
		fmt.Fprintf(&b, ": a dependency, %s (%s)", countText(s.Hops, "hop"), strings.Join(s.Path, " → "))
	}
	if len(changed) > 0 {
		b.WriteString(". In the window: " + strings.Join(changed, ", "))
	} else {
		b.WriteString(". No changes in the window")
	}
	if top {
		b.WriteString(". Holds the top suspect")
	}
	return b.String()
}

func reversed(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[len(ss)-1-i] = s
	}
	return out
}

func countText(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

func percent(r float64) string {
	if r > 0 && r < 0.1 {
		return strconv.FormatFloat(r*100, 'f', 1, 64) + "%"
	}
	return strconv.FormatFloat(r*100, 'f', 0, 64) + "%"
}

// compact renders a count briefly: 950, 1.2k, 34k, 1.5M.
func compact(n int64) string {
	switch {
	case n < 1000:
		return strconv.FormatInt(n, 10)
	case n < 10000:
		return strconv.FormatFloat(float64(n)/1000, 'f', 1, 64) + "k"
	case n < 1000000:
		return strconv.FormatInt(n/1000, 10) + "k"
	default:
		return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + "M"
	}
}

// thousands renders n with thin separators: 12,345.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
