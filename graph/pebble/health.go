package pebble

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/cockroachdb/pebble"

	"github.com/sregraph/sregraph/graph"
)

// health remembers the first damage the store met, so that Ping reports a
// damaged store from then on: a checksum or read failure seen by one
// query says the data on disk is not what was written, and a store that
// answers some queries and fails others must not look ready.
type health struct {
	log     *slog.Logger
	damaged atomic.Pointer[string]
	// fatal holds the database's fatal error, after which it cannot be
	// used (its commit pipeline may be wedged); onFatal is told once.
	fatal   atomic.Pointer[string]
	onFatal func(error)
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

// fatalPanic is what the store's Pebble logger panics with when Pebble
// reports an unrecoverable error through Fatalf (which must not return).
// The store's write paths recover it and return an error instead.
type fatalPanic struct{ msg string }

// Error returns the message, so that a fatalPanic nothing recovered (in
// one of Pebble's goroutines) ends the process with a readable message.
func (p fatalPanic) Error() string { return p.msg }

// fail records a fatal error from the database, logs it at error level
// and calls the Fatal hook, once.
func (h *health) fail(msg string) {
	if !h.fatal.CompareAndSwap(nil, &msg) {
		return
	}
	h.log.Error("embedded store: fatal database error; the store refuses every further call and the process should exit",
		"err", msg, "component", "pebble")
	if h.onFatal != nil {
		h.onFatal(fmt.Errorf("embedded store stopped: %s: %w", msg, graph.ErrUnavailable))
	}
}

// stopped returns an error, naming op, if the database reported a fatal
// error, and nil otherwise.
func (h *health) stopped(op string) error {
	if p := h.fatal.Load(); p != nil {
		return fmt.Errorf("%s: embedded store stopped after a fatal error (restart the process): %s: %w", op, *p, graph.ErrUnavailable)
	}
	return nil
}

// recoverFatal, deferred in a call that enters the database, turns the
// panic of a fatal database error into an error in *err naming op. Other
// panics continue.
func (h *health) recoverFatal(op string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	if _, ok := r.(fatalPanic); !ok {
		panic(r)
	}
	*err = h.stopped(op)
}
