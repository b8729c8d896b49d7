package webhook

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
	"github.com/sregraph/sregraph/ingest/kafka"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
)

// webhookKafkaConfig is a Kafka configuration for brokers, tuned for a
// fast test.
func webhookKafkaConfig(brokers []string) kafka.Config {
	cfg := kafka.DefaultConfig()
	cfg.Brokers = brokers
	cfg.GroupID = "webhook-test"
	cfg.MaxWait = 50 * time.Millisecond
	cfg.SessionTimeout = 2 * time.Second
	cfg.HeartbeatInterval = 200 * time.Millisecond
	cfg.RebalanceTimeout = 2 * time.Second
	cfg.JoinGroupBackoff = 200 * time.Millisecond
	cfg.RetryMin = 10 * time.Millisecond
	cfg.RetryMax = 200 * time.Millisecond
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// TestWebhooksToKafka sends deliveries of every signed and unsigned kind
// through --webhooks-to-kafka: each is appended to its family's topic and
// not stored; the Kafka consumer then stores exactly what the endpoints
// store when they write directly.
func TestWebhooksToKafka(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := webhookKafkaConfig(nil)
	brokers, stopBroker, err := embedded.Start(ctx, "127.0.0.1:0", cfg.TopicNames())
	if err != nil {
		t.Fatal(err)
	}
	defer stopBroker()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	pub, err := kafka.NewPublisher(cfg, kafka.Options{Brokers: brokers})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()

	hcfg := DefaultConfig()
	hcfg.WebhooksToKafka = true
	viaKafka := mustStartHTTP(t, hcfg, func(o *Options) { o.Publisher = pub })
	direct := mustStartHTTP(t, DefaultConfig(), nil)

	samples := []struct {
		path, file, topic string
	}{
		{"/v1/webhooks/alertmanager", "alertmanager/sloth-firing.json", "sre.slo"},
		{"/v1/webhooks/alertmanager", "alertmanager/bad-no-service.json", "sre.slo"},
		{"/v1/webhooks/github", "github/deployment-status-success.json", "sre.deploys"},
		{"/v1/webhooks/github", "github/issues-labeled.json", "sre.tickets"},
		{"/v1/webhooks/cdevents", "cloudevents/binary-upgraded.json", "sre.deploys"},
		{"/v1/webhooks/cdevents", "cloudevents/structured-deployed.json", "sre.deploys"},
		{"/v1/webhooks/argocd", "argocd/deployed.json", "sre.deploys"},
		{"/v1/webhooks/flux", "flux/kustomization-succeeded.json", "sre.deploys"},
		{"/v1/webhooks/flux", "flux/helmrelease-upgraded.json", "sre.deploys"},
		{"/v1/webhooks/kubernetes", "kubernetes/hpa-rescale.json", "sre.scale"},
		{"/v1/webhooks/autoscaling", "autoscaling/launch-successful.json", "sre.scale"},
		{"/v1/webhooks/jira", "jira/issue-created.json", "sre.tickets"},
		{"/v1/webhooks/pagerduty", "pagerduty/incident-triggered.json", "sre.tickets"},
		{"/v1/webhooks/backstage", "backstage/catalog-info.yaml", "sre.deploys"},
	}
	for _, s := range samples {
		path := ingesttest.Testdata("ingest", s.file)
		body, hdr := mustRead(t, path), sampleHeaders(t, path)
		want := direct.post(t, s.path, body, hdr)
		got := viaKafka.post(t, s.path, body, hdr)
		if got.Status != http.StatusOK || got.Body.Topic != s.topic {
			t.Fatalf("%s: status %d, topic %q; want 200 and %s: %s", s.file, got.Status, got.Body.Topic, s.topic, got.Raw)
		}
		if got.Body.Accepted != want.Body.Accepted+want.Body.Duplicates || !slices.Equal(got.Body.Rejected, want.Body.Rejected) {
			t.Errorf("%s: via Kafka %s; written directly %s", s.file, got.Raw, want.Raw)
		}
	}
	if n := len(viaKafka.events(t)); n != 0 {
		t.Fatalf("--webhooks-to-kafka wrote %d events to the store directly", n)
	}

	// Nothing usable is not published, and gets the same answer as when
	// writing directly.
	bad := mustRead(t, ingesttest.Testdata("ingest", "alertmanager", "bad-times.json"))
	if a, b := viaKafka.post(t, "/v1/webhooks/alertmanager", bad, nil), direct.post(t, "/v1/webhooks/alertmanager", bad, nil); a.Status != b.Status || a.Body.Topic != "" {
		t.Errorf("unusable delivery: via Kafka %d %s, directly %d %s", a.Status, a.Raw, b.Status, b.Raw)
	}

	consumer, err := kafka.NewConsumer(cfg, viaKafka.store, kafka.Options{Brokers: brokers, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return httpNow }})
	if err != nil {
		t.Fatal(err)
	}
	cctx, stopConsumer := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- consumer.Run(cctx) }()
	stop := sync.OnceFunc(func() {
		stopConsumer()
		if err := <-done; err != nil {
			t.Errorf("consumer: %v", err)
		}
	})
	defer stop()

	wantIDs := eventIDs(direct.events(t))
	ingesttest.Wait(t, 30*time.Second, fmt.Sprintf("the consumer to store the %d events stored directly: %v", len(wantIDs), wantIDs), func() bool {
		return slices.Equal(eventIDs(viaKafka.events(t)), wantIDs)
	})

	// With Kafka gone, a delivery is not acknowledged.
	stop()
	stopBroker()
	a := viaKafka.post(t, "/v1/webhooks/alertmanager", mustRead(t, ingesttest.Testdata("ingest", "alertmanager", "sloth-firing.json")), nil)
	if a.Status != http.StatusServiceUnavailable || a.Header.Get("Retry-After") == "" || !strings.Contains(a.Body.Error, "Kafka is unavailable") {
		t.Fatalf("Kafka down: %d %q %s; want 503 with Retry-After", a.Status, a.Header.Get("Retry-After"), a.Raw)
	}
}

// TestWebhooksToKafkaFamilyOff checks that a delivery whose family has no
// topic is written to the store directly rather than lost.
func TestWebhooksToKafkaFamilyOff(t *testing.T) {
	cfg := webhookKafkaConfig([]string{"127.0.0.1:1"}) // nothing listens there
	cfg.Topics[ingest.FamilySLO] = ""
	pub, err := kafka.NewPublisher(cfg, kafka.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	hcfg := DefaultConfig()
	hcfg.WebhooksToKafka = true
	rig := mustStartHTTP(t, hcfg, func(o *Options) { o.Publisher = pub })
	a := rig.post(t, "/v1/webhooks/alertmanager", mustRead(t, ingesttest.Testdata("ingest", "alertmanager", "sloth-firing.json")), nil)
	if a.Status != http.StatusOK || a.Body.Topic != "" || a.Body.Accepted == 0 || len(rig.events(t)) != a.Body.Accepted {
		t.Fatalf("got %d %s with %d events stored; want it stored directly", a.Status, a.Raw, len(rig.events(t)))
	}
}

func eventIDs(evs []graph.Event) []string {
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	slices.Sort(ids)
	return ids
}

func TestPublishedHeaders(t *testing.T) {
	hh := http.Header{}
	hh.Set("Authorization", "Bearer secret")
	hh.Set("Cookie", "a=b")
	hh.Set(TokenHeader, "secret")
	hh.Set("Content-Encoding", "gzip")
	hh.Set("Content-Length", "12")
	hh.Set("X-GitHub-Event", "deployment_status")
	hh.Set("X-Hub-Signature-256", "sha256=00")
	hh.Set("Ce-Specversion", "1.0")
	hh.Set("Content-Type", "application/json")
	var got []string
	for _, h := range publishedHeaders(hh, ingest.FormatGitHub) {
		got = append(got, h.Key+"="+string(h.Value))
	}
	want := []string{"ce-specversion=1.0", "content-type=application/json", "x-github-event=deployment_status", "x-hub-signature-256=sha256=00", HeaderFormat + "=github"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
}
