package pebble

import (
	"context"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// TestEdgeLatencyReadsFormat1 checks that call buckets stored before
// histograms existed still read, and survive a write into their hour.
func TestEdgeLatencyReadsFormat1(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, Options{Now: graphtest.Now})
	hour := graphtest.T0.Add(-time.Hour).Truncate(chunkWidth)
	old := chunkV1([]slot{{minute: 2, calls: 4, errors: 1, latency: int64(40 * time.Millisecond)}})
	for _, key := range [][]byte{
		chunkKey(tableCallsOut, "checkout", hour, "payments", "p1"),
		chunkKey(tableCallsIn, "payments", hour, "checkout", "p1"),
	} {
		if err := s.db.Set(key, old, pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	window := func() (time.Duration, [graph.LatencyBuckets]int64, int64, []graph.BucketCount) {
		t.Helper()
		sum, hist, calls, err := s.EdgeLatency(ctx, "checkout", "payments", hour, hour.Add(chunkWidth))
		if err != nil {
			t.Fatal(err)
		}
		acts, err := s.EdgesTouching(ctx, []string{"payments"}, hour, hour.Add(chunkWidth))
		if err != nil {
			t.Fatal(err)
		}
		if len(acts) != 1 {
			t.Fatalf("edges %+v; want checkout->payments", acts)
		}
		return sum, hist, calls, acts[0].Buckets
	}
	sum, hist, calls, buckets := window()
	if sum != 40*time.Millisecond || hist != [graph.LatencyBuckets]int64{} || calls != 4 || len(buckets) != 1 || buckets[0].Calls != 4 || buckets[0].Errors != 1 {
		t.Fatalf("format 1: %s, %v, %d calls, buckets %+v", sum, hist, calls, buckets)
	}
	// A new minute in the same hour rewrites the chunk in the current format.
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{{
		From: "checkout", To: "payments", Start: hour.Add(10 * time.Minute), Producer: "p1",
		Calls: 3, LatencySum: 3 * time.Second, Latency: [graph.LatencyBuckets]int64{7: 1, 9: 2},
	}}})
	raw, _, err := get(s.db, chunkKey(tableCallsIn, "payments", hour, "checkout", "p1"))
	if err != nil || len(raw) == 0 || raw[0] != chunkFormat {
		t.Fatalf("rewritten chunk %x, %v; want format %d", raw, err, chunkFormat)
	}
	sum, hist, calls, buckets = window()
	if sum != 3040*time.Millisecond || hist != [graph.LatencyBuckets]int64{7: 1, 9: 2} || calls != 7 || len(buckets) != 2 || buckets[1].Calls != 3 {
		t.Fatalf("after a write: %s, %v, %d calls, buckets %+v", sum, hist, calls, buckets)
	}
}

// BenchmarkEdgeLatency reads a day of one edge's buckets (two producers,
// every minute, with histograms) among the buckets of twenty other callees.
func BenchmarkEdgeLatency(b *testing.B) {
	ctx := context.Background()
	s := MustOpen(b, Options{Now: graphtest.Now})
	day := graphtest.T0.Add(-24 * time.Hour)
	var calls []graph.CallBucket
	for m := range 24 * 60 {
		at := day.Add(time.Duration(m) * time.Minute)
		for c := range 21 {
			to := "payments"
			if c > 0 {
				to = "callee-" + string(rune('a'+c))
			}
			for _, p := range []string{"p0", "p1"} {
				calls = append(calls, graph.CallBucket{From: "checkout", To: to, Start: at, Producer: p,
					Calls: 60, LatencySum: 60 * 30 * time.Millisecond, Latency: [graph.LatencyBuckets]int64{10, 20, 20, 5, 3, 1, 1}})
			}
		}
		if len(calls) >= 10000 {
			graphtest.MustApply(b, s, graph.Batch{Calls: calls})
			calls = calls[:0]
		}
	}
	graphtest.MustApply(b, s, graph.Batch{Calls: calls})
	for _, w := range []time.Duration{time.Hour, 24 * time.Hour} {
		b.Run(w.String(), func(b *testing.B) {
			for b.Loop() {
				_, _, n, err := s.EdgeLatency(ctx, "checkout", "payments", graphtest.T0.Add(-w), graphtest.T0)
				if err != nil || n != int64(w/time.Minute)*120 {
					b.Fatalf("EdgeLatency: %d calls, %v", n, err)
				}
			}
		})
	}
}
