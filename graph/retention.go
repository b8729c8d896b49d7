package graph

import (
	"context"
	"log/slog"
	"time"
)

// Deleter removes what is older than an instant; both stores implement it.
type Deleter interface {
	DeleteBefore(ctx context.Context, t time.Time) (events, buckets int, err error)
}

// RunRetention deletes what is older than keep, once at start and then
// every interval, until ctx ends, logging what each round removed.
func RunRetention(ctx context.Context, d Deleter, every, keep time.Duration, now func() time.Time, log *slog.Logger) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		cutoff := now().Add(-keep)
		started := time.Now()
		events, buckets, err := d.DeleteBefore(ctx, cutoff)
		switch {
		case err != nil && ctx.Err() == nil:
			log.Error("retention failed", "cutoff", cutoff, "events", events, "call_buckets", buckets, "err", err)
		case err == nil && events+buckets > 0:
			log.Info("retention removed old data", "cutoff", cutoff, "events", events, "call_buckets", buckets, "took", time.Since(started).Round(time.Millisecond))
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
