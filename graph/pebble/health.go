package pebble

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
)

// health remembers the first damage the store met, so that Ping reports a
// damaged store from then on: a checksum or read failure seen by one
// query says the data on disk is not what was written, and a store that
// answers some queries and fails others must not look ready.
type health struct {
	log     *slog.Logger
	damaged atomic.Pointer[string]
}

// isCorruption reports whether err says stored data is damaged: Pebble's
// corruption mark (a checksum mismatch, a bad block, a bad WAL or
// MANIFEST record) or a value this package could not decode. Pebble marks
// corruption with cockroachdb/errors, which the standard errors.Is does
// not see, hence pebble.IsCorruptionError.
func isCorruption(err error) bool {
	return err != nil && (pebble.IsCorruptionError(err) || errors.Is(err, errCorrupt))
}

// note records err if it is a corruption, logging the first one at error
// level, and returns err unchanged.
func (h *health) note(err error) error {
	if !isCorruption(err) {
		return err
	}
	msg := err.Error()
	if h.damaged.CompareAndSwap(nil, &msg) {
		h.log.Error("embedded store: damaged data found; the store stays unready until repaired", "err", err, "component", "pebble")
	}
	return err
}

// check returns an error naming the damage, or nil.
func (h *health) check() error {
	if p := h.damaged.Load(); p != nil {
		return fmt.Errorf("embedded store is damaged (run sregraph check): %s", *p)
	}
	return nil
}
