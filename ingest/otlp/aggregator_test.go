package otlp

import (
	"encoding/binary"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/sregraph/sregraph/graph"
)

var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// sp describes a span for the table tests; ids are small integers.
type sp struct {
	svc, version string
	trace, id    uint64
	parent       uint64
	kind         tracepb.Span_SpanKind
	at           time.Duration // after t0
	dur          time.Duration
	failed       bool
	attrs        map[string]string
}

func traceID(n uint64) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b[8:], n)
	b[0] = 0x4b
	return b
}

func spanID(n uint64) []byte {
	if n == 0 {
		return nil
	}
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, n)
	return b
}

func strKV(k, v string) *commonpb.KeyValue {
	return &commonpb.KeyValue{Key: k, Value: &commonpb.AnyValue{Value: &commonpb.AnyValue_StringValue{StringValue: v}}}
}

// request builds an export request, one resource per service (and version)
// in order of first appearance.
func request(spans ...sp) *coltracepb.ExportTraceServiceRequest {
	req := &coltracepb.ExportTraceServiceRequest{}
	idx := map[string]*tracepb.ScopeSpans{}
	for _, s := range spans {
		key := s.svc + "@" + s.version
		ss := idx[key]
		if ss == nil {
			attrs := []*commonpb.KeyValue{strKV("service.name", s.svc)}
			if s.version != "" {
				attrs = append(attrs, strKV("service.version", s.version))
			}
			ss = &tracepb.ScopeSpans{Scope: &commonpb.InstrumentationScope{Name: "test"}}
			req.ResourceSpans = append(req.ResourceSpans, &tracepb.ResourceSpans{
				Resource: &resourcepb.Resource{Attributes: attrs}, ScopeSpans: []*tracepb.ScopeSpans{ss}})
			idx[key] = ss
		}
		start := uint64(t0.Add(s.at).UnixNano())
		p := &tracepb.Span{
			TraceId: traceID(s.trace), SpanId: spanID(s.id), ParentSpanId: spanID(s.parent),
			Name: "op", Kind: s.kind, StartTimeUnixNano: start, EndTimeUnixNano: start + uint64(s.dur),
		}
		if s.failed {
			p.Status = &tracepb.Status{Code: tracepb.Status_STATUS_CODE_ERROR}
		}
		for k, v := range s.attrs {
			p.Attributes = append(p.Attributes, strKV(k, v))
		}
		ss.Spans = append(ss.Spans, p)
	}
	return req
}

const (
	client   = tracepb.Span_SPAN_KIND_CLIENT
	server   = tracepb.Span_SPAN_KIND_SERVER
	producer = tracepb.Span_SPAN_KIND_PRODUCER
	consumer = tracepb.Span_SPAN_KIND_CONSUMER
	internal = tracepb.Span_SPAN_KIND_INTERNAL
	unknown  = tracepb.Span_SPAN_KIND_UNSPECIFIED
)

func TestAggregatorPairing(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name string
		cfg  Config
		// requests are added one after the other, each as producer pN,
		// with the clock advanced by gap between them.
		requests [][]sp
		gap      time.Duration
		want     []string
		stats    Stats
	}{
		{
			name: "client then server",
			requests: [][]sp{
				{{svc: "a", trace: 1, id: 10, kind: client, dur: 20 * ms}},
				{{svc: "b", trace: 1, id: 11, parent: 10, kind: server, at: ms, dur: 15 * ms}},
			},
			want:  []string{"a->b@10:00:00 p0 calls=1 errors=0"},
			stats: Stats{Spans: 2, Paired: 1},
		},
		{
			name: "server first, in the same request, error on the server",
			requests: [][]sp{{
				{svc: "b", trace: 1, id: 11, parent: 10, kind: server, at: ms, dur: 15 * ms, failed: true},
				{svc: "a", trace: 1, id: 10, kind: client, dur: 20 * ms},
			}},
			want:  []string{"a->b@10:00:00 p0 calls=1 errors=1"},
			stats: Stats{Spans: 2, Paired: 1},
		},
		{
			name: "calls in two minutes are two buckets",
			requests: [][]sp{{
				{svc: "a", trace: 1, id: 10, kind: client, dur: ms},
				{svc: "b", trace: 1, id: 11, parent: 10, kind: server},
				{svc: "a", trace: 2, id: 10, kind: client, at: 61 * time.Second, failed: true},
				{svc: "b", trace: 2, id: 11, parent: 10, kind: server, at: 61 * time.Second},
				{svc: "a", trace: 3, id: 10, kind: client, at: 62 * time.Second},
				{svc: "b", trace: 3, id: 11, parent: 10, kind: server, at: 62 * time.Second},
			}},
			want:  []string{"a->b@10:00:00 p0 calls=1 errors=0", "a->b@10:01:00 p0 calls=2 errors=1"},
			stats: Stats{Spans: 6, Paired: 3},
		},
		{
			name: "database client span is an edge at once, named as Tempo names it",
			requests: [][]sp{{
				{svc: "a", trace: 1, id: 10, kind: client, attrs: map[string]string{"db.system.name": "postgresql", "db.namespace": "orders", "server.address": "pg"}},
				{svc: "a", trace: 1, id: 12, kind: client, attrs: map[string]string{"db.system": "redis"}},
				{svc: "a", trace: 1, id: 13, kind: client, attrs: map[string]string{"db.system": "mysql", "peer.service": "users-db", "server.address": "mysql-0"}},
				{svc: "a", trace: 1, id: 14, kind: client, attrs: map[string]string{"db.system": "postgresql", "network.peer.address": "10.0.0.7", "network.peer.port": "5432"}},
				{svc: "a", trace: 1, id: 15, kind: producer, attrs: map[string]string{"db.name": "ledger"}},
			}},
			want: []string{"a->10.0.0.7:5432@10:00:00 p0 calls=1 errors=0 database", "a->ledger@10:00:00 p0 calls=1 errors=0 database",
				"a->pg@10:00:00 p0 calls=1 errors=0 database", "a->redis@10:00:00 p0 calls=1 errors=0 database",
				"a->users-db@10:00:00 p0 calls=1 errors=0 database"},
			stats: Stats{Spans: 5, Database: 5},
		},
		{
			name: "unpaired client with peer.service becomes a virtual edge on expiry",
			requests: [][]sp{
				{{svc: "a", trace: 1, id: 10, kind: client, failed: true, attrs: map[string]string{"peer.service": "stripe", "server.address": "api.stripe.com"}}},
				{{svc: "a", trace: 2, id: 10, kind: client, attrs: map[string]string{"server.address": "api.stripe.com"}}},
				{{svc: "a", trace: 3, id: 10, kind: client}},
			},
			want:  []string{"a->stripe@10:00:00 p0 calls=1 errors=1 virtual_node"},
			stats: Stats{Spans: 3, Virtual: 1, Expired: 2},
		},
		{
			name: "unpaired server counts as expired, a root server as called by the user or its peer",
			requests: [][]sp{{
				{svc: "b", trace: 1, id: 11, parent: 10, kind: server},
				{svc: "b", trace: 2, id: 11, kind: server, failed: true},
				{svc: "c", trace: 3, id: 11, kind: consumer, attrs: map[string]string{"peer.service": "partner-feed"}},
			}},
			want: []string{"partner-feed->c@10:00:00 p0 calls=1 errors=0 virtual_node",
				"user->b@10:00:00 p0 calls=1 errors=1 virtual_node"},
			stats: Stats{Spans: 3, Expired: 1, Roots: 2},
		},
		{
			name: "producer and consumer; a producer without consumer goes to its peer, not its destination",
			requests: [][]sp{{
				{svc: "orders", trace: 1, id: 10, kind: producer, attrs: map[string]string{"messaging.system": "kafka", "messaging.destination.name": "order-events"}},
				{svc: "billing", trace: 1, id: 11, parent: 10, kind: consumer, at: time.Second},
				{svc: "orders", trace: 2, id: 10, kind: producer, attrs: map[string]string{"messaging.system": "kafka", "messaging.destination.name": "audit", "server.address": "kafka-0"}},
			}},
			want:  []string{"orders->billing@10:00:00 p0 calls=1 errors=0 messaging_system"},
			stats: Stats{Spans: 3, Paired: 1, Expired: 1},
		},
		{
			name: "no span kinds: parent service to child service",
			requests: [][]sp{
				{{svc: "b", trace: 1, id: 11, parent: 10, kind: unknown}, {svc: "b", trace: 1, id: 12, parent: 10, kind: unknown, failed: true}},
				{{svc: "a", trace: 1, id: 10, kind: unknown}, {svc: "a", trace: 1, id: 13, parent: 10, kind: unknown}},
				{{svc: "c", trace: 1, id: 14, parent: 12, kind: server}},
			},
			want:  []string{"a->b@10:00:00 p1 calls=2 errors=1", "b->c@10:00:00 p0 calls=1 errors=0"},
			stats: Stats{Spans: 5, Paired: 3},
		},
		{
			name: "internal spans and calls to oneself are not counted",
			requests: [][]sp{{
				{svc: "a", trace: 1, id: 10, kind: internal},
				{svc: "a", trace: 1, id: 11, parent: 10, kind: internal},
				{svc: "a", trace: 1, id: 12, kind: client},
				{svc: "a", trace: 1, id: 13, parent: 12, kind: server},
			}},
			stats: Stats{Spans: 4, Paired: 1},
		},
		{
			name: "the same client span twice is counted once",
			requests: [][]sp{
				{{svc: "a", trace: 1, id: 10, kind: client}},
				{{svc: "a", trace: 1, id: 10, kind: client}},
				{{svc: "b", trace: 1, id: 11, parent: 10, kind: server}},
			},
			want:  []string{"a->b@10:00:00 p0 calls=1 errors=0"},
			stats: Stats{Spans: 3, Paired: 1},
		},
		{
			name: "a full store expires its oldest entry early",
			cfg:  Config{MaxItems: 2},
			requests: [][]sp{
				{{svc: "a", trace: 1, id: 10, kind: client, attrs: map[string]string{"peer.service": "x"}}},
				{{svc: "a", trace: 2, id: 10, kind: client}},
				{{svc: "a", trace: 3, id: 10, kind: client}},
				{{svc: "b", trace: 3, id: 11, parent: 10, kind: server}},
			},
			want:  []string{"a->b@10:00:00 p2 calls=1 errors=0", "a->x@10:00:00 p0 calls=1 errors=0 virtual_node"},
			stats: Stats{Spans: 4, Paired: 1, Virtual: 1, Expired: 1, Evicted: 1},
		},
		{
			name: "a half that arrives after Wait does not pair",
			gap:  DefaultWait,
			requests: [][]sp{
				{{svc: "a", trace: 1, id: 10, kind: client}},
				{{svc: "b", trace: 1, id: 11, parent: 10, kind: server}},
			},
			stats: Stats{Spans: 2, Expired: 2},
		},
		{
			name: "malformed spans are rejected",
			requests: [][]sp{{
				{svc: "a", trace: 1, id: 0, kind: client},
				{svc: "", trace: 1, id: 3, kind: client},
				{svc: "a", trace: 1, id: 4, kind: client, at: -30 * 365 * 24 * time.Hour},
			}},
			stats: Stats{Spans: 3, Rejected: 3},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := t0.Add(time.Minute)
			a := NewAggregator(tc.cfg, func() time.Time { return clock })
			store := newMemStore()
			write := func(b graph.Batch) {
				if _, err := store.Apply(t.Context(), b); err != nil {
					t.Fatal(err)
				}
			}
			for i, r := range tc.requests {
				if i > 0 && tc.gap > 0 {
					clock = clock.Add(tc.gap)
					write(a.Flush(clock))
				}
				b, _ := a.Add(request(r...), fmt.Sprintf("p%d", i))
				write(b)
			}
			clock = clock.Add(DefaultWait)
			write(a.Flush(clock))
			got := describe(mapValues(store.calls))
			if len(got) == 0 {
				got = nil
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("buckets:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(tc.want, "\n     "))
			}
			if s := a.Stats(); s != tc.stats {
				t.Errorf("stats:\n got %+v\nwant %+v", s, tc.stats)
			}
		})
	}
}

func TestDeployFromServiceVersion(t *testing.T) {
	clock := t0
	a := NewAggregator(Config{}, func() time.Time { return clock })
	var events []graph.Event
	add := func(version string, at time.Duration) {
		b, _ := a.Add(request(sp{svc: "pay", version: version, trace: uint64(at), id: 1, kind: server, parent: 9, at: at}), "p")
		events = append(events, b.Events...)
	}
	add("1.0", 0)                       // first sighting: not a deploy
	add("1.0", time.Minute)             // same version
	add("1.1", 2*time.Minute)           // new: deploy
	add("1.0", 3*time.Minute)           // rolling update: old pods still report
	add("1.1", 4*time.Minute)           // no news
	add("1.0", 3*time.Hour)             // rollback after 1.0 was gone for hours: deploy
	add("1.1", 3*time.Hour+time.Minute) // 1.1 was seen 3h ago: deploy again
	var got []string
	for _, e := range events {
		if e.Kind != graph.KindDeploy || e.Source != "otlp" || e.ID == "" {
			t.Errorf("event %+v", e)
		}
		got = append(got, fmt.Sprintf("%s %s %s", e.ExternalID, e.At.Sub(t0), e.Attributes["previousVersion"]))
	}
	want := []string{"pay@1.1 2m0s 1.0", "pay@1.0 3h0m0s 1.1", "pay@1.1 3h1m0s 1.0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("deploys:\n got %q\nwant %q", got, want)
	}
}

func TestAggregatorLatencyHistogram(t *testing.T) {
	ms := time.Millisecond
	durs := []time.Duration{3 * ms, 5 * ms, 20 * ms, 20 * ms, 400 * ms, 3 * time.Second}
	var spans []sp
	for i, d := range durs {
		tr := uint64(i + 1)
		spans = append(spans,
			sp{svc: "a", trace: tr, id: 10, kind: client, at: time.Duration(i) * time.Second, dur: d},
			sp{svc: "b", trace: tr, id: 11, parent: 10, kind: server, at: time.Duration(i)*time.Second + ms, dur: d / 2})
	}
	clock := t0.Add(time.Minute)
	a := NewAggregator(Config{}, func() time.Time { return clock })
	b, _ := a.Add(request(spans...), "p0")
	b = appendBatch(b, a.Flush(clock.Add(DefaultWait)))
	if len(b.Calls) != 1 {
		t.Fatalf("got %d buckets, want 1: %+v", len(b.Calls), b.Calls)
	}
	c := b.Calls[0]
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	var wantSum time.Duration
	for _, d := range durs {
		wantSum += d
	}
	// 3ms and 5ms are at most 5ms, 20ms twice at most 25ms, 400ms at most
	// 500ms, 3s beyond every bound.
	want := [graph.LatencyBuckets]int64{0: 2, 2: 2, 6: 1, 9: 1}
	if c.Calls != int64(len(durs)) || c.LatencySum != wantSum || c.Latency != want {
		t.Errorf("bucket: calls=%d latencySum=%s latency=%v; want calls=%d latencySum=%s latency=%v",
			c.Calls, c.LatencySum, c.Latency, len(durs), wantSum, want)
	}
}
