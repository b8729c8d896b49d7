// Package embedded runs an in-process, in-memory Kafka-protocol broker
// (franz-go's kfake) for `serve --kafka embedded` and for tests, so that
// sregraph can be tried without Kafka: any Kafka client (kcat, a
// collector's exporter) can produce to it. Its records live in memory only
// and are gone when it stops. It is meant for trying and testing, not for
// production. It is the only package that imports kfake.
package embedded

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Partitions is how many partitions the embedded broker gives each topic
// it creates.
const Partitions = 5

// Start starts the broker listening on addr, with topics created up front
// (Partitions each). It returns the broker's addresses and a stop
// function; the broker also stops when ctx ends, so give it a context
// that outlives the consumers (their final commit goes to it). opts are
// extra kfake options, for tests (shorter group session timeouts,
// request control).
func Start(ctx context.Context, addr string, topics []string, opts ...kfake.Opt) (addrs []string, stop func(), err error) {
	c, err := NewCluster(addr, topics, opts...)
	if err != nil {
		return nil, nil, err
	}
	stopWatch := context.AfterFunc(ctx, c.Close)
	return c.ListenAddrs(), func() {
		stopWatch()
		c.Close()
	}, nil
}

// NewCluster is Start without the context: the cluster itself, for tests
// that control its requests. Close it when done.
func NewCluster(addr string, topics []string, opts ...kfake.Opt) (*kfake.Cluster, error) {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("embedded kafka broker: address %q: want host:port: %w", addr, err)
	}
	all := []kfake.Opt{
		kfake.NumBrokers(1),
		// kfake picks 127.0.0.1 and the port itself; listen where asked.
		kfake.ListenFn(func(network, _ string) (net.Listener, error) { return net.Listen(network, addr) }),
		kfake.ClusterID("sregraph-embedded"),
		kfake.DefaultNumPartitions(Partitions),
		kfake.AllowAutoTopicCreation(),
		kfake.GroupMinSessionTimeout(time.Second),
	}
	if len(topics) > 0 {
		all = append(all, kfake.SeedTopics(Partitions, topics...))
	}
	all = append(all, opts...)
	c, err := kfake.NewCluster(all...)
	if err != nil {
		return nil, fmt.Errorf("embedded kafka broker on %s: %w", addr, err)
	}
	return c, nil
}
