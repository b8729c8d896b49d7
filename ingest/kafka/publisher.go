package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/sregraph/sregraph/ingest"
)

// messageWriter is the Kafka producer as the publisher sees it; a
// *kafka.Writer satisfies it.
type messageWriter interface {
	WriteMessages(ctx context.Context, msgs ...kafka.Message) error
	Close() error
}

// Publisher appends webhook deliveries to the Kafka topics of their
// families (--webhooks-to-kafka), each write acknowledged by every in-sync
// replica before the webhook is answered.
type Publisher struct {
	w      messageWriter
	topics map[ingest.Family]string
}

// NewPublisher builds a publisher to the brokers and family topics of
// cfg, which must have been validated; of opts it uses Brokers and Logger.
func NewPublisher(cfg Config, opts Options) (*Publisher, error) {
	brokers, err := opts.brokers(cfg)
	if err != nil {
		return nil, fmt.Errorf("webhook publisher: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	log := logger.With("component", "webhook-publisher")
	topics := make(map[ingest.Family]string, len(cfg.Topics))
	for f, t := range cfg.Topics {
		topics[f] = strings.TrimSpace(t)
	}
	return &Publisher{
		topics: topics,
		w: &kafka.Writer{
			Addr:                   kafka.TCP(brokers...),
			Balancer:               &kafka.Hash{},
			RequiredAcks:           kafka.RequireAll,
			BatchTimeout:           2 * time.Millisecond,
			BatchBytes:             1 << 30, // the broker's message.max.bytes is the real limit
			MaxAttempts:            3,
			AllowAutoTopicCreation: true,
			Logger:                 kafkaLogger(log, slog.LevelDebug, nil),
			ErrorLogger:            kafkaLogger(log, slog.LevelWarn, nil),
		},
	}, nil
}

// Topic returns the topic of family, or "" when the family has none.
func (p *Publisher) Topic(f ingest.Family) string { return p.topics[f] }

// Publish appends one record to topic and returns once every in-sync
// replica has it. An error wrapping ingest.ErrTooLarge means the broker
// refuses a record that large (its message.max.bytes).
func (p *Publisher) Publish(ctx context.Context, topic string, key, value []byte, headers []ingest.Header) error {
	hs := make([]kafka.Header, len(headers))
	for i, h := range headers {
		hs[i] = kafka.Header{Key: h.Key, Value: h.Value}
	}
	err := p.w.WriteMessages(ctx, kafka.Message{Topic: topic, Key: key, Value: value, Headers: hs})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kafka.MessageSizeTooLarge) || isMessageTooLarge(err):
		return fmt.Errorf("publish to %s: %w: %w", topic, ingest.ErrTooLarge, err)
	}
	return fmt.Errorf("publish to %s: %w", topic, err)
}

func isMessageTooLarge(err error) bool {
	var we kafka.WriteErrors
	if errors.As(err, &we) {
		for _, e := range we {
			if e != nil && (errors.Is(e, kafka.MessageSizeTooLarge) || isMessageTooLarge(e)) {
				return true
			}
		}
	}
	var tl kafka.MessageTooLargeError
	return errors.As(err, &tl)
}

// Close flushes and closes the producer.
func (p *Publisher) Close() error {
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("close webhook publisher: %w", err)
	}
	return nil
}
