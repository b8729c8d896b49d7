package neo4j

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// The benchmarks mirror the embedded store's (graph/pebble/bench_test.go)
// on the same generated organisation, so the two can be read side by side.
// Size the organisation with SREGRAPH_BENCH_EVENTS, SREGRAPH_BENCH_SERVICES
// and SREGRAPH_BENCH_CALL_HOURS.

// BenchmarkApply writes batches of 1000 new events across the org's
// services and reports events per second.
func BenchmarkApply(b *testing.B) {
	cfg := graphtest.BenchOrgConfig(b)
	o := graphtest.NewOrg(cfg)
	s := MustOpen(b, Options{Now: func() time.Time { return graphtest.OrgEnd }})
	gen := graphtest.NewEventGen(o, 7)
	ctx := context.Background()
	span := time.Duration(cfg.Days) * 24 * time.Hour
	batches := make([][]graph.Event, 64)
	fill := func() {
		for i := range batches {
			batches[i] = batches[i][:0]
			for range 1000 {
				batches[i] = append(batches[i], gen.Next(span))
			}
		}
	}
	fill()
	var elapsed time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%len(batches) == 0 {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		t := time.Now()
		w, err := s.Apply(ctx, graph.Batch{Events: batches[i%len(batches)]})
		elapsed += time.Since(t)
		if err != nil {
			b.Fatal(err)
		}
		if w.Inserted != 1000 {
			b.Fatalf("inserted %d of 1000", w.Inserted)
		}
	}
	b.ReportMetric(float64(b.N*1000)/elapsed.Seconds(), "events/s")
}

// BenchmarkBreachContext answers breach contexts on the generated
// organisation at depth 2 and 4 and reports p50 and p99 latency.
func BenchmarkBreachContext(b *testing.B) {
	cfg := graphtest.BenchOrgConfig(b)
	s, o := openBenchOrg(b, cfg)
	for _, depth := range []int{2, 4} {
		b.Run("depth="+string(rune('0'+depth)), func(b *testing.B) {
			r := rand.New(rand.NewPCG(uint64(depth), 9))
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			var services, changes int
			b.ResetTimer()
			for range b.N {
				// A focus in the middle layers, so both directions have depth,
				// at an instant inside the last hours of call data.
				focus := o.PerLayer*2 + r.IntN(o.PerLayer*(cfg.Layers-4))
				at := graphtest.OrgEnd.Add(-15*time.Minute - time.Duration(r.Int64N(int64(4*time.Hour))))
				t := time.Now()
				c, err := graph.BuildContext(ctx, s, graph.ContextQuery{
					Service: o.Names[focus], At: at, Before: graph.DefaultBefore, After: graph.DefaultAfter, Depth: depth,
				})
				lat = append(lat, time.Since(t))
				if err != nil {
					b.Fatal(err)
				}
				services += len(c.Services)
				changes += len(c.Changes)
			}
			b.StopTimer()
			slices.Sort(lat)
			pct := func(p float64) float64 {
				return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))]) / float64(time.Millisecond)
			}
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(services)/float64(b.N), "services/op")
			b.ReportMetric(float64(changes)/float64(b.N), "changes/op")
		})
	}
}
