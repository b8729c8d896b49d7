package resolvers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/sregraph/sregraph/graph"
)

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// TestSubscriptionsDeliverAndEnd subscribes over a real websocket, writes
// through the publishing writer, and checks the breach arrives and that
// closing the subscription removes it from the feed.
func TestSubscriptionsDeliverAndEnd(t *testing.T) {
	st := mustDemoStore(t)
	feed := NewFeed()
	srv := httptest.NewServer(New(Options{Store: st, Feed: feed, Now: func() time.Time { return demoNow }}))
	defer srv.Close()
	c := client.New(srv.Config.Handler)

	breaches := c.Websocket(`subscription { breachOpened(service: "search") { service { name } slo } }`)
	defer breaches.Close()
	changes := c.Websocket(`subscription { changes(service: "search", kinds: [DEPLOY]) { kind summary } }`)
	defer changes.Close()
	waitFor(t, func() bool { return feed.Subscribers() == 2 })

	w := Publishing{W: st, Feed: feed}
	mk := func(kind graph.Kind, summary string, attrs map[string]any) graph.Event {
		e := graph.Event{Kind: kind, Service: "search", At: demoNow.Add(-time.Minute), Source: "test", Summary: summary, Attributes: attrs}
		if err := e.Normalize(demoNow); err != nil {
			t.Fatal(err)
		}
		return e
	}
	batch := graph.Batch{Events: []graph.Event{
		mk(graph.KindTicket, "not a deploy", nil),
		mk(graph.KindDeploy, "search 9.9.9 deployed", nil),
		mk(graph.KindSLOBreach, "search latency", map[string]any{"slo": "search-latency"}),
	}}
	if _, err := w.Apply(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	var b struct {
		BreachOpened struct {
			Service struct{ Name string }
			SLO     string `json:"slo"`
		}
	}
	if err := breaches.Next(&b); err != nil {
		t.Fatal(err)
	}
	if b.BreachOpened.Service.Name != "search" || b.BreachOpened.SLO != "search-latency" {
		t.Errorf("breachOpened = %+v", b)
	}
	var ch struct {
		Changes struct{ Kind, Summary string }
	}
	if err := changes.Next(&ch); err != nil {
		t.Fatal(err)
	}
	if ch.Changes.Kind != "DEPLOY" || ch.Changes.Summary != "search 9.9.9 deployed" {
		t.Errorf("changes = %+v", ch)
	}
	// A duplicate write publishes nothing new.
	if w2, _ := w.Apply(context.Background(), batch); len(w2.New) != 0 {
		t.Errorf("a duplicate batch reported new events: %+v", w2.New)
	}
	_ = breaches.Close()
	_ = changes.Close()
	waitFor(t, func() bool { return feed.Subscribers() == 0 })
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
