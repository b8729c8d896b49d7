package resolvers

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
)

// Defaults for the per-request limits.
const (
	// DefaultTimeout bounds one query or mutation: far above what the
	// pages and the CLI ask for (milliseconds to a second or two), and
	// below the HTTP server's write timeout so the answer can say why.
	DefaultTimeout = 10 * time.Second
	// DefaultMaxConcurrentExpensive is how many operations reading a
	// neighbourhood (changesNear, Breach.context) one client may run at
	// once: a page and an IDE or a script, not a flood.
	DefaultMaxConcurrentExpensive = 4
)

// clientKey marks a request's context with who is asking.
type clientKey struct{}

// WithClient records on a request's context who is asking (the server's
// authentication sets the token's name): the cap on concurrent expensive
// queries counts per client. A context without it counts by the client's
// address.
func WithClient(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, clientKey{}, "token:"+name)
}

// clientOf returns the key the cap counts r by.
func clientOf(r *http.Request) string {
	if k, ok := r.Context().Value(clientKey{}).(string); ok {
		return k
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}

// expensiveSlots counts the running expensive operations of each client.
type expensiveSlots struct {
	max     int
	mu      sync.Mutex
	running map[string]int
}

// acquire takes one of key's slots, or reports false when all are taken.
func (s *expensiveSlots) acquire(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[key] >= s.max {
		return false
	}
	s.running[key]++
	return true
}

func (s *expensiveSlots) release(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[key]--; s.running[key] <= 0 {
		delete(s.running, key)
	}
}

// requestClientKey carries the client key from the HTTP handler to the
// operation middleware.
type requestClientKey struct{}

func withRequestClient(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, requestClientKey{}, key)
}

func requestClient(ctx context.Context) string {
	k, _ := ctx.Value(requestClientKey{}).(string)
	return k
}

// expensive reports whether set reads a neighbourhood: changesNear, or a
// breach's context, anywhere in it (fragments followed).
func expensive(set ast.SelectionSet) bool {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "changesNear" || (s.Name == "context" && s.ObjectDefinition != nil && s.ObjectDefinition.Name == "Breach") {
				return true
			}
			if expensive(s.SelectionSet) {
				return true
			}
		case *ast.InlineFragment:
			if expensive(s.SelectionSet) {
				return true
			}
		case *ast.FragmentSpread:
			if s.Definition != nil && expensive(s.Definition.SelectionSet) {
				return true
			}
		}
	}
	return false
}

// timeoutMessage says that an operation ran out of time, and what to do.
func timeoutMessage(limit time.Duration) string {
	return fmt.Sprintf("the operation did not finish within the %s limit (--graphql-timeout): ask for less (a smaller depth or first, fewer aliases, a shorter window) or split it into several requests", limit)
}
