package kafka

import (
	"context"
	"flag"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
)

func TestKafkaConfigFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, c Config)
		wantErr string
	}{
		{
			name: "defaults",
			args: nil,
			check: func(t *testing.T, c Config) {
				if c.Enabled() || c.GroupID != "sregraph" || !reflect.DeepEqual(c.Topics, DefaultTopics()) {
					t.Errorf("defaults = enabled %v group %q topics %v", c.Enabled(), c.GroupID, c.Topics)
				}
				if got := c.TopicNames(); len(got) != 10 || got[0] != "sre.deploys" || got[1] != "sre.deploys.dlq" {
					t.Errorf("TopicNames() = %v", got)
				}
			},
		},
		{
			name: "brokers, group, renamed and disabled topics",
			args: []string{"--kafka-brokers", " k1:9092, k2:9093 ,", "--kafka-group", "g", "--kafka-topic-deploys", "cd.events", "--kafka-topic-spans", "", "--kafka-max-batch", "50"},
			check: func(t *testing.T, c Config) {
				if !reflect.DeepEqual(c.Brokers, []string{"k1:9092", "k2:9093"}) || c.GroupID != "g" || c.MaxBatch != 50 {
					t.Errorf("got brokers %v group %q batch %d", c.Brokers, c.GroupID, c.MaxBatch)
				}
				if c.Topics[ingest.FamilyDeploys] != "cd.events" || c.Topics[ingest.FamilySpans] != "" || c.Topics[ingest.FamilySLO] != "sre.slo" {
					t.Errorf("topics = %v", c.Topics)
				}
				if got := c.families(); len(got) != 4 {
					t.Errorf("families() = %v, want the 4 with a topic", got)
				}
			},
		},
		{
			name: "embedded",
			args: []string{"--kafka", "embedded"},
			check: func(t *testing.T, c Config) {
				if !c.Embedded || !c.Enabled() || c.EmbeddedAddr != "127.0.0.1:9092" {
					t.Errorf("embedded = %v enabled %v addr %q", c.Embedded, c.Enabled(), c.EmbeddedAddr)
				}
			},
		},
		{name: "unknown --kafka mode", args: []string{"--kafka", "zookeeper"}, wantErr: `want "embedded"`},
		{name: "embedded and brokers", args: []string{"--kafka", "embedded", "--kafka-brokers", "k:1"}, wantErr: "exclusive"},
		{name: "broker without port", args: []string{"--kafka-brokers", "kafka"}, wantErr: "want host:port"},
		{name: "empty group", args: []string{"--kafka-brokers", "k:1", "--kafka-group", " "}, wantErr: "--kafka-group is required"},
		{name: "dead-letter topic as input", args: []string{"--kafka-topic-slo", "sre.slo.dlq"}, wantErr: "dead-letter topic"},
		{name: "two families on one topic", args: []string{"--kafka-topic-slo", "sre.deploys"}, wantErr: "both name"},
		{name: "no topics", args: []string{"--kafka-brokers", "k:1", "--kafka-topic-deploys=", "--kafka-topic-scale=", "--kafka-topic-tickets=", "--kafka-topic-slo=", "--kafka-topic-spans="}, wantErr: "nothing to consume"},
		{name: "bad start offset", args: []string{"--kafka-start-offset", "middle"}, wantErr: "want first or last"},
		{name: "batch too large", args: []string{"--kafka-max-batch", "1000000"}, wantErr: "want 1..100000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			var c Config
			c.RegisterFlags(fs)
			err := fs.Parse(tt.args)
			if err == nil {
				err = c.Validate()
			}
			switch {
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
			case tt.wantErr == "" && err != nil:
				t.Fatalf("error = %v", err)
			case tt.check != nil:
				tt.check(t, c)
			}
		})
	}
}

// kafkaSample is one native payload from testdata/ingest, with the transport
// headers it came with, and the family whose topic it belongs on.
type kafkaSample struct {
	path    string
	format  string
	value   []byte
	headers map[string]string
	family  ingest.Family
}

// kafkaSampleFamily routes a sample to the family it belongs to, the way
// --webhooks-to-kafka does: the family of its first event's kind, else its
// source's family (canonical samples go with deploys).
func kafkaSampleFamily(s ingesttest.Sample) ingest.Family {
	src, ok := ingest.Lookup(s.Format)
	if !ok {
		return ingest.FamilyDeploys
	}
	if items, err := src.Decode(s.Body, ingest.NewHeaders(s.Headers), kafkaNow); err == nil {
		for _, it := range items {
			if it.Event != nil {
				return ingest.FamilyOf(it.Event.Kind)
			}
		}
	}
	if src.Family == "" {
		return ingest.FamilyDeploys
	}
	return src.Family
}

// loadKafkaSamples reads every payload of the event formats (the trace
// samples are another topic family with its own decoder).
func loadKafkaSamples(tb testing.TB) []kafkaSample {
	tb.Helper()
	var out []kafkaSample
	for _, s := range ingesttest.Samples(tb, ingest.Formats...) {
		out = append(out, kafkaSample{path: s.Path, format: s.Format, value: s.Body, headers: s.Headers, family: kafkaSampleFamily(s)})
	}
	return out
}

// expectation is what the pipeline must make of a set of samples: the
// events in the store, and which samples end in the dead-letter topic.
type kafkaExpectation struct {
	ids  map[string]string // event ID → sample path
	dead map[string]bool   // sample path → dead-lettered
}

// expectFromSamples runs the pure decoder over the samples (the decoders have their
// own golden tests) to know what the consumer must store and dead-letter.
func expectFromSamples(samples []kafkaSample) kafkaExpectation {
	dec := DetectDecoder(nil)
	x := kafkaExpectation{ids: map[string]string{}, dead: map[string]bool{}}
	for _, s := range samples {
		d, err := dec(s.value, ingest.NewHeaders(s.headers), kafkaNow)
		if err != nil || len(d.Rejected) > 0 {
			x.dead[s.path] = true
		}
		for _, e := range d.Batch.Events {
			x.ids[e.ID] = s.path
		}
	}
	return x
}

// TestConsumerEveryTopicAndFormat sends every sample under testdata/ingest
// to its family's topic and checks that the store holds exactly what the
// decoders make of them, and that the unreadable ones are dead-lettered.
func TestConsumerEveryTopicAndFormat(t *testing.T) {
	samples := loadKafkaSamples(t)
	topics := DefaultTopics()
	delete(topics, ingest.FamilySpans)
	var names []string
	for _, tp := range topics {
		names = append(names, tp)
	}
	c := mustStartKafka(t, names...)
	store := mustOpenKafkaStore(t)
	perTopic := map[string]int64{}
	formats := map[ingest.Family]map[string]bool{}
	for i, s := range samples {
		topic := topics[s.family]
		produceRecords(t, c.addrs, topic, kafkaRecord{partition: i % embedded.Partitions, value: s.value, headers: s.headers})
		perTopic[topic]++
		if formats[s.family] == nil {
			formats[s.family] = map[string]bool{}
		}
		formats[s.family][s.format] = true
	}
	for f := range topics {
		if len(formats[f]) == 0 {
			t.Errorf("no sample for the %s family", f)
		}
	}
	t.Logf("%d samples: %v", len(samples), formats)
	x := expectFromSamples(samples)

	r := mustRunConsumer(t, kafkaTestConfig(c.addrs, "formats", topics), store)
	for topic, n := range perTopic {
		ingesttest.Wait(t, 30*time.Second, "every record of "+topic+" committed", func() bool { return sumOffsets(committedOffsets(t, c.addrs, r.cfg.GroupID, topic)) == n })
	}
	for id, path := range x.ids {
		if _, err := store.Event(context.Background(), id); err != nil {
			t.Errorf("event %s from %s: %v", id, path, err)
		}
	}
	if got := store.count(t); got != len(x.ids) {
		t.Errorf("store holds %d events, want %d", got, len(x.ids))
	}
	wantDead := 0
	for range x.dead {
		wantDead++
	}
	gotDead := map[string]bool{}
	for _, topic := range names {
		dlq := DeadLetterTopic(topic)
		for _, m := range readTopic(t, c.addrs, dlq, int(sumOffsets(kafkaEndOffsets(t, c.addrs, dlq)))) {
			if h, _ := recordHeader(m, HeaderTopic); h != topic {
				t.Errorf("dead letter in %s says it came from %q", dlq, h)
			}
			for _, s := range samples {
				if string(s.value) == string(m.Value) {
					gotDead[s.path] = true
				}
			}
		}
	}
	for path := range x.dead {
		if !gotDead[path] {
			t.Errorf("%s was not dead-lettered", path)
		}
	}
	for path := range gotDead {
		if !x.dead[path] {
			t.Errorf("%s was dead-lettered but decodes cleanly", path)
		}
	}
	t.Logf("%d events stored, %d samples dead-lettered", len(x.ids), len(gotDead))
	if len(x.ids) == 0 {
		t.Error("no sample decodes to an event, so storing was not exercised")
	}
	if wantDead == 0 {
		t.Error("no sample is unreadable, so dead-lettering was not exercised")
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt  int
		lo, hi   time.Duration
		min, max time.Duration
	}{
		{attempt: 0, lo: 100 * time.Millisecond, hi: 30 * time.Second, min: 50 * time.Millisecond, max: 100 * time.Millisecond},
		{attempt: 3, lo: 100 * time.Millisecond, hi: 30 * time.Second, min: 400 * time.Millisecond, max: 800 * time.Millisecond},
		{attempt: 20, lo: 100 * time.Millisecond, hi: 30 * time.Second, min: 15 * time.Second, max: 30 * time.Second},
		{attempt: 1000, lo: 100 * time.Millisecond, hi: 30 * time.Second, min: 15 * time.Second, max: 30 * time.Second},
	}
	for _, tt := range tests {
		for range 100 {
			if d := backoff(tt.attempt, tt.lo, tt.hi); d < tt.min || d > tt.max {
				t.Fatalf("backoff(%d, %s, %s) = %s, want within [%s, %s]", tt.attempt, tt.lo, tt.hi, d, tt.min, tt.max)
			}
		}
	}
}

func TestDetectDecoder(t *testing.T) {
	rename := func(items []ingest.Item) []ingest.Item {
		for _, it := range items {
			if it.Event != nil && it.Event.Service == "payments-api" {
				it.Event.Service = "payments"
			}
		}
		return items
	}
	tests := []struct {
		name      string
		body      string
		headers   ingest.Headers
		wantErr   bool
		format    string
		services  []string
		rejected  []int
		reasonFor string
		deps      int
	}{
		{name: "canonical with alias", body: `{"kind":"deploy","service":"payments-api","at":"2026-11-21T11:00:00Z","source":"t"}`,
			format: ingest.FormatCanonical, services: []string{"payments"}},
		{name: "one bad item among good", body: `[{"kind":"deploy","service":"a","at":"2026-11-21T11:00:00Z","source":"t"},{"kind":"deploy","at":"2026-11-21T11:00:00Z","source":"t"}]`,
			format: ingest.FormatCanonical, services: []string{"a"}, rejected: []int{1}, reasonFor: "rejected_items"},
		{name: "malformed json", body: `{"kind":`, format: ingest.FormatCanonical, rejected: []int{0}, reasonFor: "undecodable"},
		{name: "not json", body: `hello`, format: ingest.FormatCanonical, wantErr: true},
		{name: "dependency", body: `{"kind":"dependency","service":"a","attributes":{"target":"b"}}`, format: ingest.FormatCanonical, deps: 1},
	}
	dec := DetectDecoder(rename)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := dec([]byte(tt.body), tt.headers, kafkaNow)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if d.Format != tt.format {
				t.Errorf("format = %q, want %q", d.Format, tt.format)
			}
			if err != nil {
				return
			}
			var services []string
			for _, e := range d.Batch.Events {
				services = append(services, e.Service)
			}
			if !reflect.DeepEqual(services, tt.services) {
				t.Errorf("services = %v, want %v", services, tt.services)
			}
			if got := len(d.Batch.Dependencies); got != tt.deps {
				t.Errorf("dependencies = %d, want %d", got, tt.deps)
			}
			var idx []int
			for _, r := range d.Rejected {
				idx = append(idx, r.Index)
			}
			if !reflect.DeepEqual(idx, tt.rejected) {
				t.Errorf("rejected = %v, want %v", idx, tt.rejected)
			}
			if tt.reasonFor != "" {
				if got := rejectedReason(d.Rejected); got != tt.reasonFor {
					t.Errorf("reason = %q, want %q", got, tt.reasonFor)
				}
			}
		})
	}
}

// TestConsumerNotReadyWithoutBroker: Ready says which brokers it cannot
// reach, with the error of an attempt to reach them (not merely that none
// has answered yet, which it says before dialling at all).
func TestConsumerNotReadyWithoutBroker(t *testing.T) {
	cfg := kafkaTestConfig([]string{"127.0.0.1:1"}, "nobroker", map[ingest.Family]string{ingest.FamilyDeploys: "sre.deploys"})
	store := mustOpenKafkaStore(t)
	idle, err := NewConsumer(cfg.Config, store, cfg.options())
	if err != nil {
		t.Fatal(err)
	}
	const unanswered = "no broker has answered yet"
	if err := idle.Ready(); err == nil || !strings.Contains(err.Error(), unanswered) {
		t.Fatalf("Ready() before Run = %v, want it to say %q", err, unanswered)
	}
	r := mustRunConsumer(t, cfg, store)
	ingesttest.Wait(t, 10*time.Second, "Ready to report a failed dial", func() bool {
		err = r.Ready()
		return err != nil && !strings.Contains(err.Error(), unanswered)
	})
	if !strings.Contains(err.Error(), "topic sre.deploys: connecting to 127.0.0.1:1") {
		t.Fatalf("Ready() = %v, want it to name the topic and the unreachable broker", err)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// FuzzDetectDecoder checks what the consumer relies on from the decoder of
// the event families, for any record: no panic, every event it stores is
// valid and has an ID, and rejections point at distinct items in order.
func FuzzDetectDecoder(f *testing.F) {
	for _, s := range loadKafkaSamples(f) {
		ct := ""
		if s.headers != nil {
			ct = ingest.NewHeaders(s.headers).Get("content-type")
		}
		f.Add(s.value, ct)
	}
	dec := DetectDecoder(nil)
	f.Fuzz(func(t *testing.T, value []byte, contentType string) {
		d, err := dec(value, ingest.Headers{"content-type": contentType}, kafkaNow)
		if err != nil {
			if d.Batch.Len() != 0 {
				t.Fatalf("error %v with %d items to store", err, d.Batch.Len())
			}
			return
		}
		for _, e := range d.Batch.Events {
			if e.ID == "" {
				t.Fatalf("event without an ID: %+v", e)
			}
			if err := e.Validate(kafkaNow); err != nil {
				t.Fatalf("invalid event %+v: %v", e, err)
			}
		}
		last := -1
		for _, r := range d.Rejected {
			if r.Index <= last || r.Err == nil {
				t.Fatalf("rejections %v are not distinct items in order with errors", d.Rejected)
			}
			last = r.Index
		}
	})
}
