package kafka

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
)

// TestKafkaIntegration runs the consumer against a real Apache Kafka
// broker (scripts/kafka/start.sh starts one and writes KAFKA_BROKERS to
// .cache/kafka/env), with kcat as an independent producer of every native
// sample: each lands in the store exactly once, and the unreadable ones,
// plus a poison record, land in the dead-letter topics with their headers.
func TestKafkaIntegration(t *testing.T) {
	brokers := ingesttest.KafkaBrokers(t)
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Fatal("kcat is not installed (scripts/kafka/start.sh installs it): ", err)
	}

	// Fresh topics per run, so reruns against one broker do not mix.
	run := time.Now().UTC().Format("20060102t150405.000")
	run = strings.ReplaceAll(run, ".", "")
	topics := map[ingest.Family]string{}
	var all []kafka.TopicConfig
	for _, f := range []ingest.Family{ingest.FamilyDeploys, ingest.FamilyScale, ingest.FamilyTickets, ingest.FamilySLO} {
		topics[f] = fmt.Sprintf("it-%s.sre.%s", run, f)
		for _, name := range []string{topics[f], DeadLetterTopic(topics[f])} {
			all = append(all, kafka.TopicConfig{Topic: name, NumPartitions: embedded.Partitions, ReplicationFactor: 1})
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mustCreateTopics(t, ctx, brokers[0], all)

	samples := loadKafkaSamples(t)
	poison := filepath.Join(t.TempDir(), "poison.json")
	if err := os.WriteFile(poison, []byte(`{"kind": "deploy", "service": `), 0o644); err != nil {
		t.Fatal(err)
	}
	produced := map[string]int64{}
	for i, s := range samples {
		args := []string{"-P", "-b", strings.Join(brokers, ","), "-t", topics[s.family], "-p", fmt.Sprint(i % embedded.Partitions)}
		for k, v := range s.headers {
			args = append(args, "-H", k+"="+v)
		}
		kcatRun(t, kcat, append(args, s.path)...)
		produced[topics[s.family]]++
	}
	kcatRun(t, kcat, "-P", "-b", strings.Join(brokers, ","), "-t", topics[ingest.FamilyDeploys], "-p", "3", "-k", "poison-key", "-H", "x-test=poison", poison)
	produced[topics[ingest.FamilyDeploys]]++
	x := expectFromSamples(samples)

	store := mustOpenKafkaStore(t)
	cfg := DefaultConfig()
	cfg.Brokers = brokers
	cfg.GroupID = "it-" + run
	cfg.Topics = topics
	cfg.MaxWait = 100 * time.Millisecond
	cfg.SessionTimeout = 10 * time.Second
	cfg.HeartbeatInterval = time.Second
	cfg.RebalanceTimeout = 10 * time.Second
	cfg.JoinGroupBackoff = 500 * time.Millisecond
	cfg.ShutdownTimeout = 10 * time.Second
	r := mustRunConsumer(t, consumerConfig{Config: cfg}, store)
	for topic, n := range produced {
		ingesttest.Wait(t, 90*time.Second, fmt.Sprintf("all %d records of %s committed", n, topic), func() bool {
			return sumOffsets(committedOffsets(t, brokers, cfg.GroupID, topic)) == n
		})
	}
	if err := r.Ready(); err != nil {
		t.Errorf("Ready() = %v, want nil", err)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// Exactly once in the store: every expected event, and nothing else.
	for id, path := range x.ids {
		if _, err := store.Event(context.Background(), id); err != nil {
			t.Errorf("event %s from %s: %v", id, path, err)
		}
	}
	if got := store.count(t); got != len(x.ids) {
		t.Errorf("store holds %d events, want %d", got, len(x.ids))
	}

	// The dead letters, read back by kcat.
	gotDead := map[string]bool{}
	sawPoison := false
	for _, topic := range topics {
		dlq := DeadLetterTopic(topic)
		for _, m := range kcatConsume(t, kcat, brokers, dlq) {
			if m.Headers[HeaderTopic] != topic || m.Headers[HeaderError] == "" || m.Headers[HeaderOffset] == "" || m.Headers[HeaderPartition] == "" {
				t.Errorf("dead letter in %s lacks its origin or error: headers %v", dlq, m.Headers)
			}
			if m.Headers["x-test"] == "poison" {
				sawPoison = true
				if m.Key != "poison-key" || m.Headers[HeaderPartition] != "3" || !strings.Contains(m.Headers[HeaderError], "JSON") {
					t.Errorf("poison dead letter = key %q headers %v, want the key, partition 3 and a JSON error", m.Key, m.Headers)
				}
			}
			for _, s := range samples {
				if bytes.Equal(bytes.TrimSpace(s.value), bytes.TrimSpace([]byte(m.Payload))) {
					gotDead[s.path] = true
					for k, v := range s.headers {
						if m.Headers[k] != v {
							t.Errorf("dead letter of %s: original header %s = %q, want %q", s.path, k, m.Headers[k], v)
						}
					}
				}
			}
		}
	}
	if !sawPoison {
		t.Error("the poison record is not in the dead-letter topic")
	}
	for path := range x.dead {
		if !gotDead[path] {
			t.Errorf("%s was not dead-lettered", path)
		}
	}
	for path := range gotDead {
		if !x.dead[path] {
			t.Errorf("%s was dead-lettered but decodes cleanly", path)
		}
	}
	t.Logf("%d samples through a real broker: %d events stored once, %d samples and 1 poison record dead-lettered", len(samples), len(x.ids), len(gotDead))
}

func mustCreateTopics(tb testing.TB, ctx context.Context, broker string, topics []kafka.TopicConfig) {
	tb.Helper()
	client := &kafka.Client{Addr: kafka.TCP(broker), Timeout: 30 * time.Second}
	resp, err := client.CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topics})
	if err != nil {
		tb.Fatalf("creating topics: %v", err)
	}
	for name, err := range resp.Errors {
		if err != nil {
			tb.Fatalf("creating topic %s: %v", name, err)
		}
	}
}

func kcatRun(tb testing.TB, kcat string, args ...string) {
	tb.Helper()
	cmd := exec.Command(kcat, args...)
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("kcat %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// kcatMessage is one record as kcat -J prints it.
type kcatMessage struct {
	Topic     string
	Partition int
	Offset    int64
	Key       string
	Payload   string
	Headers   map[string]string
}

// kcatConsume reads a whole topic with kcat.
func kcatConsume(tb testing.TB, kcat string, brokers []string, topic string) []kcatMessage {
	tb.Helper()
	out, err := exec.Command(kcat, "-C", "-b", strings.Join(brokers, ","), "-t", topic, "-o", "beginning", "-e", "-J", "-q").Output()
	if err != nil {
		tb.Fatalf("kcat -C %s: %v", topic, err)
	}
	var msgs []kcatMessage
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var raw struct {
			Topic     string   `json:"topic"`
			Partition int      `json:"partition"`
			Offset    int64    `json:"offset"`
			Key       *string  `json:"key"`
			Payload   *string  `json:"payload"`
			Headers   []string `json:"headers"`
		}
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			tb.Fatalf("kcat output %q: %v", sc.Text(), err)
		}
		m := kcatMessage{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Headers: map[string]string{}}
		if raw.Key != nil {
			m.Key = *raw.Key
		}
		if raw.Payload != nil {
			m.Payload = *raw.Payload
		}
		for i := 0; i+1 < len(raw.Headers); i += 2 {
			if _, seen := m.Headers[raw.Headers[i]]; !seen {
				m.Headers[raw.Headers[i]] = raw.Headers[i+1]
			}
		}
		msgs = append(msgs, m)
	}
	return msgs
}
