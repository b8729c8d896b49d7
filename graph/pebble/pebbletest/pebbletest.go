// Package pebbletest opens embedded stores for the tests of other
// packages: the API, the pages and the ingest paths test against the
// real store rather than a fake.
package pebbletest

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
	"github.com/sregraph/sregraph/graph/pebble"
)

// MustOpen opens an empty embedded store with opts in a temporary
// directory (logging nowhere unless opts has a Logger) and closes it when
// the test ends.
func MustOpen(tb testing.TB, opts pebble.Options) *pebble.Store {
	tb.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := pebble.Open(tb.TempDir(), opts)
	if err != nil {
		tb.Fatalf("open the embedded store: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close the embedded store: %v", err)
		}
	})
	return s
}

// CorruptEvents is how many events MustCorruptStore writes for service "x".
const CorruptEvents = 3600

// MustCorruptStore writes CorruptEvents events of service "x" to a store in
// a fresh directory, flushes them into a table file, closes the store and
// (Close flushes) zeroes 4 KiB in the middle of the largest table file. Each event carries
// a large, poorly compressible attribute so that the per-service index
// (which holds whole events) fills most of the file and the zeroed bytes
// land in it. It returns the directory and the damaged file's name.
func MustCorruptStore(tb testing.TB) (dir, file string) {
	tb.Helper()
	dir = tb.TempDir()
	s, err := pebble.Open(dir, pebble.Options{Now: graphtest.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	var evs []graph.Event
	for i := range CorruptEvents {
		e := graphtest.MustEvent(tb, graph.KindDeploy, "x", graphtest.T0.Add(-time.Duration(i)*time.Second), fmt.Sprintf("r%d", i))
		var pad strings.Builder
		for j := range 64 {
			fmt.Fprintf(&pad, "%x", uint64(i*7919+j)*0x9E3779B97F4A7C15)
		}
		e.Attributes["pad"] = pad.String()
		evs = append(evs, e)
		if len(evs) == 500 || i == CorruptEvents-1 {
			graphtest.MustApply(tb, s, graph.Batch{Events: evs})
			evs = nil
		}
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

// LostAndDuplicated compares what a writer was told is durable (acked,
// by id) with what the store holds (seen: how many times each id was
// listed): lost is acknowledged but absent, duplicated listed more than
// once. It fails the test unless both are zero.
func LostAndDuplicated(tb testing.TB, acked map[string]bool, seen map[string]int) (lost, duplicated int) {
	tb.Helper()
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	for _, n := range seen {
		if n > 1 {
			duplicated++
		}
	}
	if lost != 0 || duplicated != 0 {
		tb.Errorf("acknowledged %d: lost %d, duplicated %d", len(acked), lost, duplicated)
	}
	return lost, duplicated
}
