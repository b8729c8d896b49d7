package pebble

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// BenchmarkApply writes batches of 1000 new events across 5,000 services
// and reports events per second.
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
	var elapsed, cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i > 0 && i%len(batches) == 0 {
			b.StopTimer()
			fill()
			b.StartTimer()
		}
		t, c := time.Now(), processCPU()
		w, err := s.Apply(ctx, graph.Batch{Events: batches[i%len(batches)]})
		elapsed += time.Since(t)
		cpu += processCPU() - c
		if err != nil {
			b.Fatal(err)
		}
		if w.Inserted != 1000 {
			b.Fatalf("inserted %d of 1000", w.Inserted)
		}
	}
	b.ReportMetric(float64(b.N*1000)/elapsed.Seconds(), "events/s")
	// CPU time includes Pebble's background flushes and compactions.
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*1000), "cpu-µs/event")
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
	for _, depth := range []int{2, 4} {
		b.Run("depth="+string(rune('0'+depth)), func(b *testing.B) {
			r := rand.New(rand.NewPCG(uint64(depth), 9))
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			var services, changes int
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				// A focus in the middle layers, so both directions have depth,
				// at an instant inside the last hours of call data.
				focus := o.PerLayer*2 + r.IntN(o.PerLayer*(cfg.Layers-4))
				at := graphtest.OrgEnd.Add(-15*time.Minute - time.Duration(r.Int64N(int64(4*time.Hour))))
				t, c0 := time.Now(), processCPU()
				c, err := graph.BuildContext(ctx, s, graph.ContextQuery{
					Service: o.Names[focus], At: at, Before: graph.DefaultBefore, After: graph.DefaultAfter, Depth: depth,
				})
				lat = append(lat, time.Since(t))
				cpu += processCPU() - c0
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
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
			b.ReportMetric(float64(services)/float64(b.N), "services/op")
			b.ReportMetric(float64(changes)/float64(b.N), "changes/op")
		})
	}
}
