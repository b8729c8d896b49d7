package kafka

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/otlp"
)

// MessageDecoder decodes one Kafka record value, with its headers, into
// what to store. It must be pure: the consumer may call it again for the
// same record after a crash or a rebalance.
//
// An error means the record as a whole is unreadable: it goes to the
// dead-letter topic and its offset is committed. Decoded.Rejected names
// items of an otherwise readable record that cannot be stored: the rest of
// the record is stored, and the record is dead-lettered once, with the
// rejected indexes and reasons in its sregraph-rejected header.
type MessageDecoder func(value []byte, h ingest.Headers, now time.Time) (Decoded, error)

// Decoded is what a MessageDecoder made of one record.
type Decoded struct {
	// Format names the detected format, for logs and dead letters.
	Format   string
	Batch    graph.Batch
	Rejected []ingest.Rejection
}

// DetectDecoder is the decoder of the event families: Detect picks the
// format from the headers, then the content; rename (nil for none)
// applies service aliases to the decoded items.
func DetectDecoder(rename func([]ingest.Item) []ingest.Item) MessageDecoder {
	return func(value []byte, h ingest.Headers, now time.Time) (Decoded, error) {
		name, dec := ingest.Detect(value, h)
		if dec == nil {
			return Decoded{Format: name}, fmt.Errorf("unrecognised format: %w", ingest.ErrUndecodable)
		}
		items, err := dec(value, h, now)
		if err != nil {
			return Decoded{Format: name}, fmt.Errorf("%s: %w", name, err)
		}
		if rename != nil {
			items = rename(items)
		}
		split := ingest.SplitItems(items)
		return Decoded{Format: name, Batch: split.Batch, Rejected: split.Rejected}, nil
	}
}

// Consumer reads the configured topics as one consumer group and writes
// what they carry to the store. For each topic it fetches a batch of
// records (up to MaxBatch, or MaxWait after the first), decodes each,
// writes the batch in one Apply, dead-letters what could not be read, and
// only then commits the highest processed offset of each partition. Each
// topic has one reader (one group member), and its batches are written
// and committed strictly in order, so a partition is processed in order;
// decoding the next batch overlaps writing the current one.
//
// Dead letters: a record goes to <topic>.dlq, acknowledged by all in-sync
// replicas, when its decoder fails (undecodable), when some of its items
// are rejected (rejected_items: the good items are stored, and the whole
// record is dead-lettered once, with the rejected indexes and reasons in
// the sregraph-rejected header), or when the store refuses it as invalid
// (store_rejected). Its offset is committed only after the dead-letter
// write is acknowledged; a failing dead-letter write is retried like a
// failing store.
//
// A store error is not a bad record: the consumer retries the same batch
// with capped exponential backoff and jitter, commits and dead-letters
// nothing meanwhile, and Ready says why it is stuck.
//
// Delivery is at least once: after a crash or a rebalance, records past
// the last commit come again, and the idempotent store counts them as
// duplicates.
//
// The spans family (OTLP traces) is consumed only when Options.Spans is
// set (runSpans: its records feed a stateful aggregator) or
// Options.Decoders has a decoder for ingest.FamilySpans; any family's
// decoder can be replaced the same way.
type Consumer struct {
	cfg     Config
	brokers []string
	w       graph.Applier
	log     *slog.Logger
	now     func() time.Time
	topics  []topicConsumer
	dlq     *kafka.Writer
	m       *consumerMetrics

	mu        sync.Mutex
	connected map[string]error // topic → last metadata error; nil once reachable
	// assigned is, per topic whose reader runs, how many partitions the
	// group gave it in the current generation, or -1 until the first
	// assignment arrives (the reader is still joining the group).
	assigned map[string]int
	storeErr error
	storeAt  time.Time
	dlqErr   error
	dlqAt    time.Time

	// stopping is set once Run's context has ended: from then on
	// kafka-go's complaints are a clean stop, not warnings.
	stopping atomic.Bool
}

// topicConsumer is one topic and how to decode it.
type topicConsumer struct {
	family ingest.Family
	topic  string
	decode MessageDecoder
	// spans, when set, replaces decode: the topic carries OTLP spans for
	// this aggregator (runSpans).
	spans *otlp.Aggregator
}

// Options are the collaborators of a Consumer and a Publisher; the zero
// value is a consumer of the native formats that leaves the spans topic
// alone.
type Options struct {
	// Brokers, when set, replaces Config.Brokers: the addresses of the
	// embedded broker (--kafka embedded), known only once it listens.
	Brokers []string
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Registerer receives the consumer's metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Now is the clock that bounds future timestamps in decoded events;
	// defaults to time.Now.
	Now func() time.Time
	// Decoders overrides the decoder of a family. Families without an
	// entry here use DetectDecoder(Rename) (the native formats, detected
	// from headers, then content), except ingest.FamilySpans, which is
	// consumed only when a decoder is given here or Spans is set.
	// Decoders are called from several goroutines at once.
	Decoders map[ingest.Family]MessageDecoder
	// Spans, when set, consumes the spans topic into this aggregator (the
	// one the OTLP/HTTP handler shares), taking precedence over a decoder
	// for ingest.FamilySpans: spans pair up across records, so they are
	// fed to it in offset order, and offsets are committed only as far as
	// its FlushKafka allows once what it returned is written.
	Spans *otlp.Aggregator
	// Rename maps service aliases to service names on decoded items
	// before they are stored (ingest.Aliases.Apply fits); nil leaves
	// names as they are. It is called from several goroutines at once.
	Rename func([]ingest.Item) []ingest.Item
}

// brokers returns the brokers to dial: opts.Brokers, else cfg.Brokers.
func (o Options) brokers(cfg Config) ([]string, error) {
	brokers := cfg.Brokers
	if len(o.Brokers) > 0 {
		brokers = o.Brokers
	}
	if len(brokers) == 0 {
		return nil, errors.New("no Kafka brokers (give --kafka-brokers, or --kafka embedded)")
	}
	return brokers, nil
}

// NewConsumer validates cfg and builds a consumer that writes to w.
func NewConsumer(cfg Config, w graph.Applier, opts Options) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	brokers, err := opts.brokers(cfg)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	c := &Consumer{
		cfg: cfg, brokers: brokers, w: w, log: logger.With("component", "kafka"), now: now,
		connected: map[string]error{},
		assigned:  map[string]int{},
	}
	for _, f := range cfg.families() {
		if f == ingest.FamilySpans && opts.Spans != nil {
			c.topics = append(c.topics, topicConsumer{family: f, topic: cfg.Topics[f], spans: opts.Spans})
			c.connected[cfg.Topics[f]] = fmt.Errorf("connecting to %s: no broker has answered yet", strings.Join(brokers, ","))
			continue
		}
		dec := opts.Decoders[f]
		if dec == nil && f == ingest.FamilySpans {
			c.log.Warn("no decoder for the spans family; not consuming it", "topic", cfg.Topics[f])
			continue
		}
		if dec == nil {
			dec = DetectDecoder(opts.Rename)
		}
		c.topics = append(c.topics, topicConsumer{family: f, topic: cfg.Topics[f], decode: dec})
		c.connected[cfg.Topics[f]] = fmt.Errorf("connecting to %s: no broker has answered yet", strings.Join(brokers, ","))
	}
	if len(c.topics) == 0 {
		return nil, ErrNoTopics
	}
	m, err := newConsumerMetrics(opts.Registerer)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer metrics: %w", err)
	}
	c.m = m
	c.dlq = &kafka.Writer{
		Addr:                   kafka.TCP(brokers...),
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           5 * time.Millisecond,
		MaxAttempts:            3,
		AllowAutoTopicCreation: true,
		Logger:                 kafkaLogger(c.log, slog.LevelDebug, nil),
		ErrorLogger:            kafkaLogger(c.log, slog.LevelWarn, c.stopping.Load),
	}
	return c, nil
}

// Brokers lists the bootstrap brokers the consumer dials.
func (c *Consumer) Brokers() []string { return c.brokers }

// Topics lists the topics the consumer reads.
func (c *Consumer) Topics() []string {
	ts := make([]string, len(c.topics))
	for i, t := range c.topics {
		ts[i] = t.topic
	}
	return ts
}

// Ready returns nil when the consumer is connected and writing, and
// otherwise an error saying why not, for /readyz. A topic is ready once
// it exists and its reader has its first partition assignment from the
// group (no partitions at all is an assignment too: the group has more
// members than the topic has partitions); until then Ready says the
// reader is joining the group.
func (c *Consumer) Ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, t := range c.topics {
		if err := c.connected[t.topic]; err != nil {
			errs = append(errs, fmt.Errorf("kafka: topic %s: %w", t.topic, err))
		} else if n, ok := c.assigned[t.topic]; ok && n < 0 {
			errs = append(errs, fmt.Errorf("kafka: topic %s: %w", t.topic, errJoining))
		}
	}
	if c.storeErr != nil {
		errs = append(errs, fmt.Errorf("kafka: store unavailable since %s: %w", c.storeAt.UTC().Format(time.RFC3339), c.storeErr))
	}
	if c.dlqErr != nil {
		errs = append(errs, fmt.Errorf("kafka: dead-letter topic unavailable since %s: %w", c.dlqAt.UTC().Format(time.RFC3339), c.dlqErr))
	}
	return errors.Join(errs...)
}

// Run consumes until ctx is done, then finishes the in-flight batches,
// commits them and leaves the group, all within cfg.ShutdownTimeout.
// Nothing makes it give up before that: brokers and the store that cannot
// be reached are retried (and reported by Ready).
func (c *Consumer) Run(ctx context.Context) error {
	c.log.Info("consuming", "brokers", strings.Join(c.brokers, ","), "group", c.cfg.GroupID, "topics", strings.Join(c.Topics(), ","))
	stopWatch := context.AfterFunc(ctx, func() { c.stopping.Store(true) })
	defer stopWatch()
	var wg sync.WaitGroup
	for _, t := range c.topics {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.consumeTopic(ctx, t)
		}()
	}
	wg.Wait()
	if err := c.dlq.Close(); err != nil {
		return fmt.Errorf("closing the dead-letter writer: %w", err)
	}
	c.log.Info("stopped consuming")
	return nil
}

// consumeTopic consumes t until ctx ends: it waits for the topic to exist
// (awaitTopic), reads it, and when a broker says the topic is gone
// (deleted), finishes the batches in flight, stops the reader and waits
// for the topic again, so that a topic deleted and created again is read
// again and, meanwhile, does not hold up the other topics of the group.
func (c *Consumer) consumeTopic(ctx context.Context, t topicConsumer) {
	for c.awaitTopic(ctx, t.topic) {
		rctx, gone := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.watchTopic(rctx, t.topic, gone)
		}()
		if t.spans != nil {
			c.runSpans(rctx, t)
		} else {
			c.runTopic(rctx, t)
		}
		gone()
		wg.Wait()
	}
}

// watchTopic looks at topic every topicWatchMax while it is read and, when
// a broker answers that it does not exist, reports that in Ready and calls
// gone. Other errors (an unreachable broker, a partition without a leader
// during a broker restart) leave the reader alone: kafka-go retries those.
func (c *Consumer) watchTopic(ctx context.Context, topic string, gone context.CancelFunc) {
	client := &kafka.Client{Addr: kafka.TCP(c.brokers...), Timeout: 10 * time.Second}
	for sleepCtx(ctx, topicWatchMax) {
		resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err != nil {
			continue
		}
		for _, t := range resp.Topics {
			if t.Name == topic && errors.Is(t.Error, kafka.UnknownTopicOrPartition) {
				c.setConnected(topic, fmt.Errorf("%w: %w", errTopicMissing, t.Error))
				c.log.Warn("topic is gone; stopping its reader and consuming it again once it exists", "topic", topic, "error", t.Error)
				gone()
				return
			}
		}
	}
}

// errTopicMissing says that the brokers answer but do not (yet) have a
// topic, or not all of its partitions have a leader.
var errTopicMissing = errors.New("not available yet")

// topicWatchMax caps the wait between two looks for a missing topic: it
// bounds how long a topic created after the start waits to be consumed.
const topicWatchMax = 5 * time.Second

// awaitTopic waits until a broker reports topic with a leader for each of
// its partitions, looking again with backoff (at most topicWatchMax apart
// while the brokers answer), and reports whether it did before ctx ended.
// Until then Ready names the topic and why it is not consumed.
//
// A topic's reader starts only once the topic exists: kafka-go's group
// reader for a missing topic ends each generation as soon as it starts
// (its partition watcher gives up on a topic it cannot find), which
// rebalances the whole group over and over, starves the other topics, and
// never picks the topic up once it exists. Nor does the consumer create
// the topic: its metadata requests do not ask for auto-creation.
func (c *Consumer) awaitTopic(ctx context.Context, topic string) bool {
	client := &kafka.Client{Addr: kafka.TCP(c.brokers...), Timeout: 10 * time.Second}
	missing := false
	for attempt := 0; ; attempt++ {
		err := c.lookUpTopic(ctx, client, topic)
		if err == nil {
			c.setConnected(topic, nil)
			if missing {
				c.log.Info("topic exists now; consuming it", "topic", topic)
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.setConnected(topic, err)
		wait := backoff(attempt, c.cfg.RetryMin, c.cfg.RetryMax)
		if errors.Is(err, errTopicMissing) {
			if !missing {
				c.log.Warn("topic is not available yet; consuming it once it exists", "topic", topic, "error", err)
				missing = true
			}
			wait = backoff(attempt, c.cfg.RetryMin, min(c.cfg.RetryMax, topicWatchMax))
		}
		if !sleepCtx(ctx, wait) {
			return false
		}
	}
}

// lookUpTopic asks the brokers for topic's metadata: nil when it exists
// and each of its partitions has a leader, an error wrapping
// errTopicMissing when not (yet), and a connection error otherwise.
func (c *Consumer) lookUpTopic(ctx context.Context, client *kafka.Client, topic string) error {
	resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", strings.Join(c.brokers, ","), err)
	}
	for _, t := range resp.Topics {
		if t.Name != topic {
			continue
		}
		if t.Error != nil {
			return fmt.Errorf("%w: %w", errTopicMissing, t.Error)
		}
		if len(t.Partitions) == 0 {
			return fmt.Errorf("%w: no partitions", errTopicMissing)
		}
		for _, p := range t.Partitions {
			if p.Error != nil {
				return fmt.Errorf("%w: partition %d: %w", errTopicMissing, p.ID, p.Error)
			}
		}
		return nil
	}
	return fmt.Errorf("%w: the brokers do not list it", errTopicMissing)
}

func (c *Consumer) setConnected(topic string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.connected[topic] = err
}

// runTopic consumes one topic as a two-stage pipeline, so that decoding
// the next batch overlaps writing the current one: the fetch stage fetches
// and decodes batches, the write stage writes, dead-letters and commits
// them strictly in order. Once ctx ends, fetching stops and the batches
// already fetched are finished and committed within the shutdown bound.
func (c *Consumer) runTopic(ctx context.Context, t topicConsumer) {
	r := c.newReader(t.topic)
	defer c.closeReader(r, t.topic)
	log := c.log.With("topic", t.topic)

	// wctx outlives ctx by the shutdown bound; it also ends when the write
	// stage gives up, which stops the fetch stage.
	wctx, cancel := graceContext(ctx, c.cfg.ShutdownTimeout)
	defer cancel()
	ready := make(chan decodedBatch, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ready)
		c.fetchStage(ctx, wctx, r, t, ready)
	}()
	for b := range ready {
		if err := c.store(wctx, r, t, b); err != nil {
			// Only an ended context stops the write stage; nothing past
			// the last commit is lost, it is redelivered.
			log.Warn("stopped with a batch in flight; it will be redelivered", "messages", len(b.msgs), "error", err)
			cancel()
			for range ready {
			}
			break
		}
	}
	wg.Wait()
}

// fetchStage fetches and decodes batches and hands them to the write
// stage until ctx ends (or wctx, when the write stage stopped).
func (c *Consumer) fetchStage(ctx, wctx context.Context, r *kafka.Reader, t topicConsumer, out chan<- decodedBatch) {
	for attempt := 0; ; {
		msgs, err := c.fetchBatch(ctx, r)
		if len(msgs) > 0 {
			select {
			case out <- c.decode(t, msgs):
			case <-wctx.Done():
				return
			}
		}
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.log.Warn("fetching", "topic", t.topic, "error", err)
			if !sleepCtx(ctx, backoff(attempt, c.cfg.RetryMin, c.cfg.RetryMax)) {
				return
			}
			attempt++
			continue
		}
		attempt = 0
	}
}

// closeReader leaves the group, giving up after the shutdown bound (a
// reader stuck in a rebalance must not hold the process).
func (c *Consumer) closeReader(r *kafka.Reader, topic string) {
	defer func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		delete(c.assigned, topic)
	}()
	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	select {
	case err := <-done:
		if err != nil {
			c.log.Warn("leaving the group", "topic", topic, "error", err)
		}
	case <-time.After(c.cfg.ShutdownTimeout):
		// Nothing is lost (what was stored is committed): the broker
		// drops the member at the session timeout instead. A reader
		// stopped while its group rebalances waits for the rebalance,
		// which is routine at a stop, so this is not a warning.
		c.log.Info("leaving the group took longer than the shutdown timeout; giving up (the broker drops this member at the session timeout)", "topic", topic, "timeout", c.cfg.ShutdownTimeout, "session_timeout", c.cfg.SessionTimeout)
	}
}

// errJoining says that a topic's reader has not had its first partition
// assignment from the group yet.
var errJoining = errors.New("joining the consumer group: no partitions assigned yet")

// newReader starts a group reader of topic; Ready reports the topic as
// joining until the group assigns the reader its partitions.
func (c *Consumer) newReader(topic string) *kafka.Reader {
	c.setAssigned(topic, -1)
	return kafka.NewReader(c.readerConfig(topic))
}

// setAssigned records how many partitions of topic the reader has (-1:
// none yet).
func (c *Consumer) setAssigned(topic string, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.assigned[topic] = n
}

// subscribedFormat is the format kafka-go v0.4.51's group reader logs its
// assignment with, once per generation, with the map of assigned
// partitions to their offsets as the one argument. kafka-go offers no
// other way to learn a reader's assignment; the real-broker test
// (TestKafkaReadyAfterAssignment) notices if an upgrade changes it.
const subscribedFormat = "subscribed to topics and partitions: %+v"

// readerLogger is the Logger of topic's reader: kafka-go's informational
// messages at debug level, and the partition assignment into Ready.
func (c *Consumer) readerLogger(topic string) kafka.Logger {
	l := kafkaLogger(c.log.With("topic", topic), slog.LevelDebug, nil)
	return kafka.LoggerFunc(func(format string, args ...any) {
		if format == subscribedFormat && len(args) == 1 {
			if v := reflect.ValueOf(args[0]); v.Kind() == reflect.Map {
				c.setAssigned(topic, v.Len())
				c.log.Info("partitions assigned", "topic", topic, "partitions", v.Len())
			}
		}
		l.Printf(format, args...)
	})
}

func (c *Consumer) readerConfig(topic string) kafka.ReaderConfig {
	start := kafka.FirstOffset
	if c.cfg.StartOffset == "last" {
		start = kafka.LastOffset
	}
	return kafka.ReaderConfig{
		Brokers:                c.brokers,
		GroupID:                c.cfg.GroupID,
		Topic:                  topic,
		MinBytes:               1,
		MaxBytes:               c.cfg.MaxBytes,
		MaxWait:                time.Second,
		ReadBatchTimeout:       5 * time.Second,
		QueueCapacity:          max(100, c.cfg.MaxBatch),
		CommitInterval:         0, // synchronous: CommitMessages returns once the broker has the offsets
		StartOffset:            start,
		HeartbeatInterval:      c.cfg.HeartbeatInterval,
		SessionTimeout:         c.cfg.SessionTimeout,
		RebalanceTimeout:       c.cfg.RebalanceTimeout,
		JoinGroupBackoff:       c.cfg.JoinGroupBackoff,
		ReadBackoffMin:         c.cfg.RetryMin,
		ReadBackoffMax:         min(c.cfg.RetryMax, 2*time.Second),
		WatchPartitionChanges:  true,
		PartitionWatchInterval: 10 * time.Second,
		Logger:                 c.readerLogger(topic),
		ErrorLogger:            kafkaLogger(c.log.With("topic", topic), slog.LevelWarn, c.stopping.Load),
	}
}

// fetchBatch blocks for one record, then takes more until the batch is
// full or MaxWait has passed. It never loses a fetched record: whatever it
// fetched is returned, also when ctx ends.
func (c *Consumer) fetchBatch(ctx context.Context, r *kafka.Reader) ([]kafka.Message, error) {
	m, err := r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []kafka.Message{m}
	fctx, cancel := context.WithTimeout(ctx, c.cfg.MaxWait)
	defer cancel()
	for len(msgs) < c.cfg.MaxBatch {
		m, err := r.FetchMessage(fctx)
		if err != nil {
			break
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// letter is a record to dead-letter and why.
type letter struct {
	msg      kafka.Message
	err      error
	rejected []ingest.Rejection
	reason   string
}

// decodedBatch is a fetched batch, decoded.
type decodedBatch struct {
	msgs     []kafka.Message
	decoded  []Decoded
	outcomes []string
	letters  []letter
	batch    graph.Batch
}

// parallelDecodeMin is the batch size from which decoding is spread over
// the CPUs.
const parallelDecodeMin = 64

// decode decodes every record of a batch (in parallel for large batches;
// decoders are pure) and sorts them into what to store and what to
// dead-letter.
func (c *Consumer) decode(t topicConsumer, msgs []kafka.Message) decodedBatch {
	now := c.now()
	decoded := make([]Decoded, len(msgs))
	errs := make([]error, len(msgs))
	one := func(i int) {
		decoded[i], errs[i] = t.decode(msgs[i].Value, recordHeaders(msgs[i].Headers), now)
	}
	if workers := min(runtime.GOMAXPROCS(0), len(msgs)/parallelDecodeMin); workers > 1 {
		var wg sync.WaitGroup
		per := (len(msgs) + workers - 1) / workers
		for lo := 0; lo < len(msgs); lo += per {
			hi := min(lo+per, len(msgs))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := lo; i < hi; i++ {
					one(i)
				}
			}()
		}
		wg.Wait()
	} else {
		for i := range msgs {
			one(i)
		}
	}

	b := decodedBatch{msgs: msgs, decoded: decoded, outcomes: make([]string, len(msgs))}
	n := 0
	for _, d := range decoded {
		n += d.Batch.Len()
	}
	b.batch.Events = make([]graph.Event, 0, n)
	for i, m := range msgs {
		d := decoded[i]
		switch {
		case errs[i] != nil:
			b.letters = append(b.letters, letter{msg: m, err: errs[i], reason: "undecodable"})
			b.outcomes[i] = "dead_lettered"
			continue
		case len(d.Rejected) > 0 && d.Batch.Len() == 0:
			b.letters = append(b.letters, letter{msg: m, err: rejectedError(d.Rejected), rejected: d.Rejected, reason: rejectedReason(d.Rejected)})
			b.outcomes[i] = "dead_lettered"
		case len(d.Rejected) > 0:
			b.letters = append(b.letters, letter{msg: m, err: rejectedError(d.Rejected), rejected: d.Rejected, reason: "rejected_items"})
			b.outcomes[i] = "partial"
		case d.Batch.Len() == 0:
			b.outcomes[i] = "empty"
		default:
			b.outcomes[i] = "stored"
		}
		appendBatch(&b.batch, d.Batch)
	}
	return b
}

// store writes, dead-letters and commits one decoded batch. It returns an
// error only when ctx ended before the batch was committed.
func (c *Consumer) store(ctx context.Context, r *kafka.Reader, t topicConsumer, b decodedBatch) error {
	msgs, decoded, outcomes, letters, batch := b.msgs, b.decoded, b.outcomes, b.letters, b.batch
	if batch.Len() > 0 {
		// When the store refuses something the decoder let through, the
		// records are written one by one, and the ones it refuses are
		// dead-lettered.
		written, err := ingest.ApplyParts(ctx, c.applier(t.topic), batch, func(error) []graph.Batch {
			parts := make([]graph.Batch, len(decoded))
			for i, d := range decoded {
				parts[i] = d.Batch
			}
			return parts
		}, func(i int, err error) {
			letters = append(letters, letter{msg: msgs[i], err: fmt.Errorf("store refused it: %w", err), reason: "store_rejected"})
			outcomes[i] = "dead_lettered"
		})
		if err != nil {
			return err
		}
		c.countWritten(t.topic, written)
	}
	if len(letters) > 0 {
		if err := c.deadLetter(ctx, t.topic, letters); err != nil {
			return err
		}
	}
	last := map[int]kafka.Message{}
	for _, m := range msgs {
		if prev, ok := last[m.Partition]; !ok || m.Offset > prev.Offset {
			last[m.Partition] = m
		}
	}
	commits := make([]kafka.Message, 0, len(last))
	for _, m := range last {
		commits = append(commits, m)
	}
	err := c.commit(ctx, r, t.topic, commits)
	switch {
	case err == nil:
		for p, m := range last {
			c.m.lag.WithLabelValues(t.topic, fmt.Sprint(p)).Set(float64(max(0, m.HighWaterMark-m.Offset-1)))
		}
	case ctx.Err() != nil:
		return err
	default:
		// The records are redelivered later, where the idempotent store
		// absorbs them.
		c.log.Warn("commit failed; the batch is stored and will be redelivered as duplicates", "topic", t.topic, "error", err)
	}
	for _, o := range outcomes {
		c.m.messages.WithLabelValues(t.topic, o).Inc()
	}
	c.m.batchMessages.WithLabelValues(t.topic).Observe(float64(len(msgs)))
	c.m.batchItems.WithLabelValues(t.topic).Observe(float64(batch.Len()))
	return nil
}

// applier writes to the store for topic, retrying a failing store with
// capped backoff until it succeeds, ctx ends, or the store refuses the
// batch as invalid.
func (c *Consumer) applier(topic string) ingest.ApplyFunc {
	return func(ctx context.Context, b graph.Batch) (graph.Written, error) {
		for attempt := 0; ; attempt++ {
			start := time.Now()
			written, err := c.w.Apply(ctx, b)
			c.m.writeSeconds.WithLabelValues(topic).Observe(time.Since(start).Seconds())
			if err == nil {
				c.storeRecovered(topic)
				return written, nil
			}
			if errors.Is(err, graph.ErrInvalid) {
				c.storeRecovered(topic)
				return graph.Written{}, err
			}
			if ctx.Err() != nil {
				return graph.Written{}, fmt.Errorf("writing to the store: %w", ctx.Err())
			}
			c.storeFailed(topic, err, attempt)
			if !sleepCtx(ctx, backoff(attempt, c.cfg.RetryMin, c.cfg.RetryMax)) {
				return graph.Written{}, fmt.Errorf("writing to the store: %w (gave up: %w)", err, ctx.Err())
			}
		}
	}
}

// countWritten adds what a write from topic did to the item metrics.
func (c *Consumer) countWritten(topic string, w graph.Written) {
	c.m.items.WithLabelValues(topic, "inserted").Add(float64(w.Inserted))
	c.m.items.WithLabelValues(topic, "updated").Add(float64(w.Updated))
	c.m.items.WithLabelValues(topic, "duplicate").Add(float64(w.Duplicates))
}

// commit commits the offsets of msgs (the last processed record of each
// partition) on r. A commit the broker refuses is retried a few times with
// backoff; the error says why the last attempt failed, or that ctx ended,
// and the caller decides what a failed commit means.
func (c *Consumer) commit(ctx context.Context, r *kafka.Reader, topic string, msgs []kafka.Message) error {
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if ctx.Err() != nil {
			return fmt.Errorf("committing: %w", ctx.Err())
		}
		if err = r.CommitMessages(ctx, msgs...); err == nil {
			return nil
		}
		c.m.commitErrors.WithLabelValues(topic).Inc()
		if !sleepCtx(ctx, backoff(attempt, c.cfg.RetryMin, c.cfg.RetryMax)) {
			return fmt.Errorf("committing: %w", err)
		}
	}
	return fmt.Errorf("committing: %w", err)
}

func (c *Consumer) storeFailed(topic string, err error, attempt int) {
	c.mu.Lock()
	first := c.storeErr == nil
	if first {
		c.storeAt = c.now()
	}
	c.storeErr = err
	c.mu.Unlock()
	c.m.storeRetries.WithLabelValues(topic).Inc()
	if first || attempt%10 == 0 {
		c.log.Warn("store unavailable; pausing this topic and retrying (nothing is committed meanwhile)", "topic", topic, "attempt", attempt+1, "error", err)
	}
}

func (c *Consumer) storeRecovered(topic string) {
	c.mu.Lock()
	was := c.storeErr
	c.storeErr = nil
	c.mu.Unlock()
	if was != nil {
		c.log.Info("store available again; resuming", "topic", topic)
	}
}

// recordHeaders turns Kafka record headers into Headers (lower-case keys,
// the first value of a repeated key wins).
func recordHeaders(hs []kafka.Header) ingest.Headers {
	if len(hs) == 0 {
		return nil
	}
	h := make(ingest.Headers, len(hs))
	for _, kv := range hs {
		k := strings.ToLower(kv.Key)
		if _, seen := h[k]; !seen {
			h[k] = string(kv.Value)
		}
	}
	return h
}

func appendBatch(dst *graph.Batch, b graph.Batch) {
	dst.Events = append(dst.Events, b.Events...)
	dst.Dependencies = append(dst.Dependencies, b.Dependencies...)
	dst.Calls = append(dst.Calls, b.Calls...)
	dst.Services = append(dst.Services, b.Services...)
}

// rejectedError summarises rejected items in one error.
func rejectedError(rs []ingest.Rejection) error {
	if len(rs) == 1 {
		return fmt.Errorf("item %d rejected: %w", rs[0].Index, rs[0].Err)
	}
	return fmt.Errorf("%d items rejected; first, item %d: %w", len(rs), rs[0].Index, rs[0].Err)
}

// rejectedReason is "undecodable" when no rejected item could be read at
// all (malformed JSON, say), and "rejected_items" when they were read but
// refused (an alert without a service).
func rejectedReason(rs []ingest.Rejection) string {
	for _, r := range rs {
		if !errors.Is(r.Err, ingest.ErrUndecodable) {
			return "rejected_items"
		}
	}
	return "undecodable"
}

// kafkaLogger routes kafka-go's printf logging to slog at level. A line
// about a cancelled context (kafka-go reports its goroutines' ends as
// errors), or any line once stopping reports true, is a clean stop, not
// a warning; a group rebalancing is routine (each topic's reader is a
// member of the group, so members join and leave whenever one starts or
// stops): both are logged at debug level.
func kafkaLogger(l *slog.Logger, level slog.Level, stopping func() bool) kafka.Logger {
	return kafka.LoggerFunc(func(format string, args ...any) {
		lv := level
		if lv > slog.LevelDebug && (stopping != nil && stopping() || routine(args)) {
			lv = slog.LevelDebug
		}
		if l.Enabled(context.Background(), lv) {
			l.Log(context.Background(), lv, fmt.Sprintf(format, args...))
		}
	})
}

// routine reports whether a log line's arguments carry a context's end
// or a group rebalance.
func routine(args []any) bool {
	for _, a := range args {
		if err, ok := a.(error); ok && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
			errors.Is(err, kafka.RebalanceInProgress) || strings.Contains(err.Error(), context.Canceled.Error())) {
			return true
		}
	}
	return false
}
