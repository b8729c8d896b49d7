package kafka

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
)

// TestConsumerReadyAfterAssignment holds the group join of a topic that
// exists: until the group assigns the reader its partitions, Ready says
// the topic is joining the group (it is not consumed yet); once the join
// goes through, Ready is nil and the topic is consumed.
func TestConsumerReadyAfterAssignment(t *testing.T) {
	const topic = "sre.deploys"
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(embedded.Partitions),
		kfake.SeedTopics(embedded.Partitions, topic, DeadLetterTopic(topic)), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	release := make(chan struct{})
	var joins atomic.Int32
	kc.ControlKey(kmsg.JoinGroup.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		joins.Add(1)
		kc.SleepControl(func() { <-release })
		return nil, nil, false
	})
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	store := mustOpenKafkaStore(t)
	cfg := kafkaTestConfig(kc.ListenAddrs(), "assignment", map[ingest.Family]string{ingest.FamilyDeploys: topic})
	r := mustRunConsumer(t, cfg, store)
	ingesttest.Wait(t, 20*time.Second, "the reader asking to join the group", func() bool { return joins.Load() > 0 })
	// The topic exists and the broker answers: only the assignment is
	// missing, for as long as the join is held.
	for range 5 {
		if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "topic "+topic+": joining the consumer group") {
			t.Fatalf("Ready() while the join is held = %v, want it to say the topic is joining the group", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	close(release)
	released = true
	ingesttest.Wait(t, 20*time.Second, "Ready() nil once the partitions are assigned", func() bool { return r.Ready() == nil })
	const n = 20
	produceRecords(t, kc.ListenAddrs(), topic, kafkaCanonicalRecords(n, embedded.Partitions, "assigned")...)
	ingesttest.Wait(t, 20*time.Second, "the topic consumed", func() bool { return store.count(t) == n })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// TestKafkaReadyAfterAssignment runs two consumers of one group against a
// real Apache Kafka broker on a topic that exists: each is ready only
// once the group assigned it partitions, and after the rebalance the two
// assignments Ready is based on cover the topic's partitions exactly. It
// also guards the way the assignment is learnt (kafka-go's log line), in
// case a kafka-go upgrade changes it.
func TestKafkaReadyAfterAssignment(t *testing.T) {
	brokers := ingesttest.KafkaBrokers(t)
	run := strings.ReplaceAll(time.Now().UTC().Format("20060102t150405.000"), ".", "")
	topic := fmt.Sprintf("assign-%s.sre.deploys", run)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mustCreateTopics(t, ctx, brokers[0], []kafka.TopicConfig{
		{Topic: topic, NumPartitions: embedded.Partitions, ReplicationFactor: 1},
		{Topic: DeadLetterTopic(topic), NumPartitions: embedded.Partitions, ReplicationFactor: 1},
	})
	cfg := lateTopicConfig(brokers, "assign-"+run, topic, "")
	delete(cfg.Topics, ingest.FamilyScale)
	assigned := func(c *runningConsumer) int {
		c.mu.Lock()
		defer c.mu.Unlock()
		n, ok := c.assigned[topic]
		if !ok {
			return -2
		}
		return n
	}
	a := mustRunConsumer(t, consumerConfig{Config: cfg}, mustOpenKafkaStore(t))
	ingesttest.Wait(t, 60*time.Second, "the first consumer ready", func() bool { return a.Ready() == nil })
	if n := assigned(a); n != embedded.Partitions {
		t.Fatalf("the only member has %d partitions, want all %d", n, embedded.Partitions)
	}
	b := mustRunConsumer(t, consumerConfig{Config: cfg}, mustOpenKafkaStore(t))
	ingesttest.Wait(t, 60*time.Second, "both consumers ready, sharing the partitions", func() bool {
		na, nb := assigned(a), assigned(b)
		return b.Ready() == nil && a.Ready() == nil && na > 0 && nb > 0 && na+nb == embedded.Partitions
	})
	t.Logf("after the rebalance: %d and %d partitions", assigned(a), assigned(b))
	for _, c := range []*runningConsumer{b, a} {
		if err := c.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
}
