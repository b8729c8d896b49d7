package otlp

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sregraph/sregraph/graph"
)

// stream builds the messages of one partition: trace i has a client span
// (service a, peer.service b) in message i and its server span (service
// b, an error every fifth trace) in message i+lag(i), which may be before.
func stream(t testing.TB, n int, lag func(i int) int) (msgs []KafkaMessage, pairs [][2]int) {
	t.Helper()
	spans := make([][]sp, n)
	for i := 0; i < n; i++ {
		j := i + lag(i)
		if j < 0 || j >= n {
			j = i
		}
		at := time.Duration(i) * time.Second
		spans[i] = append(spans[i], sp{svc: "a", trace: uint64(i + 1), id: 10, kind: client, at: at, dur: 3 * time.Millisecond,
			attrs: map[string]string{"peer.service": "b"}})
		spans[j] = append(spans[j], sp{svc: "b", trace: uint64(i + 1), id: 11, parent: 10, kind: server, at: at, failed: i%5 == 0})
		pairs = append(pairs, [2]int{i, j})
	}
	for i := range spans {
		value, err := proto.Marshal(request(spans[i]...))
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, KafkaMessage{Topic: DefaultTopic, Partition: 0, Offset: int64(i), Value: value, Time: t0.Add(time.Duration(i) * time.Second)})
	}
	// A last, empty message an hour later moves the partition's clock so
	// every span still waiting expires.
	tick, _ := proto.Marshal(request())
	msgs = append(msgs, KafkaMessage{Topic: DefaultTopic, Partition: 0, Offset: int64(n), Value: tick, Time: t0.Add(time.Hour)})
	return msgs, pairs
}

// consume plays a consumer: it feeds msgs[from:to] and every flushEvery
// messages (and at the end) flushes, writes and commits. It returns the
// committed offset (the next to read after a restart).
func consume(t testing.TB, agg *Aggregator, store *memStore, msgs []KafkaMessage, from, to, flushEvery int, now time.Time, committed int64) int64 {
	t.Helper()
	flush := func() {
		b, commits := agg.FlushKafka(now)
		if _, err := store.Apply(t.Context(), b); err != nil {
			t.Fatal(err)
		}
		for _, c := range commits {
			committed = c.Offset
		}
	}
	for i := from; i < to; i++ {
		if err := agg.AddKafka(msgs[i]); err != nil {
			t.Fatal(err)
		}
		if (i-from+1)%flushEvery == 0 {
			flush()
		}
	}
	flush()
	return committed
}

// TestKafkaReplay: replaying messages, from a crash point or from the
// start, never adds to the counts.
func TestKafkaReplay(t *testing.T) {
	now := t0.Add(2 * time.Minute)
	lags := map[string]func(int) int{
		"both halves in one message": func(int) int { return 0 },
		"halves up to 3 messages apart, either order": func(i int) int {
			return []int{0, 1, -2, 3, 0, -1}[i%6]
		},
	}
	for name, lag := range lags {
		t.Run(name, func(t *testing.T) {
			msgs, pairs := stream(t, 95, lag)
			cfg := Config{SegmentOffsets: 10}
			clock := func() time.Time { return now }

			// Reference: one consumer, no failures.
			ref := newMemStore()
			consume(t, NewAggregator(cfg, clock), ref, msgs, 0, len(msgs), 7, now.Add(time.Hour), 0)
			want := ref.edges()
			if want["a->b"].Calls != int64(len(pairs)) {
				t.Fatalf("reference counted %v, want %d calls", want, len(pairs))
			}

			// The whole topic read again by a second consumer group.
			consume(t, NewAggregator(cfg, clock), ref, msgs, 0, len(msgs), 4, now.Add(time.Hour), 0)
			if got := ref.edges(); got != nil && got["a->b"] != want["a->b"] {
				t.Errorf("after reading everything twice: %v, want %v", got, want)
			}

			// A crash after writing at message 57, before committing: the
			// next consumer resumes from the last commit, with other flush
			// points.
			for _, crashAt := range []int{57, 60, 63} {
				store := newMemStore()
				agg := NewAggregator(cfg, clock)
				committed := consume(t, agg, store, msgs, 0, crashAt-3, 3, now, 0)
				for i := crashAt - 3; i < crashAt; i++ {
					agg.AddKafka(msgs[i])
				}
				b, _ := agg.FlushKafka(now) // written, never committed
				store.Apply(t.Context(), b)
				consume(t, NewAggregator(cfg, clock), store, msgs, int(committed), len(msgs), 5, now.Add(time.Hour), committed)
				got := store.edges()
				// A call counts under its client span's segment. Pairs whose
				// server half was read before the resume point and whose
				// client half after it become virtual edges to peer.service
				// b, the same edge (without the server's error). Pairs whose
				// client half was read before the resume point are counted
				// if the write before the crash saw them complete, and lost
				// if their server half came after the crash. Nothing is
				// counted twice.
				lost, lostErrors, virtualErrors := int64(0), int64(0), int64(0)
				for i, p := range pairs {
					switch {
					case p[0] < int(committed) && p[1] >= crashAt:
						lost++
						if i%5 == 0 {
							lostErrors++
						}
					case p[1] < int(committed) && p[0] >= int(committed) && i%5 == 0:
						virtualErrors++
					}
				}
				if t.Failed() {
					t.Logf("crash at %d:\n%s", crashAt, strings.Join(describe(mapValues(store.calls)), "\n"))
				}
				w := want["a->b"]
				if g := got["a->b"]; g.Calls != w.Calls-lost || g.Errors != w.Errors-lostErrors-virtualErrors {
					t.Errorf("crash at %d, resumed at %d: %+v, want %d calls (%d lost), %d errors",
						crashAt, committed, g, w.Calls-lost, lost, w.Errors-lostErrors-virtualErrors)
				}
				if committed%10 != 0 || committed > int64(crashAt) {
					t.Errorf("committed %d: want a segment start not after %d", committed, crashAt)
				}
			}
		})
	}
}

func TestKafkaCommitsAndFormats(t *testing.T) {
	now := t0.Add(time.Minute)
	agg := NewAggregator(Config{SegmentOffsets: 4}, func() time.Time { return now })
	value := func(trace uint64, asJSON bool) []byte {
		req := request(sp{svc: "a", trace: trace, id: 10, kind: client}, sp{svc: "b", trace: trace, id: 11, parent: 10, kind: server})
		if asJSON {
			js, err := protojsonOTLP(req)
			if err != nil {
				t.Fatal(err)
			}
			return js
		}
		pb, _ := proto.Marshal(req)
		return pb
	}
	for _, m := range []KafkaMessage{
		{Topic: DefaultTopic, Partition: 1, Offset: 4, Value: value(1, false)},
		{Topic: DefaultTopic, Partition: 1, Offset: 5, Value: value(2, true)},
		{Topic: DefaultTopic, Partition: 1, Offset: 6, Value: value(3, true), Headers: map[string]string{"Content-Type": ContentTypeJSON}},
		{Topic: DefaultTopic, Partition: 1, Offset: 7, Value: value(4, false), Headers: map[string]string{"content-type": "application/x-protobuf"}},
		{Topic: DefaultTopic, Partition: 2, Offset: 9, Value: value(5, false)},
	} {
		if err := agg.AddKafka(m); err != nil {
			t.Fatalf("offset %d: %v", m.Offset, err)
		}
	}
	err := agg.AddKafka(KafkaMessage{Topic: DefaultTopic, Partition: 2, Offset: 10, Value: []byte("{not json")})
	if !errors.Is(err, graph.ErrInvalid) {
		t.Errorf("poison message: %v, want ErrInvalid", err)
	}
	b, commits := agg.FlushKafka(now)
	got := fmt.Sprint(commits)
	if want := "[{otlp_spans 1 8} {otlp_spans 2 8}]"; got != want {
		t.Errorf("commits %s, want %s (partition 1's segment 4..7 is complete; partition 2's 8..11 is not)", got, want)
	}
	if d := describe(b.Calls); fmt.Sprint(d) != "[a->b@10:00:00 kafka/otlp_spans/1/4 calls=4 errors=0 a->b@10:00:00 kafka/otlp_spans/2/8 calls=1 errors=0]" {
		t.Errorf("buckets %v", d)
	}
}

// TestKafkaRewind: a partition read again by the same aggregator (it came
// back after a rebalance, from the committed offset) counts as a fresh
// replay would, without adding to what was written.
func TestKafkaRewind(t *testing.T) {
	msgs, pairs := stream(t, 45, func(i int) int { return []int{0, 1, -1}[i%3] })
	cfg := Config{SegmentOffsets: 10}
	clock := func() time.Time { return t0 }
	store := newMemStore()
	agg := NewAggregator(cfg, clock)
	committed := consume(t, agg, store, msgs, 0, 35, 4, t0, 0)
	if committed != 30 {
		t.Fatalf("committed %d, want 30", committed)
	}
	// Back to the commit, then to the end, with the same aggregator.
	consume(t, agg, store, msgs, int(committed), len(msgs), 6, t0, committed)
	// The server half read before the commit of a pair whose client half
	// comes after it turns into a virtual call to b: the same edge.
	got := store.edges()["a->b"]
	if got.Calls != int64(len(pairs)) {
		t.Errorf("after a rewind: %+v, want %d calls", got, len(pairs))
	}
}
