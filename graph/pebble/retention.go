package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/sregraph/sregraph/graph"
)

// deleteChunk bounds how many keys one retention batch touches, so
// retention never builds a huge batch or holds the write lock for long.
const deleteChunk = 10000

// DeleteBefore removes events that ended (or, without an end, happened)
// before t from every index, and call buckets that start before t. It
// works in batches of at most deleteChunk keys, each durable on its own.
// Declared dependencies and services stay.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (events, buckets int, err error) {
	defer func() { s.health.note(err) }()
	if err = s.enter("retention"); err != nil {
		return
	}
	defer s.leave()
	if events, err = s.deleteEvents(ctx, t); err != nil {
		return events, 0, err
	}
	for _, table := range []byte{tableCallsOut, tableCallsIn, tableLatency} {
		n, err := s.deleteBuckets(ctx, table, t)
		if err != nil {
			return events, buckets, err
		}
		if table == tableCallsOut {
			buckets = n
		}
	}
	return events, buckets, nil
}

// sweep runs step under the write lock, each time on a fresh batch and an
// iterator over [lower, upper), until step reports it is done. step returns
// where the next round starts.
func (s *Store) sweep(ctx context.Context, lower, upper []byte, step func(it *pebble.Iterator, b *pebble.Batch) (next []byte, done bool, err error)) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		next, done, err := s.sweepOnce(lower, upper, step)
		if err != nil {
			return err
		}
		if done {
			return nil
		}
		lower = next
	}
}

func (s *Store) sweepOnce(lower, upper []byte, step func(it *pebble.Iterator, b *pebble.Batch) ([]byte, bool, error)) (_ []byte, _ bool, err error) {
	defer s.health.recoverFatal("retention", &err)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, false, fmt.Errorf("retention: embedded store is closed: %w", graph.ErrUnavailable)
	}
	if err := s.health.stopped("retention"); err != nil {
		return nil, false, err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return nil, false, err
	}
	defer closeIter(it, "retention sweep", &err)
	b := s.db.NewBatch()
	defer b.Close()
	next, done, err := step(it, b)
	if err != nil {
		return nil, false, err
	}
	if err := it.Error(); err != nil {
		return nil, false, fmt.Errorf("retention sweep: %w", err)
	}
	if !b.Empty() {
		if err := b.Commit(pebble.Sync); err != nil {
			return nil, false, fmt.Errorf("commit retention batch: %w", err)
		}
	}
	return next, done, nil
}

func (s *Store) deleteEvents(ctx context.Context, t time.Time) (int, error) {
	removed := 0
	for k := range graph.Kinds {
		n, err := s.deleteEventsOfKind(ctx, kindPrefix(byte(k)), t)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("delete events before %s: %w", t.Format(time.RFC3339), err)
		}
	}
	return removed, nil
}

// deleteEventsOfKind sweeps one kind index: every event of the kind that
// happened before t is a candidate.
func (s *Store) deleteEventsOfKind(ctx context.Context, prefix []byte, t time.Time) (int, error) {
	limit := nanos(t)
	removed := 0
	upper := appendTime(append([]byte(nil), prefix...), t)
	err := s.sweep(ctx, prefix, upper, func(it *pebble.Iterator, b *pebble.Batch) ([]byte, bool, error) {
		keys := 0
		for it.First(); it.Valid(); it.Next() {
			if keys >= deleteChunk {
				return append(append([]byte(nil), it.Key()...), 0), false, nil
			}
			at, id, ok := decodeTimeID(it.Key()[len(prefix):])
			m, ok2 := decodeMeta(it.Value())
			if !ok || !ok2 {
				return nil, false, fmt.Errorf("retention: index key %q: %w", it.Key(), errCorrupt)
			}
			endOrAt := at
			if m.hasEnd {
				endOrAt = m.end
			}
			if endOrAt >= limit {
				continue
			}
			e, found, err := readEvent(s.db, id)
			if err != nil {
				return nil, false, fmt.Errorf("retention: %w", err)
			}
			if found {
				idx, _ := indexEntries(&e)
				for _, k := range idx {
					if err := b.Delete(k, nil); err != nil {
						return nil, false, err
					}
				}
				if err := b.Delete(eventKey(id), nil); err != nil {
					return nil, false, err
				}
				keys += len(idx) + 1
				removed++
			} else {
				// A dangling index entry: drop it.
				if err := b.Delete(it.Key(), nil); err != nil {
					return nil, false, err
				}
				keys++
			}
		}
		return nil, true, nil
	})
	return removed, err
}

// deleteBuckets removes the minutes before t from one bucket table and
// returns how many (edge, minute, producer) buckets went.
func (s *Store) deleteBuckets(ctx context.Context, table byte, t time.Time) (int, error) {
	limit := t.UnixNano()
	removed := 0
	prefix := []byte{table}
	err := s.sweep(ctx, prefix, []byte{table + 1}, func(it *pebble.Iterator, b *pebble.Batch) ([]byte, bool, error) {
		keys := 0
		for valid := it.First(); valid; {
			if keys >= deleteChunk {
				return append([]byte(nil), it.Key()...), false, nil
			}
			key := it.Key()
			nul := bytes.IndexByte(key[1:], 0)
			if nul < 0 || len(key) < 1+nul+1+8 {
				return nil, false, fmt.Errorf("retention: call bucket key %q: %w", key, errCorrupt)
			}
			svcEnd := 1 + nul + 1
			hour := int64(binary.BigEndian.Uint64(key[svcEnd:]))
			if hour >= limit {
				// This service's later hours all stay: skip to the next service.
				valid = it.SeekGE(prefixEnd(key[:svcEnd]))
				keys++
				continue
			}
			v, err := chunkVersion(it.Value())
			if err != nil {
				return nil, false, fmt.Errorf("retention: call bucket %q: %w", key, err)
			}
			slots, err := decodeChunk(it.Value())
			if err != nil {
				return nil, false, fmt.Errorf("retention: call bucket %q: %w", key, err)
			}
			kept := slots[:0]
			for _, sl := range slots {
				if hour+int64(sl.minute)*int64(graph.BucketWidth) >= limit {
					kept = append(kept, sl)
				}
			}
			removed += len(slots) - len(kept)
			if len(kept) == 0 {
				err = b.Delete(key, nil)
			} else if len(kept) < len(slots) {
				err = b.Set(key, encodeAs(v, kept), nil)
			}
			if err != nil {
				return nil, false, err
			}
			keys++
			valid = it.Next()
		}
		return nil, true, nil
	})
	if err != nil {
		return removed, fmt.Errorf("delete call buckets before %s: %w", t.Format(time.RFC3339), err)
	}
	return removed, nil
}
