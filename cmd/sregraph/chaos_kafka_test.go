package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sregraph/sregraph/graph/pebble/smalldisk"

	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
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
	return ingesttest.KafkaBrokers(t)[0]
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

// produce writes n records with IDs prefix-0 … prefix-(n-1), failing the
// test if the broker does not acknowledge them.
func (p *producer) produce(t *testing.T, ctx context.Context, prefix string, n int) {
	t.Helper()
	if err := p.tryProduce(ctx, prefix, n); err != nil {
		t.Fatalf("producing %d records: %v", n, err)
	}
}

// tryProduce is produce that returns the error of a write the broker did
// not acknowledge; nothing of it counts as acknowledged then.
func (p *producer) tryProduce(ctx context.Context, prefix string, n int) error {
	msgs := make([]kafka.Message, n)
	ids := make([]string, n)
	for i := range msgs {
		ids[i] = fmt.Sprintf("%s-%d", prefix, i)
		v, _ := json.Marshal(map[string]any{"id": ids[i], "kind": "deploy", "service": p.svc, "at": p.at.Format(time.RFC3339),
			"source": "chaos", "summary": "deploy " + ids[i], "attributes": map[string]any{"pad": p.pad}})
		msgs[i] = kafka.Message{Key: []byte(ids[i]), Value: v}
	}
	return p.write(ctx, ids, msgs)
}

func (p *producer) write(ctx context.Context, ids []string, msgs []kafka.Message) error {
	p.tried += len(msgs)
	if err := p.w.WriteMessages(ctx, msgs...); err != nil {
		return err
	}
	for _, id := range ids {
		p.acked[id] = true
	}
	return nil
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
	lost, dup := pebbletest.LostAndDuplicated(t, prod.acked, seen)
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
	lost, dup := pebbletest.LostAndDuplicated(t, prod.acked, seen)
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
	lost, dup := pebbletest.LostAndDuplicated(t, prod.acked, seen)
	figures(t, "faults 1 (a topic created after the start), records %d, consumed within %s, lost %d, duplicated %d",
		len(prod.acked), took.Round(100*time.Millisecond), lost, dup)
}

// privateBroker is an Apache Kafka broker of the test's own (KRaft, one
// node), from the jars scripts/kafka/start.sh fetched, so that the test
// can stop and start it without disturbing the tests that share the
// suite's broker.
type privateBroker struct {
	t          *testing.T
	lib, props string
	addr       string
	cmd        *exec.Cmd
	done       chan error
}

// startPrivateBroker formats a fresh log directory and starts a broker on
// a free port; Cleanup kills it.
func startPrivateBroker(t *testing.T) *privateBroker {
	t.Helper()
	root, _ := filepath.Abs("../..")
	lib := filepath.Join(root, ".cache", "kafka", "lib")
	if _, err := os.Stat(filepath.Join(lib, ".complete")); err != nil {
		msg := "the Kafka jars are not in .cache/kafka/lib: run scripts/kafka/start.sh once"
		if os.Getenv("SREGRAPH_REQUIRE_KAFKA") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatal("java is not installed: ", err)
	}
	dir := t.TempDir()
	port, controller := freePort(t), freePort(t)
	props := filepath.Join(dir, "server.properties")
	conf := fmt.Sprintf(`process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:%d
listeners=PLAINTEXT://127.0.0.1:%d,CONTROLLER://127.0.0.1:%d
advertised.listeners=PLAINTEXT://127.0.0.1:%d
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=%s
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
`, controller, port, controller, port, filepath.Join(dir, "data"))
	if err := os.WriteFile(props, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	b := &privateBroker{t: t, lib: lib, props: props, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	format := exec.Command("java", "-cp", lib+"/*", "-Xmx256m", "kafka.tools.StorageTool", "format", "-t", "c2hhb3Mtc3VpdGUtMDAwMQ", "-c", props)
	if out, err := format.CombinedOutput(); err != nil {
		t.Fatalf("formatting the private broker's storage: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if b.cmd != nil {
			_ = b.cmd.Process.Kill()
			<-b.done
		}
	})
	b.start()
	return b
}

// start starts the broker and waits until it answers a metadata request.
func (b *privateBroker) start() {
	b.t.Helper()
	b.cmd = exec.Command("java", "-cp", b.lib+"/*", "-Xms128m", "-Xmx512m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
		"-Dlog4j.configuration=file:/dev/null", "kafka.Kafka", b.props)
	if err := b.cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.done = make(chan error, 1)
	go func(cmd *exec.Cmd, done chan error) { done <- cmd.Wait() }(b.cmd, b.done)
	client := &kafka.Client{Addr: kafka.TCP(b.addr), Timeout: 2 * time.Second}
	waitUntil(b.t, 120*time.Second, "the private broker answering", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := client.Metadata(ctx, &kafka.MetadataRequest{})
		return err == nil
	})
}

// kill SIGKILLs the broker.
func (b *privateBroker) kill() {
	b.t.Helper()
	if err := b.cmd.Process.Kill(); err != nil {
		b.t.Fatal(err)
	}
	<-b.done
	b.cmd = nil
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestChaosBrokerRestart produces to a private broker that is SIGKILLed
// and started again SREGRAPH_CHAOS_BROKER_RESTARTS times (default 1)
// while the server consumes from it; the producer retries what the
// broker did not acknowledge. Once the broker is back the server must
// catch up on its own, without a restart, and store every acknowledged
// record exactly once.
func TestChaosBrokerRestart(t *testing.T) {
	chaosBroker(t) // the suite's broker says Kafka is wanted; this test runs its own
	restarts := chaosInt(t, "SREGRAPH_CHAOS_BROKER_RESTARTS", 1)
	kb := startPrivateBroker(t)
	topic := chaosTopic("broker")
	createTopics(t, kb.addr, topic, topic+".dlq")
	bin := buildSregraph(t)
	dir := t.TempDir()
	p := serveProc(t, bin, append([]string{"--data-dir", dir}, kafkaServeArgs(kb.addr, topic, "chaos-broker")...)...)
	pid := p.cmd.Process.Pid
	prod := newProducer(kb.addr, topic, "chaos-broker", "")
	prod.w.MaxAttempts = 1
	defer prod.w.Close()
	var mu sync.Mutex
	failed := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			prefix := fmt.Sprintf("b%d", i)
			// Retry the batch until the broker acknowledges it.
			for {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				err := prod.tryProduce(ctx, prefix, 200)
				cancel()
				if err == nil {
					break
				}
				mu.Lock()
				failed++
				mu.Unlock()
				select {
				case <-stop:
					return
				case <-time.After(200 * time.Millisecond):
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	for r := 0; r < restarts; r++ {
		time.Sleep(2 * time.Second)
		kb.kill()
		time.Sleep(2 * time.Second)
		kb.start()
	}
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()
	want := len(prod.acked)
	waitUntil(t, 120*time.Second, fmt.Sprintf("the server catching up with %d records after the broker restart", want), func() bool {
		return totalCount(p.URL(), "chaos-broker") >= want
	})
	waitUntil(t, 60*time.Second, "/readyz ready", func() bool { code, _ := readyz(t, p.URL()); return code == 200 })
	if p.cmd == nil || p.cmd.Process.Pid != pid {
		t.Fatal("the server was restarted; it must ride out the broker restart")
	}
	p.stop()
	seen := storeCount(t, dir, "chaos-broker")
	lost, dup := pebbletest.LostAndDuplicated(t, prod.acked, seen)
	figures(t, "broker restarts %d, records produced %d (acknowledged %d, failed attempts %d), present %d, lost %d, duplicated %d, no server restart",
		restarts, prod.tried, want, failed, len(seen), lost, dup)
}
