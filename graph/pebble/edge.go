package pebble

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/sregraph/sregraph/graph"
)

// Call buckets are stored one key per (edge, hour, producer), holding that
// hour's minutes: their counts once under the caller and once under the
// callee, and everything (counts, latency sums, histograms) once more
// under the caller in a table of its own. A neighbourhood walk then reads
// a few small keys per edge instead of one per minute, and only
// EdgeLatency reads the latencies.

// applyCalls merges call buckets into the batch, with the widened first
// and last seen of their edges, which it returns for the caller to record
// in s.spans once the batch is committed. Called with s.mu held.
func (s *Store) applyCalls(batch *writes, calls []graph.CallBucket, seen *sightings) (edgeSpans, error) {
	type chunk struct {
		from, to, producer string
		hour               time.Time
		slots              []slot
	}
	chunks := map[string]*chunk{}
	var order []string
	spans := edgeSpans{}
	for _, c := range calls {
		start := c.Start.UTC().Truncate(graph.BucketWidth)
		hour := start.Truncate(chunkWidth)
		seen.see(c.From, start, start)
		seen.see(c.To, start, start)
		spans.see(c.From, c.To, nanos(start), c.ConnectionType.Code())
		key := chunkKey(tableLatency, c.From, hour, c.To, c.Producer)
		ch, ok := chunks[string(key)]
		if !ok {
			ch = &chunk{from: c.From, to: c.To, producer: c.Producer, hour: hour}
			raw, found, err := get(s.db, key)
			if err != nil {
				return nil, fmt.Errorf("read call bucket %s->%s: %w", c.From, c.To, err)
			}
			if found {
				if ch.slots, err = decodeChunk(raw); err != nil {
					return nil, fmt.Errorf("decode call bucket %s->%s: %w", c.From, c.To, err)
				}
			}
			chunks[string(key)] = ch
			order = append(order, string(key))
		}
		m := byte(start.Sub(hour) / graph.BucketWidth)
		sl := slot{minute: m, calls: c.Calls, errors: c.Errors, latency: int64(c.LatencySum), hist: c.Latency}
		i := sort.Search(len(ch.slots), func(i int) bool { return ch.slots[i].minute >= m })
		if i < len(ch.slots) && ch.slots[i].minute == m {
			ch.slots[i] = sl
		} else {
			ch.slots = append(ch.slots, slot{})
			copy(ch.slots[i+1:], ch.slots[i:])
			ch.slots[i] = sl
		}
	}
	for _, key := range order {
		ch := chunks[key]
		batch.set([]byte(key), encodeChunk(ch.slots))
		counts := encodeCounts(ch.slots)
		batch.set(chunkKey(tableCallsOut, ch.from, ch.hour, ch.to, ch.producer), counts)
		batch.set(chunkKey(tableCallsIn, ch.to, ch.hour, ch.from, ch.producer), counts)
	}
	changed := s.spans.widen(spans)
	for k, v := range changed {
		batch.set(depKey(tableSeenOut, k[0], k[1]), encodeSpan(v))
	}
	return changed, nil
}

// edgeSpan is the earliest and latest bucket start (nanoseconds since the
// epoch) seen on an edge, and the connection type of the edge's calls as a
// graph.ConnectionType code (0 when none was recorded: data written before
// connection types, read as graph.ConnectionNone).
type edgeSpan struct {
	first, last uint64
	conn        byte
}

// merge widens sp by a bucket starting at start whose calls went over
// connection conn. The edge's connection type is that of its latest
// bucket and, among buckets of one start, the highest ranked; codes are
// in rank order (graph.ConnectionType.Supersedes), so the answer does not
// depend on the order buckets arrive in.
func (sp edgeSpan) merge(o edgeSpan) edgeSpan {
	out := edgeSpan{first: min(sp.first, o.first), last: max(sp.last, o.last), conn: sp.conn}
	switch {
	case o.last > sp.last:
		out.conn = o.conn
	case o.last == sp.last:
		out.conn = max(sp.conn, o.conn)
	}
	return out
}

// edgeSpans gathers spans by edge.
type edgeSpans map[[2]string]edgeSpan

func (m edgeSpans) see(from, to string, start uint64, conn byte) {
	k := [2]string{from, to}
	v := edgeSpan{start, start, conn}
	if sp, ok := m[k]; ok {
		v = sp.merge(v)
	}
	m[k] = v
}

// Span formats. The first (no format byte) is the 16 bytes of first and
// last; the second adds the format byte and the connection type code.
const (
	spanFormatV1Len = 16
	spanFormat      = 2
	spanFormatLen   = 18
)

func encodeSpan(sp edgeSpan) []byte {
	b := make([]byte, 0, spanFormatLen)
	b = binary.BigEndian.AppendUint64(b, sp.first)
	b = binary.BigEndian.AppendUint64(b, sp.last)
	return append(b, spanFormat, sp.conn)
}

func decodeSpan(b []byte) (edgeSpan, error) {
	switch {
	case len(b) == spanFormatV1Len:
	case len(b) == spanFormatLen && b[16] == spanFormat && b[17] <= graph.ConnectionDatabase.Code():
	default:
		return edgeSpan{}, errCorrupt
	}
	sp := edgeSpan{first: binary.BigEndian.Uint64(b), last: binary.BigEndian.Uint64(b[8:])}
	if len(b) == spanFormatLen {
		sp.conn = b[17]
	}
	return sp, nil
}

// spans is the in-memory mirror of every edge's first and last seen, so
// a neighbourhood walk reads them without a seek. It holds one small
// entry per edge that ever carried a call; retention keeps them.
type spans struct {
	mu sync.RWMutex
	m  edgeSpans
}

func loadSpans(db *pebble.DB) (_ *spans, err error) {
	sp := &spans{m: edgeSpans{}}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableSeenOut}, UpperBound: []byte{tableSeenOut + 1}})
	if err != nil {
		return nil, fmt.Errorf("load first and last seen: %w", err)
	}
	defer closeIter(it, "load first and last seen", &err)
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[1:]
		nul := bytes.IndexByte(k, 0)
		if nul < 0 {
			return nil, fmt.Errorf("first and last seen key %q: %w", it.Key(), errCorrupt)
		}
		v, err := decodeSpan(it.Value())
		if err != nil {
			return nil, fmt.Errorf("first and last seen %q: %w", it.Key(), err)
		}
		sp.m[[2]string{string(k[:nul]), string(k[nul+1:])}] = v
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("load first and last seen: %w", err)
	}
	return sp, nil
}

// widen returns the spans of seen that widen the stored ones, widened.
// Taking the minimum and maximum makes a redelivered bucket change
// nothing.
func (sp *spans) widen(seen edgeSpans) edgeSpans {
	sp.mu.RLock()
	defer sp.mu.RUnlock()
	out := edgeSpans{}
	for k, v := range seen {
		if old, ok := sp.m[k]; ok {
			if v = old.merge(v); v == old {
				continue
			}
		}
		out[k] = v
	}
	return out
}

// put records spans that were committed.
func (sp *spans) put(changed edgeSpans) {
	if len(changed) == 0 {
		return
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for k, v := range changed {
		sp.m[k] = v
	}
}

// declared is the in-memory mirror of the declared dependencies.
type declared struct {
	mu      sync.RWMutex
	out, in map[string]map[string]bool
}

func loadDeclared(db *pebble.DB) (_ *declared, err error) {
	d := &declared{out: map[string]map[string]bool{}, in: map[string]map[string]bool{}}
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{tableDepFrom}, UpperBound: []byte{tableDepFrom + 1}})
	if err != nil {
		return nil, fmt.Errorf("load dependencies: %w", err)
	}
	defer closeIter(it, "load dependencies", &err)
	var deps []graph.Dependency
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[1:]
		nul := bytes.IndexByte(k, 0)
		if nul < 0 {
			return nil, fmt.Errorf("dependency key %q: %w", it.Key(), errCorrupt)
		}
		deps = append(deps, graph.Dependency{From: string(k[:nul]), To: string(k[nul+1:])})
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("load dependencies: %w", err)
	}
	d.add(deps)
	return d, nil
}

func (d *declared) add(deps []graph.Dependency) {
	if len(deps) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, dep := range deps {
		if d.out[dep.From] == nil {
			d.out[dep.From] = map[string]bool{}
		}
		d.out[dep.From][dep.To] = true
		if d.in[dep.To] == nil {
			d.in[dep.To] = map[string]bool{}
		}
		d.in[dep.To][dep.From] = true
	}
}

// each calls fn for every declared edge with svc at either end.
func (d *declared) each(svc string, fn func(from, to string)) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for to := range d.out[svc] {
		fn(svc, to)
	}
	for from := range d.in[svc] {
		fn(from, svc)
	}
}

// edgeAcc gathers one edge's buckets as plain numbers (no pointers, so
// no write barriers or scanning while it grows); finish turns them into
// graph.BucketCount values.
type edgeAcc struct {
	act    graph.EdgeActivity
	raw    []rawBucket
	sorted bool
	// capHint is how many buckets the window can hold.
	capHint int
}

type rawBucket struct{ start, calls, errors, latency int64 }

// getRaw takes a scratch slice from the store's pool (Store.raw).
func getRaw(pool *sync.Pool, capHint int) []rawBucket {
	if p, ok := pool.Get().(*[]rawBucket); ok && cap(*p) >= capHint {
		return (*p)[:0]
	}
	return make([]rawBucket, 0, capHint)
}

func putRaw(pool *sync.Pool, r []rawBucket) {
	if cap(r) > 0 {
		pool.Put(&r)
	}
}

func (a *edgeAcc) add(start int64, calls, errors, latency int64) {
	if n := len(a.raw); n > 0 && start <= a.raw[n-1].start {
		if start == a.raw[n-1].start {
			a.raw[n-1].calls += calls
			a.raw[n-1].errors += errors
			a.raw[n-1].latency += latency
			return
		}
		a.sorted = false
	}
	a.raw = append(a.raw, rawBucket{start, calls, errors, latency})
}

// addChunk adds the minutes of an encoded chunk that start in
// [fromNs, toNs). It is the innermost loop of a neighbourhood walk, so it
// decodes in place.
func (a *edgeAcc) addChunk(b []byte, hour, fromNs, toNs int64, pool *sync.Pool) error {
	v, err := chunkVersion(b)
	if err != nil {
		return err
	}
	b = b[1:]
	for len(b) > 0 {
		minute := b[0]
		calls, n1 := binary.Uvarint(b[1:])
		if n1 <= 0 {
			return errCorrupt
		}
		errs, n2 := binary.Uvarint(b[1+n1:])
		if n2 <= 0 {
			return errCorrupt
		}
		b = b[1+n1+n2:]
		var latency int64
		if v == latencyCountsFormat {
			if len(b) == 0 {
				return errCorrupt
			}
			latency = int64(graph.LatencyOfCode(b[0], int64(calls)))
			b = b[1:]
		} else if v != countsFormat {
			// A full chunk (the tables walked hold count chunks once
			// splitCalls has run, but the codec reads every format the
			// same way): the latency sum is not needed here, skip it.
			i := 0
			for i < len(b) && b[i] >= 0x80 {
				i++
			}
			if i >= len(b) {
				return errCorrupt
			}
			b = b[i+1:]
		}
		if v == chunkFormat {
			// Nor is the histogram: skip its bytes.
			if len(b) == 0 || b[0] >= 0x80 || int(b[0]) >= len(b) {
				return errCorrupt
			}
			b = b[1+int(b[0]):]
		}
		start := hour + int64(minute)*int64(graph.BucketWidth)
		if start >= fromNs && start < toNs {
			if a.raw == nil {
				a.raw = getRaw(pool, a.capHint)
			}
			a.add(start, int64(calls), int64(errs), latency)
		}
	}
	return nil
}

// finish orders the buckets oldest first, sums producers per bucket and
// stores them in the activity, carving them out of arena.
func (a *edgeAcc) finish(arena []graph.BucketCount) []graph.BucketCount {
	if !a.sorted {
		slices.SortStableFunc(a.raw, func(x, y rawBucket) int { return cmp.Compare(x.start, y.start) })
		out := a.raw[:0]
		for _, x := range a.raw {
			if n := len(out); n > 0 && out[n-1].start == x.start {
				out[n-1].calls += x.calls
				out[n-1].errors += x.errors
				out[n-1].latency += x.latency
				continue
			}
			out = append(out, x)
		}
		a.raw = out
	}
	if len(a.raw) == 0 {
		return arena
	}
	b := arena[:len(a.raw):len(a.raw)]
	for i, x := range a.raw {
		b[i] = graph.BucketCount{Minute: x.start / int64(time.Minute), Calls: x.calls, Errors: x.errors, Latency: time.Duration(x.latency)}
	}
	a.act.Buckets = b
	return arena[len(a.raw):]
}

// EdgesTouching returns every edge with either end in services that is
// declared or has buckets starting in [from, to), with those buckets
// (summed over producers, oldest first), ordered by from and to, and with
// the starts of the edge's first and last buckets ever written.
func (s *Store) EdgesTouching(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error) {
	return s.edges(ctx, services, from, to, false)
}

// EdgesAmong is EdgesTouching restricted to edges with both ends in
// services. It reads only the callers' side and skips the buckets of
// every other edge without decoding them.
func (s *Store) EdgesAmong(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error) {
	return s.edges(ctx, services, from, to, true)
}

func (s *Store) edges(ctx context.Context, services []string, from, to time.Time, among bool) (_ []graph.EdgeActivity, err error) {
	defer func() { s.health.note(err) }()
	if err = s.enter("edges"); err != nil {
		return
	}
	defer s.leave()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sc := newEdgeScan(s, services, from, to, among)
	seen := map[string]bool{}
	for _, svc := range services {
		if seen[svc] {
			continue
		}
		seen[svc] = true
		if err := sc.service(ctx, svc); err != nil {
			return nil, errors.Join(err, sc.close())
		}
	}
	if err := sc.close(); err != nil {
		return nil, fmt.Errorf("edges of %d services: %w", len(services), err)
	}
	return sc.result(), nil
}

// edgeScan reads the call buckets and declared dependencies of a set of
// services into one accumulator per edge.
type edgeScan struct {
	s     *Store
	set   map[string]bool
	among bool
	edges map[[2]string]*edgeAcc
	// capHint is how many buckets the window can hold.
	capHint      int
	fromNs, toNs int64
	firstHour    time.Time
	to           time.Time
	// it serves every range: SetBounds is cheaper than a new iterator.
	it *pebble.Iterator
}

func newEdgeScan(s *Store, services []string, from, to time.Time, among bool) *edgeScan {
	sc := &edgeScan{s: s, set: make(map[string]bool, len(services)), among: among, edges: map[[2]string]*edgeAcc{},
		capHint: int(min(max(to.Sub(from)/graph.BucketWidth+1, 0), 24*60)), fromNs: from.UnixNano(), toNs: to.UnixNano(),
		firstHour: from.UTC().Truncate(chunkWidth), to: to}
	for _, svc := range services {
		sc.set[svc] = true
	}
	return sc
}

// edge returns the accumulator of the edge a→b, creating it.
func (sc *edgeScan) edge(a, b string) *edgeAcc {
	k := [2]string{a, b}
	e, ok := sc.edges[k]
	if !ok {
		e = &edgeAcc{act: graph.EdgeActivity{From: a, To: b}, sorted: true, capHint: sc.capHint}
		sc.edges[k] = e
	}
	return e
}

func (sc *edgeScan) bounds(lower, upper []byte) error {
	if sc.it == nil {
		var err error
		sc.it, err = sc.s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
		return err
	}
	sc.it.SetBounds(lower, upper)
	return nil
}

func (sc *edgeScan) close() error {
	if sc.it == nil {
		return nil
	}
	return sc.it.Close()
}

// service reads svc's outgoing buckets, its incoming ones (unless only the
// edges among the set are wanted) and its declared dependencies.
func (sc *edgeScan) service(ctx context.Context, svc string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	tables := []byte{tableCallsOut, tableCallsIn}
	if sc.among {
		tables = tables[:1]
	}
	for _, table := range tables {
		if err := sc.table(svc, table); err != nil {
			return err
		}
	}
	sc.s.deps.each(svc, func(from, to string) {
		// An edge from another service in the set is that one's to report.
		if sc.among && !(sc.set[from] && sc.set[to]) {
			return
		}
		if from == svc || !sc.set[from] {
			sc.edge(from, to).act.Declared = true
		}
	})
	return nil
}

// table reads svc's buckets in one count table, edge by edge.
func (sc *edgeScan) table(svc string, table byte) error {
	prefix := appendName([]byte{table}, svc)
	lower := appendTime(append([]byte(nil), prefix...), sc.firstHour)
	upper := appendTime(append([]byte(nil), prefix...), sc.to)
	if bytes.Compare(lower, upper) >= 0 {
		return nil
	}
	if err := sc.bounds(lower, upper); err != nil {
		return fmt.Errorf("edges of %s: %w", svc, err)
	}
	it := sc.it
	var cur *edgeAcc
	var curOther []byte
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()[len(prefix):]
		if len(k) < 9 {
			return fmt.Errorf("call bucket key %q: %w", it.Key(), errCorrupt)
		}
		hour := int64(binary.BigEndian.Uint64(k))
		rest := k[8:]
		nul := bytes.IndexByte(rest, 0)
		if nul < 0 {
			return fmt.Errorf("call bucket key %q: %w", it.Key(), errCorrupt)
		}
		other := rest[:nul]
		if cur == nil || !bytes.Equal(other, curOther) {
			inSet := sc.set[string(other)]
			// An incoming edge from a caller in the set is read from the
			// caller's side; EdgesAmong wants only edges inside it.
			if (table == tableCallsIn && inSet) || (sc.among && !inSet) {
				cur = nil
				continue
			}
			curOther = append(curOther[:0], other...)
			if table == tableCallsOut {
				cur = sc.edge(svc, string(other))
			} else {
				cur = sc.edge(string(other), svc)
			}
		}
		if err := cur.addChunk(it.Value(), hour, sc.fromNs, sc.toNs, &sc.s.raw); err != nil {
			return fmt.Errorf("call bucket %q: %w", it.Key(), err)
		}
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("edges of %s: %w", svc, err)
	}
	return nil
}

// result turns the accumulators into activities, by from and to, with the
// first and last bucket ever seen on each edge.
func (sc *edgeScan) result() []graph.EdgeActivity {
	total := 0
	for _, e := range sc.edges {
		total += len(e.raw)
	}
	arena := make([]graph.BucketCount, total)
	out := make([]graph.EdgeActivity, 0, len(sc.edges))
	sc.s.spans.mu.RLock()
	for k, e := range sc.edges {
		if !e.act.Declared && len(e.raw) == 0 {
			continue
		}
		arena = e.finish(arena)
		putRaw(&sc.s.raw, e.raw)
		e.raw = nil
		if sp, ok := sc.s.spans.m[k]; ok {
			e.act.FirstSeen, e.act.LastSeen = fromNanos(sp.first), fromNanos(sp.last)
			e.act.ConnectionType = graph.ConnectionOfCode(sp.conn)
		}
		out = append(out, e.act)
	}
	sc.s.spans.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}
