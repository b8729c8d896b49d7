package page

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
)

// TestEdgeTitlesSayTheConnection checks that an edge's title on the page
// says when its calls go to a database, through a messaging system or to
// or from a virtual node, and says nothing more for direct calls.
func TestEdgeTitlesSayTheConnection(t *testing.T) {
	at := demoNow.Add(-10 * time.Minute).Truncate(time.Minute)
	st := pebbletest.MustOpen(t, pebble.Options{Now: func() time.Time { return demoNow }})
	var calls []graph.CallBucket
	for _, c := range []struct {
		from, to string
		conn     graph.ConnectionType
	}{
		{"user", "storefront", graph.ConnectionVirtual},
		{"storefront", "catalog", graph.ConnectionNone},
		{"storefront", "audit-log", graph.ConnectionMessaging},
		{"storefront", "sessions-db", graph.ConnectionDatabase},
	} {
		calls = append(calls, graph.CallBucket{From: c.from, To: c.to, Start: at, Producer: "test", Calls: 1200, ConnectionType: c.conn})
	}
	if _, err := st.Apply(context.Background(), graph.Batch{Calls: calls}); err != nil {
		t.Fatal(err)
	}
	_, body := fetch(t, serve(t, st), "/context?service=storefront&at="+at.Add(5*time.Minute).Format(time.RFC3339))
	nb := byID(parseHTML(t, body), "neighbourhood")
	titles := map[string]string{}
	for _, e := range byClass(nb, "g", "edge") {
		titles[attr(e, "data-edge")] = childTitle(e)
	}
	for edge, want := range map[string]string{
		"user->storefront":        "user → storefront, one end not instrumented (virtual node): 1,200 calls",
		"storefront->catalog":     "storefront → catalog: 1,200 calls",
		"storefront->audit-log":   "storefront → audit-log, through a messaging system: 1,200 calls",
		"storefront->sessions-db": "storefront → sessions-db, database calls: 1,200 calls",
	} {
		if !strings.HasPrefix(titles[edge], want) {
			t.Errorf("edge %s title %q, want it to start %q", edge, titles[edge], want)
		}
	}
}
