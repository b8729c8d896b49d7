package kafka

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/ingesttest"
	"github.com/sregraph/sregraph/ingest/kafka/embedded"
)

// lateTopicBound is how long a topic created after the consumer started
// may take to be consumed: the metadata re-check, the new member's join
// and the group's rebalance.
const lateTopicBound = 30 * time.Second

// TestKafkaLateTopic runs the consumer against a real Apache Kafka broker
// with one topic that exists and one that is created only after the
// consumer has started: until it exists, Ready names it; once it is
// created, every record produced to it is stored and committed within
// lateTopicBound, and Ready is nil again. The topic the consumer was
// started with keeps being consumed throughout.
func TestKafkaLateTopic(t *testing.T) {
	brokers := ingesttest.KafkaBrokers(t)
	run := strings.ReplaceAll(time.Now().UTC().Format("20060102t150405.000"), ".", "")
	early := fmt.Sprintf("late-%s.sre.deploys", run)
	late := fmt.Sprintf("late-%s.sre.scale", run)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	mustCreateTopics(t, ctx, brokers[0], []kafka.TopicConfig{
		{Topic: early, NumPartitions: embedded.Partitions, ReplicationFactor: 1},
		{Topic: DeadLetterTopic(early), NumPartitions: embedded.Partitions, ReplicationFactor: 1},
	})

	store := mustOpenKafkaStore(t)
	cfg := lateTopicConfig(brokers, "late-"+run, early, late)
	r := mustRunConsumer(t, consumerConfig{Config: cfg}, store)

	// The topic that exists is consumed; the missing one is reported.
	const n = 50
	produceRecords(t, brokers, early, kafkaCanonicalRecords(n, embedded.Partitions, "early")...)
	ingesttest.Wait(t, 60*time.Second, "the existing topic consumed", func() bool {
		return sumOffsets(committedOffsets(t, brokers, cfg.GroupID, early)) == n
	})
	// Give the consumer time to look at the missing topic (and, unfixed,
	// for kafka-go's partition watcher to give up on it).
	time.Sleep(5 * time.Second)
	if err := r.Ready(); err == nil || !strings.Contains(err.Error(), late) {
		t.Errorf("Ready() with %s missing = %v, want an error naming it", late, err)
	}

	created := time.Now()
	mustCreateTopics(t, ctx, brokers[0], []kafka.TopicConfig{
		{Topic: late, NumPartitions: embedded.Partitions, ReplicationFactor: 1},
		{Topic: DeadLetterTopic(late), NumPartitions: embedded.Partitions, ReplicationFactor: 1},
	})
	recs := kafkaCanonicalRecords(n, embedded.Partitions, "late")
	produceRecords(t, brokers, late, recs...)
	ingesttest.Wait(t, lateTopicBound, fmt.Sprintf("all %d records of the late topic %s committed", n, late), func() bool {
		return sumOffsets(committedOffsets(t, brokers, cfg.GroupID, late)) == n
	})
	took := time.Since(created)
	ingesttest.Wait(t, 10*time.Second, "Ready() nil once the late topic is consumed", func() bool { return r.Ready() == nil })

	// The early topic is still consumed after the rebalance.
	produceRecords(t, brokers, early, kafkaCanonicalRecords(2*n, embedded.Partitions, "early")[n:]...)
	ingesttest.Wait(t, 60*time.Second, "the existing topic consumed after the rebalance", func() bool {
		return sumOffsets(committedOffsets(t, brokers, cfg.GroupID, early)) == 2*n
	})
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := store.count(t); got != 3*n {
		t.Errorf("store holds %d events, want %d", got, 3*n)
	}
	t.Logf("late topic %s consumed %s after it was created (bound %s)", late, took.Round(10*time.Millisecond), lateTopicBound)
}

// TestKafkaDeletedTopic runs the consumer against a real Apache Kafka
// broker and deletes one of its two topics while it is consumed: Ready
// names the deleted topic, the other topic is still consumed, and once the
// topic is created again its new records are stored.
func TestKafkaDeletedTopic(t *testing.T) {
	brokers := ingesttest.KafkaBrokers(t)
	run := strings.ReplaceAll(time.Now().UTC().Format("20060102t150405.000"), ".", "")
	kept := fmt.Sprintf("deleted-%s.sre.deploys", run)
	deleted := fmt.Sprintf("deleted-%s.sre.scale", run)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	topicConfigs := func(names ...string) []kafka.TopicConfig {
		var tcs []kafka.TopicConfig
		for _, name := range names {
			tcs = append(tcs,
				kafka.TopicConfig{Topic: name, NumPartitions: embedded.Partitions, ReplicationFactor: 1},
				kafka.TopicConfig{Topic: DeadLetterTopic(name), NumPartitions: embedded.Partitions, ReplicationFactor: 1})
		}
		return tcs
	}
	mustCreateTopics(t, ctx, brokers[0], topicConfigs(kept, deleted))

	store := mustOpenKafkaStore(t)
	cfg := lateTopicConfig(brokers, "deleted-"+run, kept, deleted)
	r := mustRunConsumer(t, consumerConfig{Config: cfg}, store)

	const n = 50
	produceRecords(t, brokers, kept, kafkaCanonicalRecords(n, embedded.Partitions, "kept")...)
	produceRecords(t, brokers, deleted, kafkaCanonicalRecords(n, embedded.Partitions, "deleted")...)
	ingesttest.Wait(t, 60*time.Second, "both topics consumed", func() bool {
		return sumOffsets(committedOffsets(t, brokers, cfg.GroupID, kept)) == n &&
			sumOffsets(committedOffsets(t, brokers, cfg.GroupID, deleted)) == n
	})

	resp, err := (&kafka.Client{Addr: kafka.TCP(brokers[0]), Timeout: 30 * time.Second}).DeleteTopics(ctx, &kafka.DeleteTopicsRequest{Topics: []string{deleted}})
	if err != nil {
		t.Fatalf("deleting %s: %v", deleted, err)
	}
	if err := resp.Errors[deleted]; err != nil {
		t.Fatalf("deleting %s: %v", deleted, err)
	}
	gone := time.Now()
	ingesttest.Wait(t, 30*time.Second, "Ready() naming the deleted topic", func() bool {
		err := r.Ready()
		return err != nil && strings.Contains(err.Error(), deleted)
	})
	t.Logf("Ready() named the deleted topic %s after it was deleted", time.Since(gone).Round(10*time.Millisecond))

	// The kept topic is not held up by the deleted one.
	produceRecords(t, brokers, kept, kafkaCanonicalRecords(2*n, embedded.Partitions, "kept")[n:]...)
	ingesttest.Wait(t, 30*time.Second, "the kept topic consumed while the other is deleted", func() bool {
		return sumOffsets(committedOffsets(t, brokers, cfg.GroupID, kept)) == 2*n
	})

	// Created again, the topic is consumed again.
	ingesttest.Wait(t, 30*time.Second, "the deleted topic recreated", func() bool {
		resp, err := (&kafka.Client{Addr: kafka.TCP(brokers[0]), Timeout: 30 * time.Second}).CreateTopics(ctx, &kafka.CreateTopicsRequest{Topics: topicConfigs(deleted)[:1]})
		return err == nil && resp.Errors[deleted] == nil
	})
	recreated := time.Now()
	produceRecords(t, brokers, deleted, kafkaCanonicalRecords(n, embedded.Partitions, "again")...)
	ingesttest.Wait(t, lateTopicBound, "the recreated topic's records stored", func() bool { return store.count(t) == 4*n })
	t.Logf("recreated topic consumed %s after it was created again", time.Since(recreated).Round(10*time.Millisecond))
	ingesttest.Wait(t, 10*time.Second, "Ready() nil once the topic is consumed again", func() bool { return r.Ready() == nil })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// lateTopicConfig is a consumer of deploys from one topic and scale
// events from another, tuned to rejoin its group quickly on the real
// broker.
func lateTopicConfig(brokers []string, group, deploys, scale string) Config {
	cfg := DefaultConfig()
	cfg.Brokers = brokers
	cfg.GroupID = group
	cfg.Topics = map[ingest.Family]string{ingest.FamilyDeploys: deploys, ingest.FamilyScale: scale}
	cfg.MaxWait = 100 * time.Millisecond
	cfg.SessionTimeout = 10 * time.Second
	cfg.HeartbeatInterval = time.Second
	cfg.RebalanceTimeout = 10 * time.Second
	cfg.JoinGroupBackoff = 500 * time.Millisecond
	cfg.ShutdownTimeout = 10 * time.Second
	return cfg
}
