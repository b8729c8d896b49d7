package pebble

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// TestOldCallBucketsSplitAtOpen checks that call buckets stored before
// they were split (full chunks of format 1 and 2 in both count tables)
// are split when the store opens, read the same afterwards, and survive a
// write into their hour.
func TestOldCallBucketsSplitAtOpen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	hour := graphtest.T0.Add(-time.Hour).Truncate(chunkWidth)
	old := map[string][]byte{
		"payments": chunkV1([]slot{{minute: 2, calls: 4, errors: 1, latency: int64(40 * time.Millisecond)}}),
		"ledger":   encodeChunk([]slot{{minute: 5, calls: 6, latency: int64(60 * time.Millisecond), hist: [graph.LatencyBuckets]int64{1: 6}}}),
	}
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for to, chunk := range old {
		for _, key := range [][]byte{
			chunkKey(tableCallsOut, "checkout", hour, to, "p1"),
			chunkKey(tableCallsIn, to, hour, "checkout", "p1"),
		} {
			if err := db.Set(key, chunk, pebble.Sync); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{Now: graphtest.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	for _, table := range []byte{tableCallsOut, tableCallsIn} {
		for to := range old {
			key := chunkKey(table, "checkout", hour, to, "p1")
			if table == tableCallsIn {
				key = chunkKey(table, to, hour, "checkout", "p1")
			}
			raw, _, err := get(s.db, key)
			if err != nil || len(raw) == 0 || raw[0] != latencyCountsFormat {
				t.Fatalf("count chunk %q after open: %x, %v; want format %d", key, raw, err, latencyCountsFormat)
			}
		}
	}
	window := func(to string) (time.Duration, [graph.LatencyBuckets]int64, int64, []graph.BucketCount) {
		t.Helper()
		sum, hist, calls, err := s.EdgeLatency(ctx, "checkout", to, hour, hour.Add(chunkWidth))
		if err != nil {
			t.Fatal(err)
		}
		acts, err := s.EdgesTouching(ctx, []string{to}, hour, hour.Add(chunkWidth))
		if err != nil {
			t.Fatal(err)
		}
		if len(acts) != 1 {
			t.Fatalf("edges %+v; want checkout->%s", acts, to)
		}
		return sum, hist, calls, acts[0].Buckets
	}
	sum, hist, calls, buckets := window("payments")
	if sum != 40*time.Millisecond || hist != [graph.LatencyBuckets]int64{} || calls != 4 || len(buckets) != 1 || buckets[0].Calls != 4 || buckets[0].Errors != 1 {
		t.Fatalf("format 1: %s, %v, %d calls, buckets %+v", sum, hist, calls, buckets)
	}
	sum, hist, calls, buckets = window("ledger")
	if sum != 60*time.Millisecond || hist != [graph.LatencyBuckets]int64{1: 6} || calls != 6 || len(buckets) != 1 || buckets[0].Calls != 6 {
		t.Fatalf("format 2: %s, %v, %d calls, buckets %+v", sum, hist, calls, buckets)
	}
	// A new minute in the same hour keeps the old one.
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{{
		From: "checkout", To: "payments", Start: hour.Add(10 * time.Minute), Producer: "p1",
		Calls: 3, LatencySum: 3 * time.Second, Latency: [graph.LatencyBuckets]int64{7: 1, 9: 2},
	}}})
	sum, hist, calls, buckets = window("payments")
	if sum != 3040*time.Millisecond || hist != [graph.LatencyBuckets]int64{7: 1, 9: 2} || calls != 7 || len(buckets) != 2 || buckets[1].Calls != 3 {
		t.Fatalf("after a write: %s, %v, %d calls, buckets %+v", sum, hist, calls, buckets)
	}
	// The split is recorded: opening again rewrites nothing.
	if n, err := splitCalls(s.db, quiet); err != nil || n != 0 {
		t.Fatalf("second split rewrote %d chunks, %v; want none", n, err)
	}
}

// TestSplitCallsResumes checks that a split interrupted before it was
// recorded finishes on the next open without touching what was split.
func TestSplitCallsResumes(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := MustOpen(t, Options{Now: graphtest.Now})
	hour := graphtest.T0.Truncate(chunkWidth)
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{{From: "a", To: "b", Start: hour, Producer: "p", Calls: 9, Errors: 2}}})
	// As if a split had stopped after writing this chunk but before the
	// marker: an old chunk next to a split one.
	if err := s.db.Set(chunkKey(tableCallsOut, "a", hour, "c", "p"), chunkV1([]slot{{calls: 5}}), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.db.Delete(splitCallsKey(), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if n, err := splitCalls(s.db, quiet); err != nil || n != 1 {
		t.Fatalf("split rewrote %d chunks, %v; want 1", n, err)
	}
	acts, err := s.EdgesTouching(context.Background(), []string{"a"}, hour, hour.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 2 || acts[0].To != "b" || acts[0].Buckets[0].Calls != 9 || acts[1].To != "c" || acts[1].Buckets[0].Calls != 5 {
		t.Fatalf("edges after the split: %+v", acts)
	}
	in, ok := inKey(chunkKey(tableCallsOut, "a", hour, "c", "p"))
	if want := chunkKey(tableCallsIn, "c", hour, "a", "p"); !ok || string(in) != string(want) {
		t.Fatalf("inKey = %q, %v; want %q", in, ok, want)
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
