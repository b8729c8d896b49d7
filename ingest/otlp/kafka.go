package otlp

import (
	"fmt"
	"mime"
	"sort"
	"strings"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"

	"github.com/sregraph/sregraph/graph"
)

// DefaultTopic is the OpenTelemetry Collector kafka exporter's default
// topic for spans.
const DefaultTopic = "otlp_spans"

// DefaultSegmentOffsets is how many offsets of a partition make one
// segment (Config.SegmentOffsets).
const DefaultSegmentOffsets = 1000

// KafkaMessage is one message of a spans topic as a consumer read it.
type KafkaMessage struct {
	Topic     string
	Partition int
	Offset    int64
	Value     []byte
	// Time is the message's timestamp. It is the partition's clock:
	// spans of the partition expire when a message Wait younger than
	// them arrives, so a replay of the same messages expires the same
	// spans. Zero means the aggregator's clock.
	Time time.Time
	// Headers are the message headers; a content-type header
	// (application/x-protobuf or application/json) picks the decoder,
	// otherwise the value is sniffed (otlp_json starts with '{').
	Headers map[string]string
}

// KafkaCommit is a position that is safe to commit once the batch returned
// with it is written: Offset is the next offset to read (Kafka's committed
// offset; with kafka-go, commit a Message whose Offset is Offset-1).
type KafkaCommit struct {
	Topic     string
	Partition int
	Offset    int64
}

type segmentKey struct {
	topic     string
	partition int
}

// partition is the pairing state of one Kafka partition: its own pending
// store, expired by the partition's clock (the newest message time), so
// that what a partition's messages yield depends on those messages alone.
type partition struct {
	store pendingStore
	clock int64
	// last is the offset of the last message read.
	last int64
}

// segment is one aligned range of offsets of one partition,
// [start, start+SegmentOffsets). Its producer name carries start, so the
// name depends only on the offsets of the messages, never on when a
// consumer flushed: any replay of those messages writes the same keys.
type segment struct {
	start int64
	last  int64
	org   *origin
}

func (s *segment) complete(n int64) bool { return s.last == s.start+n-1 }

// AddKafka decodes one message (otlp_proto or otlp_json) and counts the
// edges it completes into its partition's segment. Messages of a partition
// must come in offset order; going back (a rewind after a rebalance)
// starts the segment over. An undecodable message returns an error of kind
// graph.ErrInvalid and changes nothing: it is poison, to be skipped (or
// dead-lettered) by the consumer.
func (a *Aggregator) AddKafka(m KafkaMessage) error {
	var req *coltracepb.ExportTraceServiceRequest
	ct := sniffContentType(m.Value, m.Headers)
	if mt, _, _ := mime.ParseMediaType(ct); mt != ContentTypeProtobuf {
		var err error
		if req, err = DecodeRequest(m.Value, ct); err != nil {
			return fmt.Errorf("%s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err)
		}
	} else if err := checkWire(m.Value, levelRequest); err != nil {
		return fmt.Errorf("%s/%d@%d: %w", m.Topic, m.Partition, m.Offset, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	n := int64(a.cfg.SegmentOffsets)
	start := m.Offset - m.Offset%n
	k := segmentKey{m.Topic, m.Partition}
	part := a.partitions[k]
	seg := a.segments[k]
	if part == nil || m.Offset <= part.last {
		// New, or a rewind (the partition came back after a rebalance):
		// start over as a fresh process would, so the re-read segment is
		// counted exactly as the first time.
		a.forgetPartition(k)
		part = &partition{store: newPendingStore(a.cfg.MaxItems), last: -1}
		a.partitions[k] = part
		seg = nil
	}
	at := m.Time
	if at.IsZero() {
		at = a.now()
	}
	if ns := at.UnixNano(); ns > part.clock {
		part.clock = ns
	}
	a.expire(&part.store, part.clock)
	if seg == nil || seg.start != start {
		seg = &segment{start: start, last: -1,
			org: &origin{kafka: true, producer: fmt.Sprintf("kafka/%s/%d/%d", m.Topic, m.Partition, start)}}
		a.segments[k] = seg
	}
	seg.last, part.last = m.Offset, m.Offset
	p := &pass{org: seg.org, store: &part.store, at: part.clock}
	p.oldest, p.newest = a.accepted()
	if req != nil {
		a.add(req, p)
	} else {
		a.readWire(m.Value, p)
	}
	return nil
}

// FlushKafka returns the cumulative counts of every segment read since the
// last call, with their services and deploys, plus what Flush would
// return at now (expired virtual edges, anomalies; Kafka spans expire by
// their partition's clock, not by now), and the offsets that
// are safe to commit once the batch is written: for each partition, the
// start of its unfinished segment (or the end of a finished one). A
// consumer therefore re-reads at most SegmentOffsets messages per
// partition after a crash, and the re-read rewrites the same keys.
func (a *Aggregator) FlushKafka(now time.Time) (graph.Batch, []KafkaCommit) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := int64(a.cfg.SegmentOffsets)
	b, _ := a.takeDirty(true)
	keys := make([]segmentKey, 0, len(a.segments))
	for k := range a.segments {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].topic != keys[j].topic {
			return keys[i].topic < keys[j].topic
		}
		return keys[i].partition < keys[j].partition
	})
	commits := make([]KafkaCommit, 0, len(keys))
	for _, k := range keys {
		seg := a.segments[k]
		c := KafkaCommit{Topic: k.topic, Partition: k.partition, Offset: seg.start}
		if seg.complete(n) {
			c.Offset = seg.last + 1
			delete(a.segments, k)
		}
		commits = append(commits, c)
	}
	b.Events = append(b.Events, a.hist.evaluate(now.Add(-a.cfg.Wait), now)...)
	return b, commits
}

// forgetPartition drops the state of partition k: its segment, its pending
// spans and its unwritten counts.
func (a *Aggregator) forgetPartition(k segmentKey) {
	delete(a.segments, k)
	delete(a.partitions, k)
	prefix := fmt.Sprintf("kafka/%s/%d/", k.topic, k.partition)
	for o := range a.dirty {
		if o.kafka && strings.HasPrefix(o.producer, prefix) {
			delete(a.dirty, o)
		}
	}
}
