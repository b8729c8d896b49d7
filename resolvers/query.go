package resolvers

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// subscriptionBuffer is how many events a live subscription may fall
// behind before it starts missing events.
const subscriptionBuffer = 256

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// nilIfNotFound turns "not found" into a null result, which is how
// GraphQL says it; other errors pass through.
func nilIfNotFound(err error) error {
	if errors.Is(err, graph.ErrNotFound) {
		return nil
	}
	return err
}

func (r *Resolver) breachURL(id string) string {
	return strings.TrimRight(r.publicURL, "/") + "/breaches/" + id
}

// contextQuery applies the schema's defaults, so a Go caller (the breach
// page, the CLI) and a GraphQL caller get the same query.
func contextQuery(service string, at time.Time, before, after *time.Duration, depth *int, direction *graph.Direction, kinds []graph.Kind, first *int) graph.ContextQuery {
	q := graph.ContextQuery{
		Service: service, At: at, Before: graph.DefaultBefore, After: graph.DefaultAfter,
		Depth: deref(depth), Direction: deref(direction), Kinds: kinds, First: deref(first),
	}
	if before != nil {
		q.Before = *before
	}
	if after != nil {
		q.After = *after
	}
	if depth != nil && *depth == 0 {
		q.Depth = -1 // make Validate reject an explicit 0 instead of defaulting it
	}
	if first != nil && *first == 0 {
		q.First = -1
	}
	return q
}

func validateListing(f *graph.EventFilter) error {
	if f.First < 0 || f.First > graph.MaxFirst {
		return graph.Invalidf("first %d is out of range: want 1..%d", f.First, graph.MaxFirst)
	}
	return f.Validate()
}

func (r *Resolver) events(ctx context.Context, f graph.EventFilter) (*EventConnection, error) {
	if f.First == 0 {
		f.First = 100
	}
	if err := validateListing(&f); err != nil {
		return nil, err
	}
	p, err := r.store.Events(ctx, f)
	if err != nil {
		return nil, err
	}
	return eventConnection(p, f), nil
}

// nearby answers Service.dependencies and Service.dependents: edges active
// in the hour before at (default now), plus declared ones.
func (r *Resolver) nearby(ctx context.Context, name string, at *time.Time, depth *int, dir graph.Direction) ([]*graph.NearbyService, error) {
	when := r.now().UTC()
	if at != nil {
		when = at.UTC()
	}
	d := 1
	if depth != nil {
		d = *depth
	}
	nb, err := graph.Walk(ctx, r.store, graph.NeighbourhoodQuery{
		Service: name, From: when.Add(-graph.DefaultGrace), To: when, Depth: d, Direction: dir,
	})
	if err != nil {
		return nil, err
	}
	out := make([]*graph.NearbyService, 0, len(nb.Services))
	for i := range nb.Services {
		if nb.Services[i].Hops > 0 {
			out = append(out, &nb.Services[i])
		}
	}
	return out, nil
}

type serviceCacheKey struct{}

// serviceCache remembers service lookups for one operation, so a list of
// events asking for their service's owner costs one lookup per service.
type serviceCache struct {
	mu sync.Mutex
	m  map[string]serviceLookup
}

type serviceLookup struct {
	s   graph.Service
	err error
}

func withServiceCache(ctx context.Context) context.Context {
	return context.WithValue(ctx, serviceCacheKey{}, &serviceCache{m: map[string]serviceLookup{}})
}

func (r *Resolver) serviceInfo(ctx context.Context, name string) (graph.Service, error) {
	c, _ := ctx.Value(serviceCacheKey{}).(*serviceCache)
	if c == nil {
		return r.store.Service(ctx, name)
	}
	c.mu.Lock()
	got, ok := c.m[name]
	c.mu.Unlock()
	if ok {
		return got.s, got.err
	}
	s, err := r.store.Service(ctx, name)
	c.mu.Lock()
	c.m[name] = serviceLookup{s, err}
	c.mu.Unlock()
	return s, err
}
