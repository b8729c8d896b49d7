package otlp

import (
	"runtime"
	"syscall"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// benchRequest is a real-shaped export: traces frontend → checkout →
// payments (+ a database call), five spans each, with the attributes HTTP
// instrumentation sets.
func benchRequest(traces int) *coltracepb.ExportTraceServiceRequest {
	http := func(extra map[string]string) map[string]string {
		m := map[string]string{"http.request.method": "POST", "url.scheme": "http", "network.protocol.version": "1.1",
			"user_agent.original": "Go-http-client/1.1", "http.route": "/checkout"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	var spans []sp
	for i := 1; i <= traces; i++ {
		tr := uint64(i)
		at := time.Duration(i) * time.Millisecond
		spans = append(spans,
			sp{svc: "frontend", version: "2.3.0", trace: tr, id: 2, parent: 1, kind: client, at: at, dur: 9 * time.Millisecond, attrs: http(map[string]string{"server.address": "checkout"})},
			sp{svc: "checkout", version: "1.4.2", trace: tr, id: 3, parent: 2, kind: server, at: at, dur: 8 * time.Millisecond, attrs: http(nil)},
			sp{svc: "checkout", version: "1.4.2", trace: tr, id: 4, parent: 3, kind: client, at: at, dur: 5 * time.Millisecond, attrs: http(map[string]string{"server.address": "payments"})},
			sp{svc: "checkout", version: "1.4.2", trace: tr, id: 6, parent: 3, kind: client, at: at, dur: time.Millisecond,
				attrs: map[string]string{"db.system.name": "postgresql", "db.namespace": "orders", "db.query.text": "SELECT * FROM orders WHERE id = $1"}},
			sp{svc: "payments", version: "7.0.1", trace: tr, id: 5, parent: 4, kind: server, at: at, dur: 4 * time.Millisecond, failed: i%10 == 0, attrs: http(nil)},
		)
	}
	return request(spans...)
}

// BenchmarkDecodeAggregateProto measures the protobuf path: decode an
// export of 1000 spans and pair and count them.
func BenchmarkDecodeAggregateProto(b *testing.B) {
	benchAggregate(b, marshalProto, viaKafka)
}

// BenchmarkDecodeAggregateGenerated is the protobuf path through the
// generated decoder (DecodeRequest, then Add), for comparison.
func BenchmarkDecodeAggregateGenerated(b *testing.B) {
	benchAggregate(b, marshalProto, func(b *testing.B, agg *Aggregator, body []byte, _ int) {
		r, err := DecodeRequest(body, ContentTypeProtobuf)
		if err != nil {
			b.Fatal(err)
		}
		agg.Add(r, "bench")
	})
}

// BenchmarkDecodeAggregateJSON is the same over OTLP JSON.
func BenchmarkDecodeAggregateJSON(b *testing.B) {
	benchAggregate(b, protojsonOTLP, viaKafka)
}

// benchAggregate encodes a 1000-span export and feeds it to an
// aggregator b.N times with step, reporting spans per second.
func benchAggregate(b *testing.B, encode func(*coltracepb.ExportTraceServiceRequest) ([]byte, error),
	step func(b *testing.B, agg *Aggregator, body []byte, i int)) {
	req := benchRequest(200)
	body, err := encode(req)
	if err != nil {
		b.Fatal(err)
	}
	spans := SpanCount(req)
	agg := NewAggregator(Config{}, func() time.Time { return t0 })
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	cpu := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		step(b, agg, body, i)
	}
	reportSpans(b, spans, cpu)
}

func marshalProto(r *coltracepb.ExportTraceServiceRequest) ([]byte, error) { return proto.Marshal(r) }

// viaKafka adds body as the i-th Kafka message and flushes every 50.
func viaKafka(b *testing.B, agg *Aggregator, body []byte, i int) {
	if err := agg.AddKafka(KafkaMessage{Topic: DefaultTopic, Offset: int64(i), Value: body, Time: t0}); err != nil {
		b.Fatal(err)
	}
	if i%50 == 49 {
		agg.FlushKafka(t0)
	}
}

// cpuTime is the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportSpans reports spans per wall-clock second and per CPU second: on a
// shared machine the second says what one core does, whatever else runs.
func reportSpans(b *testing.B, spans int, cpuBefore time.Duration) {
	b.ReportMetric(float64(spans*b.N)/b.Elapsed().Seconds(), "spans/s")
	if used := cpuTime() - cpuBefore; used > 0 {
		b.ReportMetric(float64(spans*b.N)/used.Seconds(), "spans/cpu-s")
	}
}

// fullStoreBytes fills a pending store to MaxItems with client spans that
// never pair and returns the heap it holds.
func fullStoreBytes(tb testing.TB, items int) (int64, *Aggregator) {
	tb.Helper()
	// Only the frontend client spans: one pending entry each.
	req := &coltracepb.ExportTraceServiceRequest{ResourceSpans: []*tracepb.ResourceSpans{benchRequest(items).ResourceSpans[0]}}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	agg := NewAggregator(Config{MaxItems: items}, func() time.Time { return t0 })
	agg.Add(req, "fill")
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(req)
	if s := agg.Stats(); s.Pending != items {
		tb.Fatalf("%d pending, want %d", s.Pending, items)
	}
	return int64(after.HeapAlloc) - int64(before.HeapAlloc), agg
}

// TestPendingStoreMemory bounds what a full pending store (10 000 waiting
// spans, the default) costs, the request that filled it aside.
func TestPendingStoreMemory(t *testing.T) {
	held, agg := fullStoreBytes(t, DefaultMaxItems)
	t.Logf("a full pending store of %d entries holds %d KiB (%d bytes per entry)", DefaultMaxItems, held>>10, held/DefaultMaxItems)
	if held > 16<<20 {
		t.Errorf("a full pending store holds %d MiB, want under 16", held>>20)
	}
	runtime.KeepAlive(agg)
}

// BenchmarkPendingStoreFull reports the memory of a full pending store.
func BenchmarkPendingStoreFull(b *testing.B) {
	var held int64
	for i := 0; i < b.N; i++ {
		h, agg := fullStoreBytes(b, DefaultMaxItems)
		held = h
		runtime.KeepAlive(agg)
	}
	b.ReportMetric(float64(held), "bytes/store")
	b.ReportMetric(float64(held)/DefaultMaxItems, "bytes/entry")
}
