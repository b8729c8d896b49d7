package pebble

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

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
// including the declared dependencies and services kept in memory.
func TestReopen(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := Open(dir, Options{Now: graphtest.Now})
	if err != nil {
		t.Fatal(err)
	}
	e := graphtest.MustEvent(t, graph.KindDeploy, "checkout", graphtest.T0, "r1")
	graphtest.MustApply(t, s, graph.Batch{
		Events:       []graph.Event{e},
		Dependencies: []graph.Dependency{{From: "web", To: "checkout", Source: "backstage"}},
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
	if err != nil || len(acts) != 1 || !acts[0].Declared || acts[0].From != "web" {
		t.Errorf("edges after reopen = %+v, %v; want the declared web→checkout", acts, err)
	}
	// A repeat of the event is a duplicate: the store did not forget it.
	w := graphtest.MustApply(t, s, graph.Batch{Events: []graph.Event{e}})
	if w.Duplicates != 1 {
		t.Errorf("repeat after reopen: %+v; want a duplicate", w)
	}
}
