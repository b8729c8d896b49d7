package pebble_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
)

// TestCorruptTableIsAnError checks that a damaged table file makes a count
// and a listing fail instead of answering less.
func TestCorruptTableIsAnError(t *testing.T) {
	dir, file := pebbletest.MustCorruptStore(t)
	s, err := pebble.Open(dir, pebble.Options{Now: graphtest.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	f := graph.EventFilter{Services: []string{"x"}, First: pebbletest.CorruptEvents + 1}
	n, err := s.CountEvents(ctx, f)
	if err == nil {
		t.Errorf("count over damaged %s = %d, no error; want an error", filepath.Base(file), n)
	} else {
		t.Logf("count: %v", err)
	}
	page, err := s.Events(ctx, f)
	if err == nil {
		t.Errorf("listing over damaged %s = %d events, no error; want an error", filepath.Base(file), len(page.Items))
	}
}

// TestPingReportsDamage checks that once a read met damaged data, Ping
// fails with a message naming the damaged file, and that an ordinary
// error (an invalid filter) does not count as damage.
func TestPingReportsDamage(t *testing.T) {
	dir, file := pebbletest.MustCorruptStore(t)
	s, err := pebble.Open(dir, pebble.Options{Now: graphtest.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Events(ctx, graph.EventFilter{First: -1}); err == nil {
		t.Fatal("listing with an invalid filter: no error")
	}
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping before any damage was read: %v", err)
	}
	if _, err := s.CountEvents(ctx, graph.EventFilter{Services: []string{"x"}, First: 1}); err == nil {
		t.Fatal("count over the damaged file: no error")
	}
	err = s.Ping(ctx)
	if err == nil {
		t.Fatal("ping after a read met damage: ok, want an error")
	}
	num := strings.TrimSuffix(filepath.Base(file), ".sst")
	if !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), num) {
		t.Errorf("ping = %q, want it to say the store is damaged and name table %s", err, num)
	}
}

// TestCloseFlushes checks that a clean Close leaves every write in table
// files: reopened with its write-ahead logs deleted, the store still holds
// them.
func TestCloseFlushes(t *testing.T) {
	dir := t.TempDir()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := pebble.Open(dir, pebble.Options{Now: graphtest.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	e := graphtest.MustEvent(t, graph.KindDeploy, "checkout", graphtest.T0, "r1")
	graphtest.MustApply(t, s, graph.Batch{Events: []graph.Event{e}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	logs, err := filepath.Glob(filepath.Join(dir, "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range logs {
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	s, err = pebble.Open(dir, pebble.Options{Now: graphtest.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Event(context.Background(), e.ID); err != nil {
		t.Errorf("event after a clean close and the logs deleted: %v", err)
	}
}

// TestCheck checks that Check finds nothing in a sound store and names the
// damaged table file of a corrupted one.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	sound := t.TempDir()
	s, err := pebble.Open(sound, pebble.Options{Now: graphtest.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	graphtest.MustApply(t, s, graph.Batch{Events: []graph.Event{graphtest.MustEvent(t, graph.KindDeploy, "x", graphtest.T0, "r1")}})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rep, err := pebble.Check(ctx, sound, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Damage) > 0 || rep.Tables == 0 || rep.Keys == 0 {
		t.Errorf("sound store: %+v, want no damage and something read", rep)
	}

	dir, file := pebbletest.MustCorruptStore(t)
	rep, err = pebble.Check(ctx, dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	named := false
	for _, d := range rep.Damage {
		t.Logf("damage: %s: %v", d.File, d.Err)
		named = named || d.File == file
	}
	if !named {
		t.Errorf("corrupted store: damage %v does not name %s", rep.Damage, file)
	}

	if _, err := pebble.Check(ctx, filepath.Join(t.TempDir(), "missing"), quiet); err == nil {
		t.Error("check of a missing directory: no error")
	}
}

// TestCheckOpenStore checks that Check refuses, with a hint, a store that
// a running server holds.
func TestCheckOpenStore(t *testing.T) {
	dir := t.TempDir()
	s, err := pebble.Open(dir, pebble.Options{Now: graphtest.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = pebble.Check(context.Background(), dir, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "stop it first") {
		t.Errorf("check of an open store = %v, want an error saying to stop the server", err)
	}
}
