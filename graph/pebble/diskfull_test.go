package pebble

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
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

// TestDiskFullIsAnError fills the disk (every write to a write-ahead log
// fails with ENOSPC, through Pebble's fault-injecting file system) and
// checks that Apply returns an error instead of panicking, that the store
// then refuses writes and says why in Ping, that the Fatal hook is told,
// and that Close returns.
func TestDiskFullIsAnError(t *testing.T) {
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.Default, errorfs.InjectorFunc(func(op errorfs.Op, path string) error {
		if full.Load() && op.OpKind() == errorfs.OpKindWrite && strings.HasSuffix(path, ".log") {
			return fmt.Errorf("write %s: %w", path, syscall.ENOSPC)
		}
		return nil
	}))
	var fatal atomic.Pointer[error]
	s, err := Open(t.TempDir(), Options{Now: graphtest.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), fs: fs,
		Fatal: func(err error) { fatal.Store(&err) }})
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
		t.Fatalf("apply before the disk filled: %v", err)
	}
	full.Store(true)
	err = apply("r2")
	if err == nil || !errors.Is(err, graph.ErrUnavailable) || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("apply on a full disk = %v, want an unavailable error saying no space is left", err)
	}
	if err := apply("r3"); err == nil || !errors.Is(err, graph.ErrUnavailable) {
		t.Errorf("apply after the fatal error = %v, want unavailable", err)
	}
	if p := fatal.Load(); p == nil || !strings.Contains((*p).Error(), "no space left") {
		t.Errorf("Fatal hook got %v, want the disk-full error", p)
	}
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Errorf("ping = %v, want an error saying no space is left", err)
	}
	if _, err := s.Event(ctx, graphtest.MustEvent(t, graph.KindDeploy, "x", graphtest.T0, "r1").ID); err != nil {
		t.Errorf("read after the fatal error: %v", err)
	}
	within(t, 10*time.Second, "close", func() {
		if err := s.Close(); err == nil {
			t.Error("close after a fatal error: no error")
		}
	})
}

// TestRealDiskFull fills a real 8 MiB tmpfs with writes (see smalldisk
// for what mounting one needs) and checks that the write that
// meets the full disk returns an error instead of panicking, and that
// Ping then says no space is left.
func TestRealDiskFull(t *testing.T) {
	mnt := smalldisk.Mount(t, "8m")
	s, err := Open(filepath.Join(mnt, "data"), Options{Now: graphtest.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	pad := strings.Repeat("x", 16<<10)
	var failed error
	within(t, 60*time.Second, "filling the disk", func() {
		for i := 0; i < 10000 && failed == nil; i++ {
			e := graphtest.MustEvent(t, graph.KindDeploy, "x", graphtest.T0, fmt.Sprintf("r%d", i))
			e.Attributes["pad"] = pad
			_, failed = s.Apply(ctx, graph.Batch{Events: []graph.Event{e}})
		}
	})
	if failed == nil || !strings.Contains(failed.Error(), "no space left") {
		t.Fatalf("filling an 8 MiB disk: last apply = %v, want a no-space error", failed)
	}
	t.Logf("apply: %v", failed)
	if err := s.Ping(ctx); err == nil || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "bytes free") {
		t.Errorf("ping = %v, want an error saying no space is left and how much is free", err)
	} else {
		t.Logf("ping: %v", err)
	}
	within(t, 10*time.Second, "close", func() { s.Close() })
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
