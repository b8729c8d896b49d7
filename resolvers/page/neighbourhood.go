package page

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// Neighbourhood geometry, in SVG user units.
const (
	columnWidth  = 256.0
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
	// portStep is the spacing of the edge ends on one side of a node, so
	// that edges leave and reach a service side by side instead of from
	// one point; portMargin keeps them off the node's corners.
	portStep   = 7.0
	portMargin = 7.0
	// orderSweeps bounds the passes that order the services of each
	// column (see orderColumns).
	orderSweeps = 12
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
// column left of that dependency. Within a column, services are ordered
// so that call edges cross as little as the ordering can make them (see
// orderColumns), and each edge leaves and reaches a service at a port of
// its own. The layout depends only on the data, so the same context
// always draws the same picture.
//
// On a screen too narrow to draw it legibly, the page shows Groups
// instead: the same services, column by column, each with what changed
// on it and the calls it makes, as text that reflows.
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
	// Span is the window the counts cover, "09:50–12:05".
	Span string
	// Groups are the columns as lists, for narrow screens.
	Groups []mapGroup
	// Fit is the narrowest container, in rem, in which the drawing scaled
	// to fit stays legible; the stylesheet shows Groups below it.
	Fit int
	// Crossings is how many pairs of call edges the column order leaves
	// crossing (counted on straight lines between columns).
	Crossings int
}

// mapGroup is one column of the map as a list.
type mapGroup struct {
	Label string
	Items []mapItem
}

// mapItem is one service of a group, with the calls it makes.
type mapItem struct {
	Node mapNode
	// Detail is the node's title without the name the item starts with.
	Detail string
	Calls  []mapEdge
}

// minMapScale is the smallest scale the drawing may be shrunk to before
// the page shows the list instead: 13 px names at 0.6 read as 8 px.
const minMapScale = 0.6

// fitSteps are the container widths, in rem, the stylesheet has rules for
// (.fit-N): the drawing shows from N rem up. fitNever hides it at every
// width: past 72 rem, no page is wide enough.
var fitSteps = []int{24, 32, 40, 48, 56, 64, 72}

const fitNever = 0

// fitOf is the smallest step at which a drawing w units wide shows at
// minMapScale or more (one rem is 16 px; the chart's padding is 1 rem).
func fitOf(w float64) int {
	need := w*minMapScale/16 + 1
	for _, f := range fitSteps {
		if float64(f) >= need {
			return f
		}
	}
	return fitNever
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
	// Label and Label2 are the two lines of a failing edge's label, each
	// saying what span it counts: the error ratio before and after the
	// onset when the errors rose in the window ("0.2% → 8.5% err", "from
	// 11:43"), else the errors over the whole window ("411 err · 1.7%",
	// "09:50–12:05").
	Label  string
	Label2 string
	// Shift is the rise in errors the telemetry shows on the edge, when
	// Shifted.
	Shift    graph.Evidence
	Shifted  bool
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
		rows = max(rows, len(cols[k]))
	}
	n := neighbourhood{}
	n.Crossings = orderColumns(cols, col, c.Edges, minCol, maxCol, rows)
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

	shifts := errorShifts(c.Origins)
	span := spanText(c.From, c.To)
	ports := assignPorts(c.Edges, pos)
	for i, e := range c.Edges {
		a, b := pos[e.From], pos[e.To]
		if a == nil || b == nil {
			continue
		}
		me := mapEdge{
			ID: "edge-" + strconv.Itoa(i), Key: e.From + "->" + e.To, From: e.From, To: e.To,
			Calls: e.Calls, Errors: e.Errors, Declared: e.Declared && e.Calls == 0,
			Width: strconv.FormatFloat(edgeWidth(e.Calls), 'f', 1, 64),
		}
		me.D, me.LabelX, me.LabelY = route(a, b, ports[i])
		ratio := 0.0
		if e.Calls > 0 {
			ratio = float64(e.Errors) / float64(e.Calls)
		}
		me.Ratio = ratio
		me.Percent = percent(ratio)
		// Only failing edges get a label on the drawing; every edge has
		// its counts in its title and in the table under the drawing.
		me.Hot = e.Errors > 0 && ratio >= HotErrorRatio
		me.Shift, me.Shifted = shifts[e.From+"\x00"+e.To]
		switch {
		case me.Shifted:
			me.Label = percent(me.Shift.Before) + " → " + percent(me.Shift.After) + " err"
			me.Label2 = "from " + me.Shift.Onset.UTC().Format("15:04")
		case me.Hot:
			me.Label = compact(e.Errors) + " err · " + percent(ratio)
			me.Label2 = span
		}
		if me.Declared {
			me.Title = fmt.Sprintf("%s → %s: declared dependency, no calls seen in the window (%s UTC)", e.From, e.To, span)
		} else {
			me.Title = fmt.Sprintf("%s → %s%s: %s calls, %s errors (%s) over the window, %s UTC", e.From, e.To, connectionPhrase(e.ConnectionType),
				thousands(e.Calls), thousands(e.Errors), percent(ratio), span)
		}
		if me.Shifted {
			me.Title += "; " + me.Shift.Sentence()
		}
		n.Edges = append(n.Edges, me)
	}
	n.Span = span
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
	n.Fit = fitOf(n.Width)
	n.Groups = groupsOf(n, minCol, maxCol)
	n.Summary = fmt.Sprintf("%s and %s around %s; %d changed in the window", countText(len(n.Nodes), "service"), countText(len(n.Edges), "call edge"), c.Focus, changed)
	if n.Origin != "" {
		n.Summary += fmt.Sprintf("; the degradation starts at %s, marked “%s”", n.Origin, originCue)
	}
	return n
}

// errorShifts returns, by caller and callee, the rise in errors each
// edge into an origin shows: the strongest (first) one an edge has.
func errorShifts(origins []graph.Origin) map[string]graph.Evidence {
	out := map[string]graph.Evidence{}
	for _, o := range origins {
		for _, e := range o.Evidence {
			k := e.From + "\x00" + e.To
			if _, seen := out[k]; !seen && e.Signal == graph.SignalErrors {
				out[k] = e
			}
		}
	}
	return out
}

// spanText is the window's span in minutes, "09:50–12:05", with the dates
// when it crosses midnight.
func spanText(from, to time.Time) string {
	from, to = from.UTC(), to.UTC()
	if from.Format("2006-01-02") == to.Format("2006-01-02") {
		return from.Format("15:04") + "–" + to.Format("15:04")
	}
	return from.Format("Jan 2 15:04") + "–" + to.Format("Jan 2 15:04")
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

// route draws an edge from a to b between its ports (the heights at
// which it leaves a and reaches b) and returns the path and the label
// position. Calls run left to right between columns; an edge inside one
// column bows out to the right.
func route(a, b *mapNode, p port) (string, float64, float64) {
	y1, y2 := p.from, p.to
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

// port is where one edge leaves its caller and reaches its callee.
type port struct{ from, to float64 }

// portEnd is one end of an edge on one side of a node: the edge, which
// end, and the height of the node at its other end.
type portEnd struct {
	edge   int
	source bool
	other  float64
	name   string
}

// assignPorts spreads the ends of the edges on each side of each node
// over that side, ordered by the height of the node at the other end, so
// that edges fan out in order instead of leaving from one point and
// crossing where they part. Edges run from a node's right side to the
// next column's left side (or back, for a call to the left), and both
// ends of an edge inside one column are on the right.
func assignPorts(edges []graph.Edge, pos map[string]*mapNode) []port {
	out := make([]port, len(edges))
	sides := map[string][]portEnd{} // node + "\x00" + "L" or "R"
	for i, e := range edges {
		a, b := pos[e.From], pos[e.To]
		if a == nil || b == nil {
			continue
		}
		aSide, bSide := "R", "L"
		switch {
		case a.Col > b.Col:
			aSide, bSide = "L", "R"
		case a.Col == b.Col:
			aSide, bSide = "R", "R"
		}
		sides[e.From+"\x00"+aSide] = append(sides[e.From+"\x00"+aSide], portEnd{edge: i, source: true, other: b.Y, name: e.To})
		sides[e.To+"\x00"+bSide] = append(sides[e.To+"\x00"+bSide], portEnd{edge: i, source: false, other: a.Y, name: e.From})
	}
	for k, ends := range sides {
		nd := pos[k[:strings.IndexByte(k, 0)]]
		sort.Slice(ends, func(i, j int) bool {
			if ends[i].other != ends[j].other {
				return ends[i].other < ends[j].other
			}
			if ends[i].name != ends[j].name {
				return ends[i].name < ends[j].name
			}
			// The two directions between one pair: the call out first.
			return ends[i].source && !ends[j].source
		})
		step := portStep
		if m := len(ends); m > 1 {
			step = min(portStep, (nodeHeight-2*portMargin)/float64(m-1))
		}
		mid := nd.Y + nodeHeight/2
		for i, pe := range ends {
			y := mid + (float64(i)-float64(len(ends)-1)/2)*step
			if pe.source {
				out[pe.edge].from = y
			} else {
				out[pe.edge].to = y
			}
		}
	}
	return out
}

// orderColumns orders the services of each column (cols, by column; col
// gives each service's column) so that the call edges between columns
// cross as little as a few passes of the barycentre heuristic can make
// them: each service moves to the mean height of its neighbours in the
// columns already placed, sweeping right, then left, and the order with
// the fewest crossings wins. It starts from the order by name, which it
// keeps unless it finds fewer crossings, and breaks ties by name, so the
// same context always gets the same order. It returns the crossings left.
func orderColumns(cols map[int][]graph.NearbyService, col map[string]int, edges []graph.Edge, minCol, maxCol, rows int) int {
	for k := range cols {
		sort.Slice(cols[k], func(i, j int) bool { return cols[k][i].Service < cols[k][j].Service })
	}
	nbrs := map[string][]string{}
	for _, e := range edges {
		_, okA := col[e.From]
		_, okB := col[e.To]
		if !okA || !okB || e.From == e.To {
			continue
		}
		nbrs[e.From] = append(nbrs[e.From], e.To)
		nbrs[e.To] = append(nbrs[e.To], e.From)
	}
	height := func() map[string]float64 {
		h := map[string]float64{}
		for _, list := range cols {
			off := float64(rows-len(list)) / 2
			for i, s := range list {
				h[s.Service] = off + float64(i)
			}
		}
		return h
	}
	snapshot := func() map[int][]graph.NearbyService {
		out := make(map[int][]graph.NearbyService, len(cols))
		for k, list := range cols {
			out[k] = append([]graph.NearbyService(nil), list...)
		}
		return out
	}
	best, bestOrder := crossings(edges, col, height()), snapshot()
	// place reorders column k by the mean height of each service's
	// neighbours on the side already placed (and in its own column, which
	// pulls the two ends of an edge inside a column together); a service
	// without such neighbours keeps its height.
	place := func(k int, placed func(int) bool) bool {
		h := height()
		key := map[string]float64{}
		for _, s := range cols[k] {
			sum, n := 0.0, 0
			for _, u := range nbrs[s.Service] {
				if placed(col[u]) || col[u] == k {
					sum += h[u]
					n++
				}
			}
			key[s.Service] = h[s.Service]
			if n > 0 {
				key[s.Service] = sum / float64(n)
			}
		}
		list := cols[k]
		before := make([]string, len(list))
		for i, s := range list {
			before[i] = s.Service
		}
		sort.SliceStable(list, func(i, j int) bool {
			a, b := key[list[i].Service], key[list[j].Service]
			if a != b {
				return a < b
			}
			return list[i].Service < list[j].Service
		})
		for i, s := range list {
			if before[i] != s.Service {
				return true
			}
		}
		return false
	}
	for range orderSweeps {
		moved := false
		for k := minCol + 1; k <= maxCol; k++ {
			moved = place(k, func(c int) bool { return c < k }) || moved
		}
		for k := maxCol - 1; k >= minCol; k-- {
			moved = place(k, func(c int) bool { return c > k }) || moved
		}
		if !moved {
			// A sweep that moves nothing leaves every later one the same.
			break
		}
		if n := crossings(edges, col, height()); n < best {
			best, bestOrder = n, snapshot()
		}
	}
	for k := range cols {
		cols[k] = bestOrder[k]
	}
	return best
}

// crossings counts the pairs of edges that cross when each is drawn as a
// straight line between the heights h of its ends, one column apart per
// hop. Edges that share a service never count; an edge inside a column
// (drawn as a bow to the right) crosses an edge leaving that column to
// the right from a service between its ends.
func crossings(edges []graph.Edge, col map[string]int, h map[string]float64) int {
	type seg struct {
		a, b   string
		x1, x2 float64
		y1, y2 float64
	}
	var segs []seg
	for _, e := range edges {
		ca, okA := col[e.From]
		cb, okB := col[e.To]
		if !okA || !okB || e.From == e.To {
			continue
		}
		s := seg{a: e.From, b: e.To, x1: float64(ca), x2: float64(cb), y1: h[e.From], y2: h[e.To]}
		if s.x1 > s.x2 {
			s.x1, s.x2, s.y1, s.y2 = s.x2, s.x1, s.y2, s.y1
		}
		segs = append(segs, s)
	}
	at := func(s seg, x float64) float64 {
		if s.x2 == s.x1 {
			return s.y1
		}
		return s.y1 + (s.y2-s.y1)*(x-s.x1)/(s.x2-s.x1)
	}
	n := 0
	for i := range segs {
		for j := i + 1; j < len(segs); j++ {
			p, q := segs[i], segs[j]
			if p.a == q.a || p.a == q.b || p.b == q.a || p.b == q.b {
				continue
			}
			switch {
			case p.x1 == p.x2 && q.x1 == q.x2:
				// Two bows in one column cross when their spans interleave.
				if p.x1 == q.x1 && interleave(p.y1, p.y2, q.y1, q.y2) {
					n++
				}
			case p.x1 == p.x2 || q.x1 == q.x2:
				bow, other := p, q
				if q.x1 == q.x2 {
					bow, other = q, p
				}
				lo, hi := min(bow.y1, bow.y2), max(bow.y1, bow.y2)
				if other.x1 == bow.x1 && other.y1 > lo && other.y1 < hi {
					n++
				}
			default:
				lo, hi := max(p.x1, q.x1), min(p.x2, q.x2)
				if lo >= hi {
					continue
				}
				d1, d2 := at(p, lo)-at(q, lo), at(p, hi)-at(q, hi)
				if d1*d2 < 0 {
					n++
				}
			}
		}
	}
	return n
}

// interleave reports whether the spans [a1, a2] and [b1, b2] (in either
// order) interleave: one starts strictly inside the other and ends
// strictly outside it.
func interleave(a1, a2, b1, b2 float64) bool {
	alo, ahi := min(a1, a2), max(a1, a2)
	blo, bhi := min(b1, b2), max(b1, b2)
	return (blo > alo && blo < ahi && bhi > ahi) || (alo > blo && alo < bhi && ahi > bhi)
}

// groupsOf lists the map's columns, left to right, for narrow screens:
// each service with the calls it makes, worst first.
func groupsOf(n neighbourhood, minCol, maxCol int) []mapGroup {
	calls := map[string][]mapEdge{}
	for _, e := range edgesByErrors(n.Edges) {
		calls[e.From] = append(calls[e.From], e)
	}
	out := make([]mapGroup, 0, maxCol-minCol+1)
	for k := minCol; k <= maxCol; k++ {
		g := mapGroup{Label: columnLabel(k)}
		for _, nd := range n.Nodes {
			if nd.Col != k {
				continue
			}
			it := mapItem{Node: nd, Detail: strings.TrimPrefix(nd.Title, nd.Service+": "), Calls: calls[nd.Service]}
			g.Items = append(g.Items, it)
		}
		out = append(out, g)
	}
	return out
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
