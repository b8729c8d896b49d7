package kafka

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
)

// The headers a dead letter carries besides the original record's own.
const (
	HeaderError     = "sregraph-error"            // why the record could not be stored
	HeaderReason    = "sregraph-reason"           // undecodable, rejected_items or store_rejected
	HeaderTopic     = "sregraph-topic"            // the topic it came from
	HeaderPartition = "sregraph-partition"        // its partition there
	HeaderOffset    = "sregraph-offset"           // its offset there
	HeaderRejected  = "sregraph-rejected"         // rejected item indexes and reasons, one "index: reason" per line
	HeaderTime      = "sregraph-dead-lettered-at" // when it was dead-lettered (RFC 3339)
)

// deadLetter writes letters to topic's dead-letter topic, acknowledged by
// all in-sync replicas, retrying with capped backoff until that succeeds
// or ctx ends: a record is committed only once it is stored or
// dead-lettered.
func (c *Consumer) deadLetter(ctx context.Context, topic string, letters []letter) error {
	dlq := DeadLetterTopic(topic)
	at := c.now().UTC().Format(time.RFC3339Nano)
	out := make([]kafka.Message, len(letters))
	for i, l := range letters {
		hs := make([]kafka.Header, 0, len(l.msg.Headers)+7)
		hs = append(hs, l.msg.Headers...)
		hs = append(hs,
			kafka.Header{Key: HeaderError, Value: []byte(l.err.Error())},
			kafka.Header{Key: HeaderReason, Value: []byte(l.reason)},
			kafka.Header{Key: HeaderTopic, Value: []byte(l.msg.Topic)},
			kafka.Header{Key: HeaderPartition, Value: []byte(strconv.Itoa(l.msg.Partition))},
			kafka.Header{Key: HeaderOffset, Value: []byte(strconv.FormatInt(l.msg.Offset, 10))},
			kafka.Header{Key: HeaderTime, Value: []byte(at)},
		)
		if len(l.rejected) > 0 {
			var b strings.Builder
			for j, r := range l.rejected {
				if j > 0 {
					b.WriteByte('\n')
				}
				fmt.Fprintf(&b, "%d: %s", r.Index, oneLine(r.Err.Error()))
			}
			hs = append(hs, kafka.Header{Key: HeaderRejected, Value: []byte(b.String())})
		}
		out[i] = kafka.Message{Topic: dlq, Key: l.msg.Key, Value: l.msg.Value, Headers: hs}
	}
	for attempt := 0; ; attempt++ {
		err := c.dlq.WriteMessages(ctx, out...)
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fmt.Errorf("writing to %s: %w", dlq, errors.Join(err, ctx.Err()))
		}
		c.mu.Lock()
		if c.dlqErr == nil {
			c.dlqAt = c.now()
		}
		c.dlqErr = fmt.Errorf("%s: %w", dlq, err)
		c.mu.Unlock()
		c.log.Warn("writing dead letters failed; retrying (nothing is committed meanwhile)", "topic", dlq, "attempt", attempt+1, "error", err)
		if !sleepCtx(ctx, backoff(attempt, c.cfg.RetryMin, c.cfg.RetryMax)) {
			return fmt.Errorf("writing to %s: %w", dlq, err)
		}
	}
	c.mu.Lock()
	c.dlqErr = nil
	c.mu.Unlock()
	for _, l := range letters {
		c.m.deadLetters.WithLabelValues(topic, l.reason).Inc()
		c.log.Warn("dead-lettered a record", "topic", topic, "partition", l.msg.Partition, "offset", l.msg.Offset,
			"reason", l.reason, "dlq", dlq, "error", l.err)
	}
	return nil
}

// oneLine keeps a header value on one line.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
