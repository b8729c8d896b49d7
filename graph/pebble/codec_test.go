package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

func TestEventCodecRoundTrip(t *testing.T) {
	end := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	for _, e := range []graph.Event{
		{ID: "a1", Kind: graph.KindDeploy, Service: "checkout", At: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC), Source: "argo-cd", Summary: "checkout 1.2 deployed"},
		{ID: "b2", Kind: graph.KindSLOBreach, Service: "payments", Environment: "prod", At: time.Date(2026, 11, 20, 14, 0, 0, 123e6, time.UTC), End: &end,
			Source: "alertmanager", ExternalID: "fp:1", Summary: "latency", URL: "https://am/x",
			Attributes: map[string]any{"labels": map[string]any{"slo": "latency"}, "n": 3.0, "ok": true, "list": []any{"a", 1.5}}},
	} {
		raw, err := encodeEvent(&e)
		if err != nil {
			t.Fatal(err)
		}
		got, err := decodeEvent(raw)
		if err != nil {
			t.Fatal(err)
		}
		a, _ := encodeEvent(&got)
		if !bytes.Equal(a, raw) || got.ID != e.ID || !got.At.Equal(e.At) || (e.End == nil) != (got.End == nil) {
			t.Errorf("round trip of %+v gave %+v", e, got)
		}
	}
}

func TestServiceCodecRoundTrip(t *testing.T) {
	sv := graph.Service{Name: "checkout", Environment: "prod", Owner: "team", FirstSeen: time.Unix(100, 5).UTC(), LastSeen: time.Unix(200, 0).UTC()}
	got, err := decodeService("checkout", encodeService(&sv))
	if err != nil || got != sv {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, sv)
	}
}

// TestIndexKeyOrder checks the property the event indexes rest on: keys
// in descending byte order are events in graph.EventLess order.
func TestIndexKeyOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	var evs []graph.Event
	for i := range 500 {
		id := make([]byte, 1+r.IntN(6))
		for j := range id {
			id[j] = byte(1 + r.IntN(255)) // any byte but NUL
		}
		evs = append(evs, graph.Event{ID: string(id), At: base.Add(time.Duration(r.IntN(5)) * time.Second)})
		if i%7 == 0 { // prefixes of other IDs
			evs = append(evs, graph.Event{ID: string(id[:len(id)/2+1]), At: evs[i].At})
		}
	}
	keys := make([][]byte, len(evs))
	for i := range evs {
		keys[i] = indexKey(serviceEventsPrefix("svc"), evs[i].At, evs[i].ID)
	}
	sort.Slice(keys, func(i, j int) bool { return bytes.Compare(keys[i], keys[j]) > 0 })
	graph.SortEvents(evs)
	for i, k := range keys {
		at, id, ok := decodeTimeID(k[len(serviceEventsPrefix("svc")):])
		if !ok || id != evs[i].ID || at != nanos(evs[i].At) {
			// Duplicated (at, id) pairs sort equal either way.
			if ok && i > 0 && id == evs[i-1].ID {
				continue
			}
			t.Fatalf("key %d decodes to (%d, %q); want (%d, %q)", i, at, id, nanos(evs[i].At), evs[i].ID)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	e := graph.Event{ID: "x", Kind: graph.KindDeploy, Service: "s", At: time.Unix(1e9, 0), Source: "src", Attributes: map[string]any{"k": "v"}}
	seed, _ := encodeEvent(&e)
	f.Add(seed)
	f.Add([]byte{formatVersion})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeEvent(b)
		if err != nil {
			return
		}
		again, err := encodeEvent(&got)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := decodeEvent(again); err != nil {
			t.Fatalf("decode of re-encoded event: %v", err)
		}
	})
}

// chunkV1 encodes slots in chunk format 1 (no histograms), as earlier
// versions wrote them.
func chunkV1(slots []slot) []byte {
	b := []byte{chunkFormatV1}
	for _, s := range slots {
		b = append(b, s.minute)
		b = binary.AppendUvarint(b, uint64(s.calls))
		b = binary.AppendUvarint(b, uint64(s.errors))
		b = binary.AppendVarint(b, s.latency)
	}
	return b
}

// countsOf is what a count chunk keeps of slots.
// countsOf is what a count chunk keeps of slots: the counts, and the
// latency at graph.LatencyCode's precision.
func countsOf(slots []slot) []slot {
	var out []slot
	for _, s := range slots {
		lat := graph.LatencyOfCode(graph.LatencyCode(time.Duration(s.latency), s.calls), s.calls)
		out = append(out, slot{minute: s.minute, calls: s.calls, errors: s.errors, latency: int64(lat)})
	}
	return out
}

// countsV3Of is what a count chunk written before latencies keeps.
func countsV3Of(slots []slot) []slot {
	var out []slot
	for _, s := range slots {
		out = append(out, slot{minute: s.minute, calls: s.calls, errors: s.errors})
	}
	return out
}

func TestChunkFormats(t *testing.T) {
	withHist := []slot{
		{minute: 0, calls: 10, errors: 1, latency: 5e6, hist: [graph.LatencyBuckets]int64{3, 0, 7}},
		{minute: 7, calls: 1 << 40, latency: -1, hist: [graph.LatencyBuckets]int64{graph.LatencyBuckets - 1: 1 << 40}},
		{minute: 59, calls: 1},
	}
	old := []slot{{minute: 1, calls: 4, errors: 2, latency: 9e6}, {minute: 30, calls: 300, latency: 1 << 50}}
	for _, tc := range []struct {
		name string
		enc  []byte
		want []slot
	}{
		{"current", encodeChunk(withHist), withHist},
		{"format 1", chunkV1(old), old},
		{"counts", encodeCounts(withHist), countsOf(withHist)},
		{"counts without latency", encodeCountsAs(countsFormat, withHist), countsV3Of(withHist)},
		{"empty", encodeChunk(nil), nil},
		{"empty counts", encodeCounts(nil), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeChunk(tc.enc)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("decoded %+v\nwant %+v", got, tc.want)
			}
			var acc edgeAcc
			if err := acc.addChunk(tc.enc, 0, math.MinInt64, math.MaxInt64, &sync.Pool{}); err != nil {
				t.Fatalf("addChunk: %v", err)
			}
			if len(acc.raw) != len(tc.want) {
				t.Fatalf("addChunk saw %d minutes, want %d", len(acc.raw), len(tc.want))
			}
			for i, s := range tc.want {
				if r := acc.raw[i]; r.calls != s.calls || r.errors != s.errors || r.start != int64(s.minute)*int64(graph.BucketWidth) {
					t.Errorf("addChunk minute %d: %+v, want %+v", i, r, s)
				}
			}
		})
	}
	if _, err := decodeChunk([]byte{9, 0, 1, 0, 0}); err == nil {
		t.Error("unknown chunk format decoded")
	}
}

func FuzzDecodeChunk(f *testing.F) {
	f.Add(encodeChunk([]slot{{minute: 0, calls: 10, errors: 1, latency: 5}, {minute: 59, calls: 1}}))
	f.Add(encodeChunk([]slot{{minute: 3, calls: 10, errors: 1, latency: 5e6, hist: [graph.LatencyBuckets]int64{2, 0, 8}}}))
	f.Add(encodeChunk([]slot{{minute: 5, calls: 1 << 62, hist: [graph.LatencyBuckets]int64{graph.LatencyBuckets - 1: 1 << 62}}}))
	f.Add(chunkV1([]slot{{minute: 0, calls: 10, errors: 1, latency: 5}, {minute: 59, calls: 1}}))
	f.Add(encodeCounts([]slot{{minute: 2, calls: 40, errors: 3, latency: 4e9}, {minute: 9, calls: 7}}))
	f.Add([]byte{chunkFormatV1, 3})
	f.Add([]byte{chunkFormat, 3, 1, 0, 0, 2, 1})
	f.Add(encodeCounts([]slot{{minute: 0, calls: 10, errors: 1}, {minute: 59, calls: 1 << 62}}))
	f.Add([]byte{countsFormat, 3, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		slots, err := decodeChunk(b)
		var acc edgeAcc
		accErr := acc.addChunk(b, 0, math.MinInt64, math.MaxInt64, &sync.Pool{})
		if err != nil {
			return
		}
		// The neighbourhood walk skips what it does not need but must
		// read every chunk decodeChunk reads, the same way.
		if accErr != nil {
			t.Fatalf("addChunk: %v; decodeChunk read %d minutes", accErr, len(slots))
		}
		var calls, errs, lat [2]int64
		v, _ := chunkVersion(b)
		for _, s := range slots {
			calls[0] += s.calls
			errs[0] += s.errors
			if v == latencyCountsFormat {
				lat[0] += s.latency
			}
		}
		for _, r := range acc.raw {
			calls[1] += r.calls
			errs[1] += r.errors
			lat[1] += r.latency
		}
		if calls[0] != calls[1] || errs[0] != errs[1] || lat[0] != lat[1] {
			t.Fatalf("addChunk counted calls/errors/latency %d/%d/%d; decodeChunk %d/%d/%d", calls[1], errs[1], lat[1], calls[0], errs[0], lat[0])
		}
		if got, err := decodeChunk(encodeChunk(slots)); err != nil || !reflect.DeepEqual(got, slots) {
			t.Fatalf("round trip: %v, %+v; want %+v", err, got, slots)
		}
		if got, err := decodeChunk(encodeCounts(slots)); err != nil || !reflect.DeepEqual(got, countsOf(slots)) {
			t.Fatalf("counts round trip: %v, %+v; want %+v", err, got, countsOf(slots))
		}
	})
}

// TestSpanFormats reads an edge's first and last seen in both formats: the
// one written before connection types (16 bytes, read as a plain
// connection) and the current one; anything else is corrupt.
func TestSpanFormats(t *testing.T) {
	sp := edgeSpan{first: 1_795_255_200_000_000_000, last: 1_795_258_800_000_000_000, conn: graph.ConnectionDatabase.Code()}
	got, err := decodeSpan(encodeSpan(sp))
	if err != nil || got != sp {
		t.Errorf("current format: %+v, %v; want %+v", got, err, sp)
	}
	old := encodeSpan(sp)[:spanFormatV1Len]
	got, err = decodeSpan(old)
	if want := (edgeSpan{first: sp.first, last: sp.last}); err != nil || got != want {
		t.Errorf("first format: %+v, %v; want %+v", got, err, want)
	}
	if c := graph.ConnectionOfCode(got.conn); c != graph.ConnectionNone {
		t.Errorf("first format reads as connection %q", c)
	}
	for _, bad := range [][]byte{old[:15], append(encodeSpan(sp)[:17], 9), append(append([]byte{}, old...), 7, 1)} {
		if _, err := decodeSpan(bad); err == nil {
			t.Errorf("decodeSpan(% x) accepted", bad)
		}
	}
}

// TestEdgeWrittenBeforeConnectionTypes opens a store whose edge was written
// in the first span format and sees the edge as a plain connection until a
// later bucket names its type.
func TestEdgeWrittenBeforeConnectionTypes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	at := graphtest.T0.Add(-30 * time.Minute).Truncate(time.Minute)
	s, err := Open(dir, Options{Now: graphtest.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Apply(ctx, graph.Batch{Calls: []graph.CallBucket{{From: "api", To: "orders-db", Start: at, Producer: "p", Calls: 1, ConnectionType: graph.ConnectionDatabase}}}); err != nil {
		t.Fatal(err)
	}
	// Rewrite the span as the first format had it.
	key := depKey(tableSeenOut, "api", "orders-db")
	raw, found, err := get(s.db, key)
	if err != nil || !found {
		t.Fatalf("span not stored: %v", err)
	}
	if err := s.db.Set(key, raw[:spanFormatV1Len], pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, Options{Now: graphtest.Now}); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}()
	conn := func() graph.ConnectionType {
		t.Helper()
		acts, err := s.EdgesTouching(ctx, []string{"api"}, at, at.Add(time.Hour))
		if err != nil || len(acts) != 1 {
			t.Fatalf("edges %+v, %v", acts, err)
		}
		return acts[0].ConnectionType
	}
	if c := conn(); c != graph.ConnectionNone {
		t.Errorf("an edge of the first format reads as %q", c)
	}
	// The same bucket again names its type: codes outrank "none recorded".
	if _, err := s.Apply(ctx, graph.Batch{Calls: []graph.CallBucket{{From: "api", To: "orders-db", Start: at, Producer: "p", Calls: 1, ConnectionType: graph.ConnectionDatabase}}}); err != nil {
		t.Fatal(err)
	}
	if c := conn(); c != graph.ConnectionDatabase {
		t.Errorf("after a typed bucket: %q", c)
	}
}
