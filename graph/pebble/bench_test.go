package pebble

import (
	"context"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// BenchmarkApply writes batches of 1000 new events across 5,000 services
// and reports events per second.
func BenchmarkApply(b *testing.B) {
	s := MustOpen(b, Options{Now: func() time.Time { return graphtest.OrgEnd }})
	graphtest.BenchApply(b, s, graphtest.BenchOrgConfig(b))
}

// BenchmarkBreachContext answers breach contexts on a generated
// organisation (SREGRAPH_BENCH_EVENTS events, default 5,000,000) at
// depth 2 and 4 and reports p50 and p99 latency.
func BenchmarkBreachContext(b *testing.B) {
	cfg := graphtest.BenchOrgConfig(b)
	s, o := openBenchOrg(b, cfg)
	// A server answers from a warm cache: before timing, walk the recent
	// call data and events of the organisation once (every service at
	// depth 1 over the hours the queries use).
	warm := time.Now()
	for i := 0; i < len(o.Names); i += 64 {
		names := o.Names[i:min(i+64, len(o.Names))]
		from, to := graphtest.OrgEnd.Add(-8*time.Hour), graphtest.OrgEnd
		if _, err := s.EdgesTouching(context.Background(), names, from, to); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Events(context.Background(), graph.EventFilter{Services: names, From: from, To: to, First: graph.MaxContextEvents}); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("warmed the cache in %s", time.Since(warm).Round(time.Millisecond))
	graphtest.BenchContext(b, s, o)
}
