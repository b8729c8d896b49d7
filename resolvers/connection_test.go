package resolvers

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
)

// TestEdgeConnectionType reads each edge's connection type, the enum of
// Tempo's connection_type values, as a client would.
func TestEdgeConnectionType(t *testing.T) {
	at := demoNow.Add(-10 * time.Minute).Truncate(time.Minute)
	s := pebbletest.MustOpen(t, pebble.Options{Now: func() time.Time { return demoNow }})
	var calls []graph.CallBucket
	for _, c := range []struct {
		from, to string
		conn     graph.ConnectionType
	}{
		{"user", "storefront", graph.ConnectionVirtual},
		{"storefront", "catalog", graph.ConnectionNone},
		{"storefront", "audit-log", graph.ConnectionMessaging},
		{"catalog", "catalog-db", graph.ConnectionDatabase},
	} {
		calls = append(calls, graph.CallBucket{From: c.from, To: c.to, Start: at, Producer: "test", Calls: 4, ConnectionType: c.conn})
	}
	if _, err := s.Apply(context.Background(), graph.Batch{Calls: calls}); err != nil {
		t.Fatal(err)
	}
	c := newClient(s, Options{})
	var r struct {
		ChangesNear struct {
			Edges []struct{ From, To, ConnectionType string }
		}
	}
	mustPost(t, c, `query($at: Time!) { changesNear(service: "storefront", at: $at, depth: 2) { edges { from to connectionType } } }`,
		&r, client.Var("at", at.Add(5*time.Minute).Format(time.RFC3339)))
	got := fmt.Sprint(r.ChangesNear.Edges)
	want := "[{catalog catalog-db DATABASE} {storefront audit-log MESSAGING_SYSTEM} {storefront catalog DIRECT} {user storefront VIRTUAL_NODE}]"
	if got != want {
		t.Errorf("edges %s, want %s", got, want)
	}
}
