package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sregraph/sregraph/graph/pebble/smalldisk"
)

// The Kafka half of the chaos suite runs against the real broker that
// scripts/test.sh starts (KAFKA_BROKERS); with SREGRAPH_REQUIRE_KAFKA=1 a
// missing broker fails the tests instead of skipping them. The test
// produces with kafka-go (acknowledged by all in-sync replicas) and the
// binary under test consumes.

// chaosBroker returns the broker to use, skipping (or failing, when
// SREGRAPH_REQUIRE_KAFKA=1) without one.
func chaosBroker(t *testing.T) string {
	t.Helper()
	b := strings.Split(os.Getenv("KAFKA_BROKERS"), ",")[0]
	if b == "" {
		if os.Getenv("SREGRAPH_REQUIRE_KAFKA") == "1" {
			t.Fatal("SREGRAPH_REQUIRE_KAFKA=1 but KAFKA_BROKERS is not set: start a broker with scripts/kafka/start.sh and source .cache/kafka/env")
		}
		t.Skip("KAFKA_BROKERS is not set: run scripts/kafka/start.sh and source .cache/kafka/env")
	}
	return b
}

// chaosTopic names a fresh topic for this run.
func chaosTopic(name string) string {
	return fmt.Sprintf("chaos-%s-%d.sre.deploys", name, time.Now().UnixNano())
}

// createTopics creates topics (3 partitions each) on broker.
func createTopics(t *testing.T, broker string, topics ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var cfgs []kafka.TopicConfig
	for _, tp := range topics {
		cfgs = append(cfgs, kafka.TopicConfig{Topic: tp, NumPartitions: 3, ReplicationFactor: 1})
	}
	client := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 30 * time.Second}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: cfgs})
	if err != nil {
		t.Fatalf("creating topics: %v", err)
	}
	for name, err := range resp.Errors {
		if err != nil {
			t.Fatalf("creating topic %s: %v", name, err)
		}
	}
}

// kafkaServeArgs are the flags that make serve consume topic (and only
// it) from broker as group, with timeouts short enough for a test.
func kafkaServeArgs(broker, topic, group string) []string {
	return []string{
		"--kafka-brokers", broker, "--kafka-group", group,
		"--kafka-topic-deploys", topic, "--kafka-topic-scale", "", "--kafka-topic-tickets", "", "--kafka-topic-slo", "", "--kafka-topic-spans", "",
		"--kafka-session-timeout", "6s", "--kafka-heartbeat-interval", "1s", "--kafka-rebalance-timeout", "6s",
		"--kafka-retry-max", "1s", "--kafka-max-wait", "50ms",
	}
}

// producer writes deploy events of service svc to a topic, each record
// acknowledged by all in-sync replicas before it counts.
type producer struct {
	w     *kafka.Writer
	svc   string
	at    time.Time
	pad   string
	acked map[string]bool
	tried int
}

func newProducer(broker, topic, svc, pad string) *producer {
	return &producer{
		w: &kafka.Writer{Addr: kafka.TCP(broker), Topic: topic, Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll,
			BatchTimeout: 5 * time.Millisecond, BatchSize: 500},
		svc: svc, at: time.Now().UTC().Add(-time.Hour).Truncate(time.Second), pad: pad, acked: map[string]bool{},
	}
}

// produce writes n records with IDs prefix-0 … prefix-(n-1).
func (p *producer) produce(t *testing.T, ctx context.Context, prefix string, n int) {
	t.Helper()
	msgs := make([]kafka.Message, n)
	ids := make([]string, n)
	for i := range msgs {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		v, _ := json.Marshal(map[string]any{"id": ids[i], "kind": "deploy", "service": p.svc, "at": p.at.Format(time.RFC3339),
			"source": "chaos", "summary": "deploy " + ids[i], "attributes": map[string]any{"pad": p.pad}})
		msgs[i] = kafka.Message{Key: []byte(ids[i]), Value: v}
	}
	p.tried += n
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("producing %d records: %v", n, err)
	}
	for _, id := range ids {
		p.acked[id] = true
	}
}

// totalCount asks the server how many events svc has; -1 when it cannot
// answer.
func totalCount(url, svc string) int {
	body, _ := json.Marshal(map[string]any{"query": `query($s: String!) { events(services: [$s], first: 1) { totalCount } }`, "variables": map[string]any{"s": svc}})
	resp, err := http.Post(url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var out struct {
		Data struct{ Events struct{ TotalCount int } }
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&out) != nil {
		return -1
	}
	return out.Data.Events.TotalCount
}

// TestChaosKillKafkaIngest produces to a real topic while the consuming
// server is SIGKILLed SREGRAPH_CHAOS_KILLS times (restarted on the same
// data directory each time), then lets it catch up and counts: every
// produced (acknowledged) record stored, none twice.
func TestChaosKillKafkaIngest(t *testing.T) {
	broker := chaosBroker(t)
	kills := chaosInt(t, "SREGRAPH_CHAOS_KILLS", 10)
	topic := chaosTopic("kill")
	createTopics(t, broker, topic, topic+".dlq")
	bin := buildSregraph(t)
	dir := t.TempDir()
	p := serveProc(t, bin, append([]string{"--data-dir", dir}, kafkaServeArgs(broker, topic, "chaos-kill-"+topic)...)...)
	prod := newProducer(broker, topic, "chaos-kafka", "")
	defer prod.w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	stopProducing := make(chan struct{})
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stopProducing:
				return
			default:
			}
			prod.produce(t, ctx, fmt.Sprintf("k%d", i), 500)
			time.Sleep(100 * time.Millisecond)
		}
	}()
	for k := 0; k < kills; k++ {
		time.Sleep(time.Duration(1000+rand.IntN(1500)) * time.Millisecond)
		p.kill()
		p.start()
	}
	close(stopProducing)
	wg.Wait()
	want := len(prod.acked)
	var got int
	waitUntil(t, 120*time.Second, fmt.Sprintf("the server catching up with %d records", want), func() bool {
		got = totalCount(p.URL(), "chaos-kafka")
		return got >= want
	})
	p.stop()
	seen := storeCount(t, dir, "chaos-kafka")
	lost, dup := lostAndDuplicated(t, prod.acked, seen)
	figures(t, "kills %d, records produced %d (acknowledged by the broker %d), present %d, lost %d, duplicated %d",
		kills, prod.tried, want, len(seen), lost, dup)
}

// TestChaosKafkaDiskFull consumes a real topic onto a small real file
// system (a 16 MiB tmpfs with an 8 MiB ballast file) until the disk
// fills: the consumer must pause and retry, committing nothing it did not
// write, /readyz must say why, and once the ballast is deleted it must
// resume in the same process and store every record exactly once. A
// consumer that committed what it could not write would lose records.
func TestChaosKafkaDiskFull(t *testing.T) {
	broker := chaosBroker(t)
	mnt := smalldisk.Mount(t, "16m")
	ballast := filepath.Join(mnt, "ballast")
	if err := os.WriteFile(ballast, make([]byte, 8<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	topic := chaosTopic("disk")
	createTopics(t, broker, topic, topic+".dlq")
	bin := buildSregraph(t)
	dir := filepath.Join(mnt, "data")
	p := serveProc(t, bin, append([]string{"--data-dir", dir}, kafkaServeArgs(broker, topic, "chaos-disk-"+topic)...)...)
	pid := p.cmd.Process.Pid
	prod := newProducer(broker, topic, "chaos-kafka-disk", strings.Repeat("x", 2000))
	defer prod.w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var body string
	batches := 0
	waitUntil(t, 120*time.Second, "the consumer pausing on the full disk", func() bool {
		prod.produce(t, ctx, fmt.Sprintf("d%d", batches), 500)
		batches++
		time.Sleep(300 * time.Millisecond)
		var code int
		code, body = readyz(t, p.URL())
		return code == 503 && strings.Contains(body, "store unavailable") && strings.Contains(body, "data dir full")
	})
	t.Logf("readyz: %s", strings.TrimSpace(body))
	// More records while paused: they wait in the topic.
	prod.produce(t, ctx, "paused", 500)
	time.Sleep(2 * time.Second)
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	want := len(prod.acked)
	waitUntil(t, 120*time.Second, fmt.Sprintf("the consumer resuming and storing all %d records", want), func() bool {
		return totalCount(p.URL(), "chaos-kafka-disk") >= want
	})
	waitUntil(t, 30*time.Second, "/readyz ready again", func() bool { code, _ := readyz(t, p.URL()); return code == 200 })
	if p.cmd == nil || p.cmd.Process.Pid != pid {
		t.Fatal("the server was restarted; it must resume in the same process")
	}
	p.stop()
	seen := storeCount(t, dir, "chaos-kafka-disk")
	lost, dup := lostAndDuplicated(t, prod.acked, seen)
	figures(t, "faults 1 (a full 16 MiB tmpfs under the consumer), records produced %d, present %d, lost %d, duplicated %d, resumed without a restart",
		want, len(seen), lost, dup)
}

// TestChaosLateTopic starts the server on a topic that does not exist
// yet: /readyz names the topic; once it is created and produced to, the
// records are consumed within a bounded time and /readyz is ready.
func TestChaosLateTopic(t *testing.T) {
	broker := chaosBroker(t)
	topic := chaosTopic("late")
	bin := buildSregraph(t)
	dir := t.TempDir()
	p := serveProc(t, bin, append([]string{"--data-dir", dir}, kafkaServeArgs(broker, topic, "chaos-late-"+topic)...)...)
	var body string
	waitUntil(t, 30*time.Second, "/readyz naming the missing topic", func() bool {
		var code int
		code, body = readyz(t, p.URL())
		return code == 503 && strings.Contains(body, topic)
	})
	t.Logf("readyz before the topic exists: %s", strings.TrimSpace(body))
	createTopics(t, broker, topic, topic+".dlq")
	start := time.Now()
	prod := newProducer(broker, topic, "chaos-late", "")
	defer prod.w.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	prod.produce(t, ctx, "late", 200)
	waitUntil(t, 60*time.Second, "the late topic consumed", func() bool { return totalCount(p.URL(), "chaos-late") >= 200 })
	took := time.Since(start)
	waitUntil(t, 30*time.Second, "/readyz ready", func() bool { code, _ := readyz(t, p.URL()); return code == 200 })
	p.stop()
	seen := storeCount(t, dir, "chaos-late")
	lost, dup := lostAndDuplicated(t, prod.acked, seen)
	figures(t, "faults 1 (a topic created after the start), records %d, consumed within %s, lost %d, duplicated %d",
		len(prod.acked), took.Round(100*time.Millisecond), lost, dup)
}
