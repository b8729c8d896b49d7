package otlp

import "github.com/prometheus/client_golang/prometheus"

// SpanStats exports an aggregator's Stats as Prometheus metrics. It reads
// them when scraped.
type SpanStats struct {
	agg *Aggregator

	spans, rejected, calls, expired, evicted, roots, pending *prometheus.Desc
}

// NewSpanStats returns the collector of agg's Stats; register it with a
// prometheus.Registerer.
func NewSpanStats(agg *Aggregator) *SpanStats {
	return &SpanStats{
		agg: agg,
		spans: prometheus.NewDesc("sregraph_otlp_spans_total",
			"Spans received over OTLP/HTTP and Kafka.", nil, nil),
		rejected: prometheus.NewDesc("sregraph_otlp_spans_rejected_total",
			"Spans rejected as malformed (bad ids or times, no service.name) and not counted.", nil, nil),
		calls: prometheus.NewDesc("sregraph_otlp_calls_total",
			"Calls derived from spans, by how (paired: client and server spans joined; database: a database client span; virtual: an expired client span with a named peer).",
			[]string{"how"}, nil),
		expired: prometheus.NewDesc("sregraph_otlp_spans_expired_total",
			"Unpaired spans that expired without a named peer and were dropped.", nil, nil),
		evicted: prometheus.NewDesc("sregraph_otlp_spans_evicted_total",
			"Pending entries expired early because their pending store was full.", nil, nil),
		roots: prometheus.NewDesc("sregraph_otlp_root_spans_total",
			"Server spans without a parent (called by no known service).", nil, nil),
		pending: prometheus.NewDesc("sregraph_otlp_pending_spans",
			"Entries waiting for their other half in the pending stores.", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (s *SpanStats) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{s.spans, s.rejected, s.calls, s.expired, s.evicted, s.roots, s.pending} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (s *SpanStats) Collect(ch chan<- prometheus.Metric) {
	st := s.agg.Stats()
	counter := func(d *prometheus.Desc, v int64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	counter(s.spans, st.Spans)
	counter(s.rejected, st.Rejected)
	counter(s.calls, st.Paired, "paired")
	counter(s.calls, st.Database, "database")
	counter(s.calls, st.Virtual, "virtual")
	counter(s.expired, st.Expired)
	counter(s.evicted, st.Evicted)
	counter(s.roots, st.Roots)
	ch <- prometheus.MustNewConstMetric(s.pending, prometheus.GaugeValue, float64(st.Pending))
}
