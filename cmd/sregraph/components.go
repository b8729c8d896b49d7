package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/kafka"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
	"github.com/sregraph/sregraph/ingest/otlp"
	"github.com/sregraph/sregraph/ingest/webhook"
)

// componentConfig holds the flags the ingest components register for
// themselves.
type componentConfig struct {
	kafka kafka.Config
	http  webhook.Config
	// virtualCaller and peerAttributes tune the service graph built from
	// traces (otlp.Config).
	virtualCaller  string
	peerAttributes string
}

func registerComponentFlags(fs *flag.FlagSet) *componentConfig {
	c := &componentConfig{}
	c.kafka.RegisterFlags(fs)
	c.http.RegisterFlags(fs)
	fs.StringVar(&c.virtualCaller, "otlp-virtual-caller", otlp.DefaultVirtualCaller,
		"service that calls a root SERVER or CONSUMER span without a peer attribute (Tempo's \"user\")")
	fs.StringVar(&c.peerAttributes, "otlp-peer-attributes", strings.Join(otlp.DefaultPeerAttributes, ","),
		"comma list of span attributes, first present wins, naming the uninstrumented peer of a span nothing answered (Tempo's peer_attributes; add server.address to name peers by host)")
	return c
}

func (c *componentConfig) validate() error {
	if err := c.kafka.Validate(); err != nil {
		return err
	}
	if c.http.WebhooksToKafka && !c.kafka.Enabled() {
		return fmt.Errorf("--webhooks-to-kafka needs Kafka: give --kafka-brokers (or --kafka embedded)")
	}
	return c.http.Validate()
}

// wiring is what the components are wired into.
type wiring struct {
	mux   *http.ServeMux
	store store
	// writer is the durable, publishing write side every ingest path
	// uses.
	writer  graph.Applier
	aliases ingest.Aliases
	// rename is what every decoded item goes through before it is
	// written: breach services, then aliases.
	rename    func([]ingest.Item) []ingest.Item
	reg       prometheus.Registerer
	log       *slog.Logger
	now       func() time.Time
	publicURL string
	// retention is how long the store keeps data.
	retention time.Duration
	ready     *readiness
	// start adds a background task, run for the server's lifetime.
	start func(name string, f func(context.Context) error)
	// after registers cleanup to run once every background task has
	// stopped.
	after func(func() error)
}

// wire starts the Kafka consumers (and the embedded broker when asked
// for) and registers the ingest endpoints.
func (c *componentConfig) wire(ctx context.Context, w wiring) error {
	kopts := kafka.Options{Logger: w.log, Registerer: w.reg, Now: w.now, Rename: w.rename}
	if c.kafka.Embedded {
		brokers, stop, err := embedded.Start(ctx, c.kafka.EmbeddedAddr, c.kafka.TopicNames())
		if err != nil {
			return fmt.Errorf("--kafka embedded: %w", err)
		}
		// The broker outlives the consumers so that their final commits
		// have somewhere to go.
		w.after(func() error { stop(); return nil })
		w.log.Warn("embedded Kafka broker for trying sregraph out: it keeps messages in memory only", "addr", brokers)
		kopts.Brokers = brokers
	}
	var pub webhook.Publisher
	if c.http.WebhooksToKafka {
		p, err := kafka.NewPublisher(c.kafka, kopts)
		if err != nil {
			return fmt.Errorf("--webhooks-to-kafka: %w", err)
		}
		pub = p
		// Closed once the HTTP server has drained and the consumers
		// have stopped.
		w.after(p.Close)
	}
	h, err := webhook.New(c.http, w.writer, webhook.Options{Now: w.now, Logger: w.log, Rename: w.rename, Registerer: w.reg, Publisher: pub})
	if err != nil {
		return err
	}
	h.Register(w.mux)

	// Traces: one aggregator pairs the spans of OTLP/HTTP and of the
	// spans topic, renaming services through the aliases; the handler's
	// Run expires the HTTP spans and judges anomalies.
	// Spans older than the retention are rejected rather than counted
	// and then deleted, and so are spans an hour or more ahead.
	var peers []string
	for _, a := range strings.Split(c.peerAttributes, ",") {
		if a = strings.TrimSpace(a); a != "" {
			peers = append(peers, a)
		}
	}
	agg := otlp.NewAggregator(otlp.Config{Alias: w.aliases.Resolve, Retention: w.retention, MaxAhead: otlp.DefaultMaxAhead,
		VirtualCaller: c.virtualCaller, PeerAttributes: peers}, w.now)
	traces := otlp.NewHandler(agg, w.writer, otlp.HandlerConfig{Logger: w.log, MaxBodyBytes: c.http.MaxBody})
	w.mux.Handle("POST /v1/traces", traces)
	w.start("otlp flusher", traces.Run)
	if w.reg != nil {
		if err := w.reg.Register(otlp.NewSpanStats(agg)); err != nil {
			return fmt.Errorf("otlp metrics: %w", err)
		}
	}

	if c.kafka.Enabled() {
		kopts.Spans = agg
		cons, err := kafka.NewConsumer(c.kafka, w.writer, kopts)
		if err != nil {
			return fmt.Errorf("kafka: %w", err)
		}
		*w.ready = append(*w.ready, func(context.Context) error { return cons.Ready() })
		w.start("kafka consumer", cons.Run)
		w.log.Info("consuming Kafka", "brokers", cons.Brokers(), "topics", cons.Topics(), "group", c.kafka.GroupID)
	}
	return nil
}
