package kafka

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"

	"github.com/sregraph/sregraph/ingest"
)

// DefaultTopics maps each family to its default topic name.
func DefaultTopics() map[ingest.Family]string {
	return map[ingest.Family]string{
		ingest.FamilyDeploys: "sre.deploys",
		ingest.FamilyScale:   "sre.scale",
		ingest.FamilyTickets: "sre.tickets",
		ingest.FamilySLO:     "sre.slo",
		ingest.FamilySpans:   "otlp_spans",
	}
}

// DeadLetterTopic is the topic that unreadable messages from topic go to.
func DeadLetterTopic(topic string) string { return topic + ".dlq" }

// EmbeddedBroker is the value of --kafka that starts the in-process broker.
const EmbeddedBroker = "embedded"

// Config holds the settings of the Kafka consumers and the webhook
// publisher. The zero value is not usable: start from RegisterFlags'
// defaults (or DefaultConfig) and call Validate. What they work with (the
// store, the decoders, the span aggregator, aliases) are Options.
type Config struct {
	// Brokers are the bootstrap brokers (host:port). Empty means no
	// consumers run, unless Embedded.
	Brokers []string
	// Embedded asks for the in-process broker (--kafka embedded) on
	// EmbeddedAddr instead of Brokers; the embedded package starts it, and
	// its addresses reach the consumers as Options.Brokers.
	Embedded     bool
	EmbeddedAddr string
	// GroupID is the consumer group; sregraph instances sharing it share
	// the partitions.
	GroupID string
	// Topics maps a family to its topic; an empty name turns the family
	// off.
	Topics map[ingest.Family]string
	// MaxBatch and MaxWait bound a batch: it is written once it holds
	// MaxBatch messages or MaxWait after its first message arrived.
	MaxBatch int
	MaxWait  time.Duration
	// MaxBytes is the largest fetch the consumer asks a broker for; a
	// message larger than this cannot be read.
	MaxBytes int
	// StartOffset is where a new group starts: "first" (replay what the
	// topic holds) or "last" (only new messages).
	StartOffset string
	// ShutdownTimeout bounds a graceful stop: finishing the in-flight
	// batch, committing it and leaving the group.
	ShutdownTimeout time.Duration
	// SessionTimeout, HeartbeatInterval, RebalanceTimeout and
	// JoinGroupBackoff tune the group protocol.
	SessionTimeout    time.Duration
	HeartbeatInterval time.Duration
	RebalanceTimeout  time.Duration
	JoinGroupBackoff  time.Duration
	// RetryMin and RetryMax bound the backoff between attempts to write
	// to the store or the dead-letter topic.
	RetryMin, RetryMax time.Duration
}

// DefaultConfig returns the configuration that the flags default to.
func DefaultConfig() Config {
	return Config{
		EmbeddedAddr:      "127.0.0.1:9092",
		GroupID:           "sregraph",
		Topics:            DefaultTopics(),
		MaxBatch:          1000,
		MaxWait:           200 * time.Millisecond,
		MaxBytes:          10 << 20,
		StartOffset:       "first",
		ShutdownTimeout:   15 * time.Second,
		SessionTimeout:    30 * time.Second,
		HeartbeatInterval: 3 * time.Second,
		RebalanceTimeout:  30 * time.Second,
		JoinGroupBackoff:  2 * time.Second,
		RetryMin:          100 * time.Millisecond,
		RetryMax:          30 * time.Second,
	}
}

// RegisterFlags registers the --kafka-* flags on fs, with defaults, writing
// into c.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	d := DefaultConfig()
	*c = d
	fs.Func("kafka-brokers", "comma-separated Kafka bootstrap brokers (host:port); empty = no Kafka consumers", func(s string) error {
		c.Brokers = splitList(s)
		return nil
	})
	fs.Func("kafka", `"embedded" starts an in-process Kafka-protocol broker on --kafka-embedded-addr and consumes from it (for trying sregraph without Kafka)`, func(s string) error {
		switch strings.TrimSpace(s) {
		case EmbeddedBroker:
			c.Embedded = true
		case "":
			c.Embedded = false
		default:
			return fmt.Errorf("want %q (or --kafka-brokers for a real cluster)", EmbeddedBroker)
		}
		return nil
	})
	fs.StringVar(&c.EmbeddedAddr, "kafka-embedded-addr", d.EmbeddedAddr, "listen address of the embedded broker (--kafka embedded)")
	fs.StringVar(&c.GroupID, "kafka-group", d.GroupID, "Kafka consumer group; instances in one group share the partitions")
	for _, f := range ingest.Families {
		fs.Func("kafka-topic-"+string(f), fmt.Sprintf("topic of the %s family (default %q; empty turns it off)", f, d.Topics[f]), func(s string) error {
			c.Topics[f] = strings.TrimSpace(s)
			return nil
		})
	}
	fs.IntVar(&c.MaxBatch, "kafka-max-batch", d.MaxBatch, "most messages written to the store in one batch")
	fs.DurationVar(&c.MaxWait, "kafka-max-wait", d.MaxWait, "longest a batch waits to fill before it is written")
	fs.IntVar(&c.MaxBytes, "kafka-max-bytes", d.MaxBytes, "largest fetch from a broker, in bytes (bounds the largest readable message)")
	fs.StringVar(&c.StartOffset, "kafka-start-offset", d.StartOffset, "where a new consumer group starts: first or last")
	fs.DurationVar(&c.ShutdownTimeout, "kafka-shutdown-timeout", d.ShutdownTimeout, "bound on finishing the in-flight batch, committing and leaving the group at shutdown")
	fs.DurationVar(&c.SessionTimeout, "kafka-session-timeout", d.SessionTimeout, "consumer group session timeout")
	fs.DurationVar(&c.HeartbeatInterval, "kafka-heartbeat-interval", d.HeartbeatInterval, "consumer group heartbeat interval")
	fs.DurationVar(&c.RebalanceTimeout, "kafka-rebalance-timeout", d.RebalanceTimeout, "consumer group rebalance timeout")
	fs.DurationVar(&c.RetryMax, "kafka-retry-max", d.RetryMax, "longest backoff between attempts to write to an unavailable store")
}

// Errors returned by Validate.
var (
	ErrNoGroup   = errors.New("--kafka-group is required")
	ErrNoTopics  = errors.New("every --kafka-topic-* is empty: nothing to consume")
	ErrBadBroker = errors.New("--kafka-brokers: want host:port")
)

// Enabled reports whether any consumer should run.
func (c *Config) Enabled() bool { return c.Embedded || len(c.Brokers) > 0 }

// Validate checks the configuration and fills zero tuning values with the
// defaults.
func (c *Config) Validate() error {
	d := DefaultConfig()
	if c.Embedded && len(c.Brokers) > 0 {
		return errors.New("--kafka embedded and --kafka-brokers are exclusive: give one")
	}
	for _, b := range c.Brokers {
		if _, _, err := net.SplitHostPort(b); err != nil {
			return fmt.Errorf("%w: %q: %w", ErrBadBroker, b, err)
		}
	}
	if c.Embedded {
		if _, _, err := net.SplitHostPort(c.EmbeddedAddr); err != nil {
			return fmt.Errorf("--kafka-embedded-addr %q: want host:port: %w", c.EmbeddedAddr, err)
		}
	}
	if strings.TrimSpace(c.GroupID) == "" {
		return ErrNoGroup
	}
	if c.Topics == nil {
		c.Topics = d.Topics
	}
	seen := map[string]ingest.Family{}
	for _, f := range c.families() {
		t := c.Topics[f]
		if strings.HasSuffix(t, ".dlq") {
			return fmt.Errorf("--kafka-topic-%s %q: a dead-letter topic cannot be consumed as input", f, t)
		}
		if other, dup := seen[t]; dup {
			return fmt.Errorf("--kafka-topic-%s and --kafka-topic-%s both name %q: give each family its own topic", other, f, t)
		}
		seen[t] = f
	}
	if len(seen) == 0 && c.Enabled() {
		return ErrNoTopics
	}
	if c.MaxBatch < 0 || c.MaxBatch > 100000 {
		return fmt.Errorf("--kafka-max-batch %d: want 1..100000", c.MaxBatch)
	}
	switch c.StartOffset {
	case "first", "last":
	case "":
		c.StartOffset = d.StartOffset
	default:
		return fmt.Errorf("--kafka-start-offset %q: want first or last", c.StartOffset)
	}
	fill := func(v *time.Duration, def time.Duration) {
		if *v <= 0 {
			*v = def
		}
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = d.MaxBatch
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = d.MaxBytes
	}
	fill(&c.MaxWait, d.MaxWait)
	fill(&c.ShutdownTimeout, d.ShutdownTimeout)
	fill(&c.SessionTimeout, d.SessionTimeout)
	fill(&c.HeartbeatInterval, d.HeartbeatInterval)
	fill(&c.RebalanceTimeout, d.RebalanceTimeout)
	fill(&c.JoinGroupBackoff, d.JoinGroupBackoff)
	fill(&c.RetryMin, d.RetryMin)
	fill(&c.RetryMax, d.RetryMax)
	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}
	return nil
}

// families returns the families with a topic, in stable order, including
// any extra family that has a topic only to go with a decoder
// (Options.Decoders).
func (c *Config) families() []ingest.Family {
	var fs []ingest.Family
	for f, t := range c.Topics {
		if strings.TrimSpace(t) != "" {
			fs = append(fs, f)
		}
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i] < fs[j] })
	return fs
}

// TopicNames lists the configured input topics and their dead-letter
// topics, for creating them up front (the embedded broker does).
func (c *Config) TopicNames() []string {
	var ts []string
	for _, f := range c.families() {
		ts = append(ts, c.Topics[f], DeadLetterTopic(c.Topics[f]))
	}
	return ts
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
