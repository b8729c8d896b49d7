package page

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/page")

var goldenDir = filepath.Join("..", "..", "testdata", "page")

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join(goldenDir, name)
	if *update {
		if err := os.MkdirAll(goldenDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := 0; i < len(gl) || i < len(wl); i++ {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs at line %d:\ngot  %s\nwant %s\n(run go test -update if the change is intended)", name, i+1, g, w)
			}
		}
	}
}

// The drawings of the demo breach, byte for byte: any change to the
// layout shows up in review as a change to these files.
func TestBreachDrawingsGolden(t *testing.T) {
	d := openDemo(t)
	srv := serve(t, d.store)
	_, body := fetch(t, srv, "/breaches/"+d.current.ID)
	for _, id := range []string{"timeline", "neighbourhood"} {
		re := regexp.MustCompile(`(?s)<svg id="` + id + `".*?</svg>`)
		svg := re.FindString(body)
		if svg == "" {
			t.Fatalf("no svg#%s", id)
		}
		checkGolden(t, "breach-"+id+".svg.golden", svg+"\n")
	}
}

func TestNeighbourhoodLayout(t *testing.T) {
	d := openDemo(t)
	for depth := 1; depth <= 4; depth++ {
		t.Run(fmt.Sprintf("depth %d", depth), func(t *testing.T) {
			c := demoContext(t, d.store, d.current, depth)
			l := linker{base: "/breaches/" + d.current.ID}
			n := layoutNeighbourhood(c, l)
			if again := layoutNeighbourhood(c, l); fmt.Sprint(again) != fmt.Sprint(n) {
				t.Fatal("the same context drew a different layout")
			}
			if len(n.Nodes) != len(c.Services) || len(n.Edges) != len(c.Edges) {
				t.Fatalf("%d nodes, %d edges for %d services, %d edges", len(n.Nodes), len(n.Edges), len(c.Services), len(c.Edges))
			}
			byCol := map[int][]mapNode{}
			pos := map[string]mapNode{}
			for _, nd := range n.Nodes {
				byCol[nd.Col] = append(byCol[nd.Col], nd)
				pos[nd.Service] = nd
				if nd.X < 0 || nd.Y < mapTop || nd.X+nodeWidth > n.Width || nd.Y+nodeHeight > n.Height {
					t.Errorf("%s at (%.0f,%.0f) is outside %.0f×%.0f", nd.Service, nd.X, nd.Y, n.Width, n.Height)
				}
				want := nd.Hops
				switch nd.Relation {
				case graph.Dependents:
					want = -nd.Hops
				case graph.Siblings:
					// Checked below, against the dependency it calls.
					want = nd.Col
				}
				if nd.Col != want {
					t.Errorf("%s (%d hops, %s) in column %d", nd.Service, nd.Hops, nd.Relation, nd.Col)
				}
				for _, b := range nd.Badges {
					if b.Style.Letter == "" || b.Title == "" {
						t.Errorf("%s: badge without a letter or title", nd.Service)
					}
				}
			}
			for _, s := range c.Services {
				if s.Relation != graph.Siblings {
					continue
				}
				// A sibling stands one column left of the dependency it
				// calls, the last service before it on its path.
				dep := pos[s.Path[len(s.Path)-2]]
				if pos[s.Service].Col != dep.Col-1 {
					t.Errorf("sibling %s in column %d, the dependency it calls (%s) in %d", s.Service, pos[s.Service].Col, dep.Service, dep.Col)
				}
			}
			if f := pos[c.Focus]; !f.Focus || f.Col != 0 {
				t.Errorf("focus %s is not in column 0", c.Focus)
			}
			cols := make([]int, 0, len(byCol))
			for k := range byCol {
				cols = append(cols, k)
			}
			sort.Ints(cols)
			for i, k := range cols {
				col := byCol[k]
				for j := 1; j < len(col); j++ {
					if col[j].Y < col[j-1].Y+nodeHeight {
						t.Errorf("column %d: %s overlaps %s above it", k, col[j].Service, col[j-1].Service)
					}
				}
				if i > 0 && col[0].X < byCol[cols[i-1]][0].X+nodeWidth {
					t.Errorf("column %d overlaps column %d", k, cols[i-1])
				}
			}
			// The order crosses no more edges than the order by name, and
			// says how many it leaves.
			byName, drawn := map[string]float64{}, map[string]float64{}
			for _, col := range byCol {
				names := make([]string, len(col))
				for i, nd := range col {
					names[i] = nd.Service
					drawn[nd.Service] = nd.Y
				}
				sort.Strings(names)
				for i, name := range names {
					byName[name] = col[i].Y
				}
			}
			colOf := map[string]int{}
			for _, nd := range n.Nodes {
				colOf[nd.Service] = nd.Col
			}
			if got := crossings(c.Edges, colOf, drawn); got != n.Crossings || got > crossings(c.Edges, colOf, byName) {
				t.Errorf("%d crossings drawn (reported %d); by name they would be %d", got, n.Crossings, crossings(c.Edges, colOf, byName))
			}
			// Every edge leaves and reaches its services at a port of its
			// own: no two ends share a point on a node's side.
			ends := map[string]string{}
			for _, e := range n.Edges {
				a := pos[e.From]
				x, y := pathStart(t, e.D)
				if (x != a.X && x != a.X+nodeWidth) || y < a.Y || y > a.Y+nodeHeight {
					t.Errorf("edge %s starts at (%.1f,%.1f), not on %s's side", e.Key, x, y, e.From)
				}
				ex, ey := pathEnd(t, e.D)
				for _, p := range [][2]float64{{x, y}, {ex, ey}} {
					k := fmt.Sprintf("%.1f,%.1f", p[0], p[1])
					if other, ok := ends[k]; ok {
						t.Errorf("edges %s and %s meet a node at the same point (%s)", other, e.Key, k)
					}
					ends[k] = e.Key
				}
				if e.Key != e.From+"->"+e.To || !strings.HasPrefix(e.Title, e.From+" → "+e.To+": ") {
					t.Errorf("edge %s: key %q title %q", e.Key, e.Key, e.Title)
				}
			}
		})
	}
}

// pathEnd returns the last point of a path's cubic curve.
func pathEnd(t *testing.T, d string) (float64, float64) {
	t.Helper()
	f := strings.Fields(d)
	if len(f) < 2 {
		t.Fatalf("path %q", d)
	}
	x, err1 := strconv.ParseFloat(f[len(f)-2], 64)
	y, err2 := strconv.ParseFloat(f[len(f)-1], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("path %q", d)
	}
	return x, y
}

func pathStart(t *testing.T, d string) (float64, float64) {
	t.Helper()
	f := strings.Fields(strings.TrimPrefix(d, "M"))
	if len(f) < 2 {
		t.Fatalf("path %q", d)
	}
	x, err1 := strconv.ParseFloat(f[0], 64)
	y, err2 := strconv.ParseFloat(f[1], 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("path %q", d)
	}
	return x, y
}

func TestTimelineLayout(t *testing.T) {
	d := openDemo(t)
	c := demoContext(t, d.store, d.current, graph.DefaultDepth)
	tl := layoutTimeline(c, linker{base: "/breaches/" + d.current.ID}, cardAnchors(c.Changes))
	laneOf := map[string]lane{}
	for i, ln := range tl.Lanes {
		laneOf[ln.Service] = ln
		if i > 0 && ln.Y != tl.Lanes[i-1].Y+laneHeight {
			t.Errorf("lane %s does not follow the one above", ln.Service)
		}
	}
	if tl.Lanes[0].Service != c.Focus || !tl.Lanes[0].Focus {
		t.Errorf("first lane %s, want the focus", tl.Lanes[0].Service)
	}
	events := map[string]graph.RankedChange{}
	for _, ch := range c.Changes {
		events[ch.Event.ID] = ch
	}
	for i, m := range tl.Markers {
		ch := events[m.EventID]
		ln, ok := laneOf[m.Service]
		if !ok || ch.Event.Service != m.Service {
			t.Fatalf("marker %s has no lane", m.EventID)
		}
		if m.X < tl.PlotX || m.X > tl.PlotEnd || m.Y < ln.Y || m.Y > ln.Y+laneHeight {
			t.Errorf("marker %s at (%.0f,%.0f) is outside its lane", m.EventID, m.X, m.Y)
		}
		for _, o := range tl.Markers[:i] {
			oc := events[o.EventID]
			if (ch.Event.At.Before(oc.Event.At) && m.X > o.X) || (ch.Event.At.After(oc.Event.At) && m.X < o.X) {
				t.Errorf("markers %s and %s are out of time order", m.EventID, o.EventID)
			}
		}
		if !strings.Contains(m.Title, ch.Event.Summary) || !strings.Contains(m.Title, fmt.Sprintf("#%d", ch.Rank)) {
			t.Errorf("marker title %q", m.Title)
		}
	}
	if tl.AtX <= tl.PlotX || tl.AtX >= tl.PlotEnd || tl.Band == nil || tl.Band.X != tl.AtX {
		t.Errorf("breach line at %.0f, band %+v", tl.AtX, tl.Band)
	}
	if len(tl.Ticks) < 3 || len(tl.Ticks) > 9 {
		t.Errorf("%d ticks", len(tl.Ticks))
	}
	for i := 1; i < len(tl.Ticks); i++ {
		if tl.Ticks[i].X <= tl.Ticks[i-1].X {
			t.Errorf("ticks out of order")
		}
	}
}

// The crossing count the column order minimises must count what the eye
// sees as crossing, and nothing else.
func TestCrossings(t *testing.T) {
	edge := func(from, to string) graph.Edge { return graph.Edge{From: from, To: to, Calls: 1} }
	tests := []struct {
		name  string
		edges []graph.Edge
		col   map[string]int
		h     map[string]float64
		want  int
	}{
		{"parallel", []graph.Edge{edge("a", "c"), edge("b", "d")},
			map[string]int{"a": 0, "b": 0, "c": 1, "d": 1}, map[string]float64{"a": 0, "b": 1, "c": 0, "d": 1}, 0},
		{"swapped", []graph.Edge{edge("a", "d"), edge("b", "c")},
			map[string]int{"a": 0, "b": 0, "c": 1, "d": 1}, map[string]float64{"a": 0, "b": 1, "c": 0, "d": 1}, 1},
		{"sharing a service", []graph.Edge{edge("a", "d"), edge("a", "c")},
			map[string]int{"a": 0, "c": 1, "d": 1}, map[string]float64{"a": 0, "c": 0, "d": 1}, 0},
		{"over two columns", []graph.Edge{edge("a", "e"), edge("b", "c")},
			map[string]int{"a": 0, "b": 0, "c": 1, "e": 2}, map[string]float64{"a": 0, "b": 1, "c": 0, "e": 1}, 1},
		{"a bow over an edge leaving between its ends", []graph.Edge{edge("a", "c"), edge("b", "d")},
			map[string]int{"a": 1, "b": 1, "c": 1, "d": 2}, map[string]float64{"a": 0, "b": 1, "c": 2, "d": 0}, 1},
		{"a bow past an edge leaving outside it", []graph.Edge{edge("a", "b"), edge("c", "d")},
			map[string]int{"a": 1, "b": 1, "c": 1, "d": 2}, map[string]float64{"a": 0, "b": 1, "c": 2, "d": 2}, 0},
		{"interleaved bows", []graph.Edge{edge("a", "c"), edge("b", "d")},
			map[string]int{"a": 1, "b": 1, "c": 1, "d": 1}, map[string]float64{"a": 0, "b": 1, "c": 2, "d": 3}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := crossings(tt.edges, tt.col, tt.h); got != tt.want {
				t.Errorf("crossings = %d, want %d", got, tt.want)
			}
		})
	}
}

// On the demo breach, ordering the columns untangles the map: far fewer
// edges cross than with every column sorted by name.
func TestColumnOrderUntangles(t *testing.T) {
	d := openDemo(t)
	c := demoContext(t, d.store, d.current, graph.DefaultDepth)
	n := layoutNeighbourhood(c, linker{base: "/breaches/" + d.current.ID})
	colOf := map[string]int{}
	byCol := map[int][]string{}
	for _, nd := range n.Nodes {
		colOf[nd.Service] = nd.Col
		byCol[nd.Col] = append(byCol[nd.Col], nd.Service)
	}
	rows := 0
	for _, names := range byCol {
		rows = max(rows, len(names))
	}
	byName := map[string]float64{}
	for _, names := range byCol {
		sort.Strings(names)
		for i, name := range names {
			byName[name] = float64(rows-len(names))/2 + float64(i)
		}
	}
	before := crossings(c.Edges, colOf, byName)
	t.Logf("crossing edge pairs: %d by name, %d ordered", before, n.Crossings)
	if n.Crossings*4 > before {
		t.Errorf("ordering leaves %d of the %d crossings the order by name has; want at most a quarter", n.Crossings, before)
	}
}
