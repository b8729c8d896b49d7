package neo4j

import (
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph/graphtest"
)

// The benchmarks are the embedded store's (graphtest.BenchApply and
// BenchContext) on the same generated organisation, so the two can be read
// side by side. Size the organisation with SREGRAPH_BENCH_EVENTS,
// SREGRAPH_BENCH_SERVICES and SREGRAPH_BENCH_CALL_HOURS.

// BenchmarkApply writes batches of 1000 new events across the org's
// services and reports events per second.
func BenchmarkApply(b *testing.B) {
	s := MustOpen(b, Options{Now: func() time.Time { return graphtest.OrgEnd }})
	graphtest.BenchApply(b, s, graphtest.BenchOrgConfig(b))
}

// BenchmarkBreachContext answers breach contexts on the generated
// organisation at depth 2 and 4 and reports p50 and p99 latency.
func BenchmarkBreachContext(b *testing.B) {
	s, o := openBenchOrg(b, graphtest.BenchOrgConfig(b))
	graphtest.BenchContext(b, s, o)
}
