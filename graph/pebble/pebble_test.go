package pebble

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// MustOpen opens a store in a fresh temporary directory, closed when the
// test ends.
func MustOpen(tb testing.TB, opts Options) *Store {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := Open(tb.TempDir(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s
}

func TestContract(t *testing.T) {
	graphtest.Run(t, func(t *testing.T) graphtest.Store {
		return MustOpen(t, Options{Now: graphtest.Now})
	})
}

// TestReopen checks that what a closed store held is there after Open,
// including the declared dependencies, services and edges' first and last
// seen kept in memory.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir, Options{Now: graphtest.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := graphtest.MustEvent(t, graph.KindDeploy, "checkout", graphtest.T0, "r1")
	first, last := graphtest.T0.Add(-2*time.Hour), graphtest.T0.Add(10*time.Minute)
	call := func(at time.Time) graph.CallBucket {
		return graph.CallBucket{From: "checkout", To: "payments", Start: at, Producer: "p0", Calls: 1}
	}
	graphtest.MustApply(t, s, graph.Batch{
		Events:       []graph.Event{e},
		Dependencies: []graph.Dependency{{From: "web", To: "checkout", Source: "backstage"}},
		Calls:        []graph.CallBucket{call(first), call(last)},
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{Now: graphtest.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Event(ctx, e.ID); err != nil {
		t.Errorf("event after reopen: %v", err)
	}
	acts, err := s.EdgesTouching(ctx, []string{"checkout"}, graphtest.T0, graphtest.T0.Add(time.Hour))
	if err != nil || len(acts) != 2 || acts[0].From != "checkout" || !acts[0].FirstSeen.Equal(first) || !acts[0].LastSeen.Equal(last) ||
		!acts[1].Declared || acts[1].From != "web" || !acts[1].FirstSeen.IsZero() {
		t.Errorf("edges after reopen = %+v, %v; want checkout→payments seen %v..%v and the declared web→checkout", acts, err, first, last)
	}
	// A bucket inside the span changes nothing; one after it widens it.
	later := last.Add(time.Hour)
	graphtest.MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{call(graphtest.T0), call(later)}})
	acts, err = s.EdgesTouching(ctx, []string{"payments"}, graphtest.T0, later.Add(time.Minute))
	if err != nil || len(acts) != 1 || !acts[0].FirstSeen.Equal(first) || !acts[0].LastSeen.Equal(later) {
		t.Errorf("edges of payments = %+v, %v; want checkout→payments seen %v..%v", acts, err, first, later)
	}
	// A repeat of the event is a duplicate: the store did not forget it.
	w := graphtest.MustApply(t, s, graph.Batch{Events: []graph.Event{e}})
	if w.Duplicates != 1 {
		t.Errorf("repeat after reopen: %+v; want a duplicate", w)
	}
}

// TestEventsStoredWholeStillRead checks events written before table e
// held references (the whole event there, and index entries without
// it): they read, list, merge and expire like any other.
func TestEventsStoredWholeStillRead(t *testing.T) {
	ctx := context.Background()
	s := MustOpen(t, Options{Now: graphtest.Now})
	old := graphtest.MustEvent(t, graph.KindDeploy, "payments", graphtest.T0.Add(-time.Hour), "old")
	old.Attributes = map[string]any{"revision": "abc"}
	legacy, err := json.Marshal(old.Attributes)
	if err != nil {
		t.Fatal(err)
	}
	// What earlier versions wrote: attributes as JSON, the event in table
	// e, meta alone in both indexes.
	bare := old
	bare.Attributes = nil
	val, err := encodeEvent(&bare)
	if err != nil {
		t.Fatal(err)
	}
	val = appendString(val[:len(val)-1], string(legacy)) // the last byte was the empty attributes
	keys, m := indexEntries(&old)
	for _, kv := range [][2][]byte{{eventKey(old.ID), val}, {keys[0], m}, {keys[1], m}} {
		if err := s.db.Set(kv[0], kv[1], pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	s.known.add(old.ID)
	if got, err := s.Event(ctx, old.ID); err != nil || got.Attributes["revision"] != "abc" || got.Service != "payments" {
		t.Fatalf("legacy event = %+v, %v", got, err)
	}
	page, err := s.Events(ctx, graph.EventFilter{Services: []string{"payments"}})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != old.ID {
		t.Fatalf("legacy event listed as %+v, %v", page.Items, err)
	}
	// A resend is a duplicate; a replacing version (later, so its index
	// entries move) is stored in the current layout.
	if w := graphtest.MustApply(t, s, graph.Batch{Events: []graph.Event{old}}); w.Duplicates != 1 {
		t.Fatalf("resend of a legacy event: %+v; want a duplicate", w)
	}
	changed := old
	changed.Summary = "deployed again"
	changed.At = old.At.Add(10 * time.Minute)
	if w := graphtest.MustApply(t, s, graph.Batch{Events: []graph.Event{changed}, Replace: true}); w.Updated != 1 {
		t.Fatalf("change of a legacy event: %+v; want an update", w)
	}
	raw, _, err := get(s.db, eventKey(old.ID))
	if err != nil || len(raw) == 0 || raw[0] != refFormat {
		t.Fatalf("table e after the update: %x, %v; want a reference", raw, err)
	}
	if got, err := s.Event(ctx, old.ID); err != nil || got.Summary != "deployed again" {
		t.Fatalf("updated event = %+v, %v", got, err)
	}
	if n, _, err := s.DeleteBefore(ctx, graphtest.T0); err != nil || n != 1 {
		t.Fatalf("retention removed %d events, %v; want 1", n, err)
	}
	if _, err := s.Event(ctx, old.ID); !errors.Is(err, graph.ErrNotFound) {
		t.Fatalf("event after retention: %v; want not found", err)
	}
}
