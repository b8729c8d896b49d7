package ingest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// EmbeddedPartitions is how many partitions the embedded broker gives each
// topic it creates.
const EmbeddedPartitions = 5

// StartEmbeddedBroker starts an in-process, in-memory Kafka-protocol broker
// (franz-go's kfake) listening on addr, with topics created up front
// (EmbeddedPartitions each), so that sregraph can be tried without Kafka:
// any Kafka client (kcat, a collector's exporter) can produce to it. It
// returns the broker's addresses and a stop function; the broker also
// stops when ctx ends, so give it a context that outlives the consumers
// (their final commit goes to it). Its records live in memory only and are
// gone when it stops. It is meant for trying and testing, not for
// production.
func StartEmbeddedBroker(ctx context.Context, addr string, topics []string) (addrs []string, stop func(), err error) {
	return startEmbeddedBroker(ctx, addr, topics)
}

// StartEmbedded starts the embedded broker when the configuration asks
// for one (--kafka embedded), on EmbeddedAddr with every configured topic
// and its dead-letter topic, and points Brokers at it. It returns the
// function that stops the broker; without --kafka embedded it starts
// nothing and that function does nothing.
func (c *KafkaConfig) StartEmbedded(ctx context.Context) (stop func(), err error) {
	if !c.Embedded {
		return func() {}, nil
	}
	if c.embeddedStarted {
		return nil, fmt.Errorf("embedded kafka broker: already started on %s", strings.Join(c.Brokers, ","))
	}
	addrs, stop, err := StartEmbeddedBroker(ctx, c.EmbeddedAddr, c.TopicNames())
	if err != nil {
		return nil, err
	}
	c.Brokers = addrs
	c.embeddedStarted = true
	return stop, nil
}

// startEmbeddedBroker is StartEmbeddedBroker with extra kfake options for
// tests (shorter group session timeouts, request control).
func startEmbeddedBroker(ctx context.Context, addr string, topics []string, opts ...kfake.Opt) ([]string, func(), error) {
	c, err := newEmbeddedCluster(addr, topics, opts...)
	if err != nil {
		return nil, nil, err
	}
	stopWatch := context.AfterFunc(ctx, c.Close)
	return c.ListenAddrs(), func() {
		stopWatch()
		c.Close()
	}, nil
}

func newEmbeddedCluster(addr string, topics []string, opts ...kfake.Opt) (*kfake.Cluster, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("embedded kafka broker: address %q: want host:port: %w", addr, err)
	}
	all := []kfake.Opt{
		kfake.NumBrokers(1),
		// kfake picks 127.0.0.1 and the port itself; listen where asked.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
		kfake.ClusterID("sregraph-embedded"),
		kfake.DefaultNumPartitions(EmbeddedPartitions),
		kfake.AllowAutoTopicCreation(),
		kfake.GroupMinSessionTimeout(time.Second),
	}
	if len(topics) > 0 {
		all = append(all, kfake.SeedTopics(EmbeddedPartitions, topics...))
	}
	all = append(all, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka broker on %s: %w", addr, err)
	}
	return c, nil
}
