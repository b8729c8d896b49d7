package pebble

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble"

	"github.com/sregraph/sregraph/graph"
)

// EdgeLatency sums, over producers and the buckets of the edge from→to
// that start in [start, end), the calls, the latency and the latency
// histogram. Calls includes those of buckets written without a histogram,
// so the histogram may count fewer calls. An edge without buckets in the
// window has zero of each.
func (s *Store) EdgeLatency(ctx context.Context, from, to string, start, end time.Time) (sum time.Duration, hist [graph.LatencyBuckets]int64, calls int64, err error) {
	defer func() { s.health.note(err) }()
	if err = s.enter("edge latency"); err != nil {
		return
	}
	defer s.leave()
	var latency int64
	err = s.eachLatencySlot(ctx, from, to, start, end, func(_ int64, sl *slot) {
		calls += sl.calls
		latency += sl.latency
		for i, n := range sl.hist {
			hist[i] += n
		}
	})
	if err != nil {
		return 0, [graph.LatencyBuckets]int64{}, 0, err
	}
	return time.Duration(latency), hist, calls, nil
}

// eachLatencySlot calls fn with the start (Unix nanoseconds) and the slot
// of every full bucket of the edge from→to, of every producer, that starts
// in [start, end), hour by hour.
func (s *Store) eachLatencySlot(ctx context.Context, from, to string, start, end time.Time, fn func(at int64, sl *slot)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !end.After(start) {
		return nil
	}
	prefix := appendName([]byte{tableLatency}, from)
	firstHour := start.UTC().Truncate(chunkWidth)
	lower := appendTime(append([]byte(nil), prefix...), firstHour)
	upper := appendTime(append([]byte(nil), prefix...), end)
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: upper})
	if err != nil {
		return fmt.Errorf("latency of %s->%s: %w", from, to, err)
	}
	startNs, endNs := start.UnixNano(), end.UnixNano()
	// Keys run by hour, then callee: seek to the callee in each hour that
	// has any key, jumping over the hours that have none.
	hour := nanos(firstHour)
	seek := make([]byte, 0, len(prefix)+8+len(to)+1)
	for {
		seek = appendName(binary.BigEndian.AppendUint64(append(seek[:0], prefix...), hour), to)
		if !it.SeekGE(seek) {
			break
		}
		k := it.Key()
		if len(k) < len(prefix)+8 {
			return errors.Join(fmt.Errorf("call bucket key %q: %w", k, errCorrupt), it.Close())
		}
		if h := binary.BigEndian.Uint64(k[len(prefix):]); h != hour {
			hour = h
			continue
		}
		for ; it.Valid() && bytes.HasPrefix(it.Key(), seek); it.Next() {
			hourNs := int64(hour)
			err := eachSlot(it.Value(), func(sl *slot) {
				at := hourNs + int64(sl.minute)*int64(graph.BucketWidth)
				if at >= startNs && at < endNs {
					fn(at, sl)
				}
			})
			if err != nil {
				return errors.Join(fmt.Errorf("call bucket %q: %w", it.Key(), err), it.Close())
			}
		}
		hour += uint64(chunkWidth)
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		return fmt.Errorf("latency of %s->%s: %w", from, to, err)
	}
	return nil
}
