package kafka

import "github.com/prometheus/client_golang/prometheus"

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
