package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
)

// TestConsumerLateTopic: a topic that does not exist when the consumer
// starts is named by Ready, does not hold up the topics that exist, and is
// consumed once it is created. TestKafkaLateTopic does the same against a
// real broker.
func TestConsumerLateTopic(t *testing.T) {
	const early, late = "sre.deploys", "sre.scale"
	// Unlike the embedded broker, this one does not create topics on
	// request, as most production clusters.
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(embedded.Partitions),
		kfake.SeedTopics(embedded.Partitions, early, DeadLetterTopic(early)), kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	k := &kafkaCluster{Cluster: kc, addrs: kc.ListenAddrs()}
	store := mustOpenKafkaStore(t)
	cfg := kafkaTestConfig(k.addrs, "late-topic", map[ingest.Family]string{ingest.FamilyDeploys: early, ingest.FamilyScale: late})
	r := mustRunConsumer(t, cfg, store)

	const n = 40
	produceRecords(t, k.addrs, early, kafkaCanonicalRecords(n, embedded.Partitions, "early")...)
	ingesttest.Wait(t, 20*time.Second, "the existing topic consumed while the other is missing", func() bool {
		return sumOffsets(committedOffsets(t, k.addrs, cfg.GroupID, early)) == n
	})
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), "topic "+late+": not available yet") {
		t.Errorf("Ready() with %s missing = %v, want an error naming it", late, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	mustCreateTopics(t, ctx, k.addrs[0], []kafka.TopicConfig{
		{Topic: late, NumPartitions: embedded.Partitions, ReplicationFactor: 1},
		{Topic: DeadLetterTopic(late), NumPartitions: embedded.Partitions, ReplicationFactor: 1},
	})
	created := time.Now()
	produceRecords(t, k.addrs, late, kafkaCanonicalRecords(n, embedded.Partitions, "late")...)
	ingesttest.Wait(t, 20*time.Second, fmt.Sprintf("all %d records of the late topic committed", n), func() bool {
		return sumOffsets(committedOffsets(t, k.addrs, cfg.GroupID, late)) == n
	})
	took := time.Since(created)
	ingesttest.Wait(t, 5*time.Second, "Ready() nil once the late topic is consumed", func() bool { return r.Ready() == nil })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := store.count(t); got != 2*n {
		t.Errorf("store holds %d events, want %d", got, 2*n)
	}
	t.Logf("late topic consumed %s after it was created", took.Round(10*time.Millisecond))
}

// TestConsumerDeletedTopic: a topic deleted while it is consumed is named
// by Ready, does not hold up the other topic, and is consumed again once
// it is created again. TestKafkaDeletedTopic does the same against a real
// broker.
func TestConsumerDeletedTopic(t *testing.T) {
	const kept, deleted = "sre.deploys", "sre.scale"
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DefaultNumPartitions(embedded.Partitions),
		kfake.SeedTopics(embedded.Partitions, kept, DeadLetterTopic(kept), deleted, DeadLetterTopic(deleted)),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	addrs := kc.ListenAddrs()
	store := mustOpenKafkaStore(t)
	cfg := kafkaTestConfig(addrs, "deleted-topic", map[ingest.Family]string{ingest.FamilyDeploys: kept, ingest.FamilyScale: deleted})
	r := mustRunConsumer(t, cfg, store)

	const n = 40
	produceRecords(t, addrs, kept, kafkaCanonicalRecords(n, embedded.Partitions, "kept")...)
	produceRecords(t, addrs, deleted, kafkaCanonicalRecords(n, embedded.Partitions, "deleted")...)
	ingesttest.Wait(t, 20*time.Second, "both topics consumed", func() bool {
		return sumOffsets(committedOffsets(t, addrs, cfg.GroupID, kept)) == n &&
			sumOffsets(committedOffsets(t, addrs, cfg.GroupID, deleted)) == n
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := &kafka.Client{Addr: kafka.TCP(addrs[0]), Timeout: 10 * time.Second}
	resp, err := client.DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{deleted}})
	if err != nil || resp.Errors[deleted] != nil {
		t.Fatalf("deleting %s: %v %v", deleted, err, resp)
	}
	ingesttest.Wait(t, 2*topicWatchMax, "Ready() naming the deleted topic", func() bool {
		err := r.Ready()
		return err != nil && strings.Contains(err.Error(), "topic "+deleted+": not available yet")
	})
	produceRecords(t, addrs, kept, kafkaCanonicalRecords(2*n, embedded.Partitions, "kept")[n:]...)
	ingesttest.Wait(t, 20*time.Second, "the kept topic consumed while the other is deleted", func() bool {
		return sumOffsets(committedOffsets(t, addrs, cfg.GroupID, kept)) == 2*n
	})

	mustCreateTopics(t, ctx, addrs[0], []kafka.TopicConfig{{Topic: deleted, NumPartitions: embedded.Partitions, ReplicationFactor: 1}})
	produceRecords(t, addrs, deleted, kafkaCanonicalRecords(n, embedded.Partitions, "again")...)
	ingesttest.Wait(t, 20*time.Second, "the recreated topic's records stored", func() bool { return store.count(t) == 4*n })
	ingesttest.Wait(t, 5*time.Second, "Ready() nil once the topic is consumed again", func() bool { return r.Ready() == nil })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}
