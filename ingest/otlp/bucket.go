package otlp

import (
	"sort"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// bucketKey is one edge in one time bucket (start in Unix nanoseconds).
type bucketKey struct {
	from, to string
	start    int64
}

// tally is what was counted on an edge in a bucket.
type tally struct {
	calls, errors int64
	// latency is the sum of call durations in nanoseconds.
	latency int64
}

func (t *tally) add(dur int64, failed bool) {
	t.calls++
	if failed {
		t.errors++
	}
	t.latency += dur
}

// counted is a tally with its latency histogram, for a bucket being
// aggregated.
type counted struct {
	tally
	hist [graph.LatencyBuckets]int64
	conn graph.ConnectionType
}

// accum collects one producer's observations: the buckets it counted, the
// services they touch (with first and last seen) and its events.
type accum struct {
	buckets  map[bucketKey]*counted
	services map[string]*graph.Service
	events   []graph.Event
}

func newAccum() *accum {
	return &accum{buckets: map[bucketKey]*counted{}, services: map[string]*graph.Service{}}
}

func (c *accum) add(from, to string, start, dur int64, failed bool, conn graph.ConnectionType) {
	k := bucketKey{from, to, start}
	t := c.buckets[k]
	if t == nil {
		t = &counted{conn: conn}
		c.buckets[k] = t
	} else if at := time.Unix(0, start); conn.Supersedes(at, t.conn, at) {
		t.conn = conn
	}
	t.add(dur, failed)
	t.hist[graph.LatencySlot(time.Duration(dur))]++
}

// touch records that service name was seen between start and end.
func (c *accum) touch(name, env string, start, end int64) {
	s := c.services[name]
	if s == nil {
		c.services[name] = &graph.Service{Name: name, Environment: env,
			FirstSeen: time.Unix(0, start).UTC(), LastSeen: time.Unix(0, end).UTC()}
		return
	}
	if s.Environment == "" {
		s.Environment = env
	}
	if t := time.Unix(0, start).UTC(); t.Before(s.FirstSeen) {
		s.FirstSeen = t
	}
	if t := time.Unix(0, end).UTC(); t.After(s.LastSeen) {
		s.LastSeen = t
	}
}

// batch returns the accumulated observations as a graph.Batch whose call
// buckets carry producer, in a stable order.
func (c *accum) batch(producer string) graph.Batch {
	var b graph.Batch
	if c == nil {
		return b
	}
	for k, t := range c.buckets {
		b.Calls = append(b.Calls, graph.CallBucket{
			From: k.from, To: k.to, Start: time.Unix(0, k.start).UTC(), Producer: producer,
			Calls: t.calls, Errors: t.errors, LatencySum: time.Duration(t.latency),
			Latency: t.hist, ConnectionType: t.conn,
		})
	}
	sort.Slice(b.Calls, func(i, j int) bool { return callLess(b.Calls[i], b.Calls[j]) })
	for _, s := range c.services {
		b.Services = append(b.Services, *s)
	}
	sort.Slice(b.Services, func(i, j int) bool { return b.Services[i].Name < b.Services[j].Name })
	b.Events = append(b.Events, c.events...)
	return b
}

func callLess(a, b graph.CallBucket) bool {
	switch {
	case a.From != b.From:
		return a.From < b.From
	case a.To != b.To:
		return a.To < b.To
	case !a.Start.Equal(b.Start):
		return a.Start.Before(b.Start)
	}
	return a.Producer < b.Producer
}

// mergeServices merges b into a, widening first and last seen, and keeps
// the result sorted by name.
func mergeServices(a, b []graph.Service) []graph.Service {
	if len(b) == 0 {
		return a
	}
	idx := make(map[string]int, len(a))
	for i, s := range a {
		idx[s.Name] = i
	}
	for _, s := range b {
		i, ok := idx[s.Name]
		if !ok {
			idx[s.Name] = len(a)
			a = append(a, s)
			continue
		}
		if a[i].Environment == "" {
			a[i].Environment = s.Environment
		}
		if s.FirstSeen.Before(a[i].FirstSeen) {
			a[i].FirstSeen = s.FirstSeen
		}
		if s.LastSeen.After(a[i].LastSeen) {
			a[i].LastSeen = s.LastSeen
		}
	}
	sort.Slice(a, func(i, j int) bool { return a[i].Name < a[j].Name })
	return a
}

// appendBatch appends b to a.
func appendBatch(a, b graph.Batch) graph.Batch {
	a.Calls = append(a.Calls, b.Calls...)
	a.Events = append(a.Events, b.Events...)
	a.Dependencies = append(a.Dependencies, b.Dependencies...)
	a.Services = mergeServices(a.Services, b.Services)
	return a
}
