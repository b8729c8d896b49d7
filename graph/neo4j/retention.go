package neo4j

import (
	"context"
	"fmt"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// DeleteBefore removes the events that ended (or, without an end, happened)
// before t and the call buckets that start before t, BatchRows per
// transaction, and returns how many of each it removed. Declared
// dependencies and services stay. It stops early, with what it removed so
// far, when ctx ends.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (events, buckets int, err error) {
	events, err = s.deleteInBatches(ctx, cypherDeleteEventsBefore, t)
	if err != nil {
		return events, 0, fmt.Errorf("neo4j: delete events before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	buckets, err = s.deleteInBatches(ctx, cypherDeleteCallsBefore, t)
	if err != nil {
		return events, buckets, fmt.Errorf("neo4j: delete call buckets before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return events, buckets, nil
}

// deleteInBatches runs a delete statement that removes up to $limit items
// before $before until it removes none.
func (s *Store) deleteInBatches(ctx context.Context, stmt string, t time.Time) (int, error) {
	total := 0
	params := map[string]any{"before": t.UTC(), "limit": int64(s.rows)}
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := s.writeCount(ctx, stmt, params)
		if err != nil {
			return total, err
		}
		total += n
		if n < s.rows {
			return total, nil
		}
	}
}

// writeCount runs one write statement in its own retried transaction and
// returns its "n" column.
func (s *Store) writeCount(ctx context.Context, stmt string, params map[string]any) (int, error) {
	sess := s.session(ctx, driver.AccessModeWrite)
	defer sess.Close(context.WithoutCancel(ctx))
	n, err := driver.ExecuteWrite(ctx, sess, func(tx driver.ManagedTransaction) (int, error) {
		recs, err := run(ctx, tx, stmt, params)
		if err != nil {
			return 0, err
		}
		return countOf(recs)
	})
	if err != nil {
		return 0, classify(err)
	}
	return n, nil
}
