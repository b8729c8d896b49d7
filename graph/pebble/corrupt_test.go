package pebble

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// corruptEvents is how many events MustCorruptStore writes for service x.
const corruptEvents = 3600

// MustCorruptStore writes corruptEvents events of service "x" to a store in
// a fresh directory, flushes them into a table file, closes the store and
// zeroes 4 KiB in the middle of the largest table file. Each event carries
// a large, poorly compressible attribute so that the per-service index
// (which holds whole events) fills most of the file and the zeroed bytes
// land in it. It returns the directory and the damaged file's name.
func MustCorruptStore(tb testing.TB) (dir, file string) {
	tb.Helper()
	dir = tb.TempDir()
	s, err := Open(dir, Options{Now: graphtest.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		tb.Fatal(err)
	}
	var evs []graph.Event
	for i := range corruptEvents {
		e := graphtest.MustEvent(tb, graph.KindDeploy, "x", graphtest.T0.Add(-time.Duration(i)*time.Second), fmt.Sprintf("r%d", i))
		var pad strings.Builder
		for j := range 64 {
			fmt.Fprintf(&pad, "%x", uint64(i*7919+j)*0x9E3779B97F4A7C15)
		}
		e.Attributes["pad"] = pad.String()
		evs = append(evs, e)
		if len(evs) == 500 || i == corruptEvents-1 {
			graphtest.MustApply(tb, s, graph.Batch{Events: evs})
			evs = nil
		}
	}
	if err := s.db.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	ssts, err := filepath.Glob(filepath.Join(dir, "*.sst"))
	if err != nil || len(ssts) == 0 {
		tb.Fatalf("no table file in %s (%v)", dir, err)
	}
	var size int64
	for _, p := range ssts {
		fi, err := os.Stat(p)
		if err != nil {
			tb.Fatal(err)
		}
		if fi.Size() > size {
			file, size = p, fi.Size()
		}
	}
	f, err := os.OpenFile(file, os.O_RDWR, 0)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 4<<10), size/2); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	return dir, file
}

// TestCorruptTableIsAnError checks that a damaged table file makes a count
// and a listing fail instead of answering less.
func TestCorruptTableIsAnError(t *testing.T) {
	dir, file := MustCorruptStore(t)
	s, err := Open(dir, Options{Now: graphtest.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	f := graph.EventFilter{Services: []string{"x"}, First: corruptEvents + 1}
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
	dir, file := MustCorruptStore(t)
	s, err := Open(dir, Options{Now: graphtest.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
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
	s, err := Open(dir, Options{Now: graphtest.Now, Logger: quiet})
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
	s, err = Open(dir, Options{Now: graphtest.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Event(context.Background(), e.ID); err != nil {
		t.Errorf("event after a clean close and the logs deleted: %v", err)
	}
}
