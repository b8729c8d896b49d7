package graph

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sort"
	"time"
)

// BucketCount is the calls and errors on one edge in one bucket, summed
// over producers. The start is kept as minutes since the Unix epoch so
// that the thousands of buckets a query reads hold no pointers for the
// garbage collector to scan.
type BucketCount struct {
	Minute int64 `json:"minute"`
	Calls  int64 `json:"calls"`
	Errors int64 `json:"errors"`
	// Latency is the summed duration of the calls, each producer's mean
	// carried at LatencyCode's precision; zero when no producer recorded
	// one.
	Latency time.Duration `json:"latency,omitzero"`
}

// LatencyCode packs the mean duration of a bucket's calls into one byte
// on a log scale, eight steps per doubling (within ±4.5%) from 1 µs to
// an hour, for the count data a neighbourhood walk reads. 0 means none.
// Every store carries latency at this precision, so all give the same
// answer.
func LatencyCode(sum time.Duration, calls int64) byte {
	if sum <= 0 || calls <= 0 {
		return 0
	}
	us := float64(sum) / float64(time.Microsecond) / float64(calls)
	return byte(min(255, max(1, 1+math.Round(8*math.Log2(us+1)))))
}

// LatencyOfCode is the summed duration of calls whose mean code stands
// for.
func LatencyOfCode(code byte, calls int64) time.Duration {
	if calls <= 0 {
		return 0
	}
	return latencyMeans[code] * time.Duration(calls)
}

// latencyMeans is the mean duration each LatencyCode stands for (a
// constant table: walks decode one per bucket).
var latencyMeans = func() (t [256]time.Duration) {
	for c := 1; c < len(t); c++ {
		us := math.Exp2(float64(c-1)/8) - 1
		t[c] = time.Duration(math.Round(us * float64(time.Microsecond)))
	}
	return t
}()

// MinuteOf is the bucket minute t falls in.
func MinuteOf(t time.Time) int64 { return t.Unix() / 60 }

// Start is the instant the bucket starts.
func (b BucketCount) Start() time.Time { return time.Unix(b.Minute*60, 0).UTC() }

// secondsAtOrAfter is the first whole Unix second not before t.
func secondsAtOrAfter(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// EdgeActivity is an edge with its buckets inside a requested range
// (oldest first). Declared edges may have no buckets. FirstSeen and
// LastSeen are the starts of the earliest and latest call buckets ever
// stored for the edge, whatever the range (retention keeps them); both
// are zero for an edge that never carried a call. ConnectionType is the
// type of the edge's calls (see ConnectionType.Supersedes), whatever the
// range.
type EdgeActivity struct {
	From           string
	To             string
	Declared       bool
	Buckets        []BucketCount
	FirstSeen      time.Time
	LastSeen       time.Time
	ConnectionType ConnectionType
}

// Totals sums the buckets that start inside [from, to).
func (a *EdgeActivity) Totals(from, to time.Time) (calls, errors int64) {
	lo, hi := secondsAtOrAfter(from), secondsAtOrAfter(to)
	// Buckets are oldest first: start at the first inside.
	i := sort.Search(len(a.Buckets), func(i int) bool { return a.Buckets[i].Minute*60 >= lo })
	for _, b := range a.Buckets[i:] {
		if b.Minute*60 >= hi {
			break
		}
		calls += b.Calls
		errors += b.Errors
	}
	return calls, errors
}

// activeIn reports whether the edge counts as existing in [from, to):
// declared, or carried calls in a bucket there.
func (a *EdgeActivity) activeIn(from, to time.Time) bool {
	if a.Declared {
		return true
	}
	c, _ := a.Totals(from, to)
	return c > 0
}

// EdgeSource is what the neighbourhood walk needs from a store.
type EdgeSource interface {
	// EdgesTouching returns every edge with either end in services that is
	// declared or has buckets starting in [from, to), with those buckets.
	EdgesTouching(ctx context.Context, services []string, from, to time.Time) ([]EdgeActivity, error)
}

// edgesAmong is an optional, cheaper EdgeSource method: only the edges
// with both ends in services. The walk uses it, when a store has it, for
// the last ring of a neighbourhood, whose other edges it does not need.
type edgesAmong interface {
	EdgesAmong(ctx context.Context, services []string, from, to time.Time) ([]EdgeActivity, error)
}

// NearbyService is a service in a neighbourhood.
type NearbyService struct {
	Service  string    `json:"service"`
	Hops     int       `json:"hops"`
	Relation Direction `json:"relation"`
	// Path runs from the focus to this service.
	Path []string `json:"path"`
}

// Edge is a call edge inside a neighbourhood, with its counts in the
// window and the starts of the first and last call buckets ever stored for
// it (zero for an edge that never carried a call).
type Edge struct {
	From      string    `json:"from"`
	To        string    `json:"to"`
	Calls     int64     `json:"calls"`
	Errors    int64     `json:"errors"`
	Declared  bool      `json:"declared"`
	FirstSeen time.Time `json:"firstSeen,omitzero"`
	LastSeen  time.Time `json:"lastSeen,omitzero"`
	// ConnectionType is what the calls go over: plain calls, a messaging
	// system, a database, or a virtual node (one end inferred).
	ConnectionType ConnectionType `json:"connectionType,omitempty"`
}

// NeighbourhoodQuery asks for the services within Depth hops of Service
// along edges active in [From-Grace, To).
type NeighbourhoodQuery struct {
	Service   string
	From, To  time.Time
	Grace     time.Duration
	Depth     int
	Direction Direction
}

// Neighbourhood is the result of a walk.
type Neighbourhood struct {
	// Services holds the focus first (hops 0, relation Both), then the
	// others by hops, relation and name.
	Services []NearbyService
	// Edges holds the active edges between those services, by from and to.
	Edges []Edge
	// Activity holds each returned edge's buckets in [From-Grace, To),
	// keyed "from\x00to", for corroboration.
	Activity map[string]*EdgeActivity
	// around holds every edge the walk read with at least one end in the
	// neighbourhood: the evidence also looks at calls from services
	// outside it into services inside (siblings, callers of a declared
	// dependency).
	around map[string]*EdgeActivity
	// fetched holds the services whose every edge the walk read; window
	// is the range it read them over.
	fetched    map[string]bool
	windowFrom time.Time
	windowTo   time.Time
}

// Walk computes a neighbourhood. Paths are shortest paths; among equally
// short ones the walk visits neighbours in name order, so the same data
// always gives the same answer on every store. Both walks the dependencies
// and the dependents separately: a service reached only by changing
// direction midway is not part of the neighbourhood.
func Walk(ctx context.Context, src EdgeSource, q NeighbourhoodQuery) (*Neighbourhood, error) {
	return walk(ctx, src, q, nil)
}

// walk is Walk; found, when set, is told the neighbourhood's services as
// soon as they are known, before the edges among the outermost ones are
// read, so that a caller can start reading their events meanwhile.
func walk(ctx context.Context, src EdgeSource, q NeighbourhoodQuery, found func(services []string)) (*Neighbourhood, error) {
	if q.Depth < 1 || q.Depth > MaxDepth {
		return nil, Invalidf("depth %d is out of range: want 1..%d", q.Depth, MaxDepth)
	}
	w := walker{src: src, from: q.From.Add(-q.Grace), to: q.To, fetched: map[string]bool{}, edges: map[string]*EdgeActivity{},
		out: map[string][]string{}, in: map[string][]string{}, sorted: map[string]bool{}, fetchedAll: map[string]bool{}}
	var dirs []Direction
	switch q.Direction {
	case Dependencies, Dependents:
		dirs = []Direction{q.Direction}
	default:
		dirs = []Direction{Dependencies, Dependents}
	}
	best := map[string]NearbyService{q.Service: {Service: q.Service, Hops: 0, Relation: Both, Path: []string{q.Service}}}
	for _, dir := range dirs {
		reached, err := w.bfs(ctx, q.Service, dir, q.Depth)
		if err != nil {
			return nil, err
		}
		for _, n := range reached {
			if old, ok := best[n.Service]; !ok || n.Hops < old.Hops {
				best[n.Service] = n
			}
		}
	}
	names := make([]string, 0, len(best))
	for name := range best {
		names = append(names, name)
	}
	if found != nil {
		found(slices.Clone(names))
	}
	// One more fetch so edges among the outermost services are known.
	if err := w.fetchAmong(ctx, names); err != nil {
		return nil, err
	}
	nb := &Neighbourhood{Activity: map[string]*EdgeActivity{}, around: map[string]*EdgeActivity{},
		fetched: map[string]bool{}, windowFrom: w.from, windowTo: w.to}
	for s := range w.fetchedAll {
		nb.fetched[s] = true
	}
	for _, n := range best {
		nb.Services = append(nb.Services, n)
	}
	sort.Slice(nb.Services, func(i, j int) bool {
		a, b := nb.Services[i], nb.Services[j]
		if a.Hops != b.Hops {
			return a.Hops < b.Hops
		}
		if a.Relation != b.Relation {
			return a.Relation < b.Relation
		}
		return a.Service < b.Service
	})
	for key, a := range w.edges {
		_, okFrom := best[a.From]
		_, okTo := best[a.To]
		if (okFrom || okTo) && a.activeIn(w.from, w.to) {
			nb.around[key] = a
		}
		if !okFrom || !okTo || !a.activeIn(w.from, w.to) {
			continue
		}
		nb.addEdge(key, a, q.From, q.To)
	}
	nb.sortEdges()
	return nb, nil
}

type walker struct {
	src      EdgeSource
	from, to time.Time
	fetched  map[string]bool
	edges    map[string]*EdgeActivity
	// out and in hold the active edges by caller and by callee; a node's
	// list is sorted before it is read (sorted records which are).
	out, in map[string][]string
	sorted  map[string]bool
	// fetchedAll holds the services whose every edge was read (fetched
	// also counts those read only for the edges among a set).
	fetchedAll map[string]bool
}

func edgeKey(from, to string) string { return from + "\x00" + to }

func (w *walker) fetch(ctx context.Context, services []string) error {
	var need []string
	for _, s := range services {
		if !w.fetched[s] {
			need = append(need, s)
			w.fetched[s] = true
		}
	}
	if len(need) == 0 {
		return nil
	}
	sort.Strings(need)
	for _, s := range need {
		w.fetchedAll[s] = true
	}
	acts, err := w.src.EdgesTouching(ctx, need, w.from, w.to)
	if err != nil {
		return fmt.Errorf("edges of %d services: %w", len(need), err)
	}
	w.add(acts)
	return nil
}

// fetchAmong completes the edges among all (a superset of what was
// fetched): the edges between two services that were not fetched yet are
// the only ones missing.
func (w *walker) fetchAmong(ctx context.Context, all []string) error {
	among, ok := w.src.(edgesAmong)
	if !ok {
		return w.fetch(ctx, all)
	}
	var need []string
	for _, s := range all {
		if !w.fetched[s] {
			need = append(need, s)
			w.fetched[s] = true
		}
	}
	if len(need) < 2 {
		return nil
	}
	sort.Strings(need)
	acts, err := among.EdgesAmong(ctx, need, w.from, w.to)
	if err != nil {
		return fmt.Errorf("edges among %d services: %w", len(need), err)
	}
	w.add(acts)
	return nil
}

func (w *walker) add(acts []EdgeActivity) {
	for i := range acts {
		a := acts[i]
		if a.From == a.To {
			continue
		}
		key := edgeKey(a.From, a.To)
		if _, ok := w.edges[key]; ok {
			continue
		}
		w.edges[key] = &a
		if a.activeIn(w.from, w.to) {
			w.out[a.From] = append(w.out[a.From], a.To)
			w.in[a.To] = append(w.in[a.To], a.From)
			delete(w.sorted, "o"+a.From)
			delete(w.sorted, "i"+a.To)
		}
	}
}

// neighbours returns s's active neighbours in dir, in name order.
func (w *walker) neighbours(s string, dir Direction) []string {
	m, tag := w.out, "o"
	if dir == Dependents {
		m, tag = w.in, "i"
	}
	if !w.sorted[tag+s] {
		sort.Strings(m[s])
		w.sorted[tag+s] = true
	}
	return m[s]
}

func (w *walker) bfs(ctx context.Context, focus string, dir Direction, depth int) ([]NearbyService, error) {
	seen := map[string]bool{focus: true}
	paths := map[string][]string{focus: {focus}}
	frontier := []string{focus}
	var reached []NearbyService
	for hop := 1; hop <= depth && len(frontier) > 0; hop++ {
		if err := w.fetch(ctx, frontier); err != nil {
			return nil, err
		}
		var next []string
		for _, s := range frontier {
			for _, n := range w.neighbours(s, dir) {
				if seen[n] {
					continue
				}
				seen[n] = true
				p := append(append([]string(nil), paths[s]...), n)
				paths[n] = p
				next = append(next, n)
				reached = append(reached, NearbyService{Service: n, Hops: hop, Relation: dir, Path: p})
			}
		}
		frontier = next
	}
	return reached, nil
}

// widen reads every edge of services the walk read only partly (the
// outermost ring), so the evidence sees all callers of a degraded service
// there. It returns whether it read anything.
func (nb *Neighbourhood) widen(ctx context.Context, src EdgeSource, services []string) (bool, error) {
	var need []string
	for _, s := range services {
		if !nb.fetched[s] {
			nb.fetched[s] = true
			need = append(need, s)
		}
	}
	if len(need) == 0 {
		return false, nil
	}
	sort.Strings(need)
	acts, err := src.EdgesTouching(ctx, need, nb.windowFrom, nb.windowTo)
	if err != nil {
		return false, fmt.Errorf("edges of %d degraded services: %w", len(need), err)
	}
	for i := range acts {
		a := acts[i]
		k := edgeKey(a.From, a.To)
		if _, ok := nb.around[k]; ok || a.From == a.To || !a.activeIn(nb.windowFrom, nb.windowTo) {
			continue
		}
		nb.around[k] = &a
	}
	return true, nil
}

// addEdge adds an edge with its counts in [from, to) and its buckets.
func (nb *Neighbourhood) addEdge(key string, a *EdgeActivity, from, to time.Time) {
	calls, errs := a.Totals(from, to)
	nb.Edges = append(nb.Edges, Edge{From: a.From, To: a.To, Calls: calls, Errors: errs, Declared: a.Declared,
		FirstSeen: a.FirstSeen, LastSeen: a.LastSeen, ConnectionType: a.ConnectionType})
	nb.Activity[key] = a
}

// sortEdges puts the edges in their answer order: by from, then to.
func (nb *Neighbourhood) sortEdges() {
	sort.Slice(nb.Edges, func(i, j int) bool {
		if nb.Edges[i].From != nb.Edges[j].From {
			return nb.Edges[i].From < nb.Edges[j].From
		}
		return nb.Edges[i].To < nb.Edges[j].To
	})
}

// adopt adds to the neighbourhood the linked origins outside it that a
// service inside calls, at most maxHops from the focus, with the edges
// between them and the services inside, counted over [from, to). It
// returns whether it added any.
func (nb *Neighbourhood) adopt(origins []Origin, maxHops int, from, to time.Time) bool {
	where := make(map[string]NearbyService, len(nb.Services))
	for _, s := range nb.Services {
		where[s.Service] = s
	}
	added := false
	for _, o := range origins {
		if _, in := where[o.Service]; in || !o.Linked {
			continue
		}
		var via *NearbyService
		for _, s := range nb.Services {
			if s.Hops == 0 || s.Relation == Dependencies {
				if _, ok := nb.around[edgeKey(s.Service, o.Service)]; ok && (via == nil || s.Hops < via.Hops) {
					s := s
					via = &s
				}
			}
		}
		if via == nil || via.Hops+1 > maxHops {
			continue
		}
		n := NearbyService{Service: o.Service, Hops: via.Hops + 1, Relation: Dependencies,
			Path: append(append([]string(nil), via.Path...), o.Service)}
		nb.Services = append(nb.Services, n)
		where[n.Service] = n
		added = true
	}
	if !added {
		return false
	}
	for k, act := range nb.around {
		if _, ok := nb.Activity[k]; ok {
			continue
		}
		_, okFrom := where[act.From]
		_, okTo := where[act.To]
		if okFrom && okTo {
			nb.addEdge(k, act, from, to)
		}
	}
	nb.sortEdges()
	return true
}
