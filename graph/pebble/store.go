// Package pebble is the embedded graph store, kept in a Pebble key-value
// database in one directory. Writes are synchronous: Apply returns only
// once its batch is in the write-ahead log on disk.
package pebble

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"

	"github.com/sregraph/sregraph/graph"
)

// Options configures a Store. The zero value is usable.
type Options struct {
	// Now is the clock; it stamps services known only from declared
	// dependencies. Defaults to time.Now.
	Now func() time.Time
	// Logger receives the database's own messages and retention reports.
	// Defaults to slog.Default().
	Logger *slog.Logger
	// CacheSize is the block cache in bytes; defaults to 256 MiB.
	CacheSize int64
	// MemTableSize is the size of one in-memory write buffer in bytes;
	// defaults to 64 MiB, which measured faster for batched writes than
	// smaller buffers (fewer flushes and less level-0 churn).
	MemTableSize uint64
	// Fatal, when set, is called once when the store cannot go on: after
	// a failed write (a full disk, an I/O error) it closes the database
	// and opens it again once there is room, and only when that cannot
	// work (the close does not return within CloseTimeout, or opening
	// fails for a reason other than space) is Fatal told. From then on
	// every call fails with graph.ErrUnavailable and Ping says why; the
	// program should close what it can and exit non-zero so that a
	// supervisor restarts it.
	Fatal func(error)
	// ReopenEvery is how often a store whose write failed looks whether
	// it can open the database again; defaults to one second.
	ReopenEvery time.Duration
	// ReopenMinFree is the free space the data directory needs before
	// the store tries to open the database again; defaults to 4 MiB.
	ReopenMinFree uint64
	// CloseTimeout bounds the close of a failed database; defaults to
	// 30 seconds.
	CloseTimeout time.Duration

	// fs replaces the file system, for tests that inject faults.
	fs vfs.FS
}

// Store is the embedded graph store. It is safe for concurrent use.
type Store struct {
	db  *pebble.DB
	now func() time.Time
	log *slog.Logger
	// mu serialises writers: Apply's read-modify-write of events, services
	// and call buckets, and retention.
	mu     sync.Mutex
	closed bool
	// services caches every service record read or written, under mu, so
	// Apply need not read them back; it is only ever updated after a
	// commit succeeded.
	services map[string]graph.Service
	// known filters the event IDs that may be stored (under mu).
	known *knownIDs
	// raw recycles the scratch slices of EdgesTouching.
	raw sync.Pool
	// deps mirrors the declared dependencies (few, never deleted) so a
	// neighbourhood walk need not seek for them.
	deps *declared
	// spans mirrors every call edge's first and last seen, for the same
	// reason.
	spans *spans
	// health holds the first damage a read met and the database's fatal
	// error, for Ping.
	health *health
	// dir and fs are where the database lives, for Ping's free-space
	// report and the reopen.
	dir  string
	fs   vfs.FS
	opts Options
	// gate counts the calls using db, deps, spans and known, which the
	// reopen loop replaces while no call uses them.
	gate *gate
	// hung is set when closing a failed database did not return: it is
	// left alone from then on.
	hung bool
	// bg ends with Close; it bounds the reopen loop, which loops tracks.
	bg     context.Context
	stop   context.CancelFunc
	loopMu sync.Mutex
	loops  sync.WaitGroup
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = 256 << 20
	}
	if opts.MemTableSize == 0 {
		opts.MemTableSize = 64 << 20
	}
	if opts.ReopenEvery == 0 {
		opts.ReopenEvery = time.Second
	}
	if opts.ReopenMinFree == 0 {
		opts.ReopenMinFree = 4 << 20
	}
	if opts.CloseTimeout == 0 {
		opts.CloseTimeout = 30 * time.Second
	}
	if opts.fs == nil {
		opts.fs = vfs.Default
	}
	s := &Store{now: opts.Now, log: opts.Logger, health: &health{log: opts.Logger}, dir: dir, fs: opts.fs, opts: opts, gate: newGate()}
	if err := s.load(false); err != nil {
		return nil, err
	}
	s.bg, s.stop = context.WithCancel(context.Background())
	s.health.onStop = s.startReopen
	return s, nil
}

// load opens the database in s.dir (read-only when readOnly: then
// nothing is written, not even the replayed write-ahead log) and loads
// what the store mirrors in memory. On failure it leaves nothing open.
func (s *Store) load(readOnly bool) (err error) {
	dir, opts, h := s.dir, s.opts, s.health
	var db *pebble.DB
	defer func() {
		if err != nil && db != nil {
			err = errors.Join(err, db.Close())
		}
	}()
	// A fatal error while opening (a migration's commit on a full disk)
	// is an error from Open, not a panic; the database opened so far is
	// then closed (above).
	defer h.recoverFatal("open embedded store in "+dir, &err)
	cache := pebble.NewCache(opts.CacheSize)
	defer cache.Unref()
	po := &pebble.Options{
		Cache:                       cache,
		MemTableSize:                opts.MemTableSize,
		MemTableStopWritesThreshold: 4,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		MaxConcurrentCompactions:    func() int { return 2 },
		Logger:                      logger{opts.Logger, h},
		FS:                          opts.fs,
		ReadOnly:                    readOnly,
	}
	// A compaction that meets a damaged block reports it here.
	po.EventListener = &pebble.EventListener{BackgroundError: func(err error) { h.note(err) }}
	po.Levels = make([]pebble.LevelOptions, 7)
	for i := range po.Levels {
		l := &po.Levels[i]
		l.BlockSize = 4 << 10
		l.FilterPolicy = bloom.FilterPolicy(10)
		l.FilterType = pebble.TableFilter
		l.Compression = pebble.SnappyCompression
		if i > 0 {
			l.TargetFileSize = po.Levels[i-1].TargetFileSize * 2
		} else {
			l.TargetFileSize = 8 << 20
		}
	}
	if db, err = pebble.Open(dir, po); err != nil {
		if inUse := lockError(dir, err); inUse != err {
			return inUse
		}
		return fmt.Errorf("open embedded store in %s: %w", dir, err)
	}
	deps, err := loadDeclared(db)
	if err != nil {
		return fmt.Errorf("open embedded store in %s: %w", dir, err)
	}
	spans, err := loadSpans(db)
	if err != nil {
		return fmt.Errorf("open embedded store in %s: %w", dir, err)
	}
	if !readOnly {
		if _, err := splitCalls(db, opts.Logger); err != nil {
			return fmt.Errorf("open embedded store in %s: split call buckets: %w", dir, err)
		}
	}
	known, err := loadKnownIDs(db)
	if err != nil {
		return fmt.Errorf("open embedded store in %s: %w", dir, err)
	}
	s.db, s.deps, s.spans, s.known, s.services = db, deps, spans, known, map[string]graph.Service{}
	return nil
}

// Close flushes the in-memory tables to table files and releases the
// database. Every acknowledged write is already durable in the write-ahead
// log; flushing means a clean stop leaves nothing that depends on
// replaying it. A flush error is returned with the close error, and the
// database is closed either way.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	// No reopen loop starts from now on; the one running, if any, ends
	// (having closed the failed database, and perhaps opened it again).
	s.loopMu.Lock()
	s.stop()
	s.loopMu.Unlock()
	s.loops.Wait()
	s.gate.close(fmt.Errorf("embedded store is closed: %w", graph.ErrUnavailable))
	// After a failed write the database may be closed (the reopen did
	// not get as far as opening it again), open read-only, or hung.
	stopped := s.health.stopped("close")
	if s.db == nil || s.hung {
		return stopped
	}
	var errs []error
	if stopped != nil {
		errs = append(errs, stopped)
	} else if err := s.db.Flush(); err != nil {
		errs = append(errs, fmt.Errorf("flush embedded store: %w", err))
	}
	if err := s.db.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close embedded store: %w", err))
	}
	return errors.Join(errs...)
}

// Ping reports whether the store can serve reads and take writes. After
// a failed write it says why, and how much room the data directory has,
// until the database is open again. Once any read met damaged data (a
// checksum mismatch, an undecodable value), Ping fails with a message
// naming it until the store is reopened.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return fmt.Errorf("embedded store: %w", graph.ErrUnavailable)
	}
	if err := s.health.stopped("ping"); err != nil {
		return s.withSpace(err)
	}
	if err := s.health.check(); err != nil {
		return err
	}
	if err := s.enter("ping"); err != nil {
		return s.withSpace(err)
	}
	defer s.leave()
	_, c, err := s.db.Get([]byte{tableService})
	if err == nil {
		c.Close()
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return fmt.Errorf("embedded store: %w", s.health.note(err))
	}
	return ctx.Err()
}

// withSpace adds to err how much room the data directory has: "data dir
// full" when err says no space is left or there is less than the reopen
// needs.
func (s *Store) withSpace(err error) error {
	du, derr := s.fs.GetDiskUsage(s.dir)
	if derr != nil {
		return err
	}
	if isNoSpace(err) || du.AvailBytes < s.opts.ReopenMinFree {
		return fmt.Errorf("data dir full: %d bytes free in %s: %w", du.AvailBytes, s.dir, err)
	}
	return fmt.Errorf("%w (data dir %s: %d bytes free)", err, s.dir, du.AvailBytes)
}

// get returns a copy of the value at key, or nil and false when absent.
func get(r pebble.Reader, key []byte) ([]byte, bool, error) {
	v, c, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	c.Close()
	return out, true, nil
}

// Apply writes b idempotently and returns once it is durable. Events are
// merged with graph.Merge; declared dependencies are keyed by (from, to);
// call buckets by (from, to, minute, producer), a repeat replacing the
// counts. Every service named anywhere in b is recorded.
func (s *Store) Apply(ctx context.Context, b graph.Batch) (_ graph.Written, err error) {
	defer func() { s.health.note(err) }()
	var w graph.Written
	if err := b.Validate(); err != nil {
		return w, err
	}
	if err := ctx.Err(); err != nil {
		return w, err
	}
	if err := s.health.stopped("apply"); err != nil {
		return w, s.withSpace(err)
	}
	if err := s.enter("apply"); err != nil {
		return w, s.withSpace(err)
	}
	defer s.leave()
	defer s.health.recoverFatal("apply", &err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return w, fmt.Errorf("apply: embedded store is closed: %w", graph.ErrUnavailable)
	}
	if err := s.health.stopped("apply"); err != nil {
		return w, err
	}
	batch := &writes{}
	seen := newSightings()
	if err := s.applyEvents(batch, b.Events, b.Replace, &w, seen); err != nil {
		return graph.Written{}, err
	}
	now := s.now().UTC()
	for _, d := range b.Dependencies {
		batch.set(depKey(tableDepFrom, d.From, d.To), []byte(d.Source))
		seen.see(d.From, now, now)
		seen.see(d.To, now, now)
	}
	spans, err := s.applyCalls(batch, b.Calls, seen)
	if err != nil {
		return graph.Written{}, err
	}
	for _, sv := range b.Services {
		first, last := sv.Seen(now)
		seen.see(sv.Name, first, last)
		seen.describe(sv.Name, sv.Environment, sv.Owner, true)
	}
	changed, err := s.applyServices(batch, seen)
	if err != nil {
		return graph.Written{}, err
	}
	if err := batch.commit(s.db); err != nil {
		return graph.Written{}, fmt.Errorf("apply batch of %d items: %w", b.Len(), err)
	}
	for _, sv := range changed {
		s.services[sv.Name] = sv
	}
	for _, e := range w.New {
		s.known.add(e.ID)
	}
	s.deps.add(b.Dependencies)
	s.spans.put(spans)
	return w, nil
}

// closeIter closes it and joins its error, if any, into *err, naming what
// the iterator was reading. Deferred, it keeps a failure found only at
// Close (a read or checksum error) from being dropped.
func closeIter(it *pebble.Iterator, what string, err *error) {
	if cerr := it.Close(); cerr != nil {
		*err = errors.Join(*err, fmt.Errorf("%s: close iterator: %w", what, cerr))
	}
}

// logger adapts slog to Pebble's logger; h, when set, learns of fatal
// errors.
type logger struct {
	l *slog.Logger
	h *health
}

// Infof logs Pebble's informational notices at debug level, except the
// end of a write-ahead log replay, which is a warning when it dropped
// records (see walReplayed).
func (l logger) Infof(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if format == walStopFormat && len(args) == 6 {
		l.walReplayed(msg, args)
		return
	}
	l.l.Debug(msg, "component", "pebble")
}

// Fatalf is called by Pebble on an unrecoverable error (a failed commit,
// say on a full disk, or corruption); Pebble requires that it does not
// return. It marks the store stopped (Ping and every later write say why,
// and the reopen starts: see reopen.go) and panics with a fatalPanic,
// which the store's write paths recover into an error for their caller.
// In one of Pebble's own goroutines (a background flush or compaction, a
// MANIFEST write) nothing recovers it and the process exits with the
// message, which is logged first.
func (l logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if l.h != nil {
		l.h.fail(msg)
	} else {
		l.l.Error(msg, "component", "pebble")
	}
	panic(fatalPanic{msg: "embedded store: " + msg})
}
