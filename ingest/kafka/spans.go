package kafka

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/otlp"
)

// spanLoop is the state of one spans topic's loop. The aggregator pairs
// client and server spans across messages, so the records of this topic
// cannot be decoded one by one: each is fed to the aggregator in offset
// order, and at every flush the aggregator says what to write and which
// offsets that write makes safe to commit.
type spanLoop struct {
	c   *Consumer
	r   *kafka.Reader
	agg *otlp.Aggregator
	// topic is the spans topic.
	topic string

	// Since the last flush: messages read, per outcome, and the poison
	// ones to dead-letter before anything is committed.
	read     int
	outcomes map[string]int
	letters  []letter
	// committed is the last offset committed per partition, so a commit
	// that would repeat it is not sent again (after a rebalance it could
	// overwrite the new owner's progress).
	committed map[int]int64
	// hwm is the high-water mark of each partition as of its last message.
	hwm map[int]int64
}

// runSpans consumes the spans topic into the aggregator of t: it feeds
// every message to AddKafka, dead-letters what the aggregator cannot
// read, and flushes every MaxBatch messages or MaxWait, whichever comes
// first (also while the topic is idle). A flush writes what FlushKafka
// returns, retrying a failing store, then dead-letters, then commits the
// offsets FlushKafka allows, never more. Once ctx ends it stops fetching,
// flushes and commits one last time within the shutdown bound, and leaves
// the group.
func (c *Consumer) runSpans(ctx context.Context, t topicConsumer) {
	r := c.newReader(t.topic)
	defer c.closeReader(r, t.topic)
	// wctx outlives ctx by the shutdown bound, for the final flush.
	wctx, cancel := graceContext(ctx, c.cfg.ShutdownTimeout)
	defer cancel()
	l := &spanLoop{c: c, r: r, agg: t.spans, topic: t.topic,
		outcomes: map[string]int{}, committed: map[int]int64{}, hwm: map[int]int64{}}
	l.run(ctx, wctx)
}

// run is the loop of runSpans.
func (l *spanLoop) run(ctx, wctx context.Context) {
	c := l.c
	log := c.log.With("topic", l.topic)
	due := time.Now().Add(c.cfg.MaxWait)
	for attempt := 0; ctx.Err() == nil; {
		fctx, cancel := context.WithDeadline(ctx, due)
		m, err := l.r.FetchMessage(fctx)
		cancel()
		switch {
		case err == nil:
			attempt = 0
			l.add(m)
			if l.read < c.cfg.MaxBatch && time.Now().Before(due) {
				continue
			}
		case ctx.Err() != nil:
			continue // the final flush follows the loop
		case errors.Is(err, context.DeadlineExceeded):
			// The flush is due; nothing more arrived meanwhile.
		default:
			log.Warn("fetching", "error", err)
			if !sleepCtx(ctx, backoff(attempt, c.cfg.RetryMin, c.cfg.RetryMax)) {
				continue
			}
			attempt++
			if time.Now().Before(due) {
				continue
			}
		}
		if err := l.flush(wctx); err != nil {
			log.Warn("stopped with spans in flight; they will be redelivered", "messages", l.read, "error", err)
			return
		}
		due = time.Now().Add(c.cfg.MaxWait)
	}
	if err := l.flush(wctx); err != nil {
		log.Warn("stopped with spans in flight; they will be redelivered", "messages", l.read, "error", err)
	}
}

// add feeds one message to the aggregator; a message it cannot read is
// kept for the dead-letter topic and changes nothing.
func (l *spanLoop) add(m kafka.Message) {
	l.read++
	l.hwm[m.Partition] = m.HighWaterMark
	err := l.agg.AddKafka(otlp.KafkaMessage{
		Topic: m.Topic, Partition: m.Partition, Offset: m.Offset,
		Value: m.Value, Time: m.Time, Headers: recordHeaders(m.Headers),
	})
	if err != nil {
		// AddKafka fails only on input it cannot read (graph.ErrInvalid),
		// which no retry would change.
		l.letters = append(l.letters, letter{msg: m, err: err, reason: "undecodable"})
		l.outcomes["dead_lettered"]++
		return
	}
	l.outcomes["stored"]++
}

// flush writes what the aggregator completed, dead-letters the poison
// messages read since the last flush and commits the offsets the
// aggregator allows. It returns an error only when ctx ended first; then
// nothing past the last commit is lost, it is redelivered.
func (l *spanLoop) flush(ctx context.Context) error {
	c := l.c
	b, commits := l.agg.FlushKafka(c.now())
	if b.Len() > 0 {
		// A batch the store refuses as invalid is written item by item, so
		// that one item the store refuses does not hold back the others (or
		// the partition: the aggregator has already handed the counts over,
		// so there is nothing to redeliver). The refused items are logged
		// and counted as rejected.
		written, err := ingest.ApplyParts(ctx, c.applier(l.topic), b, func(error) []graph.Batch { return ingest.Parts(b) },
			func(_ int, err error) {
				c.m.items.WithLabelValues(l.topic, "rejected").Inc()
				c.log.Error("the store refused an item aggregated from spans; dropping it", "topic", l.topic, "error", err)
			})
		if err != nil {
			return err
		}
		c.countWritten(l.topic, written)
	}
	if len(l.letters) > 0 {
		if err := c.deadLetter(ctx, l.topic, l.letters); err != nil {
			return err
		}
		l.letters = nil
	}
	if err := l.commit(ctx, commits); err != nil {
		return err
	}
	for o, n := range l.outcomes {
		c.m.messages.WithLabelValues(l.topic, o).Add(float64(n))
		delete(l.outcomes, o)
	}
	if l.read > 0 || b.Len() > 0 {
		c.m.batchMessages.WithLabelValues(l.topic).Observe(float64(l.read))
		c.m.batchItems.WithLabelValues(l.topic).Observe(float64(b.Len()))
	}
	l.read = 0
	return nil
}

// commit commits each offset the aggregator allows that differs from the
// last one committed for its partition. Offset 0 means nothing of the
// partition is safe yet. A commit the broker refuses is retried a few
// times, then left to the next flush.
func (l *spanLoop) commit(ctx context.Context, commits []otlp.KafkaCommit) error {
	var msgs []kafka.Message
	for _, k := range commits {
		if k.Offset == 0 {
			continue
		}
		if last, ok := l.committed[k.Partition]; ok && last == k.Offset {
			continue
		}
		msgs = append(msgs, kafka.Message{Topic: k.Topic, Partition: k.Partition, Offset: k.Offset - 1})
	}
	if len(msgs) == 0 {
		return nil
	}
	c := l.c
	if err := c.commit(ctx, l.r, l.topic, msgs); err != nil {
		if ctx.Err() != nil {
			return err
		}
		c.log.Warn("commit failed; retrying at the next flush (until then a restart re-reads these spans and rewrites the same counts)", "topic", l.topic, "error", err)
		return nil
	}
	for _, m := range msgs {
		l.committed[m.Partition] = m.Offset + 1
		c.m.lag.WithLabelValues(l.topic, fmt.Sprint(m.Partition)).Set(float64(max(0, l.hwm[m.Partition]-m.Offset-1)))
	}
	return nil
}
