package kafka

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
	"github.com/sregraph/sregraph/ingest/otlp"
)

// kafkaNow is the fixed clock of the consumer tests.
var kafkaNow = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

// kafkaStore is the real embedded store with two switches for tests: fail
// makes Apply fail as an unreachable store would (without touching the
// data), and afterApply runs after every durable write. It also adds up
// what the writes reported.
type kafkaStore struct {
	*pebble.Store

	mu         sync.Mutex
	fail       error
	refuse     func(graph.Batch) error
	afterApply func(graph.Written)
	total      graph.Written
	failures   int
}

func mustOpenKafkaStore(tb testing.TB) *kafkaStore {
	tb.Helper()
	return &kafkaStore{Store: pebbletest.MustOpen(tb, pebble.Options{Now: func() time.Time { return kafkaNow }, CacheSize: 16 << 20})}
}

func (s *kafkaStore) Apply(ctx context.Context, b graph.Batch) (graph.Written, error) {
	s.mu.Lock()
	fail := s.fail
	if fail != nil {
		s.failures++
	}
	refuse := s.refuse
	s.mu.Unlock()
	if fail != nil {
		return graph.Written{}, fail
	}
	if refuse != nil {
		if err := refuse(b); err != nil {
			return graph.Written{}, err
		}
	}
	w, err := s.Store.Apply(ctx, b)
	if err != nil {
		return w, err
	}
	s.mu.Lock()
	s.total.Inserted += w.Inserted
	s.total.Updated += w.Updated
	s.total.Duplicates += w.Duplicates
	hook := s.afterApply
	s.mu.Unlock()
	if hook != nil {
		hook(w)
	}
	return w, nil
}

func (s *kafkaStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = err
}

func (s *kafkaStore) totals() (graph.Written, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.total, s.failures
}

func (s *kafkaStore) count(tb testing.TB) int {
	tb.Helper()
	n, err := s.CountEvents(context.Background(), graph.EventFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// kafkaCluster is an in-process Kafka-protocol broker for one test.
type kafkaCluster struct {
	*kfake.Cluster
	addrs []string
}

// loseCommits makes every OffsetCommit fail on the wire, as if the
// connection dropped before it, until the returned flag is cleared; the
// counter says how many were lost.
func loseCommits(c *kafkaCluster) (*atomic.Bool, *atomic.Int32) {
	var lose atomic.Bool
	var lost atomic.Int32
	lose.Store(true)
	c.ControlKey(kmsg.OffsetCommit.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		if !lose.Load() {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		lost.Add(1)
		return nil, errors.New("connection lost before the commit"), true
	})
	return &lose, &lost
}

func mustStartKafka(tb testing.TB, topics ...string) *kafkaCluster {
	tb.Helper()
	var all []string
	for _, t := range topics {
		all = append(all, t, DeadLetterTopic(t))
	}
	c, err := embedded.NewCluster("127.0.0.1:0", all, kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(c.Close)
	return &kafkaCluster{Cluster: c, addrs: c.ListenAddrs()}
}

// consumerConfig is a consumer's settings and the collaborators the
// tests vary.
type consumerConfig struct {
	Config
	Brokers  []string // the embedded broker's, as Options.Brokers
	Spans    *otlp.Aggregator
	Decoders map[ingest.Family]MessageDecoder
}

// options are the consumer options of c, with the tests' clock.
func (c consumerConfig) options() Options {
	return Options{Brokers: c.Brokers, Spans: c.Spans, Decoders: c.Decoders, Now: func() time.Time { return kafkaNow }}
}

// kafkaTestConfig is a consumer configuration tuned for fast group changes.
func kafkaTestConfig(addrs []string, group string, topics map[ingest.Family]string) consumerConfig {
	cfg := DefaultConfig()
	cfg.Brokers = addrs
	cfg.GroupID = group
	cfg.Topics = topics
	cfg.MaxBatch = 100
	cfg.MaxWait = 50 * time.Millisecond
	cfg.SessionTimeout = 2 * time.Second
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.RebalanceTimeout = 2 * time.Second
	cfg.JoinGroupBackoff = 200 * time.Millisecond
	cfg.RetryMin = 10 * time.Millisecond
	cfg.RetryMax = 200 * time.Millisecond
	cfg.ShutdownTimeout = 5 * time.Second
	return consumerConfig{Config: cfg}
}

// runningConsumer is a consumer running in the background.
type runningConsumer struct {
	*Consumer
	reg    *prometheus.Registry
	cancel context.CancelFunc
	done   chan error
}

func mustRunConsumer(tb testing.TB, cfg consumerConfig, w graph.Applier) *runningConsumer {
	tb.Helper()
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewTextHandler(kafkaLogWriter{tb}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts := cfg.options()
	opts.Logger, opts.Registerer = logger, reg
	c, err := NewConsumer(cfg.Config, w, opts)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &runningConsumer{Consumer: c, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	tb.Cleanup(func() { _ = r.stop(tb) })
	return r
}

// stop cancels the consumer and waits for Run to return, failing if it
// takes longer than the shutdown bound allows.
func (r *runningConsumer) stop(tb testing.TB) error {
	tb.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok {
			close(r.done)
		}
		return err
	case <-time.After(3*r.cfg.ShutdownTimeout + 5*time.Second):
		tb.Fatalf("consumer did not stop within its shutdown bound (%s)", r.cfg.ShutdownTimeout)
		return nil
	}
}

func (r *runningConsumer) counter(name string, labels ...string) float64 {
	var vec *prometheus.CounterVec
	switch name {
	case "messages":
		vec = r.m.messages
	case "dead_letters":
		vec = r.m.deadLetters
	case "items":
		vec = r.m.items
	case "store_retries":
		vec = r.m.storeRetries
	case "commit_errors":
		vec = r.m.commitErrors
	}
	var m dto.Metric
	if err := vec.WithLabelValues(labels...).Write(&m); err != nil {
		panic(err)
	}
	return m.GetCounter().GetValue()
}

// kafkaLogWriter sends log lines to the test log.
type kafkaLogWriter struct{ tb testing.TB }

func (w kafkaLogWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// kafkaRecord is one record to produce.
type kafkaRecord struct {
	partition int
	key       string
	value     []byte
	headers   map[string]string
}

// produceRecords writes records to topic, each on its partition, acknowledged by
// all replicas.
func produceRecords(tb testing.TB, addrs []string, topic string, recs ...kafkaRecord) {
	tb.Helper()
	w := &kafka.Writer{
		Addr: kafka.TCP(addrs...), Topic: topic, RequiredAcks: kafka.RequireAll, BatchTimeout: time.Millisecond,
		BatchSize: 1000,
		Balancer: kafka.BalancerFunc(func(m kafka.Message, partitions ...int) int {
			var p int
			_, _ = fmt.Sscanf(string(m.Headers[len(m.Headers)-1].Value), "%d", &p)
			return p
		}),
	}
	defer w.Close()
	msgs := make([]kafka.Message, len(recs))
	for i, r := range recs {
		var hs []kafka.Header
		for k, v := range r.headers {
			hs = append(hs, kafka.Header{Key: k, Value: []byte(v)})
		}
		// The last header routes the record; the balancer reads it.
		hs = append(hs, kafka.Header{Key: "test-partition", Value: []byte(fmt.Sprint(r.partition))})
		var key []byte
		if r.key != "" {
			key = []byte(r.key)
		}
		msgs[i] = kafka.Message{Key: key, Value: r.value, Headers: hs}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		tb.Fatalf("producing %d records to %s: %v", len(msgs), topic, err)
	}
}

// kafkaCanonicalRecords makes n canonical deploy events spread over the
// partitions, event i on partition i%partitions.
func kafkaCanonicalRecords(n, partitions int, service string) []kafkaRecord {
	recs := make([]kafkaRecord, n)
	for i := range recs {
		body, _ := json.Marshal(map[string]any{
			"id": fmt.Sprintf("%s-%d", service, i), "kind": "deploy", "service": fmt.Sprintf("%s-%d", service, i%7),
			"at": kafkaNow.Add(-time.Duration(i+1) * time.Second).Format(time.RFC3339), "source": "test",
			"summary": fmt.Sprintf("deploy %d", i),
		})
		recs[i] = kafkaRecord{partition: i % partitions, value: body}
	}
	return recs
}

// committedOffsets returns the group's committed offset of each partition of
// topic (-1 when none).
func committedOffsets(tb testing.TB, addrs []string, group, topic string) []int64 {
	tb.Helper()
	client := &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 10 * time.Second}
	parts := []int{0, 1, 2, 3, 4}
	resp, err := client.OffsetFetch(context.Background(), &kafka.OffsetFetchRequest{GroupID: group, Topics: map[string][]int{topic: parts}})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]int64, len(parts))
	for i := range out {
		out[i] = -1
	}
	for _, p := range resp.Topics[topic] {
		out[p.Partition] = p.CommittedOffset
	}
	return out
}

// kafkaEndOffsets returns the next offset of each partition of topic.
func kafkaEndOffsets(tb testing.TB, addrs []string, topic string) []int64 {
	tb.Helper()
	client := &kafka.Client{Addr: kafka.TCP(addrs...), Timeout: 10 * time.Second}
	req := map[string][]kafka.OffsetRequest{}
	for p := range embedded.Partitions {
		req[topic] = append(req[topic], kafka.LastOffsetOf(p))
	}
	resp, err := client.ListOffsets(context.Background(), &kafka.ListOffsetsRequest{Topics: req})
	if err != nil {
		tb.Fatal(err)
	}
	out := make([]int64, embedded.Partitions)
	for _, p := range resp.Topics[topic] {
		if p.Error != nil {
			tb.Fatalf("list offsets of %s/%d: %v", topic, p.Partition, p.Error)
		}
		out[p.Partition] = p.LastOffset
	}
	return out
}

func sumOffsets(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += max(x, 0)
	}
	return s
}

// readTopic reads n records from topic (all partitions, from the start),
// failing if fewer arrive within the timeout.
func readTopic(tb testing.TB, addrs []string, topic string, n int) []kafka.Message {
	tb.Helper()
	var out []kafka.Message
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for p := range embedded.Partitions {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: addrs, Topic: topic, Partition: p, MaxWait: 50 * time.Millisecond})
		end := kafkaEndOffsets(tb, addrs, topic)[p]
		for off := int64(0); off < end; off++ {
			m, err := r.FetchMessage(ctx)
			if err != nil {
				_ = r.Close()
				tb.Fatalf("reading %s/%d: %v", topic, p, err)
			}
			out = append(out, m)
		}
		_ = r.Close()
	}
	if len(out) != n {
		tb.Fatalf("%s holds %d records, want %d", topic, len(out), n)
	}
	return out
}

func recordHeader(m kafka.Message, key string) (string, bool) {
	for _, h := range m.Headers {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

// TestConsumerPoisonMessage: an unreadable record goes to the dead-letter
// topic with its headers and where it came from, its offset is committed,
// and the records after it on the same partition are stored.
func TestConsumerPoisonMessage(t *testing.T) {
	const topic = "sre.deploys"
	c := mustStartKafka(t, topic)
	store := mustOpenKafkaStore(t)
	good := kafkaCanonicalRecords(2, 1, "checkout")
	poison := kafkaRecord{partition: 0, key: "k1", value: []byte("{not json at all"), headers: map[string]string{"traceparent": "00-abc-def-01"}}
	produceRecords(t, c.addrs, topic, good[0], poison, good[1])

	r := mustRunConsumer(t, kafkaTestConfig(c.addrs, "poison", map[ingest.Family]string{ingest.FamilyDeploys: topic}), store)
	ingesttest.Wait(t, 20*time.Second, "three records committed", func() bool { return committedOffsets(t, c.addrs, "poison", topic)[0] == 3 })

	if n := store.count(t); n != 2 {
		t.Errorf("store holds %d events, want the 2 good ones around the poison", n)
	}
	dead := readTopic(t, c.addrs, DeadLetterTopic(topic), 1)[0]
	if string(dead.Value) != string(poison.value) || string(dead.Key) != "k1" {
		t.Errorf("dead letter = key %q value %q, want the original record", dead.Key, dead.Value)
	}
	want := map[string]string{
		HeaderTopic: topic, HeaderPartition: "0", HeaderOffset: "1", HeaderReason: "undecodable",
		"traceparent": "00-abc-def-01", "test-partition": "0",
	}
	for k, v := range want {
		if got, ok := recordHeader(dead, k); !ok || got != v {
			t.Errorf("dead letter header %s = %q (present %v), want %q", k, got, ok, v)
		}
	}
	if e, _ := recordHeader(dead, HeaderError); !strings.Contains(e, "malformed JSON") && !strings.Contains(e, "JSON") {
		t.Errorf("dead letter %s = %q, want it to say the JSON is malformed", HeaderError, e)
	}
	if got := r.counter("dead_letters", topic, "undecodable"); got != 1 {
		t.Errorf("dead letter count = %v, want 1", got)
	}
	if got := r.counter("messages", topic, "stored"); got != 2 {
		t.Errorf("stored message count = %v, want 2", got)
	}
}

// TestConsumerPartialRecord: a readable record with one bad item stores
// the good items and dead-letters the record once, listing the rejected
// item.
func TestConsumerPartialRecord(t *testing.T) {
	const topic = "sre.slo"
	c := mustStartKafka(t, topic)
	store := mustOpenKafkaStore(t)
	body := `[{"kind":"deploy","service":"a","at":"2026-11-21T11:00:00Z","source":"t"},
	          {"kind":"explode","service":"b","at":"2026-11-21T11:00:00Z","source":"t"},
	          {"kind":"deploy","service":"c","at":"2026-11-21T11:01:00Z","source":"t"}]`
	produceRecords(t, c.addrs, topic, kafkaRecord{partition: 2, value: []byte(body)})
	r := mustRunConsumer(t, kafkaTestConfig(c.addrs, "partial", map[ingest.Family]string{ingest.FamilySLO: topic}), store)
	ingesttest.Wait(t, 20*time.Second, "the record committed", func() bool { return committedOffsets(t, c.addrs, "partial", topic)[2] == 1 })
	if n := store.count(t); n != 2 {
		t.Errorf("store holds %d events, want the 2 good items", n)
	}
	dead := readTopic(t, c.addrs, DeadLetterTopic(topic), 1)[0]
	rej, _ := recordHeader(dead, HeaderRejected)
	if !strings.HasPrefix(rej, "1: ") || !strings.Contains(rej, "explode") {
		t.Errorf("%s = %q, want item 1 and its unknown kind", HeaderRejected, rej)
	}
	if got := r.counter("messages", topic, "partial"); got != 1 {
		t.Errorf("partial message count = %v, want 1", got)
	}
}

// TestConsumerStoreOutage: while the store fails, the consumer pauses,
// retries, commits nothing and dead-letters nothing, and says why it is
// not ready; once the store is back it resumes and nothing is lost.
func TestConsumerStoreOutage(t *testing.T) {
	const topic = "sre.scale"
	c := mustStartKafka(t, topic)
	store := mustOpenKafkaStore(t)
	store.setFail(fmt.Errorf("disk on fire: %w", graph.ErrUnavailable))
	produceRecords(t, c.addrs, topic, kafkaCanonicalRecords(40, 5, "cart")...)

	r := mustRunConsumer(t, kafkaTestConfig(c.addrs, "outage", map[ingest.Family]string{ingest.FamilyScale: topic}), store)
	ingesttest.Wait(t, 20*time.Second, "several failed writes", func() bool { _, f := store.totals(); return f >= 5 })
	err := r.Ready()
	if err == nil || !strings.Contains(err.Error(), "store unavailable since 2026-11-21T12:00:00Z") || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Ready() = %v, want it to say the store is unavailable, since when and why", err)
	}
	if got := committedOffsets(t, c.addrs, "outage", topic); sumOffsets(got) != 0 {
		t.Errorf("committed offsets during the outage = %v, want none", got)
	}
	if got := kafkaEndOffsets(t, c.addrs, DeadLetterTopic(topic)); sumOffsets(got) != 0 {
		t.Errorf("dead letters during the outage = %v, want none", got)
	}
	if n := store.count(t); n != 0 {
		t.Fatalf("store holds %d events during the outage", n)
	}

	store.setFail(nil)
	ingesttest.Wait(t, 20*time.Second, "all 40 records committed", func() bool { return sumOffsets(committedOffsets(t, c.addrs, "outage", topic)) == 40 })
	if n := store.count(t); n != 40 {
		t.Errorf("store holds %d events after the outage, want 40", n)
	}
	if err := r.Ready(); err != nil {
		t.Errorf("Ready() after the outage = %v, want nil", err)
	}
	if got := r.counter("store_retries", topic); got < 5 {
		t.Errorf("store retry count = %v, want at least 5", got)
	}
}

// TestConsumerCrashBetweenWriteAndCommit: the store has the batch but the
// commit never reaches the broker (the process dies in between); a new
// consumer in the group gets the records again and the store keeps one
// copy of each.
func TestConsumerCrashBetweenWriteAndCommit(t *testing.T) {
	const topic = "sre.deploys"
	const n = 60
	c := mustStartKafka(t, topic)
	store := mustOpenKafkaStore(t)
	produceRecords(t, c.addrs, topic, kafkaCanonicalRecords(n, 5, "payments")...)

	// Every OffsetCommit is lost on the wire until dropCommits is cleared.
	dropCommits, dropped := loseCommits(c)

	cfg := kafkaTestConfig(c.addrs, "crash", map[ingest.Family]string{ingest.FamilyDeploys: topic})
	cfg.ShutdownTimeout = time.Second
	first := mustRunConsumer(t, cfg, store)
	ingesttest.Wait(t, 20*time.Second, "all records stored by the first consumer", func() bool { return store.count(t) == n })
	if err := first.stop(t); err != nil {
		t.Fatalf("first consumer: %v", err)
	}
	if dropped.Load() == 0 {
		t.Fatal("no commit was attempted, so nothing was tested")
	}
	if got := committedOffsets(t, c.addrs, "crash", topic); sumOffsets(got) != 0 {
		t.Fatalf("committed offsets after the crash = %v, want none", got)
	}
	before, _ := store.totals()
	dropCommits.Store(false)

	second := mustRunConsumer(t, cfg, store)
	ingesttest.Wait(t, 20*time.Second, "all records committed by the second consumer", func() bool { return sumOffsets(committedOffsets(t, c.addrs, "crash", topic)) == n })
	after, _ := store.totals()
	if got := after.Duplicates - before.Duplicates; got < n {
		t.Errorf("the second consumer saw %d duplicates, want all %d records redelivered as duplicates", got, n)
	}
	if got := after.Inserted - before.Inserted; got != 0 {
		t.Errorf("the second consumer inserted %d events, want 0", got)
	}
	if got := store.count(t); got != n {
		t.Errorf("store holds %d events, want %d (one copy each)", got, n)
	}
	if got := second.counter("items", topic, "duplicate"); got < n {
		t.Errorf("duplicate item count = %v, want ≥ %d", got, n)
	}
}

// TestConsumerRebalance: two consumers in one group share the partitions;
// one joining and the other leaving mid-stream loses nothing.
func TestConsumerRebalance(t *testing.T) {
	const topic = "sre.tickets"
	const n = 600
	c := mustStartKafka(t, topic)
	store := mustOpenKafkaStore(t)
	recs := kafkaCanonicalRecords(n, 5, "orders")
	cfg := kafkaTestConfig(c.addrs, "rebalance", map[ingest.Family]string{ingest.FamilyTickets: topic})
	cfg.MaxBatch = 10

	// A producer keeps records coming while the group changes.
	produced := make(chan struct{})
	go func() {
		defer close(produced)
		for i := 0; i < n; i += 5 {
			produceRecords(t, c.addrs, topic, recs[i:i+5]...)
			time.Sleep(40 * time.Millisecond)
		}
	}()
	first := mustRunConsumer(t, cfg, store)
	ingesttest.Wait(t, 20*time.Second, "the first consumer to store something", func() bool { return store.count(t) > 0 })

	second := mustRunConsumer(t, cfg, store) // joins: the group rebalances
	ingesttest.Wait(t, 30*time.Second, "both consumers to take part", func() bool {
		return first.counter("messages", topic, "stored") > 0 && second.counter("messages", topic, "stored") > 0
	})
	if err := first.stop(t); err != nil { // leaves: the group rebalances again
		t.Fatalf("first consumer: %v", err)
	}
	<-produced
	ingesttest.Wait(t, 30*time.Second, "all records committed", func() bool { return sumOffsets(committedOffsets(t, c.addrs, "rebalance", topic)) == n })
	if got := store.count(t); got != n {
		t.Errorf("store holds %d events, want %d", got, n)
	}
	for i := range recs {
		var e struct{ ID string }
		_ = json.Unmarshal(recs[i].value, &e)
		ev := graph.Event{Source: "test", ExternalID: e.ID, Kind: graph.KindDeploy, Service: "x", At: kafkaNow}
		if err := ev.Normalize(kafkaNow); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Event(context.Background(), ev.ID); err != nil {
			t.Errorf("record %d (%s): %v", i, e.ID, err)
		}
	}
	t.Logf("first consumer stored %v records, second %v", first.counter("messages", topic, "stored"), second.counter("messages", topic, "stored"))
}

// TestConsumerGracefulShutdown: cancelling Run finishes the in-flight
// batch and commits it within the shutdown bound.
func TestConsumerGracefulShutdown(t *testing.T) {
	const topic = "sre.deploys"
	c := mustStartKafka(t, topic)
	store := mustOpenKafkaStore(t)
	produceRecords(t, c.addrs, topic, kafkaCanonicalRecords(10, 1, "search")...)
	cfg := kafkaTestConfig(c.addrs, "graceful", map[ingest.Family]string{ingest.FamilyDeploys: topic})
	cfg.MaxBatch = 10
	cfg.MaxWait = 2 * time.Second

	// The store is slow: the shutdown arrives while the batch is being
	// written.
	release := make(chan struct{})
	started := make(chan struct{})
	var r *runningConsumer
	var once sync.Once
	store.mu.Lock()
	store.afterApply = func(graph.Written) {
		once.Do(func() {
			<-started
			r.cancel()
			time.Sleep(100 * time.Millisecond)
			close(release)
		})
	}
	store.mu.Unlock()
	r = mustRunConsumer(t, cfg, store)
	close(started)
	<-release
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > cfg.ShutdownTimeout+time.Second {
		t.Errorf("shutdown took %s, want within %s", took, cfg.ShutdownTimeout)
	}
	if got := committedOffsets(t, c.addrs, "graceful", topic)[0]; got != 10 {
		t.Errorf("committed offset after shutdown = %d, want 10 (the in-flight batch)", got)
	}
}

// TestEmbeddedBroker: the broker `serve --kafka embedded` starts takes
// records from a plain producer and hands them to the consumer, on the
// asked address, and stops with its context.
func TestEmbeddedBroker(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := DefaultConfig()
	addrs, stop, err := embedded.Start(ctx, "127.0.0.1:0", cfg.TopicNames())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if len(addrs) != 1 || !strings.HasPrefix(addrs[0], "127.0.0.1:") {
		t.Fatalf("addrs = %v, want one loopback address", addrs)
	}
	for _, topic := range cfg.TopicNames() {
		if got := len(kafkaEndOffsets(t, addrs, topic)); got != embedded.Partitions {
			t.Errorf("topic %s has %d partitions, want %d", topic, got, embedded.Partitions)
		}
	}
	store := mustOpenKafkaStore(t)
	tc := kafkaTestConfig(addrs, "embedded", map[ingest.Family]string{ingest.FamilyDeploys: "sre.deploys"})
	tc.Config.Brokers = nil
	tc.Embedded = true
	tc.EmbeddedAddr = "127.0.0.1:0"
	// A second broker, the way `serve --kafka embedded` starts one; the
	// consumer reads from it, not from the first.
	brokers, stop2, err := embedded.Start(ctx, tc.EmbeddedAddr, tc.TopicNames())
	if err != nil {
		t.Fatal(err)
	}
	defer stop2()
	tc.Brokers = brokers
	if err := tc.Validate(); err != nil || len(tc.Brokers) != 1 || tc.Brokers[0] == addrs[0] {
		t.Fatalf("embedded broker: brokers %v, Validate() = %v", tc.Brokers, err)
	}
	produceRecords(t, tc.Brokers, "sre.deploys", kafkaCanonicalRecords(5, 5, "x")...)
	r := mustRunConsumer(t, tc, store)
	ingesttest.Wait(t, 20*time.Second, "5 events stored", func() bool { return store.count(t) == 5 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	cancel()
	ingesttest.Wait(t, 5*time.Second, "the broker to stop with its context", func() bool {
		conn, err := net.DialTimeout("tcp", addrs[0], time.Second)
		if err == nil {
			_ = conn.Close()
		}
		return err != nil
	})
}

// TestConsumerDeadLetterOutage: while the dead-letter topic cannot be
// written, the poison record's offset is not committed (nor anything
// after it on its partition); once it can, the dead letter is written and
// the partition moves on.
func TestConsumerDeadLetterOutage(t *testing.T) {
	const topic = "sre.tickets"
	c := mustStartKafka(t, topic)
	store := mustOpenKafkaStore(t)

	// Produce requests to the dead-letter topic fail until dlqDown is
	// cleared.
	var dlqDown atomic.Bool
	var refused atomic.Int32
	dlqDown.Store(true)
	c.ControlKey(kmsg.Produce.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if !dlqDown.Load() {
			return nil, nil, false
		}
		for _, tp := range req.(*kmsg.ProduceRequest).Topics {
			if tp.Topic == DeadLetterTopic(topic) {
				refused.Add(1)
				return nil, errors.New("dead-letter topic unavailable"), true
			}
		}
		return nil, nil, false
	})
	good := kafkaCanonicalRecords(2, 1, "billing")
	produceRecords(t, c.addrs, topic, good[0], kafkaRecord{partition: 0, value: []byte("][")}, good[1])

	r := mustRunConsumer(t, kafkaTestConfig(c.addrs, "dlqdown", map[ingest.Family]string{ingest.FamilyTickets: topic}), store)
	ingesttest.Wait(t, 20*time.Second, "Ready to say the dead-letter topic is unavailable", func() bool {
		err := r.Ready()
		return err != nil && strings.Contains(err.Error(), "dead-letter topic unavailable since 2026-11-21T12:00:00Z: sre.tickets.dlq")
	})
	if refused.Load() < 2 {
		t.Errorf("%d dead-letter writes refused, want several attempts", refused.Load())
	}
	if got := committedOffsets(t, c.addrs, "dlqdown", topic)[0]; got > 0 {
		t.Fatalf("committed offset %d while the poison record was neither stored nor dead-lettered", got)
	}

	dlqDown.Store(false)
	ingesttest.Wait(t, 20*time.Second, "the partition to move on", func() bool { return committedOffsets(t, c.addrs, "dlqdown", topic)[0] == 3 })
	readTopic(t, c.addrs, DeadLetterTopic(topic), 1)
	if n := store.count(t); n != 2 {
		t.Errorf("store holds %d events, want 2", n)
	}
	if err := r.Ready(); err != nil {
		t.Errorf("Ready() after the outage = %v", err)
	}
}

// TestConsumerStoreRefusesRecord: when the store refuses a batch as
// invalid, the consumer finds the record it refuses, dead-letters it, and
// stores the rest of the batch.
func TestConsumerStoreRefusesRecord(t *testing.T) {
	const topic = "sre.deploys"
	c := mustStartKafka(t, topic)
	store := mustOpenKafkaStore(t)
	store.refuse = func(b graph.Batch) error {
		for _, e := range b.Events {
			if e.Service == "forbidden" {
				return graph.Invalidf("service %q is reserved", e.Service)
			}
		}
		return nil
	}
	recs := kafkaCanonicalRecords(6, 1, "shop")
	refused := kafkaRecord{partition: 0, value: []byte(`{"kind":"deploy","service":"forbidden","at":"2026-11-21T11:00:00Z","source":"t"}`)}
	produceRecords(t, c.addrs, topic, append(append(recs[:3:3], refused), recs[3:]...)...)
	cfg := kafkaTestConfig(c.addrs, "refuse", map[ingest.Family]string{ingest.FamilyDeploys: topic})
	cfg.MaxWait = time.Second // one batch for all seven records
	r := mustRunConsumer(t, cfg, store)
	ingesttest.Wait(t, 20*time.Second, "all records committed", func() bool { return committedOffsets(t, c.addrs, "refuse", topic)[0] == 7 })
	if n := store.count(t); n != 6 {
		t.Errorf("store holds %d events, want the 6 it accepts", n)
	}
	dead := readTopic(t, c.addrs, DeadLetterTopic(topic), 1)[0]
	if got, _ := recordHeader(dead, HeaderReason); got != "store_rejected" {
		t.Errorf("reason = %q, want store_rejected", got)
	}
	if got, _ := recordHeader(dead, HeaderOffset); got != "3" {
		t.Errorf("offset = %q, want 3", got)
	}
	if got, _ := recordHeader(dead, HeaderError); !strings.Contains(got, "reserved") {
		t.Errorf("error = %q, want the store's reason", got)
	}
	if got := r.counter("messages", topic, "stored"); got != 6 {
		t.Errorf("stored messages = %v, want 6", got)
	}
}
