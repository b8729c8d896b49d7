package neo4j

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/segmentio/kafka-go"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest"
	ingestkafka "github.com/sregraph/sregraph/ingest/kafka"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
)

// TestKafkaToNeo4j runs the real Kafka consumer (over the Kafka wire
// protocol, against the in-process broker) into the Neo4j store: canonical
// deploys with a redelivered tail, and an Alertmanager breach that fires
// and resolves. Everything lands exactly once, and the breach's context
// is answered from Neo4j.
func TestKafkaToNeo4j(t *testing.T) {
	s := MustOpen(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	cfg := ingestkafka.DefaultConfig()
	cfg.Topics = map[ingest.Family]string{ingest.FamilyDeploys: "sre.deploys", ingest.FamilySLO: "sre.slo"}
	addrs, stop, err := embedded.Start(ctx, "127.0.0.1:0", cfg.TopicNames())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cfg.Brokers, cfg.GroupID, cfg.MaxWait = addrs, "neo4j-it", 50*time.Millisecond
	cons, err := ingestkafka.NewConsumer(cfg, s, ingestkafka.Options{Logger: slog.New(slog.DiscardHandler), Registerer: prometheus.NewRegistry(), Now: time.Now})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stopRun := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cons.Run(runCtx) }()
	defer func() {
		stopRun()
		if err := <-done; err != nil && runCtx.Err() == nil {
			t.Errorf("consumer: %v", err)
		}
	}()

	at := time.Now().UTC().Add(-30 * time.Minute).Truncate(time.Second)
	var deploys []kafka.Message
	for i := range 200 {
		v := fmt.Sprintf(`{"id":"d-%d","kind":"deploy","service":"svc-%d","at":%q,"source":"argo-cd","summary":"svc-%d v%d"}`,
			i, i%10, at.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i%10, i)
		deploys = append(deploys, kafka.Message{Key: []byte(fmt.Sprint(i % 10)), Value: []byte(v)})
	}
	deploys = append(deploys, deploys[150:]...) // a producer's retry: redelivered
	produce(t, addrs, "sre.deploys", deploys...)
	alert := func(status, endsAt string) kafka.Message {
		return kafka.Message{Value: []byte(fmt.Sprintf(`{"version":"4","status":%q,"receiver":"sregraph","groupKey":"{}:{}","alerts":[{"status":%q,
			"labels":{"alertname":"Availability","service":"svc-3","slo":"svc-3-availability"},"annotations":{},
			"startsAt":%q,"endsAt":%q,"fingerprint":"f00d"}]}`, status, status, at.Add(5*time.Minute).Format(time.RFC3339), endsAt))}
	}
	produce(t, addrs, "sre.slo", alert("firing", "0001-01-01T00:00:00Z"))

	deadline := time.Now().Add(90 * time.Second)
	wait := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	count := func(f graph.EventFilter) int {
		n, err := s.CountEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	wait("200 deploys and an open breach", func() bool {
		return count(graph.EventFilter{Kinds: []graph.Kind{graph.KindDeploy}}) == 200 &&
			count(graph.EventFilter{Kinds: []graph.Kind{graph.KindSLOBreach}, OpenOnly: true}) == 1
	})
	produce(t, addrs, "sre.slo", alert("resolved", at.Add(25*time.Minute).Format(time.RFC3339)))
	wait("the breach to resolve", func() bool {
		return count(graph.EventFilter{Kinds: []graph.Kind{graph.KindSLOBreach}, OpenOnly: true}) == 0
	})
	if n := count(graph.EventFilter{}); n != 201 {
		t.Fatalf("stored %d events, want 200 deploys and 1 breach", n)
	}
	page, err := s.Events(ctx, graph.EventFilter{Kinds: []graph.Kind{graph.KindSLOBreach}, First: 1})
	if err != nil || len(page.Items) != 1 {
		t.Fatalf("breach: %v %v", page, err)
	}
	b := graph.BreachOf(page.Items[0])
	c, err := graph.BuildContext(ctx, s, graph.ContextQuery{Service: b.Service, At: b.StartedAt, Before: graph.DefaultBefore, After: graph.DefaultAfter, Breach: &b})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Changes) != 20 || c.Changes[0].Event.Service != "svc-3" {
		t.Fatalf("context: %d changes, top %+v", len(c.Changes), c.Changes)
	}
}

func produce(t *testing.T, addrs []string, topic string, msgs ...kafka.Message) {
	t.Helper()
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, BatchTimeout: 10 * time.Millisecond}
	defer w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}
