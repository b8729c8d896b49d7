// Package graphtest is the store contract: one suite of cases, with their
// expected answers (ranking included), that every graph store must pass.
// A store's tests call Run with a function that opens an empty store.
package graphtest

import (
	"context"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// Store is everything the contract exercises. Stores do not declare it;
// they satisfy it.
type Store interface {
	graph.Applier
	// Event returns one event by ID, or an error wrapping graph.ErrNotFound.
	Event(ctx context.Context, id string) (graph.Event, error)
	// Events lists events in graph.EventLess order.
	Events(ctx context.Context, f graph.EventFilter) (graph.Page[graph.Event], error)
	// CountEvents counts what Events would list, ignoring First and After.
	CountEvents(ctx context.Context, f graph.EventFilter) (int, error)
	// EdgesTouching implements graph.EdgeSource.
	EdgesTouching(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error)
	// EdgeLatency sums, over producers and the buckets of the edge
	// from→to that start in [start, end), the calls, the latency and the
	// latency histogram (buckets written without one add to calls and sum
	// only). An edge without buckets in the window has zero of each.
	EdgeLatency(ctx context.Context, from, to string, start, end time.Time) (sum time.Duration, hist [graph.LatencyBuckets]int64, calls int64, err error)
	// Service returns one service, or an error wrapping graph.ErrNotFound.
	Service(ctx context.Context, name string) (graph.Service, error)
	// Services lists services in name order.
	Services(ctx context.Context, f graph.ServiceFilter) (graph.Page[graph.Service], error)
	// CountServices counts what Services would list, ignoring First and After.
	CountServices(ctx context.Context, f graph.ServiceFilter) (int, error)
	// DeleteBefore removes events that ended (or, without an end, happened)
	// before t and call buckets that start before t, and returns how many
	// events and buckets it removed. Declared dependencies and services stay.
	DeleteBefore(ctx context.Context, t time.Time) (events, buckets int, err error)
	// Ping reports whether the store can serve.
	Ping(ctx context.Context) error
	Close() error
}
