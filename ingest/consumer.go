package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/sregraph/sregraph/graph"
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
type MessageDecoder func(value []byte, h Headers, now time.Time) (Decoded, error)

// Decoded is what a MessageDecoder made of one record.
type Decoded struct {
	// Format names the detected format, for logs and dead letters.
	Format   string
	Batch    graph.Batch
	Rejected []Rejection
}

// Rejection is one item of a record that could not be stored.
type Rejection struct {
	Index int
	Err   error
}

// DetectDecoder is the decoder of the event families: Detect picks the
// format from the headers, then the content; rename (nil for none)
// applies service aliases to the decoded items.
func DetectDecoder(rename func([]Item) []Item) MessageDecoder {
	return func(value []byte, h Headers, now time.Time) (Decoded, error) {
		name, dec := Detect(value, h)
		if dec == nil {
			return Decoded{Format: name}, fmt.Errorf("unrecognised format: %w", ErrUndecodable)
		}
		items, err := dec(value, h, now)
		if err != nil {
			return Decoded{Format: name}, fmt.Errorf("%s: %w", name, err)
		}
		if rename != nil {
			items = rename(items)
		}
		d := Decoded{Format: name}
		for i, it := range items {
			switch {
			case it.Err != nil:
				d.Rejected = append(d.Rejected, Rejection{Index: i, Err: it.Err})
			case it.Event != nil:
				d.Batch.Events = append(d.Batch.Events, *it.Event)
			case it.Dependency != nil:
				d.Batch.Dependencies = append(d.Batch.Dependencies, *it.Dependency)
			}
		}
		return d, nil
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
// The spans family (OTLP traces) is consumed only when KafkaConfig.Spans
// is set (runSpans: its records feed a stateful aggregator) or
// KafkaConfig.Decoders has a decoder for FamilySpans; any family's decoder
// can be replaced the same way.
type Consumer struct {
	cfg    KafkaConfig
	w      graph.Applier
	log    *slog.Logger
	now    func() time.Time
	topics []topicConsumer
	dlq    *kafka.Writer
	m      *consumerMetrics

	mu        sync.Mutex
	connected map[string]error // topic → last metadata error; nil once reachable
	storeErr  error
	storeAt   time.Time
	dlqErr    error
	dlqAt     time.Time
}

// topicConsumer is one topic and how to decode it.
type topicConsumer struct {
	family Family
	topic  string
	decode MessageDecoder
	// spans, when set, replaces decode: the topic carries OTLP spans for
	// this aggregator (runSpans).
	spans *otlp.Aggregator
}

// NewConsumer validates cfg and builds a consumer that writes to w. It
// registers its metrics with reg (nil for none). now is the clock that
// bounds future timestamps in decoded events.
func NewConsumer(cfg KafkaConfig, w graph.Applier, logger *slog.Logger, reg prometheus.Registerer, now func() time.Time) (*Consumer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("kafka consumer: no brokers (give --kafka-brokers, or --kafka embedded)")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	c := &Consumer{
		cfg: cfg, w: w, log: logger.With("component", "kafka"), now: now,
		connected: map[string]error{},
	}
	for _, f := range cfg.families() {
		if f == FamilySpans && cfg.Spans != nil {
			c.topics = append(c.topics, topicConsumer{family: f, topic: cfg.Topics[f], spans: cfg.Spans})
			c.connected[cfg.Topics[f]] = errors.New("no broker has answered yet")
			continue
		}
		dec := cfg.Decoders[f]
		if dec == nil && f == FamilySpans {
			c.log.Warn("no decoder for the spans family; not consuming it", "topic", cfg.Topics[f])
			continue
		}
		if dec == nil {
			dec = DetectDecoder(cfg.Rename)
		}
		c.topics = append(c.topics, topicConsumer{family: f, topic: cfg.Topics[f], decode: dec})
		c.connected[cfg.Topics[f]] = errors.New("no broker has answered yet")
	}
	if len(c.topics) == 0 {
		return nil, ErrKafkaNoTopics
	}
	m, err := newConsumerMetrics(reg)
	if err != nil {
		return nil, fmt.Errorf("kafka consumer metrics: %w", err)
	}
	c.m = m
	c.dlq = &kafka.Writer{
		Addr:                   kafka.TCP(cfg.Brokers...),
		Balancer:               &kafka.Hash{},
		RequiredAcks:           kafka.RequireAll,
		BatchTimeout:           5 * time.Millisecond,
		MaxAttempts:            3,
		AllowAutoTopicCreation: true,
		Logger:                 kafkaLogger(c.log, slog.LevelDebug),
		ErrorLogger:            kafkaLogger(c.log, slog.LevelWarn),
	}
	return c, nil
}

// Topics lists the topics the consumer reads.
func (c *Consumer) Topics() []string {
	ts := make([]string, len(c.topics))
	for i, t := range c.topics {
		ts[i] = t.topic
	}
	return ts
}

// Ready returns nil when the consumer is connected and writing, and
// otherwise an error saying why not, for /readyz.
func (c *Consumer) Ready() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var errs []error
	for _, t := range c.topics {
		if err := c.connected[t.topic]; err != nil {
			errs = append(errs, fmt.Errorf("kafka: topic %s: connecting to %s: %w", t.topic, strings.Join(c.cfg.Brokers, ","), err))
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
	c.log.Info("consuming", "brokers", strings.Join(c.cfg.Brokers, ","), "group", c.cfg.GroupID, "topics", strings.Join(c.Topics(), ","))
	var wg sync.WaitGroup
	for _, t := range c.topics {
		wg.Add(2)
		go func() {
			defer wg.Done()
			c.watchBrokers(ctx, t.topic)
		}()
		go func() {
			defer wg.Done()
			if t.spans != nil {
				c.runSpans(ctx, t)
				return
			}
			c.runTopic(ctx, t)
		}()
	}
	wg.Wait()
	if err := c.dlq.Close(); err != nil {
		return fmt.Errorf("closing the dead-letter writer: %w", err)
	}
	c.log.Info("stopped consuming")
	return nil
}

// watchBrokers marks topic reachable once a broker answers a metadata
// request for it, retrying with backoff until then.
func (c *Consumer) watchBrokers(ctx context.Context, topic string) {
	client := &kafka.Client{Addr: kafka.TCP(c.cfg.Brokers...), Timeout: 10 * time.Second}
	for attempt := 0; ; attempt++ {
		resp, err := client.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
		if err == nil {
			for _, t := range resp.Topics {
				if t.Name == topic && t.Error != nil {
					c.log.Warn("topic is not available yet; consuming it once it exists", "topic", topic, "error", t.Error)
				}
			}
			c.setConnected(topic, nil)
			return
		}
		c.setConnected(topic, err)
		if !sleepCtx(ctx, backoff(attempt, c.cfg.RetryMin, c.cfg.RetryMax)) {
			return
		}
	}
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
	r := kafka.NewReader(c.readerConfig(t.topic))
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
	done := make(chan error, 1)
	go func() { done <- r.Close() }()
	select {
	case err := <-done:
		if err != nil {
			c.log.Warn("leaving the group", "topic", topic, "error", err)
		}
	case <-time.After(c.cfg.ShutdownTimeout):
		c.log.Warn("leaving the group took longer than the shutdown timeout; giving up", "topic", topic, "timeout", c.cfg.ShutdownTimeout)
	}
}

func (c *Consumer) readerConfig(topic string) kafka.ReaderConfig {
	start := kafka.FirstOffset
	if c.cfg.StartOffset == "last" {
		start = kafka.LastOffset
	}
	return kafka.ReaderConfig{
		Brokers:                c.cfg.Brokers,
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
		Logger:                 kafkaLogger(c.log.With("topic", topic), slog.LevelDebug),
		ErrorLogger:            kafkaLogger(c.log.With("topic", topic), slog.LevelWarn),
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
	rejected []Rejection
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
		written, err := c.apply(ctx, t.topic, batch)
		if errors.Is(err, graph.ErrInvalid) {
			// The store refused something the decoder let through: find
			// the records it refuses, one by one, and dead-letter them.
			written, letters, err = c.applyEach(ctx, t.topic, msgs, decoded, outcomes, letters)
		}
		if err != nil {
			return err
		}
		c.m.items.WithLabelValues(t.topic, "inserted").Add(float64(written.Inserted))
		c.m.items.WithLabelValues(t.topic, "updated").Add(float64(written.Updated))
		c.m.items.WithLabelValues(t.topic, "duplicate").Add(float64(written.Duplicates))
	}
	if len(letters) > 0 {
		if err := c.deadLetter(ctx, t.topic, letters); err != nil {
			return err
		}
	}
	if err := c.commit(ctx, r, t.topic, msgs); err != nil {
		return err
	}
	for _, o := range outcomes {
		c.m.messages.WithLabelValues(t.topic, o).Inc()
	}
	c.m.batchMessages.WithLabelValues(t.topic).Observe(float64(len(msgs)))
	c.m.batchItems.WithLabelValues(t.topic).Observe(float64(batch.Len()))
	return nil
}

// apply writes b, retrying a failing store with capped backoff until it
// succeeds, ctx ends, or the store rejects the batch as invalid.
func (c *Consumer) apply(ctx context.Context, topic string, b graph.Batch) (graph.Written, error) {
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

// applyEach writes the batch record by record after the store refused it
// as a whole, dead-lettering the records it refuses.
func (c *Consumer) applyEach(ctx context.Context, topic string, msgs []kafka.Message, decoded []Decoded, outcomes []string, letters []letter) (graph.Written, []letter, error) {
	var total graph.Written
	for i, d := range decoded {
		if d.Batch.Len() == 0 {
			continue
		}
		written, err := c.apply(ctx, topic, d.Batch)
		switch {
		case errors.Is(err, graph.ErrInvalid):
			letters = append(letters, letter{msg: msgs[i], err: fmt.Errorf("store refused it: %w", err), reason: "store_rejected"})
			outcomes[i] = "dead_lettered"
		case err != nil:
			return total, letters, err
		default:
			total.Inserted += written.Inserted
			total.Updated += written.Updated
			total.Duplicates += written.Duplicates
		}
	}
	return total, letters, nil
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

// commit commits the highest offset of each partition in msgs. A commit
// the broker refuses is retried a few times; if it still fails, the
// records are redelivered later, where the idempotent store absorbs them.
func (c *Consumer) commit(ctx context.Context, r *kafka.Reader, topic string, msgs []kafka.Message) error {
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
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		if ctx.Err() != nil {
			return fmt.Errorf("committing: %w", ctx.Err())
		}
		if err = r.CommitMessages(ctx, commits...); err == nil {
			break
		}
		c.m.commitErrors.WithLabelValues(topic).Inc()
		if !sleepCtx(ctx, backoff(attempt, c.cfg.RetryMin, c.cfg.RetryMax)) {
			return fmt.Errorf("committing: %w", err)
		}
	}
	if err != nil {
		c.log.Warn("commit failed; the batch is stored and will be redelivered as duplicates", "topic", topic, "error", err)
		return nil
	}
	for p, m := range last {
		c.m.lag.WithLabelValues(topic, fmt.Sprint(p)).Set(float64(max(0, m.HighWaterMark-m.Offset-1)))
	}
	return nil
}

// recordHeaders turns Kafka record headers into Headers (lower-case keys,
// the first value of a repeated key wins).
func recordHeaders(hs []kafka.Header) Headers {
	if len(hs) == 0 {
		return nil
	}
	h := make(Headers, len(hs))
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
func rejectedError(rs []Rejection) error {
	if len(rs) == 1 {
		return fmt.Errorf("item %d rejected: %w", rs[0].Index, rs[0].Err)
	}
	return fmt.Errorf("%d items rejected; first, item %d: %w", len(rs), rs[0].Index, rs[0].Err)
}

// rejectedReason is "undecodable" when no rejected item could be read at
// all (malformed JSON, say), and "rejected_items" when they were read but
// refused (an alert without a service).
func rejectedReason(rs []Rejection) string {
	for _, r := range rs {
		if !errors.Is(r.Err, ErrUndecodable) {
			return "rejected_items"
		}
	}
	return "undecodable"
}

// backoff is the capped exponential backoff with full jitter before
// attempt+1.
func backoff(attempt int, lo, hi time.Duration) time.Duration {
	d := lo << min(attempt, 20)
	if d <= 0 || d > hi {
		d = hi
	}
	return d/2 + rand.N(d/2+1)
}

// sleepCtx sleeps for d and reports whether ctx is still alive.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// graceContext returns a context that ends grace after parent ends, so
// that the in-flight batch can be finished and committed at shutdown.
func graceContext(parent context.Context, grace time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	var mu sync.Mutex
	var timer *time.Timer
	stop := context.AfterFunc(parent, func() {
		mu.Lock()
		defer mu.Unlock()
		timer = time.AfterFunc(grace, cancel)
	})
	return ctx, func() {
		stop()
		mu.Lock()
		if timer != nil {
			timer.Stop()
		}
		mu.Unlock()
		cancel()
	}
}

// kafkaLogger routes kafka-go's printf logging to slog at level.
func kafkaLogger(l *slog.Logger, level slog.Level) kafka.Logger {
	return kafka.LoggerFunc(func(format string, args ...any) {
		if l.Enabled(context.Background(), level) {
			l.Log(context.Background(), level, fmt.Sprintf(format, args...))
		}
	})
}

// consumerMetrics are the consumer's Prometheus metrics.
type consumerMetrics struct {
	messages      *prometheus.CounterVec
	items         *prometheus.CounterVec
	deadLetters   *prometheus.CounterVec
	lag           *prometheus.GaugeVec
	writeSeconds  *prometheus.HistogramVec
	batchMessages *prometheus.HistogramVec
	batchItems    *prometheus.HistogramVec
	storeRetries  *prometheus.CounterVec
	commitErrors  *prometheus.CounterVec
}

func newConsumerMetrics(reg prometheus.Registerer) (*consumerMetrics, error) {
	sizes := prometheus.ExponentialBuckets(1, 4, 9)
	m := &consumerMetrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sregraph_kafka_messages_total",
			Help: "Kafka records processed and committed, by topic and outcome (stored, partial, dead_lettered, empty).",
		}, []string{"topic", "outcome"}),
		items: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sregraph_kafka_items_total",
			Help: "Items written to the store from Kafka, by topic and result (inserted, updated, duplicate).",
		}, []string{"topic", "result"}),
		deadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sregraph_kafka_dead_letters_total",
			Help: "Records written to <topic>.dlq, by source topic and reason (undecodable, rejected_items, store_rejected).",
		}, []string{"topic", "reason"}),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sregraph_kafka_consumer_lag",
			Help: "Records behind the partition's high-water mark at the last commit, by topic and partition.",
		}, []string{"topic", "partition"}),
		writeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sregraph_kafka_store_write_seconds",
			Help:    "Latency of one batch write to the store, by topic (failed attempts included).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
		}, []string{"topic"}),
		batchMessages: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sregraph_kafka_batch_messages",
			Help:    "Records per committed batch, by topic.",
			Buckets: sizes,
		}, []string{"topic"}),
		batchItems: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sregraph_kafka_batch_items",
			Help:    "Items (events, dependencies, call buckets) per batch written to the store, by topic.",
			Buckets: sizes,
		}, []string{"topic"}),
		storeRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sregraph_kafka_store_retries_total",
			Help: "Failed batch writes to the store that were retried, by topic.",
		}, []string{"topic"}),
		commitErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sregraph_kafka_commit_errors_total",
			Help: "Offset commits the broker refused, by topic.",
		}, []string{"topic"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, col := range []prometheus.Collector{m.messages, m.items, m.deadLetters, m.lag, m.writeSeconds, m.batchMessages, m.batchItems, m.storeRetries, m.commitErrors} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}
