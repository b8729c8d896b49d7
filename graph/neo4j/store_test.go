package neo4j

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/graphtest"
)

func TestConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"bolt", Config{URI: "bolt://127.0.0.1:7687"}, true},
		{"neo4j routing", Config{URI: "neo4j://db.example:7687", User: "neo4j", Password: "secret"}, true},
		{"neo4j+s", Config{URI: "neo4j+s://db.example:7687", User: "neo4j", Password: "secret", Database: "graph"}, true},
		{"bolt+s", Config{URI: "bolt+s://db.example:7687"}, true},
		{"bolt+ssc", Config{URI: "bolt+ssc://db.example:7687"}, true},
		{"empty", Config{}, false},
		{"http", Config{URI: "http://db.example:7474"}, false},
		{"no host", Config{URI: "bolt://"}, false},
		{"credentials in the URI", Config{URI: "neo4j://neo4j:secret@db.example:7687"}, false},
		{"password without user", Config{URI: "bolt://db.example", Password: "secret"}, false},
		{"batch rows too large", Config{URI: "bolt://db.example", BatchRows: MaxBatchRows + 1}, false},
		{"negative retry time", Config{URI: "bolt://db.example", MaxRetryTime: -time.Second}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			err := cfg.Validate()
			if c.ok != (err == nil) {
				t.Fatalf("Validate() = %v; want ok %v", err, c.ok)
			}
			if err != nil && !errors.Is(err, graph.ErrInvalid) {
				t.Errorf("error %v is not ErrInvalid", err)
			}
			if err == nil && (cfg.Database == "" || cfg.BatchRows == 0) {
				t.Errorf("defaults not filled: %+v", cfg)
			}
		})
	}
}

func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Port 1 on loopback: nothing listens there.
	_, err := Open(ctx, Config{URI: "bolt://127.0.0.1:1"}, Options{})
	if !errors.Is(err, graph.ErrUnavailable) {
		t.Fatalf("open an unreachable server: %v; want ErrUnavailable", err)
	}
}

// TestSmallStatements writes and deletes with three rows per statement, so
// every batch spans several UNWIND statements in one transaction and
// retention several transactions.
func TestSmallStatements(t *testing.T) {
	cfg := testConfig(t)
	cfg.BatchRows = 3
	s := mustOpenConfig(t, cfg, Options{Now: graphtest.Now})
	ctx := context.Background()
	t0 := graphtest.T0
	var b graph.Batch
	for i := range 10 {
		e := graphtest.MustEvent(t, graph.KindDeploy, fmt.Sprintf("svc-%d", i%4), t0.Add(-time.Duration(i)*time.Hour), fmt.Sprintf("d%d", i))
		b.Events = append(b.Events, e)
		b.Calls = append(b.Calls, graph.CallBucket{From: "svc-0", To: fmt.Sprintf("svc-%d", 1+i%3), Start: t0.Add(-time.Duration(i) * time.Hour),
			Producer: "p", Calls: 10, Errors: 1})
	}
	b.Events = append(b.Events, b.Events[:4]...) // repeats, some in another statement
	w, err := s.Apply(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if w.Inserted != 10 || w.Duplicates != 4 || w.Updated != 0 {
		t.Fatalf("written %+v; want 10 inserted, 4 duplicates", w)
	}
	if n, err := s.CountEvents(ctx, graph.EventFilter{}); err != nil || n != 10 {
		t.Fatalf("count = %d, %v; want 10", n, err)
	}
	if n, err := s.CountServices(ctx, graph.ServiceFilter{}); err != nil || n != 4 {
		t.Fatalf("services = %d, %v; want 4", n, err)
	}
	// Events at t0-5h and earlier, and buckets starting then, go.
	events, buckets, err := s.DeleteBefore(ctx, t0.Add(-4*time.Hour-time.Minute))
	if err != nil || events != 5 || buckets != 5 {
		t.Fatalf("delete = %d events, %d buckets, %v; want 5 and 5", events, buckets, err)
	}
	acts, err := s.EdgesTouching(ctx, []string{"svc-0"}, t0.Add(-24*time.Hour), t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, a := range acts {
		total += len(a.Buckets)
	}
	if total != 5 {
		t.Fatalf("buckets left = %d; want 5", total)
	}
}

// TestConcurrentWritersOfTheSameEvents has several writers insert the same
// new events at once: each event is inserted once and every other copy is
// a duplicate, whichever writer wins.
func TestConcurrentWritersOfTheSameEvents(t *testing.T) {
	s := MustOpen(t, Options{Now: graphtest.Now})
	ctx := context.Background()
	var evs []graph.Event
	for i := range 500 {
		evs = append(evs, graphtest.MustEvent(t, graph.KindDeploy, fmt.Sprintf("svc-%d", i%50), graphtest.T0.Add(-time.Duration(i)*time.Second), fmt.Sprintf("r%d", i)))
	}
	const writers = 4
	results := make(chan graph.Written, writers)
	errs := make(chan error, writers)
	for w := range writers {
		go func() {
			// Each writer sends the events in another order.
			mine := append([]graph.Event(nil), evs...)
			for i := range mine {
				j := (i*7 + w*13) % len(mine)
				mine[i], mine[j] = mine[j], mine[i]
			}
			wr, err := s.Apply(ctx, graph.Batch{Events: mine})
			results <- wr
			errs <- err
		}()
	}
	var total graph.Written
	for range writers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		w := <-results
		total.Inserted += w.Inserted
		total.Updated += w.Updated
		total.Duplicates += w.Duplicates
	}
	if total.Inserted != len(evs) || total.Updated != 0 || total.Duplicates != (writers-1)*len(evs) {
		t.Fatalf("written %+v; want %d inserted, %d duplicates", total, len(evs), (writers-1)*len(evs))
	}
	if n, err := s.CountEvents(ctx, graph.EventFilter{}); err != nil || n != len(evs) {
		t.Fatalf("count = %d, %v; want %d", n, err, len(evs))
	}
}
