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
	// used (its commit pipeline is wedged) until the store reopened it;
	// onStop, when set, is called once per failure (it starts the reopen).
	fatal  atomic.Pointer[string]
	onStop func()
	// gaveUp holds why the store cannot go on, once it gave up reopening.
	gaveUp atomic.Pointer[error]
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
// and calls onStop, once until recovered.
func (h *health) fail(msg string) {
	if !h.fatal.CompareAndSwap(nil, &msg) {
		return
	}
	h.log.Error("embedded store: write failed; refusing writes and reopening the database once there is room",
		"err", msg, "component", "pebble")
	if h.onStop != nil {
		h.onStop()
	}
}

// recovered forgets the fatal error once the database was opened again.
func (h *health) recovered() { h.fatal.Store(nil) }

// stopped returns an error, naming op, if the store gave up or the
// database reported a fatal error it has not recovered from, and nil
// otherwise.
func (h *health) stopped(op string) error {
	if p := h.gaveUp.Load(); p != nil {
		return fmt.Errorf("%s: %w", op, *p)
	}
	if p := h.fatal.Load(); p != nil {
		return fmt.Errorf("%s: embedded store refuses writes after a failed write (it reopens once there is room): %s: %w", op, *p, graph.ErrUnavailable)
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
	p, ok := r.(fatalPanic)
	if !ok {
		panic(r)
	}
	*err = fmt.Errorf("%s: %s: %w", op, p.msg, graph.ErrUnavailable)
}
