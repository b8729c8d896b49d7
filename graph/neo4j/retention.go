package neo4j

import (
	"context"
	"fmt"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/sregraph/sregraph/graph"
)

// DeleteBefore removes the events that ended (or, without an end, happened)
// before t and the call buckets that start before t, BatchRows per
// transaction, and returns how many events and (edge, minute, producer)
// buckets it removed. Bucket rows of hours that end by t go whole; the row
// of the hour t falls in loses its minutes before t, and goes when none is
// left. Declared dependencies and services stay. It stops early, with what
// it removed so far, when ctx ends.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (events, buckets int, err error) {
	t = t.UTC()
	at := t.Format(time.RFC3339Nano)
	events, _, err = s.deleteInBatches(ctx, cypherDeleteEventsBefore, map[string]any{"before": t})
	if err != nil {
		return events, 0, fmt.Errorf("neo4j: delete events before %s: %w", at, err)
	}
	hour, minutes := cutHour(t)
	_, buckets, err = s.deleteInBatches(ctx, cypherDeleteCallHoursBefore, map[string]any{"before": hour})
	if err != nil {
		return events, buckets, fmt.Errorf("neo4j: delete call buckets before %s: %w", at, err)
	}
	if minutes > 0 {
		_, trimmed, err := s.deleteInBatches(ctx, cypherTrimCallHour, map[string]any{
			"hour": hour, "minutes": int64(minutes), "slots": int64(graph.LatencyBuckets),
		})
		buckets += trimmed
		if err != nil {
			return events, buckets, fmt.Errorf("neo4j: delete call buckets before %s: %w", at, err)
		}
	}
	return events, buckets, nil
}

// cutHour splits retention at t into the bucket rows to remove whole, those
// of hours starting before hour, and the first minutes of the row of that
// hour to remove: the minutes that start before t (none when t starts an
// hour). An hour whose every minute starts before t goes whole.
func cutHour(t time.Time) (hour time.Time, minutes int) {
	hour = t.Truncate(time.Hour)
	minutes = int(ceilDiv(t.Sub(hour), graph.BucketWidth))
	if minutes == bucketsPerHour {
		return hour.Add(time.Hour), 0
	}
	return hour, minutes
}

// deleteInBatches runs a statement that removes up to $limit items and
// returns how many it touched ("n") and, when the statement counts them,
// how many buckets those held ("buckets"), until it touches fewer than
// $limit. It returns the totals.
func (s *Store) deleteInBatches(ctx context.Context, stmt string, params map[string]any) (items, buckets int, err error) {
	p := make(map[string]any, len(params)+1)
	for k, v := range params {
		p[k] = v
	}
	p["limit"] = int64(s.rows)
	for {
		if err := ctx.Err(); err != nil {
			return items, buckets, err
		}
		n, b, err := s.writeCounts(ctx, stmt, p)
		if err != nil {
			return items, buckets, err
		}
		items += n
		buckets += b
		if n < s.rows {
			return items, buckets, nil
		}
	}
}

// writeCounts runs one write statement in its own retried transaction and
// returns its "n" column and its "buckets" column (zero when it has none).
func (s *Store) writeCounts(ctx context.Context, stmt string, params map[string]any) (n, buckets int, err error) {
	sess := s.session(ctx, driver.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	counts, err := driver.ExecuteWrite(ctx, sess, func(tx driver.ManagedTransaction) ([2]int, error) {
		recs, err := run(ctx, tx, stmt, params)
		if err != nil {
			return [2]int{}, err
		}
		n, err := countOf(recs)
		if err != nil {
			return [2]int{}, err
		}
		var b int64
		if v, ok := recs[0].Get("buckets"); ok {
			if b, ok = v.(int64); !ok {
				return [2]int{}, fmt.Errorf("count of buckets is %T, want an integer", v)
			}
		}
		return [2]int{n, int(b)}, nil
	})
	if err != nil {
		return 0, 0, classify(err)
	}
	return counts[0], counts[1], nil
}
