package resolvers

import (
	"context"
	"errors"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// internalError marks an error that must not reach a user verbatim: it
// came from the store or from a panic, not from the user's input.
type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

// guardedStore marks every store error, except "not found" and "invalid",
// as internal, so the error presenter can tell a store failure from a
// user's mistake wherever in a resolver it surfaces.
type guardedStore struct{ s store }

func guard(err error) error {
	if err == nil || errors.Is(err, graph.ErrNotFound) || errors.Is(err, graph.ErrInvalid) {
		return err
	}
	return internalError{err}
}

func (g guardedStore) EdgesTouching(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error) {
	a, err := g.s.EdgesTouching(ctx, services, from, to)
	return a, guard(err)
}

func (g guardedStore) Apply(ctx context.Context, b graph.Batch) (graph.Written, error) {
	w, err := g.s.Apply(ctx, b)
	return w, guard(err)
}

func (g guardedStore) Events(ctx context.Context, f graph.EventFilter) (graph.Page[graph.Event], error) {
	p, err := g.s.Events(ctx, f)
	return p, guard(err)
}

func (g guardedStore) Event(ctx context.Context, id string) (graph.Event, error) {
	e, err := g.s.Event(ctx, id)
	return e, guard(err)
}

func (g guardedStore) CountEvents(ctx context.Context, f graph.EventFilter) (int, error) {
	n, err := g.s.CountEvents(ctx, f)
	return n, guard(err)
}

func (g guardedStore) Service(ctx context.Context, name string) (graph.Service, error) {
	s, err := g.s.Service(ctx, name)
	return s, guard(err)
}

func (g guardedStore) Services(ctx context.Context, f graph.ServiceFilter) (graph.Page[graph.Service], error) {
	p, err := g.s.Services(ctx, f)
	return p, guard(err)
}

func (g guardedStore) CountServices(ctx context.Context, f graph.ServiceFilter) (int, error) {
	n, err := g.s.CountServices(ctx, f)
	return n, guard(err)
}
