package pebble

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// A failed commit (a write-ahead log write or sync that met a full disk or
// an I/O error) leaves Pebble's commit pipeline unusable: Pebble v1.1
// reports it through Logger.Fatalf, and every later commit fails too. The
// database can still be closed, which releases its files and its lock, and
// opened again from what is durable. So instead of ending the process, the
// store stops taking writes, closes the failed database and, once the data
// directory has room again, opens it anew in the same process: writes
// resume without a restart, and nothing acknowledged is lost because
// every acknowledged write was synced before Apply returned.
//
// Only when that cannot work (closing the failed database does not
// return, or opening it again fails for a reason other than space) is
// Options.Fatal told, so that the program exits non-zero.

// gate counts the calls using the database and lets the reopen loop wait
// until none does, so that it can close the database and swap in a new
// one: a call entering while the gate is shut fails at once (with why),
// it never waits, so a call that enters twice cannot deadlock.
type gate struct {
	mu    sync.Mutex
	idle  *sync.Cond
	users int
	shut  error
}

func newGate() *gate {
	g := &gate{}
	g.idle = sync.NewCond(&g.mu)
	return g
}

// enter lets a call use the database, or returns why it cannot.
func (g *gate) enter() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut != nil {
		return g.shut
	}
	g.users++
	return nil
}

// leave ends a call's use of the database.
func (g *gate) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.users--
	if g.users == 0 {
		g.idle.Broadcast()
	}
}

// close refuses new calls with why and waits until no call uses the
// database.
func (g *gate) close(why error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shut = why
	for g.users > 0 {
		g.idle.Wait()
	}
}

// open lets calls in again.
func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.shut = nil
}

// enter is how every public method starts using the database; it returns
// graph.ErrUnavailable while the store is reopening or closed.
func (s *Store) enter(op string) error {
	if err := s.gate.enter(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

func (s *Store) leave() { s.gate.leave() }

// isNoSpace reports whether msg or err says the disk is full.
func isNoSpace(err error) bool {
	return err != nil && (errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), syscall.ENOSPC.Error()))
}

// startReopen starts the reopen loop after the database reported a fatal
// error; health.fail calls it once per failure.
func (s *Store) startReopen() {
	s.loopMu.Lock()
	defer s.loopMu.Unlock()
	if s.bg.Err() != nil {
		return // closing
	}
	s.loops.Add(1)
	go func() {
		defer s.loops.Done()
		s.reopen(s.bg)
	}()
}

// reopen closes the failed database and opens it read-only, so that
// reads go on while writes are refused; then, whenever the data directory
// has at least Options.ReopenMinFree bytes free (looking every
// Options.ReopenEvery), it opens it again for writing; once that works,
// writes resume. It ends when ctx does (Close), or when the store cannot
// go on, after telling Options.Fatal.
func (s *Store) reopen(ctx context.Context) {
	s.gate.close(fmt.Errorf("embedded store is reopening after a write failure: %w", graph.ErrUnavailable))
	if !s.closeDB() {
		return
	}
	s.log.Info("embedded store: closed the failed database; it is opened again for writing once there is room", "component", "pebble")
	s.serveReads()
	for attempt := 1; ; attempt++ {
		if !sleepCtx(ctx, s.opts.ReopenEvery) {
			return
		}
		if du, err := s.fs.GetDiskUsage(s.dir); err == nil && du.AvailBytes < s.opts.ReopenMinFree {
			continue
		}
		s.gate.close(fmt.Errorf("embedded store is reopening after a write failure: %w", graph.ErrUnavailable))
		if s.db != nil && !s.closeDB() {
			return
		}
		err := s.load(false)
		if err == nil {
			s.health.recovered()
			s.gate.open()
			s.log.Info("embedded store: reopened; writes resume", "attempt", attempt, "component", "pebble")
			return
		}
		if !isNoSpace(err) {
			s.giveUp(fmt.Errorf("opening it again: %w", err))
			return
		}
		s.log.Warn("embedded store: still no room to reopen for writing; trying again", "err", err, "component", "pebble")
		s.serveReads()
	}
}

// closeDB closes s.db within Options.CloseTimeout and reports whether it
// did; if not, the store gives up (the database is left alone).
func (s *Store) closeDB() bool {
	db := s.db
	done := make(chan error, 1)
	go func() { done <- db.Close() }()
	select {
	case err := <-done:
		// Closing a failed database reports the failure again; what
		// matters is that its files and its lock are released.
		if err != nil {
			s.log.Debug("embedded store: closing the database", "err", err, "component", "pebble")
		}
		s.db = nil
		return true
	case <-time.After(s.opts.CloseTimeout):
		s.hung = true
		s.giveUp(fmt.Errorf("closing the failed database did not return within %s", s.opts.CloseTimeout))
		return false
	}
}

// serveReads opens the database read-only (which writes nothing) and lets
// calls in: reads are answered while writes stay refused. If even that
// fails, every call stays refused until the database opens for writing.
func (s *Store) serveReads() {
	if err := s.load(true); err != nil {
		s.log.Warn("embedded store: cannot open the database read-only either; reads fail until it opens for writing", "err", err, "component", "pebble")
		return
	}
	s.gate.open()
}

// giveUp reports that the store cannot go on: Ping and every call say so,
// and Options.Fatal is told.
func (s *Store) giveUp(err error) {
	err = fmt.Errorf("embedded store cannot go on: %w: %w", err, graph.ErrUnavailable)
	s.log.Error("embedded store: giving up; the process should exit and be restarted", "err", err, "component", "pebble")
	s.gate.close(err)
	s.health.gaveUp.Store(&err)
	if s.opts.Fatal != nil {
		s.opts.Fatal(err)
	}
}

// sleepCtx waits d and reports whether ctx is still alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
