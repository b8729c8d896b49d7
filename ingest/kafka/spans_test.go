package kafka

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
	"github.com/sregraph/sregraph/ingest/otlp"
)

// spanSamples are the OTLP samples whose calls pair up without expiry
// (their goldens list calls under "added").
var spanSamples = []string{"checkout", "messaging", "unspecified-kind"}

// spanTopic is the spans topic of these tests.
const spanTopic = otlp.DefaultTopic

// spanGolden is what a sample's golden file says its spans become when
// they arrive in one request.
type spanGolden struct {
	Accepted struct{ Spans int }
	Added    struct{ Calls []graph.CallBucket }
}

// edgeCount is one edge's total in a window.
type edgeCount struct{ Calls, Errors int64 }

// spanExpectation is what the samples must leave in the store: the calls
// per "from->to", the services to ask about and the window of the calls.
type spanExpectation struct {
	edges    map[string]edgeCount
	services []string
	from, to time.Time
	spans    int
}

// loadSpanSamples reads the named samples: their messages, as the
// Collector's kafka exporter sends them with partition_traces_by_id (one
// message per trace and resource, keyed and partitioned by trace id), and
// what their goldens expect.
func loadSpanSamples(tb testing.TB, names ...string) ([]kafkaRecord, spanExpectation) {
	tb.Helper()
	want := spanExpectation{edges: map[string]edgeCount{}}
	seen := map[string]bool{}
	var recs []kafkaRecord
	for _, name := range names {
		body, err := os.ReadFile(ingesttest.Testdata("ingest", "otlp", name+".pb"))
		if err != nil {
			tb.Fatal(err)
		}
		var req coltracepb.ExportTraceServiceRequest
		if err := proto.Unmarshal(body, &req); err != nil {
			tb.Fatalf("%s.pb: %v", name, err)
		}
		recs = append(recs, splitByTrace(tb, &req)...)

		g, err := os.ReadFile(ingesttest.Testdata("ingest", "otlp", name+".golden.json"))
		if err != nil {
			tb.Fatal(err)
		}
		var golden spanGolden
		if err := json.Unmarshal(g, &golden); err != nil {
			tb.Fatalf("%s.golden.json: %v", name, err)
		}
		want.spans += golden.Accepted.Spans
		for _, c := range golden.Added.Calls {
			k := c.From + "->" + c.To
			e := want.edges[k]
			e.Calls += c.Calls
			e.Errors += c.Errors
			want.edges[k] = e
			for _, s := range []string{c.From, c.To} {
				if !seen[s] {
					seen[s] = true
					want.services = append(want.services, s)
				}
			}
			if want.from.IsZero() || c.Start.Before(want.from) {
				want.from = c.Start
			}
			if end := c.Start.Add(graph.BucketWidth); end.After(want.to) {
				want.to = end
			}
		}
	}
	if len(want.edges) == 0 {
		tb.Fatal("the samples' goldens list no calls: nothing to test")
	}
	return recs, want
}

// splitByTrace makes one otlp_proto record per trace and resource of req,
// keyed by the trace id and on the partition the trace id hashes to, in
// the order the spans appear.
func splitByTrace(tb testing.TB, req *coltracepb.ExportTraceServiceRequest) []kafkaRecord {
	tb.Helper()
	var recs []kafkaRecord
	for _, rs := range req.ResourceSpans {
		var order [][]byte
		parts := map[string]*tracepb.ResourceSpans{}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				k := string(sp.TraceId)
				part := parts[k]
				if part == nil {
					part = &tracepb.ResourceSpans{Resource: rs.Resource, SchemaUrl: rs.SchemaUrl}
					parts[k] = part
					order = append(order, sp.TraceId)
				}
				if n := len(part.ScopeSpans); n == 0 || part.ScopeSpans[n-1].Scope != ss.Scope {
					part.ScopeSpans = append(part.ScopeSpans, &tracepb.ScopeSpans{Scope: ss.Scope, SchemaUrl: ss.SchemaUrl})
				}
				last := part.ScopeSpans[len(part.ScopeSpans)-1]
				last.Spans = append(last.Spans, sp)
			}
		}
		for _, id := range order {
			value, err := proto.Marshal(&coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{parts[string(id)]}})
			if err != nil {
				tb.Fatal(err)
			}
			h := fnv.New32a()
			_, _ = h.Write(id)
			recs = append(recs, kafkaRecord{
				partition: int(h.Sum32() % embedded.Partitions), key: string(id), value: value,
				headers: map[string]string{"content-type": otlp.ContentTypeProtobuf},
			})
		}
	}
	return recs
}

// spanEdges sums what the store says about the edges touching the
// expected services in the expected window.
func spanEdges(tb testing.TB, s *kafkaStore, want spanExpectation) map[string]edgeCount {
	tb.Helper()
	acts, err := s.EdgesTouching(context.Background(), want.services, want.from, want.to)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]edgeCount{}
	for _, a := range acts {
		calls, errs := a.Totals(want.from, want.to)
		if calls > 0 {
			out[a.From+"->"+a.To] = edgeCount{calls, errs}
		}
	}
	return out
}

// spanCommits is the committed offset each partition of recs must reach
// when segments are segmentOffsets long: the start of the partition's
// unfinished segment, or its end (-1 when that is 0, as nothing is
// committed then).
func spanCommits(recs []kafkaRecord, segmentOffsets int64) []int64 {
	ends := make([]int64, embedded.Partitions)
	for _, r := range recs {
		ends[r.partition]++
	}
	out := make([]int64, embedded.Partitions)
	for p, end := range ends {
		out[p] = end - end%segmentOffsets
		if out[p] == 0 {
			out[p] = -1
		}
	}
	return out
}

// spanConfig is the consumer configuration of the spans tests: only the
// spans topic, into agg.
func spanConfig(addrs []string, group string, agg *otlp.Aggregator) consumerConfig {
	cfg := kafkaTestConfig(addrs, group, map[ingest.Family]string{ingest.FamilySpans: spanTopic})
	cfg.Spans = agg
	return cfg
}

// newSpanAggregator returns an aggregator whose spans never expire during
// a test (so what it yields is the paired calls alone) with short
// segments, so that commits move.
func newSpanAggregator(segmentOffsets int) *otlp.Aggregator {
	return otlp.NewAggregator(otlp.Config{Wait: time.Hour, SegmentOffsets: segmentOffsets}, func() time.Time { return kafkaNow })
}

// waitSpans waits until the store holds exactly want's edges and the
// group has committed commits, failing with what it last saw.
func waitSpans(tb testing.TB, c *kafkaCluster, store *kafkaStore, group string, want spanExpectation, commits []int64) {
	tb.Helper()
	var edges map[string]edgeCount
	var got []int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		edges = spanEdges(tb, store, want)
		got = committedOffsets(tb, c.addrs, group, spanTopic)
		if fmt.Sprint(edges) == fmt.Sprint(want.edges) && fmt.Sprint(got) == fmt.Sprint(commits) {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out: store edges %v, want %v; committed %v, want %v", edges, want.edges, got, commits)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSpansConsumer: OTLP spans split by trace over the partitions pair up
// across messages into the edges the samples' goldens list, the group
// commits up to each partition's unfinished segment and no further, and
// the aggregator's counters are exported.
func TestSpansConsumer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		samples  []string
		segments int
	}{
		{"checkout, segments of 1", []string{"checkout"}, 1},
		{"all samples, segments of 4", spanSamples, 4},
		{"all samples, one segment", spanSamples, otlp.DefaultSegmentOffsets},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := mustStartKafka(t, spanTopic)
			store := mustOpenKafkaStore(t)
			recs, want := loadSpanSamples(t, tc.samples...)
			produceRecords(t, c.addrs, spanTopic, recs...)

			agg := newSpanAggregator(tc.segments)
			r := mustRunConsumer(t, spanConfig(c.addrs, "spans", agg), store)
			if got := r.Topics(); len(got) != 1 || got[0] != spanTopic {
				t.Fatalf("Topics() = %v, want [%s]", got, spanTopic)
			}
			waitSpans(t, c, store, "spans", want, spanCommits(recs, int64(tc.segments)))
			ingesttest.Wait(t, 10*time.Second, "the messages counted", func() bool {
				return r.counter("messages", spanTopic, "stored") == float64(len(recs))
			})
			if err := r.Ready(); err != nil {
				t.Errorf("Ready() = %v, want nil", err)
			}
			if err := r.stop(t); err != nil {
				t.Fatal(err)
			}
			if got := spanEdges(t, store, want); fmt.Sprint(got) != fmt.Sprint(want.edges) {
				t.Errorf("after stopping: edges %v, want %v", got, want.edges)
			}
			if got := r.counter("dead_letters", spanTopic, "undecodable"); got != 0 {
				t.Errorf("dead letters = %v, want 0", got)
			}

			reg := prometheus.NewRegistry()
			if err := reg.Register(otlp.NewSpanStats(agg)); err != nil {
				t.Fatal(err)
			}
			got := gatherValues(t, reg)
			if v := got["sregraph_otlp_spans_total"]; v != float64(want.spans) {
				t.Errorf("sregraph_otlp_spans_total = %v, want %d (the goldens' accepted spans)", v, want.spans)
			}
			st := agg.Stats()
			for name, v := range map[string]int64{
				`sregraph_otlp_calls_total{how="paired"}`:   st.Paired,
				`sregraph_otlp_calls_total{how="database"}`: st.Database,
				"sregraph_otlp_spans_rejected_total":        st.Rejected,
				"sregraph_otlp_pending_spans":               int64(st.Pending),
			} {
				if got[name] != float64(v) {
					t.Errorf("%s = %v, want %d", name, got[name], v)
				}
			}
			if st.Paired == 0 {
				t.Error("no span pairs counted: the samples were not paired across messages")
			}
		})
	}
}

// gatherValues gathers reg into "name{label=\"value\",...}" → value.
func gatherValues(tb testing.TB, reg *prometheus.Registry) map[string]float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			name := mf.GetName()
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[name] = m.GetCounter().GetValue()
			case m.Gauge != nil:
				out[name] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// TestSpansConsumerCrashBetweenWriteAndCommit: the store has the counts
// but no commit reaches the broker; a new consumer in the group (with a
// fresh aggregator, as after a restart) reads everything again and the
// counts stay the same, not doubled.
func TestSpansConsumerCrashBetweenWriteAndCommit(t *testing.T) {
	c := mustStartKafka(t, spanTopic)
	store := mustOpenKafkaStore(t)
	recs, want := loadSpanSamples(t, spanSamples...)
	produceRecords(t, c.addrs, spanTopic, recs...)

	dropCommits, dropped := loseCommits(c)

	const segments = 2
	cfg := spanConfig(c.addrs, "spans-crash", newSpanAggregator(segments))
	cfg.ShutdownTimeout = time.Second
	first := mustRunConsumer(t, cfg, store)
	ingesttest.Wait(t, 30*time.Second, "the first consumer to store every edge", func() bool {
		return fmt.Sprint(spanEdges(t, store, want)) == fmt.Sprint(want.edges)
	})
	ingesttest.Wait(t, 10*time.Second, "a commit attempt", func() bool { return dropped.Load() > 0 })
	if err := first.stop(t); err != nil {
		t.Fatalf("first consumer: %v", err)
	}
	if got := committedOffsets(t, c.addrs, "spans-crash", spanTopic); sumOffsets(got) != 0 {
		t.Fatalf("committed offsets after the crash = %v, want none", got)
	}
	dropCommits.Store(false)

	cfg.Spans = newSpanAggregator(segments)
	second := mustRunConsumer(t, cfg, store)
	waitSpans(t, c, store, "spans-crash", want, spanCommits(recs, segments))
	ingesttest.Wait(t, 10*time.Second, "the second consumer to count every message", func() bool {
		return second.counter("messages", spanTopic, "stored") == float64(len(recs))
	})
	if err := second.stop(t); err != nil {
		t.Fatalf("second consumer: %v", err)
	}
	if got := spanEdges(t, store, want); fmt.Sprint(got) != fmt.Sprint(want.edges) {
		t.Errorf("after the redelivery: edges %v, want %v (counted once)", got, want.edges)
	}
}

// TestSpansConsumerPoison: an unreadable message goes to the dead-letter
// topic with its headers and where it came from, and the spans after it
// on the same partition still pair up with those before it.
func TestSpansConsumerPoison(t *testing.T) {
	c := mustStartKafka(t, spanTopic)
	store := mustOpenKafkaStore(t)
	recs, want := loadSpanSamples(t, "checkout")
	for i := range recs {
		recs[i].partition = 0
	}
	poison := []kafkaRecord{
		{partition: 0, key: "p1", value: []byte{0xff, 0xff, 0xff, 0x01, 'x'}, headers: map[string]string{"traceparent": "00-abc-def-01"}},
		{partition: 0, key: "p2", value: []byte(`{"resourceSpans": [`), headers: map[string]string{"content-type": otlp.ContentTypeJSON}},
	}
	all := append([]kafkaRecord{recs[0]}, poison...)
	all = append(all, recs[1:]...)
	produceRecords(t, c.addrs, spanTopic, all...)

	const segments = 2
	r := mustRunConsumer(t, spanConfig(c.addrs, "spans-poison", newSpanAggregator(segments)), store)
	waitSpans(t, c, store, "spans-poison", want, spanCommits(all, segments))

	dead := readTopic(t, c.addrs, DeadLetterTopic(spanTopic), len(poison))
	// The dead letters are spread over the dead-letter topic's partitions
	// by key; order them by where they came from.
	sort.Slice(dead, func(i, j int) bool {
		a, _ := recordHeader(dead[i], HeaderOffset)
		b, _ := recordHeader(dead[j], HeaderOffset)
		return a < b
	})
	for i, d := range dead {
		p := poison[i]
		if !bytes.Equal(d.Value, p.value) || string(d.Key) != p.key {
			t.Errorf("dead letter %d = key %q value %q, want the original record", i, d.Key, d.Value)
		}
		hs := map[string]string{
			HeaderTopic: spanTopic, HeaderPartition: "0", HeaderOffset: fmt.Sprint(i + 1), HeaderReason: "undecodable",
		}
		for k, v := range p.headers {
			hs[k] = v
		}
		for k, v := range hs {
			if got, ok := recordHeader(d, k); !ok || got != v {
				t.Errorf("dead letter %d header %s = %q (present %v), want %q", i, k, got, ok, v)
			}
		}
		if e, _ := recordHeader(d, HeaderError); !strings.Contains(e, fmt.Sprintf("%s/0@%d", spanTopic, i+1)) {
			t.Errorf("dead letter %d %s = %q, want it to name the record", i, HeaderError, e)
		}
	}
	ingesttest.Wait(t, 10*time.Second, "the messages counted", func() bool {
		return r.counter("messages", spanTopic, "stored") == float64(len(recs)) &&
			r.counter("messages", spanTopic, "dead_lettered") == float64(len(poison))
	})
	if got := r.counter("dead_letters", spanTopic, "undecodable"); got != float64(len(poison)) {
		t.Errorf("dead letter count = %v, want %d", got, len(poison))
	}
}

// TestSpansConsumerStoreOutage: while the store fails, the spans loop
// retries, commits and dead-letters nothing and says why it is not ready;
// once the store is back it writes the counts and commits.
func TestSpansConsumerStoreOutage(t *testing.T) {
	c := mustStartKafka(t, spanTopic)
	store := mustOpenKafkaStore(t)
	store.setFail(fmt.Errorf("disk on fire: %w", graph.ErrUnavailable))
	recs, want := loadSpanSamples(t, spanSamples...)
	produceRecords(t, c.addrs, spanTopic, recs...)

	const segments = 1
	r := mustRunConsumer(t, spanConfig(c.addrs, "spans-outage", newSpanAggregator(segments)), store)
	ingesttest.Wait(t, 20*time.Second, "several failed writes", func() bool { _, f := store.totals(); return f >= 5 })
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "store unavailable since 2026-11-21T12:00:00Z") || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Ready() = %v, want it to say the store is unavailable, since when and why", err)
	}
	if got := committedOffsets(t, c.addrs, "spans-outage", spanTopic); sumOffsets(got) != 0 {
		t.Errorf("committed offsets during the outage = %v, want none", got)
	}
	if got := spanEdges(t, store, want); len(got) != 0 {
		t.Fatalf("store holds edges %v during the outage", got)
	}

	store.setFail(nil)
	waitSpans(t, c, store, "spans-outage", want, spanCommits(recs, segments))
	if err := r.Ready(); err != nil {
		t.Errorf("Ready() after the outage = %v, want nil", err)
	}
	if got := r.counter("store_retries", spanTopic); got < 5 {
		t.Errorf("store retry count = %v, want at least 5", got)
	}
}

// TestSpansConsumerGracefulShutdown: with no flush due yet, stopping the
// consumer flushes what it read, writes it and commits within the
// shutdown bound.
func TestSpansConsumerGracefulShutdown(t *testing.T) {
	c := mustStartKafka(t, spanTopic)
	store := mustOpenKafkaStore(t)
	recs, want := loadSpanSamples(t, spanSamples...)
	produceRecords(t, c.addrs, spanTopic, recs...)

	const segments = 3
	agg := newSpanAggregator(segments)
	cfg := spanConfig(c.addrs, "spans-graceful", agg)
	cfg.MaxWait = time.Minute // no flush but the last one
	r := mustRunConsumer(t, cfg, store)
	ingesttest.Wait(t, 30*time.Second, "every message read", func() bool { return agg.Stats().Spans == int64(want.spans) })
	if got := spanEdges(t, store, want); len(got) != 0 {
		t.Fatalf("edges %v written before any flush was due", got)
	}
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > cfg.ShutdownTimeout+time.Second {
		t.Errorf("shutdown took %s, want within %s", took, cfg.ShutdownTimeout)
	}
	if got := spanEdges(t, store, want); fmt.Sprint(got) != fmt.Sprint(want.edges) {
		t.Errorf("after stopping: edges %v, want %v", got, want.edges)
	}
	if got, wantC := committedOffsets(t, c.addrs, "spans-graceful", spanTopic), spanCommits(recs, segments); fmt.Sprint(got) != fmt.Sprint(wantC) {
		t.Errorf("committed after stopping = %v, want %v", got, wantC)
	}
}

// TestConsumerSpansFamily: the spans topic is consumed only when an
// aggregator (or a decoder) is given for it.
func TestConsumerSpansFamily(t *testing.T) {
	dec := func([]byte, ingest.Headers, time.Time) (Decoded, error) { return Decoded{}, nil }
	for _, tc := range []struct {
		name    string
		topics  map[ingest.Family]string
		spans   bool
		decoder bool
		want    []string
		wantErr error
	}{
		{"spans only, no aggregator", map[ingest.Family]string{ingest.FamilySpans: spanTopic}, false, false, nil, ErrNoTopics},
		{"spans only, with aggregator", map[ingest.Family]string{ingest.FamilySpans: spanTopic}, true, false, []string{spanTopic}, nil},
		{"spans only, with decoder", map[ingest.Family]string{ingest.FamilySpans: spanTopic}, false, true, []string{spanTopic}, nil},
		{"spans and deploys, no aggregator", map[ingest.Family]string{ingest.FamilySpans: spanTopic, ingest.FamilyDeploys: "sre.deploys"}, false, false, []string{"sre.deploys"}, nil},
		{"spans and deploys, with aggregator", map[ingest.Family]string{ingest.FamilySpans: spanTopic, ingest.FamilyDeploys: "sre.deploys"}, true, false, []string{spanTopic, "sre.deploys"}, nil},
		{"spans topic off, with aggregator", map[ingest.Family]string{ingest.FamilySpans: "", ingest.FamilyDeploys: "sre.deploys"}, true, false, []string{"sre.deploys"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := kafkaTestConfig([]string{"127.0.0.1:1"}, "g", tc.topics)
			if tc.spans {
				cfg.Spans = newSpanAggregator(1)
			}
			if tc.decoder {
				cfg.Decoders = map[ingest.Family]MessageDecoder{ingest.FamilySpans: dec}
			}
			c, err := NewConsumer(cfg.Config, nil, Options{Spans: cfg.Spans, Decoders: cfg.Decoders})
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("NewConsumer: %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			got := c.Topics()
			sort.Strings(got)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Topics() = %v, want %v", got, tc.want)
			}
			for _, tp := range c.topics {
				if tp.topic == spanTopic && (tp.spans != nil) != tc.spans {
					t.Errorf("spans topic consumed into an aggregator: %v, want %v", tp.spans != nil, tc.spans)
				}
			}
		})
	}
}

// BenchmarkSpansToStore measures the spans path end to end: b.N otlp_proto
// messages (the checkout sample's traces, copied under new trace ids, one
// message per trace and service), pre-filled into a 5-partition topic of
// the in-process broker, consumed by one consumer into the real embedded
// store (feed the aggregator, flush, write, commit) until every message is
// counted and committed. It reports messages/s and spans/s.
func BenchmarkSpansToStore(b *testing.B) {
	const topic = spanTopic
	c := mustStartKafka(b, topic)
	store := mustOpenKafkaStore(b)
	sample, want := loadSpanSamples(b, "checkout")
	recs := make([]kafkaRecord, 0, b.N)
	spans := 0
	for copyN := uint64(0); len(recs) < b.N; copyN++ {
		for _, r := range sample {
			if len(recs) == b.N {
				break
			}
			var req coltracepb.ExportTraceServiceRequest
			if err := proto.Unmarshal(r.value, &req); err != nil {
				b.Fatal(err)
			}
			for _, rs := range req.ResourceSpans {
				for _, ss := range rs.ScopeSpans {
					for _, sp := range ss.Spans {
						sp.TraceId[8] ^= byte(copyN)
						sp.TraceId[9] ^= byte(copyN >> 8)
						sp.TraceId[10] ^= byte(copyN >> 16)
						spans++
					}
				}
			}
			recs = append(recs, splitByTrace(b, &req)...)
		}
	}
	for i := 0; i < len(recs); i += 5000 {
		produceRecords(b, c.addrs, topic, recs[i:min(i+5000, len(recs))]...)
	}
	agg := otlp.NewAggregator(otlp.Config{}, func() time.Time { return kafkaNow })
	cfg := spanConfig(c.addrs, "bench", agg)
	cfg.MaxBatch = 5000
	cfg.MaxWait = 20 * time.Millisecond
	opts := cfg.options()
	opts.Logger = slog.New(slog.DiscardHandler)
	cons, err := NewConsumer(cfg.Config, store, opts)
	if err != nil {
		b.Fatal(err)
	}
	commits := fmt.Sprint(spanCommits(recs, otlp.DefaultSegmentOffsets))

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	counted := func() float64 {
		var m dto.Metric
		_ = cons.m.messages.WithLabelValues(topic, "stored").Write(&m)
		return m.GetCounter().GetValue()
	}
	for counted() < float64(len(recs)) || fmt.Sprint(committedOffsets(b, c.addrs, "bench", topic)) != commits {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if got := agg.Stats().Spans; got != int64(spans) {
		b.Fatalf("aggregator read %d spans, want %d", got, spans)
	}
	if got := spanEdges(b, store, want); b.N >= len(sample) && len(got) < len(want.edges) {
		b.Fatalf("store holds edges %v, want at least %v", got, want.edges)
	}
	b.ReportMetric(float64(len(recs))/elapsed.Seconds(), "messages/s")
	b.ReportMetric(float64(spans)/elapsed.Seconds(), "spans/s")
}
