package graphtest

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// BenchApply writes batches of 1000 new events of the organisation cfg
// describes into s and reports events per second and CPU per event (which
// includes a store's background work, and measures work better than wall
// time on a busy machine). It runs two arrival patterns into the same
// growing store: live, a stream whose clock advances ten seconds a batch
// with events up to five minutes late (what consumers of live topics see),
// and backfill, instants spread at random over the org's days (a replay
// or an import: the worst case for time-ordered keys).
func BenchApply(b *testing.B, s graph.Applier, cfg OrgConfig) {
	o := NewOrg(cfg)
	gen := NewEventGen(o, 7)
	span := time.Duration(cfg.Days) * 24 * time.Hour
	clock := OrgEnd.Add(-span)
	b.Run("arrival=live", func(b *testing.B) {
		benchApply(b, s, func() graph.Event {
			return gen.NextBefore(clock, 5*time.Minute)
		}, func() {
			if next := clock.Add(10 * time.Second); !next.After(OrgEnd) {
				clock = next
			}
		})
	})
	b.Run("arrival=backfill", func(b *testing.B) {
		benchApply(b, s, func() graph.Event { return gen.Next(span) }, func() {})
	})
}

// benchApply applies b.N batches of 1000 events from next, calling tick
// after each batch is made.
func benchApply(b *testing.B, s graph.Applier, next func() graph.Event, tick func()) {
	ctx := context.Background()
	batches := make([][]graph.Event, 64)
	fill := func() {
		for i := range batches {
			batches[i] = batches[i][:0]
			for range 1000 {
				batches[i] = append(batches[i], next())
			}
			tick()
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
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*1000), "cpu-µs/event")
}

// BenchContext answers breach contexts on o, stored in s, at depth 2 and
// 4: a focus in the middle layers (so both directions have depth) at an
// instant inside the last hours of call data. It reports p50 and p99
// latency and CPU per query.
func BenchContext(b *testing.B, s graph.ContextSource, o *Org) {
	for _, depth := range []int{2, 4} {
		b.Run("depth="+string(rune('0'+depth)), func(b *testing.B) {
			r := rand.New(rand.NewPCG(uint64(depth), 9))
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			var services, changes int
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				focus := o.PerLayer*2 + r.IntN(o.PerLayer*(o.Cfg.Layers-4))
				at := OrgEnd.Add(-15*time.Minute - time.Duration(r.Int64N(int64(4*time.Hour))))
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
