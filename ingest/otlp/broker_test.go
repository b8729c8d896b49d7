package otlp

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/protobuf/proto"

	"github.com/sregraph/sregraph/graph"
)

// TestKafkaBroker runs the otlp_proto path over the Kafka wire protocol: a
// kafka-go Writer produces one message per service and trace, keyed by
// trace id as the Collector's kafka exporter does with
// partition_traces_by_id, and a kafka-go Reader in a consumer group feeds
// the aggregator, writes, and commits what FlushKafka allows. Reading the
// topic again, in the same group after the commits and in a new group from
// the start, leaves the counts unchanged.
func TestKafkaBroker(t *testing.T) {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, DefaultTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()

	const traces = 40
	w := &kafka.Writer{Addr: kafka.TCP(brokers...), Topic: DefaultTopic, Balancer: &kafka.Hash{},
		RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	var msgs []kafka.Message
	for i := 1; i <= traces; i++ {
		tr := uint64(i)
		at := time.Duration(i) * time.Second
		failed := i%4 == 0
		for _, spans := range [][]sp{
			{{svc: "frontend", trace: tr, id: 1, kind: server, at: at, dur: 30 * time.Millisecond},
				{svc: "frontend", trace: tr, id: 2, parent: 1, kind: client, at: at, dur: 25 * time.Millisecond, failed: failed}},
			{{svc: "checkout", trace: tr, id: 3, parent: 2, kind: server, at: at, dur: 20 * time.Millisecond, failed: failed},
				{svc: "checkout", trace: tr, id: 4, parent: 3, kind: client, at: at, dur: 10 * time.Millisecond, failed: failed}},
			{{svc: "payments", trace: tr, id: 5, parent: 4, kind: server, at: at, dur: 8 * time.Millisecond, failed: failed}},
		} {
			value, err := proto.Marshal(request(spans...))
			if err != nil {
				t.Fatal(err)
			}
			msgs = append(msgs, kafka.Message{Key: traceID(tr), Value: value})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	store := teeWriter{mem: newMemStore(), db: mustOpenPebble(t)}
	// The frontend's root server spans are calls from the virtual caller.
	want := map[string]edgeTotal{"frontend->checkout": {traces, traces / 4}, "checkout->payments": {traces, traces / 4}, "user->frontend": {traces, 0}}
	check := func(stage string) {
		t.Helper()
		for name, got := range map[string]map[string]edgeTotal{
			"in-test store":  store.mem.edges(),
			"embedded store": storeEdges(t, store.db, []string{"checkout", "frontend"}, t0, t0.Add(time.Hour)),
		} {
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s, %s: edges %v, want %v", stage, name, got, want)
			}
		}
	}

	read := consumeGroup(ctx, t, brokers, "sregraph", store, len(msgs))
	if read != len(msgs) {
		t.Fatalf("read %d messages, want %d", read, len(msgs))
	}
	check("first read")
	// The same group resumes from its commits: segment starts, so the
	// unfinished segments are read again.
	again := consumeGroup(ctx, t, brokers, "sregraph", store, 0)
	if again == 0 {
		t.Error("the same group read nothing again: commits went past unfinished segments")
	}
	check("same group again")
	consumeGroup(ctx, t, brokers, "sregraph-2", store, len(msgs))
	check("a new group from the start")
}

// consumeGroup reads until want messages (or, with want 0, everything
// left) have been read, flushing every 7 messages and when the topic runs
// dry, and returns how many it read.
func consumeGroup(ctx context.Context, t *testing.T, brokers []string, group string, store graph.Applier, want int) int {
	t.Helper()
	r := kafka.NewReader(kafka.ReaderConfig{
		Brokers: brokers, GroupID: group, Topic: DefaultTopic,
		MaxWait: 100 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond,
		RebalanceTimeout: 2 * time.Second, JoinGroupBackoff: 100 * time.Millisecond,
		StartOffset: kafka.FirstOffset,
	})
	defer r.Close()
	agg := NewAggregator(Config{SegmentOffsets: 16}, time.Now)
	flush := func() {
		b, commits := agg.FlushKafka(time.Now())
		if _, err := store.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		var cm []kafka.Message
		for _, c := range commits {
			if c.Offset > 0 {
				cm = append(cm, kafka.Message{Topic: c.Topic, Partition: c.Partition, Offset: c.Offset - 1})
			}
		}
		if len(cm) > 0 {
			if err := r.CommitMessages(ctx, cm...); err != nil {
				t.Fatal(err)
			}
		}
	}
	n := 0
	for want == 0 || n < want {
		fctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		m, err := r.FetchMessage(fctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			if want == 0 {
				break
			}
			flush()
			continue
		}
		if err != nil {
			t.Fatalf("fetch after %d messages: %v", n, err)
		}
		headers := map[string]string{}
		for _, h := range m.Headers {
			headers[h.Key] = string(h.Value)
		}
		if err := agg.AddKafka(KafkaMessage{Topic: m.Topic, Partition: m.Partition, Offset: m.Offset, Value: m.Value, Time: m.Time, Headers: headers}); err != nil {
			t.Fatal(fmt.Errorf("message %d: %w", n, err))
		}
		n++
		if n%7 == 0 {
			flush()
		}
	}
	flush()
	return n
}
