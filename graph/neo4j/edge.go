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
// summed over producers, oldest first. Edges come in (from, to) order.
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

	recs, err := s.read(ctx, cypherDependenciesTouching, params)
	if err != nil {
		return nil, fmt.Errorf("neo4j: declared edges: %w", err)
	}
	for _, r := range recs {
		m := r.AsMap()
		get(str(m["caller"]), str(m["callee"])).Declared = true
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
	for _, a := range edges {
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
