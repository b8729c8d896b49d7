// Package pebbletest opens embedded stores for the tests of other
// packages: the API, the pages and the ingest paths test against the
// real store rather than a fake.
package pebbletest

import (
	"log/slog"
	"testing"

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
