package pebble

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

// TestDeleteBeforeInRounds deletes more than one retention batch holds,
// so the sweep has to resume where it stopped.
func TestDeleteBeforeInRounds(t *testing.T) {
	s := MustOpen(t, Options{Now: graphtest.Now})
	ctx := context.Background()
	cut := graphtest.T0
	var evs []graph.Event
	for i := range 5000 {
		at := cut.Add(-time.Duration(i+1) * time.Minute)
		if i%2 == 1 {
			at = cut.Add(time.Duration(i) * time.Second)
		}
		evs = append(evs, graphtest.MustEvent(t, graph.Kinds[i%len(graph.Kinds)], fmt.Sprintf("svc-%d", i%13), at, fmt.Sprintf("r%d", i)))
	}
	var calls []graph.CallBucket
	for e := range 200 {
		for h := range 60 {
			calls = append(calls, graph.CallBucket{From: fmt.Sprintf("a%d", e), To: "b", Producer: "p", Calls: 1,
				Start: cut.Add(time.Duration(h-50)*time.Hour + time.Duration(e%60)*time.Minute)})
		}
	}
	graphtest.MustApply(t, s, graph.Batch{Events: evs, Calls: calls})
	events, buckets, err := s.DeleteBefore(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if events != 2500 || buckets != 200*50 {
		t.Errorf("deleted %d events, %d buckets; want 2500, %d", events, buckets, 200*50)
	}
	n, err := s.CountEvents(ctx, graph.EventFilter{})
	if err != nil || n != 2500 {
		t.Errorf("left %d events, %v; want 2500", n, err)
	}
	acts, err := s.EdgesTouching(ctx, []string{"b"}, cut.Add(-100*time.Hour), cut.Add(100*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	left := 0
	for _, a := range acts {
		left += len(a.Buckets)
	}
	if left != 200*10 {
		t.Errorf("left %d buckets; want %d", left, 200*10)
	}
}

func TestRunRetention(t *testing.T) {
	now := graphtest.T0
	s := MustOpen(t, Options{Now: func() time.Time { return now }})
	old := graphtest.MustEvent(t, graph.KindDeploy, "checkout", now.Add(-48*time.Hour), "old")
	fresh := graphtest.MustEvent(t, graph.KindDeploy, "checkout", now.Add(-time.Hour), "fresh")
	graphtest.MustApply(t, s, graph.Batch{Events: []graph.Event{old, fresh}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		graph.RunRetention(ctx, s, 5*time.Millisecond, 24*time.Hour, func() time.Time { return now }, slog.New(slog.DiscardHandler))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := s.Event(context.Background(), old.ID)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("retention did not remove the old event")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if _, err := s.Event(context.Background(), fresh.ID); err != nil {
		t.Errorf("fresh event: %v", err)
	}
}
