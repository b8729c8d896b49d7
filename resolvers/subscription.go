package resolvers

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Defaults for the subscription caps. A browser tab or a bot needs a
// handful of subscriptions; each costs a buffer and two goroutines.
const (
	DefaultMaxSubscriptionsPerConnection = 100
	DefaultMaxSubscriptions              = 10000
)

// subscriptionLimits caps live subscriptions per websocket connection
// and in total.
type subscriptionLimits struct {
	perConnection int64
	max           int64
	total         atomic.Int64
}

// connectionKey marks a websocket connection's context with its count of
// live subscriptions.
type connectionKey struct{}

// withConnection gives a new websocket connection its own count.
func withConnection(ctx context.Context) context.Context {
	return context.WithValue(ctx, connectionKey{}, new(atomic.Int64))
}

// acquire counts one more subscription on ctx's connection and in total,
// or refuses it with an error that says which cap it hit and what to do.
// release undoes it, once, however often it is called.
func (l *subscriptionLimits) acquire(ctx context.Context) (release func(), err error) {
	conn, _ := ctx.Value(connectionKey{}).(*atomic.Int64)
	if conn != nil && conn.Add(1) > l.perConnection {
		conn.Add(-1)
		return nil, limitError(fmt.Sprintf("this connection already has %d live subscriptions, the limit per connection: complete some before subscribing again", l.perConnection))
	}
	if l.total.Add(1) > l.max {
		l.total.Add(-1)
		if conn != nil {
			conn.Add(-1)
		}
		return nil, limitError(fmt.Sprintf("the server already has %d live subscriptions, its limit: retry later", l.max))
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			l.total.Add(-1)
			if conn != nil {
				conn.Add(-1)
			}
		})
	}, nil
}

func limitError(msg string) error {
	e := gqlerror.Errorf("%s", msg)
	e.Extensions = map[string]any{"code": "SUBSCRIPTION_LIMIT"}
	return e
}
