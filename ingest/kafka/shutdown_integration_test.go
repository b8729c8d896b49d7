package kafka

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
	"github.com/sregraph/sregraph/ingest/otlp"
)

// TestKafkaCleanShutdownWarnsNothing consumes every family from a real
// broker, then stops the way Ctrl-C does (the context ends): a clean stop
// is not a warning, so nothing at WARN or above may be logged from then
// on (kafka-go reports its goroutines' context cancellations as errors).
func TestKafkaCleanShutdownWarnsNothing(t *testing.T) {
	brokers := ingesttest.KafkaBrokers(t)
	run := strings.ReplaceAll(time.Now().UTC().Format("20060102t150405.000"), ".", "")
	topics := map[ingest.Family]string{}
	var all []kafka.TopicConfig
	for _, f := range ingest.Families {
		topics[f] = fmt.Sprintf("stop-%s.%s", run, f)
		for _, name := range []string{topics[f], DeadLetterTopic(topics[f])} {
			all = append(all, kafka.TopicConfig{Topic: name, NumPartitions: embedded.Partitions, ReplicationFactor: 1})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mustCreateTopics(t, ctx, brokers[0], all)

	cfg := kafkaTestConfig(brokers, "stop-"+run, topics)
	cfg.SessionTimeout = 10 * time.Second
	cfg.RebalanceTimeout = 10 * time.Second
	cfg.Spans = otlp.NewAggregator(otlp.Config{}, func() time.Time { return kafkaNow })
	var logs ingesttest.Buffer
	opts := cfg.options()
	opts.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := NewConsumer(cfg.Config, mustOpenKafkaStore(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	ingesttest.Wait(t, 60*time.Second, "the consumer ready on every topic", func() bool { return c.Ready() == nil })
	// Let the group settle and the readers fetch for a while, as a
	// server does before someone presses Ctrl-C.
	time.Sleep(500 * time.Millisecond)
	before := len(logs.String())
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after a clean stop: %v", err)
		}
	case <-time.After(3*cfg.ShutdownTimeout + 5*time.Second):
		t.Fatal("the consumer did not stop")
	}
	after := logs.String()[before:]
	var loud []string
	for _, line := range strings.Split(after, "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			loud = append(loud, line)
		}
	}
	if len(loud) > 0 {
		t.Errorf("a clean stop logged %d lines at WARN or above:\n%s", len(loud), strings.Join(loud, "\n"))
	}
	if !strings.Contains(after, "stopped consuming") {
		t.Errorf("the stop is not logged:\n%s", after)
	}
}
