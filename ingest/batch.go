package ingest

import (
	"context"
	"errors"

	"github.com/sregraph/sregraph/graph"
)

// Rejection is an item that cannot be stored: its position among the
// items it was decoded with, and why.
type Rejection struct {
	Index int
	Err   error
}

// Split is decoded items sorted into the batch to write and the items
// rejected.
type Split struct {
	Batch    graph.Batch
	Rejected []Rejection
	// index holds the item index of each event of Batch, then of each
	// dependency: the order of Parts(Batch).
	index []int
}

// SplitItems sorts items into the batch to write and the rejected ones.
func SplitItems(items []Item) Split {
	var s Split
	var deps []int
	for i, it := range items {
		switch {
		case it.Err != nil:
			s.Rejected = append(s.Rejected, Rejection{Index: i, Err: it.Err})
		case it.Event != nil:
			s.Batch.Events = append(s.Batch.Events, *it.Event)
			s.index = append(s.index, i)
		case it.Dependency != nil:
			s.Batch.Dependencies = append(s.Batch.Dependencies, *it.Dependency)
			deps = append(deps, i)
		}
	}
	s.index = append(s.index, deps...)
	return s
}

// Index returns the item index of part i of Parts(s.Batch).
func (s Split) Index(part int) int { return s.index[part] }

// Parts splits b into batches of one item each: its events, then its
// dependencies, services and call buckets.
func Parts(b graph.Batch) []graph.Batch {
	parts := make([]graph.Batch, 0, b.Len())
	for _, e := range b.Events {
		parts = append(parts, graph.Batch{Events: []graph.Event{e}})
	}
	for _, d := range b.Dependencies {
		parts = append(parts, graph.Batch{Dependencies: []graph.Dependency{d}})
	}
	for _, s := range b.Services {
		parts = append(parts, graph.Batch{Services: []graph.Service{s}})
	}
	for _, c := range b.Calls {
		parts = append(parts, graph.Batch{Calls: []graph.CallBucket{c}})
	}
	return parts
}

// ApplyFunc writes one batch: a graph.Applier's Apply, or one that
// retries a failing store.
type ApplyFunc func(ctx context.Context, b graph.Batch) (graph.Written, error)

// ApplyParts writes whole with apply. When the store refuses it as
// invalid (graph.ErrInvalid: an item a decoder let through that the store
// does not take), it asks parts, with that refusal, for the parts whole
// is made of and writes them one by one instead, skipping empty ones, so
// that only what the store refuses is lost; it tells refused the index of
// each part the store refuses and why. It returns what the writes did,
// summed; its error is the store failing, never a refusal.
func ApplyParts(ctx context.Context, apply ApplyFunc, whole graph.Batch, parts func(refusal error) []graph.Batch, refused func(i int, err error)) (graph.Written, error) {
	written, err := apply(ctx, whole)
	if !errors.Is(err, graph.ErrInvalid) {
		return written, err
	}
	var total graph.Written
	for i, p := range parts(err) {
		if p.Len() == 0 {
			continue
		}
		w, err := apply(ctx, p)
		switch {
		case errors.Is(err, graph.ErrInvalid):
			refused(i, err)
		case err != nil:
			return total, err
		default:
			total.Add(w)
		}
	}
	return total, nil
}
