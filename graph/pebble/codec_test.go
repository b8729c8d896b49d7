package pebble

import (
	"bytes"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
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

func FuzzDecodeChunk(f *testing.F) {
	f.Add(encodeChunk([]slot{{minute: 0, calls: 10, errors: 1, latency: 5}, {minute: 59, calls: 1}}))
	f.Add([]byte{formatVersion, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		slots, err := decodeChunk(b)
		if err != nil {
			return
		}
		if got, err := decodeChunk(encodeChunk(slots)); err != nil || len(got) != len(slots) {
			t.Fatalf("round trip: %v, %d slots; want %d", err, len(got), len(slots))
		}
	})
}
