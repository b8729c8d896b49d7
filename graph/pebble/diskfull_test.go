package pebble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph/pebble/smalldisk"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/cockroachdb/pebble/vfs/errorfs"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// within runs fn and fails the test if it does not return within d: a
// wedged store must not pass by hanging the test binary.
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn()
	}()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %s", what, d)
	}
}

// quiet is a logger for stores whose failures the test provokes.
func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fillAndCount writes events until stop is closed, from several writers
// at once, and returns the IDs of every write acknowledged (Apply
// returned nil) and how many writes were refused.
// ackCount, when not nil, counts the acknowledged writes as they come.
func fillAndCount(t *testing.T, s *Store, prefix, pad string, stop <-chan struct{}, ackCount *atomic.Int64) (acked map[string]bool, refused int) {
	t.Helper()
	var mu sync.Mutex
	acked = map[string]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				e := graphtest.MustEvent(t, graph.KindDeploy, "x", graphtest.T0, fmt.Sprintf("%s-w%d-%d", prefix, w, i))
				if pad != "" {
					e.Attributes["pad"] = pad
				}
				_, err := s.Apply(context.Background(), graph.Batch{Events: []graph.Event{e}})
				mu.Lock()
				if err == nil {
					acked[e.ID] = true
					if ackCount != nil {
						ackCount.Add(1)
					}
				} else {
					if !errors.Is(err, graph.ErrUnavailable) {
						t.Errorf("apply %s: %v, want an unavailable error", e.ID, err)
					}
					refused++
				}
				mu.Unlock()
				if err != nil {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	<-stop
	wg.Wait()
	return acked, refused
}

// presentOnce checks that every acknowledged event is in s exactly once
// (listing all events, no ID twice) and returns how many events s has.
func presentOnce(t *testing.T, s *Store, acked map[string]bool) int {
	t.Helper()
	seen := map[string]int{}
	f := graph.EventFilter{First: 1000}
	for {
		page, err := s.Events(context.Background(), f)
		if err != nil {
			t.Fatalf("list events: %v", err)
		}
		for _, e := range page.Items {
			seen[e.ID]++
		}
		if !page.HasNext {
			break
		}
		last := page.Items[len(page.Items)-1]
		f.After = graph.EncodeCursor(last.At, last.ID)
	}
	lost, dup := 0, 0
	for id := range acked {
		if seen[id] == 0 {
			lost++
		}
	}
	for _, n := range seen {
		if n > 1 {
			dup++
		}
	}
	if lost != 0 || dup != 0 {
		t.Errorf("acknowledged %d: lost %d, duplicated %d", len(acked), lost, dup)
	}
	return len(seen)
}

// waitFor polls cond every 10ms until it holds, failing after d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDiskFullThenResume fills the disk (every write to a write-ahead log
// fails with ENOSPC, through Pebble's fault-injecting file system) under
// concurrent writers, and checks that the store refuses writes with an
// unavailable error instead of panicking, that Ping says the data
// directory is full, that reads fail fast meanwhile, that once the fault
// clears writes resume without reopening the store by hand, that the
// Fatal hook is never told, and that every acknowledged write is present
// exactly once, three times over.
func TestDiskFullThenResume(t *testing.T) {
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if full.Load() && op.OpKind() == errorfs.OpKindWrite && strings.HasSuffix(path, ".log") {
			return fmt.Errorf("write %s: %w", path, syscall.ENOSPC)
		}
		return nil
	}))
	var fatal atomic.Pointer[error]
	dir := t.TempDir()
	s, err := Open(dir, Options{Now: graphtest.Now, Logger: quiet(), fs: fs, ReopenEvery: 20 * time.Millisecond,
		Fatal: func(err error) { fatal.Store(&err) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sentinel := graphtest.MustEvent(t, graph.KindDeploy, "x", graphtest.T0, "sentinel")
	if _, err := s.Apply(ctx, graph.Batch{Events: []graph.Event{sentinel}}); err != nil {
		t.Fatal(err)
	}
	all := map[string]bool{sentinel.ID: true}
	for round := 0; round < 3; round++ {
		stop := make(chan struct{})
		var acked map[string]bool
		var refused int
		done := make(chan struct{})
		go func() {
			defer close(done)
			acked, refused = fillAndCount(t, s, fmt.Sprint("round", round), "", stop, nil)
		}()
		time.Sleep(50 * time.Millisecond)
		full.Store(true)
		waitFor(t, 10*time.Second, "ping saying the disk is full", func() bool {
			err := s.Ping(ctx)
			return err != nil && strings.Contains(err.Error(), "data dir full") && strings.Contains(err.Error(), "bytes free")
		})
		// Reads go on while writes are refused (the database is open
		// read-only once the failed one is closed).
		waitFor(t, 10*time.Second, "reads answered while the disk is full", func() bool {
			_, err := s.Event(ctx, sentinel.ID)
			return err == nil
		})
		if _, err := s.Apply(ctx, graph.Batch{Events: []graph.Event{graphtest.MustEvent(t, graph.KindDeploy, "x", graphtest.T0, "refused")}}); !errors.Is(err, graph.ErrUnavailable) {
			t.Errorf("write while the disk is full and reads are answered = %v, want unavailable", err)
		}
		time.Sleep(50 * time.Millisecond)
		full.Store(false)
		waitFor(t, 10*time.Second, "ping ready again", func() bool { return s.Ping(ctx) == nil })
		time.Sleep(50 * time.Millisecond)
		close(stop)
		<-done
		if refused == 0 {
			t.Errorf("round %d: no write was refused while the disk was full", round)
		}
		for id := range acked {
			all[id] = true
		}
		t.Logf("round %d: acknowledged %d, refused %d", round, len(acked), refused)
	}
	if p := fatal.Load(); p != nil {
		t.Errorf("Fatal hook told %v; the store should have resumed", *p)
	}
	n := presentOnce(t, s, all)
	t.Logf("acknowledged %d, present %d events in all", len(all), n)
	within(t, 10*time.Second, "close", func() {
		if err := s.Close(); err != nil {
			t.Errorf("close after resuming: %v", err)
		}
	})
	// And after a restart.
	s, err = Open(dir, Options{Now: graphtest.Now, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	presentOnce(t, s, all)
}

// TestDiskFailureThatCannotBeRepaired checks the way out: when the failed
// database cannot be opened again for a reason other than space (its
// MANIFEST cannot be read), the store gives up, tells the Fatal hook,
// keeps refusing every call with an unavailable error, and Close
// returns.
func TestDiskFailureThatCannotBeRepaired(t *testing.T) {
	var full, broken atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if full.Load() && op.OpKind() == errorfs.OpKindWrite && strings.HasSuffix(path, ".log") {
			return fmt.Errorf("write %s: %w", path, syscall.ENOSPC)
		}
		if broken.Load() && strings.Contains(filepath.Base(path), "MANIFEST") && op.OpKind() == errorfs.OpKindRead {
			return fmt.Errorf("read %s: %w", path, syscall.EIO)
		}
		return nil
	}))
	fatal := make(chan error, 1)
	s, err := Open(t.TempDir(), Options{Now: graphtest.Now, Logger: quiet(), fs: fs, ReopenEvery: 20 * time.Millisecond,
		Fatal: func(err error) { fatal <- err }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	apply := func(ext string) (err error) {
		within(t, 10*time.Second, "apply", func() {
			_, err = s.Apply(ctx, graph.Batch{Events: []graph.Event{graphtest.MustEvent(t, graph.KindDeploy, "x", graphtest.T0, ext)}})
		})
		return err
	}
	if err := apply("r1"); err != nil {
		t.Fatal(err)
	}
	full.Store(true)
	broken.Store(true)
	if err := apply("r2"); err == nil || !errors.Is(err, graph.ErrUnavailable) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("apply on a full disk = %v, want an unavailable error saying no space is left", err)
	}
	full.Store(false)
	select {
	case err := <-fatal:
		if !strings.Contains(err.Error(), "cannot go on") {
			t.Errorf("Fatal hook got %v, want it to say the store cannot go on", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the Fatal hook was not told within 10s")
	}
	if err := apply("r3"); err == nil || !errors.Is(err, graph.ErrUnavailable) {
		t.Errorf("apply after giving up = %v, want unavailable", err)
	}
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "cannot go on") {
		t.Errorf("ping after giving up = %v, want it to say the store cannot go on", err)
	}
	within(t, 10*time.Second, "close", func() {
		if err := s.Close(); err == nil {
			t.Error("close after giving up: no error")
		}
	})
}

// TestRealDiskFullThenResume fills a real 16 MiB tmpfs (see smalldisk for
// what mounting one needs) that also holds a 6 MiB ballast file, under
// concurrent writers, and checks that the writes that meet the full disk
// fail with an unavailable error instead of panicking, that Ping says the
// data directory is full and how many bytes are free, that deleting the
// ballast lets writes resume without a restart, and that every
// acknowledged write is present exactly once, then and after reopening.
func TestRealDiskFullThenResume(t *testing.T) {
	mnt := smalldisk.Mount(t, "16m")
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 6<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mnt, "data")
	var fatal atomic.Pointer[error]
	s, err := Open(dir, Options{Now: graphtest.Now, Logger: quiet(), ReopenEvery: 50 * time.Millisecond, ReopenMinFree: 1 << 20,
		Fatal: func(err error) { fatal.Store(&err) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	stop := make(chan struct{})
	var acked map[string]bool
	var refused int
	done := make(chan struct{})
	var acks atomic.Int64
	go func() {
		defer close(done)
		acked, refused = fillAndCount(t, s, "fill", strings.Repeat("x", 16<<10), stop, &acks)
	}()
	var pingErr error
	waitFor(t, 60*time.Second, "ping saying the disk is full", func() bool {
		pingErr = s.Ping(ctx)
		return pingErr != nil && strings.Contains(pingErr.Error(), "data dir full") && strings.Contains(pingErr.Error(), "bytes free")
	})
	t.Logf("ping: %v", pingErr)
	waitFor(t, 10*time.Second, "reads answered while the disk is full", func() bool {
		_, err := s.CountEvents(ctx, graph.EventFilter{First: 1})
		return err == nil
	})
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	atFull := acks.Load()
	waitFor(t, 30*time.Second, "ping ready again after freeing space", func() bool { return s.Ping(ctx) == nil })
	// A few writes, well short of refilling the disk, then stop.
	waitFor(t, 30*time.Second, "writes acknowledged after freeing space", func() bool { return acks.Load() >= atFull+20 })
	close(stop)
	<-done
	if err := s.Ping(ctx); err != nil {
		t.Fatalf("ping after resuming: %v", err)
	}
	if refused == 0 {
		t.Error("no write was refused on the full disk")
	}
	if p := fatal.Load(); p != nil {
		t.Errorf("Fatal hook told %v; the store should have resumed", *p)
	}
	n := presentOnce(t, s, acked)
	t.Logf("acknowledged %d, refused %d, present %d", len(acked), refused, n)
	within(t, 20*time.Second, "close", func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	s, err = Open(dir, Options{Now: graphtest.Now, Logger: quiet()})
	if err != nil {
		t.Fatalf("open after resuming: %v", err)
	}
	defer s.Close()
	presentOnce(t, s, acked)
}

// TestOpenOnAFullDisk checks that a fatal error while opening (the first
// commit, which records that call buckets are split, meets a full disk)
// is an error from Open, not a panic.
func TestOpenOnAFullDisk(t *testing.T) {
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if op == errorfs.OpFileWrite && strings.HasSuffix(path, ".log") {
			return fmt.Errorf("write %s: %w", path, syscall.ENOSPC)
		}
		return nil
	}))
	var s *Store
	var err error
	within(t, 10*time.Second, "open", func() {
		s, err = Open(t.TempDir(), Options{Now: graphtest.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), fs: fs})
	})
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("open on a full disk = %v, %v; want a no-space error", s, err)
	}
}
