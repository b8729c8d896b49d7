package otlp

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
)

// memStore keeps what the handler and the Kafka path write, keyed the way
// graph stores key it: call buckets by (from, to, start, producer), where a
// repeat replaces the counts; events by ID, merged with graph.Merge.
type memStore struct {
	mu     sync.Mutex
	calls  map[string]graph.CallBucket
	events map[string]graph.Event
	// fail, when set, makes Apply fail with it.
	fail   error
	writes int
}

func newMemStore() *memStore {
	return &memStore{calls: map[string]graph.CallBucket{}, events: map[string]graph.Event{}}
}

func (s *memStore) Apply(_ context.Context, b graph.Batch) (graph.Written, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != nil {
		return graph.Written{}, s.fail
	}
	for _, c := range b.Calls {
		if err := c.Validate(); err != nil {
			return graph.Written{}, fmt.Errorf("call bucket: %w", err)
		}
	}
	s.writes++
	var w graph.Written
	for _, c := range b.Calls {
		s.calls[fmt.Sprintf("%s\x00%s\x00%d\x00%s", c.From, c.To, c.Start.UnixNano(), c.Producer)] = c
	}
	for _, e := range b.Events {
		if e.ID == "" {
			return w, errors.New("event without ID")
		}
		old, ok := s.events[e.ID]
		if !ok {
			s.events[e.ID] = e
			w.Inserted++
			continue
		}
		if merged, changed := graph.Merge(old, e); changed {
			s.events[e.ID] = merged
			w.Updated++
		} else {
			w.Duplicates++
		}
	}
	return w, nil
}

// edge is the sum over producers of one edge's buckets.
type edgeTotal struct{ Calls, Errors int64 }

// edges sums the stored buckets per "from->to".
func (s *memStore) edges() map[string]edgeTotal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sumEdges(mapValues(s.calls))
}

func mapValues(m map[string]graph.CallBucket) []graph.CallBucket {
	out := make([]graph.CallBucket, 0, len(m))
	for _, c := range m {
		out = append(out, c)
	}
	return out
}

func sumEdges(calls []graph.CallBucket) map[string]edgeTotal {
	out := map[string]edgeTotal{}
	for _, c := range calls {
		k := c.From + "->" + c.To
		t := out[k]
		t.Calls += c.Calls
		t.Errors += c.Errors
		out[k] = t
	}
	return out
}

// describe writes buckets one per line, sorted, for readable failures.
func describe(calls []graph.CallBucket) []string {
	out := make([]string, 0, len(calls))
	for _, c := range calls {
		d := fmt.Sprintf("%s->%s@%s %s calls=%d errors=%d", c.From, c.To, c.Start.Format(time.TimeOnly), c.Producer, c.Calls, c.Errors)
		if c.ConnectionType != graph.ConnectionNone {
			d += " " + string(c.ConnectionType)
		}
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// teeWriter writes every batch to the in-test store and to a real
// embedded store, so a test can check both.
type teeWriter struct {
	mem *memStore
	db  *pebble.Store
}

func (w teeWriter) Apply(ctx context.Context, b graph.Batch) (graph.Written, error) {
	if _, err := w.mem.Apply(ctx, b); err != nil {
		return graph.Written{}, err
	}
	return w.db.Apply(ctx, b)
}

// mustOpenPebble opens an embedded store in a temporary directory.
func mustOpenPebble(tb testing.TB) *pebble.Store {
	tb.Helper()
	return pebbletest.MustOpen(tb, pebble.Options{})
}

// storeEdges sums what an embedded store says about the edges touching
// services in [from, to), per "from->to".
func storeEdges(tb testing.TB, db *pebble.Store, services []string, from, to time.Time) map[string]edgeTotal {
	tb.Helper()
	acts, err := db.EdgesTouching(context.Background(), services, from, to)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]edgeTotal{}
	for _, a := range acts {
		calls, errs := a.Totals(from, to)
		out[a.From+"->"+a.To] = edgeTotal{calls, errs}
	}
	return out
}
