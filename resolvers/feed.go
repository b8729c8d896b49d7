package resolvers

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/sregraph/sregraph/graph"
)

// Feed fans newly stored events out to live subscriptions. Publishing
// never blocks: a subscriber that falls more than its buffer behind loses
// events (counted in Dropped) rather than slowing ingest down.
type Feed struct {
	mu      sync.Mutex
	next    int
	subs    map[int]*subscription
	dropped atomic.Int64
}

type subscription struct {
	match func(graph.Event) bool
	ch    chan graph.Event
}

// NewFeed returns an empty feed.
func NewFeed() *Feed { return &Feed{subs: map[int]*subscription{}} }

// Subscribe returns a channel of the published events that match. The
// channel is closed, and the subscription removed, when ctx ends.
func (f *Feed) Subscribe(ctx context.Context, match func(graph.Event) bool, buffer int) <-chan graph.Event {
	s := &subscription{match: match, ch: make(chan graph.Event, buffer)}
	f.mu.Lock()
	id := f.next
	f.next++
	f.subs[id] = s
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		delete(f.subs, id)
		close(s.ch)
		f.mu.Unlock()
	}()
	return s.ch
}

// Publish offers events to every subscriber.
func (f *Feed) Publish(events []graph.Event) {
	if len(events) == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.subs {
		for _, e := range events {
			if !s.match(e) {
				continue
			}
			select {
			case s.ch <- e:
			default:
				f.dropped.Add(1)
			}
		}
	}
}

// Subscribers reports how many subscriptions are live.
func (f *Feed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// Dropped reports how many events slow subscribers have missed.
func (f *Feed) Dropped() int64 { return f.dropped.Load() }

// Publishing wraps a store's write side so that every event a write
// inserts or updates is published to the feed once it is durable.
type Publishing struct {
	W    graph.Applier
	Feed *Feed
}

// Apply writes b and then publishes what changed.
func (p Publishing) Apply(ctx context.Context, b graph.Batch) (graph.Written, error) {
	w, err := p.W.Apply(ctx, b)
	if err == nil {
		p.Feed.Publish(w.New)
	}
	return w, err
}
