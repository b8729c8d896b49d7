// Package resolvers is sregraph's GraphQL adapter: gqlgen's generated
// executor (generated.go, models_gen.go — never edited by hand), the
// resolvers that translate GraphQL arguments into graph queries, and the
// HTTP handler that serves the API, its IDE and its subscriptions.
package resolvers

//go:generate go tool gqlgen generate

import (
	"context"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// store is what the resolvers read, and write when a responder confirms
// a cause. Both graph stores satisfy it.
type store interface {
	graph.ContextSource
	graph.Applier
	Event(ctx context.Context, id string) (graph.Event, error)
	CountEvents(ctx context.Context, f graph.EventFilter) (int, error)
	Service(ctx context.Context, name string) (graph.Service, error)
	Services(ctx context.Context, f graph.ServiceFilter) (graph.Page[graph.Service], error)
	CountServices(ctx context.Context, f graph.ServiceFilter) (int, error)
}

// Resolver is the root resolver.
type Resolver struct {
	store     store
	feed      *Feed
	now       func() time.Time
	publicURL string
	subs      *subscriptionLimits
}

// writeKey marks a request's context with whether its token may write.
type writeKey struct{}

// WithWriteAccess records on a request's context whether its caller may
// write (confirm a cause): the server's authentication sets it from the
// token's scopes. A context without it is from a server without tokens,
// where everyone may.
func WithWriteAccess(ctx context.Context, ok bool) context.Context {
	return context.WithValue(ctx, writeKey{}, ok)
}

func writeAccess(ctx context.Context) bool {
	ok, set := ctx.Value(writeKey{}).(bool)
	return !set || ok
}
