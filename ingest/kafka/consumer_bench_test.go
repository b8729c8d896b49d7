package kafka

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
)

// BenchmarkKafkaToStore measures the Kafka path end to end: b.N canonical
// events, one per record, pre-filled into a 5-partition topic of the
// in-process broker, consumed by one consumer (fetch, decode, batch write,
// offset commit) until every offset is committed. It reports events/s.
//
// "embedded" writes to the real embedded store (synced to disk per
// batch): the number that matters. "counting" writes to a store that only
// counts, to show what the consumer itself can do.
func BenchmarkKafkaToStore(b *testing.B) {
	b.Run("embedded", func(b *testing.B) {
		store := pebbletest.MustOpen(b, pebble.Options{Now: func() time.Time { return kafkaNow }})
		benchmarkKafkaToStore(b, store, func() int {
			n, err := store.CountEvents(context.Background(), graph.EventFilter{})
			if err != nil {
				b.Fatal(err)
			}
			return n
		})
	})
	b.Run("counting", func(b *testing.B) {
		var w countingWriter
		benchmarkKafkaToStore(b, &w, func() int { return w.events })
	})
}

// countingWriter is a store that only counts what it is given.
type countingWriter struct{ events int }

func (w *countingWriter) Apply(_ context.Context, b graph.Batch) (graph.Written, error) {
	w.events += len(b.Events)
	return graph.Written{Inserted: len(b.Events)}, nil
}

func benchmarkKafkaToStore(b *testing.B, w graph.Applier, stored func() int) {
	const topic = "sre.deploys"
	c := mustStartKafka(b, topic)
	recs := kafkaCanonicalRecords(b.N, embedded.Partitions, "bench")
	for i := 0; i < len(recs); i += 5000 {
		produceRecords(b, c.addrs, topic, recs[i:min(i+5000, len(recs))]...)
	}
	cfg := kafkaTestConfig(c.addrs, "bench", map[ingest.Family]string{ingest.FamilyDeploys: topic})
	cfg.MaxBatch = 5000
	cfg.MaxWait = 20 * time.Millisecond
	cons, err := NewConsumer(cfg.Config, w, Options{Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return kafkaNow }})
	if err != nil {
		b.Fatal(err)
	}

	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx) }()
	for sumOffsets(committedOffsets(b, c.addrs, "bench", topic)) < int64(b.N) {
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	if n := stored(); n != b.N {
		b.Fatalf("store holds %d events, want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	var bm, ws dto.Metric
	_ = cons.m.batchMessages.WithLabelValues(topic).(prometheus.Histogram).Write(&bm)
	_ = cons.m.writeSeconds.WithLabelValues(topic).(prometheus.Histogram).Write(&ws)
	if h := bm.GetHistogram(); h.GetSampleCount() > 0 {
		b.Logf("%d events in %s: %d batches of %.0f records on average; store writes took %.2fs in all",
			b.N, elapsed.Round(time.Millisecond), h.GetSampleCount(), h.GetSampleSum()/float64(h.GetSampleCount()), ws.GetHistogram().GetSampleSum())
	}
}
