package neo4j

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/sregraph/sregraph/graph"
)

// EdgesTouching returns every edge with either end in services that is
// declared or has call buckets starting in [from, to), with those buckets
// summed over producers, oldest first, and the starts of the edge's first
// and last buckets ever written. Edges come in (from, to) order.
func (s *Store) EdgesTouching(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error) {
	return s.edges(ctx, services, from, to, cypherEdgesOfServices, cypherCallsTouching)
}

// EdgesAmong is EdgesTouching restricted to edges with both ends in
// services. The neighbourhood walk uses it for the last ring, whose other
// edges it does not need.
func (s *Store) EdgesAmong(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error) {
	return s.edges(ctx, services, from, to, cypherEdgesAmong, cypherCallsAmong)
}

// edges answers EdgesTouching and EdgesAmong: edgesStmt lists the declared
// and call edges, callsStmt the bucket rows. The two run at once.
func (s *Store) edges(ctx context.Context, services []string, from, to time.Time, edgesStmt, callsStmt string) ([]graph.EdgeActivity, error) {
	if len(services) == 0 {
		return nil, nil
	}
	from, to = from.UTC(), to.UTC()
	type result struct {
		recs []*driver.Record
		err  error
	}
	callsDone := make(chan result, 1)
	if from.Before(to) {
		go func() {
			recs, err := s.read(ctx, callsStmt, map[string]any{"services": services, "from": from.Truncate(time.Hour), "to": to})
			callsDone <- result{recs, err}
		}()
	} else {
		callsDone <- result{}
	}
	edgeRecs, err := s.read(ctx, edgesStmt, map[string]any{"services": services})
	calls := <-callsDone
	if err != nil {
		return nil, fmt.Errorf("neo4j: edges: %w", err)
	}
	if calls.err != nil {
		return nil, fmt.Errorf("neo4j: call buckets: %w", calls.err)
	}

	edges := make(map[[2]string]*graph.EdgeActivity)
	get := func(caller, callee string) *graph.EdgeActivity {
		k := [2]string{caller, callee}
		a := edges[k]
		if a == nil {
			a = &graph.EdgeActivity{From: caller, To: callee}
			edges[k] = a
		}
		return a
	}
	// The first and last seen of call edges, set on the edges returned
	// once those are known.
	type span struct {
		first, last time.Time
		conn        graph.ConnectionType
	}
	seen := make(map[[2]string]span)
	for _, r := range edgeRecs {
		m := r.AsMap()
		caller, callee := str(m["caller"]), str(m["callee"])
		if declared, _ := m["declared"].(bool); declared {
			get(caller, callee).Declared = true
			continue
		}
		first, okFirst := m["firstSeen"].(time.Time)
		last, okLast := m["lastSeen"].(time.Time)
		if !okFirst || !okLast {
			return nil, fmt.Errorf("neo4j: call edge %s->%s stored without first and last seen", caller, callee)
		}
		// An edge written before connection types has none: a plain call.
		code, _ := m["connection"].(int64)
		if code < 0 || code > int64(graph.ConnectionDatabase.Code()) {
			return nil, fmt.Errorf("neo4j: call edge %s->%s stored with connection %d", caller, callee, code)
		}
		seen[[2]string{caller, callee}] = span{first.UTC(), last.UTC(), graph.ConnectionOfCode(byte(code))}
	}

	sums, err := sumCallHours(calls.recs, from, to)
	if err != nil {
		return nil, fmt.Errorf("neo4j: call buckets: %w", err)
	}
	for k, buckets := range sums {
		get(k[0], k[1]).Buckets = buckets
	}

	out := make([]graph.EdgeActivity, 0, len(edges))
	for k, a := range edges {
		if sp, ok := seen[k]; ok {
			a.FirstSeen, a.LastSeen, a.ConnectionType = sp.first, sp.last, sp.conn
		}
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out, nil
}

// hourSums is one edge's calls and errors in one hour, summed over
// producers; calls is -1 in a minute no producer has a bucket for.
type hourSums struct {
	edge                   [2]string
	hour                   int64 // Unix seconds
	calls, errors, latency [bucketsPerHour]int64
}

// sumCallHours turns bucket rows (caller, callee, hour, calls, errors)
// into each edge's buckets that start in [from, to), summed over
// producers, oldest first. Edges without such a bucket are left out.
func sumCallHours(recs []*driver.Record, from, to time.Time) (map[[2]string][]graph.BucketCount, error) {
	type edgeHour struct {
		edge [2]string
		hour int64
	}
	hours := make(map[edgeHour]*hourSums, len(recs))
	list := make([]*hourSums, 0, len(recs))
	buckets := 0
	var calls, errs, sums [bucketsPerHour]int64
	for _, r := range recs {
		caller, callee := str(field(r, "caller")), str(field(r, "callee"))
		hour, ok := field(r, "hour").(time.Time)
		if !ok {
			return nil, fmt.Errorf("bucket row %s->%s stored without an hour", caller, callee)
		}
		if err := intList(field(r, "calls"), calls[:]); err != nil {
			return nil, fmt.Errorf("calls of bucket row %s->%s at %s: %w", caller, callee, hour.UTC().Format(time.RFC3339), err)
		}
		if err := intList(field(r, "errors"), errs[:]); err != nil {
			return nil, fmt.Errorf("errors of bucket row %s->%s at %s: %w", caller, callee, hour.UTC().Format(time.RFC3339), err)
		}
		sums = [bucketsPerHour]int64{}
		if v := field(r, "latencySum"); v != nil {
			if err := intList(v, sums[:]); err != nil {
				return nil, fmt.Errorf("latency sums of bucket row %s->%s at %s: %w", caller, callee, hour.UTC().Format(time.RFC3339), err)
			}
		}
		k := edgeHour{[2]string{caller, callee}, hour.Unix()}
		sum := hours[k]
		if sum == nil {
			sum = &hourSums{edge: k.edge, hour: k.hour}
			for i := range sum.calls {
				sum.calls[i] = -1
			}
			hours[k] = sum
			list = append(list, sum)
		}
		lo, hi := minutesIn(hour, from, to)
		for i := lo; i < hi; i++ {
			if calls[i] < 0 {
				continue
			}
			if sum.calls[i] < 0 {
				sum.calls[i] = 0
				buckets++
			}
			sum.calls[i] += calls[i]
			sum.errors[i] += errs[i]
			// At the precision every store carries latency with.
			sum.latency[i] += int64(graph.LatencyOfCode(graph.LatencyCode(time.Duration(sums[i]), calls[i]), calls[i]))
		}
	}
	slices.SortFunc(list, func(a, b *hourSums) int {
		return cmp.Or(cmp.Compare(a.edge[0], b.edge[0]), cmp.Compare(a.edge[1], b.edge[1]), cmp.Compare(a.hour, b.hour))
	})
	// One allocation holds every edge's buckets.
	arena := make([]graph.BucketCount, 0, buckets)
	out := make(map[[2]string][]graph.BucketCount)
	for i := 0; i < len(list); {
		edge, start := list[i].edge, len(arena)
		for ; i < len(list) && list[i].edge == edge; i++ {
			sum := list[i]
			for m, c := range sum.calls {
				if c >= 0 {
					arena = append(arena, graph.BucketCount{Minute: sum.hour/60 + int64(m), Calls: c, Errors: sum.errors[m], Latency: time.Duration(sum.latency[m])})
				}
			}
		}
		if len(arena) > start {
			out[edge] = arena[start:len(arena):len(arena)]
		}
	}
	return out, nil
}

// field is a record's value in a column (nil when it has no such column).
func field(r *driver.Record, key string) any {
	v, _ := r.Get(key)
	return v
}

// minutesIn returns the minutes [lo, hi) of the hour starting at hour
// whose buckets start in [from, to).
func minutesIn(hour, from, to time.Time) (lo, hi int) {
	// A minute i starts at hour + i min: it is in the window when that is
	// not before from, and before to.
	lo = int(min(max(ceilDiv(from.Sub(hour), graph.BucketWidth), 0), int64(bucketsPerHour)))
	hi = int(min(max(ceilDiv(to.Sub(hour), graph.BucketWidth), 0), int64(bucketsPerHour)))
	return lo, hi
}

// ceilDiv is d/unit rounded up. The hour and window of a query are far
// less than a Duration's range apart, so d does not overflow.
func ceilDiv(d, unit time.Duration) int64 {
	q := d / unit
	if d%unit > 0 {
		q++
	}
	return int64(q)
}

// intList copies a stored list of integers into dst, which must be as
// long as the list.
func intList(v any, dst []int64) error {
	list, ok := v.([]any)
	if !ok {
		return fmt.Errorf("stored as %T, want a list", v)
	}
	if len(list) != len(dst) {
		return fmt.Errorf("%d values, want %d", len(list), len(dst))
	}
	for i, x := range list {
		n, ok := x.(int64)
		if !ok {
			return fmt.Errorf("value %d is %T, want an integer", i, x)
		}
		dst[i] = n
	}
	return nil
}

// EdgeLatency sums, over producers and the buckets of the edge from→to
// that start in [start, end), the calls, the latency and the latency
// histogram. Calls includes those of buckets written without a histogram,
// so the histogram may count fewer calls. An edge without buckets in the
// window has zero of each.
func (s *Store) EdgeLatency(ctx context.Context, from, to string, start, end time.Time) (sum time.Duration, hist [graph.LatencyBuckets]int64, calls int64, err error) {
	var latency int64
	err = s.eachLatencyMinute(ctx, from, to, start, end, func(_ int64, c, l int64, h []int64) {
		calls += c
		latency += l
		for j := range h {
			hist[j] += h[j]
		}
	})
	if err != nil {
		return 0, [graph.LatencyBuckets]int64{}, 0, err
	}
	return time.Duration(latency), hist, calls, nil
}

// eachLatencyMinute calls fn with the minute (since the Unix epoch), the
// calls, the latency sum and the histogram (nil when the row has none) of
// every bucket row's minute of the edge from→to, of every producer, that
// starts in [start, end).
func (s *Store) eachLatencyMinute(ctx context.Context, from, to string, start, end time.Time, fn func(minute, calls, latency int64, hist []int64)) error {
	if !start.Before(end) {
		return ctx.Err()
	}
	start, end = start.UTC(), end.UTC()
	recs, err := s.read(ctx, cypherEdgeLatency, map[string]any{
		"caller": from, "callee": to, "from": start.Truncate(time.Hour), "to": end,
	})
	if err != nil {
		return fmt.Errorf("neo4j: latency of %s->%s: %w", from, to, err)
	}
	var (
		rowCalls, rowSums [bucketsPerHour]int64
		rowHist           [bucketsPerHour * graph.LatencyBuckets]int64
	)
	for _, r := range recs {
		m := r.AsMap()
		hour, ok := m["hour"].(time.Time)
		if !ok {
			return fmt.Errorf("neo4j: latency of %s->%s: bucket row stored without an hour", from, to)
		}
		at := hour.UTC().Format(time.RFC3339)
		if err := intList(m["calls"], rowCalls[:]); err != nil {
			return fmt.Errorf("neo4j: latency of %s->%s: calls at %s: %w", from, to, at, err)
		}
		if err := intList(m["latencySum"], rowSums[:]); err != nil {
			return fmt.Errorf("neo4j: latency of %s->%s: latency sums at %s: %w", from, to, at, err)
		}
		histogram := m["latency"] != nil
		if histogram {
			if err := intList(m["latency"], rowHist[:]); err != nil {
				return fmt.Errorf("neo4j: latency of %s->%s: histograms at %s: %w", from, to, at, err)
			}
		}
		lo, hi := minutesIn(hour.UTC(), start, end)
		for i := lo; i < hi; i++ {
			if rowCalls[i] < 0 {
				continue
			}
			var h []int64
			if histogram {
				h = rowHist[i*graph.LatencyBuckets : (i+1)*graph.LatencyBuckets]
			}
			fn(hour.Unix()/60+int64(i), rowCalls[i], rowSums[i], h)
		}
	}
	return nil
}
