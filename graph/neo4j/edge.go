package neo4j

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// EdgesTouching returns every edge with either end in services that is
// declared or has call buckets starting in [from, to), with those buckets
// summed over producers, oldest first, and the starts of the edge's first
// and last buckets ever written. Edges come in (from, to) order.
func (s *Store) EdgesTouching(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error) {
	if len(services) == 0 {
		return nil, nil
	}
	params := map[string]any{"services": services, "from": from.UTC(), "to": to.UTC()}
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

	recs, err := s.read(ctx, cypherEdgesOfServices, params)
	if err != nil {
		return nil, fmt.Errorf("neo4j: edges: %w", err)
	}
	// The first and last seen of call edges, set on the edges returned
	// once those are known.
	type span struct{ first, last time.Time }
	seen := make(map[[2]string]span)
	for _, r := range recs {
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
		seen[[2]string{caller, callee}] = span{first.UTC(), last.UTC()}
	}

	if from.Before(to) {
		recs, err = s.read(ctx, cypherCallsTouching, params)
		if err != nil {
			return nil, fmt.Errorf("neo4j: call buckets: %w", err)
		}
		for _, r := range recs {
			m := r.AsMap()
			start, ok := m["start"].(time.Time)
			if !ok {
				return nil, fmt.Errorf("neo4j: call bucket %v->%v stored without a start", m["caller"], m["callee"])
			}
			calls, _ := m["calls"].(int64)
			errs, _ := m["errors"].(int64)
			a := get(str(m["caller"]), str(m["callee"]))
			a.Buckets = append(a.Buckets, graph.BucketCount{Minute: graph.MinuteOf(start), Calls: calls, Errors: errs})
		}
	}

	out := make([]graph.EdgeActivity, 0, len(edges))
	for k, a := range edges {
		if sp, ok := seen[k]; ok {
			a.FirstSeen, a.LastSeen = sp.first, sp.last
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

// EdgeLatency sums, over producers and the buckets of the edge from→to
// that start in [start, end), the calls, the latency and the latency
// histogram. Calls includes those of buckets written without a histogram,
// so the histogram may count fewer calls. An edge without buckets in the
// window has zero of each.
func (s *Store) EdgeLatency(ctx context.Context, from, to string, start, end time.Time) (sum time.Duration, hist [graph.LatencyBuckets]int64, calls int64, err error) {
	if !start.Before(end) {
		return 0, hist, 0, ctx.Err()
	}
	recs, err := s.read(ctx, cypherEdgeLatency, map[string]any{
		"caller": from, "callee": to, "from": start.UTC(), "to": end.UTC(), "slots": int64(graph.LatencyBuckets),
	})
	if err != nil {
		return 0, hist, 0, fmt.Errorf("neo4j: latency of %s->%s: %w", from, to, err)
	}
	if len(recs) != 1 {
		return 0, hist, 0, fmt.Errorf("neo4j: latency of %s->%s: %d rows, want 1", from, to, len(recs))
	}
	m := recs[0].AsMap()
	calls, _ = m["calls"].(int64)
	latency, _ := m["latencySum"].(int64)
	list, _ := m["latency"].([]any)
	if len(list) != len(hist) {
		return 0, hist, 0, fmt.Errorf("neo4j: latency of %s->%s: histogram of %d slots, want %d", from, to, len(list), len(hist))
	}
	for i, v := range list {
		hist[i], _ = v.(int64)
	}
	return time.Duration(latency), hist, calls, nil
}
