package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/sregraph/sregraph"
	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/ingest/scenario"
)

// store is what the server needs of a graph store; graph/pebble and
// graph/neo4j both satisfy it.
type store interface {
	graph.ContextSource
	graph.Applier
	Event(ctx context.Context, id string) (graph.Event, error)
	CountEvents(ctx context.Context, f graph.EventFilter) (int, error)
	Service(ctx context.Context, name string) (graph.Service, error)
	Services(ctx context.Context, f graph.ServiceFilter) (graph.Page[graph.Service], error)
	CountServices(ctx context.Context, f graph.ServiceFilter) (int, error)
	DeleteBefore(ctx context.Context, t time.Time) (events, buckets int, err error)
	Ping(ctx context.Context) error
	Close() error
}

// openStore opens the store --store names; fatal hears of an error the
// embedded store cannot go on after.
func openStore(ctx context.Context, cfg serveConfig, log *slog.Logger, fatal func(error)) (store, error) {
	if cfg.Store == "embedded" {
		s, err := pebble.Open(cfg.DataDir, pebble.Options{Logger: log, Fatal: fatal})
		if errors.Is(err, pebble.ErrInUse) {
			return nil, fmt.Errorf("%w: stop it, or give another --data-dir", err)
		}
		if err != nil {
			return nil, fmt.Errorf("open the embedded store in --data-dir %s: %w", cfg.DataDir, err)
		}
		return s, nil
	}
	return openNeo4j(ctx, cfg, log)
}

func storeName(cfg serveConfig) string {
	if cfg.Store == "embedded" {
		return "embedded (" + cfg.DataDir + ")"
	}
	return cfg.Store
}

func optionalTokens(path string) (*tokens, error) {
	if path == "" {
		return nil, nil
	}
	return loadTokens(path)
}

// loadDemo loads the demo scenario (the one built in, or the one in dir
// when dir is given) with its breach 20 minutes before now, and prints
// where to look: the demo's own breach, whatever else the store holds.
func loadDemo(ctx context.Context, s store, dir string, now time.Time, publicURL string, log *slog.Logger, stdout io.Writer) error {
	breachAt := now.UTC().Add(-20 * time.Minute).Truncate(time.Minute)
	start := time.Now()
	var (
		b   graph.Batch
		err error
	)
	if dir == "" {
		b, err = scenario.Decode(sregraph.DemoScenario(), breachAt, now)
	} else {
		b, err = scenario.Load(dir, breachAt, now)
	}
	if err != nil {
		return fmt.Errorf("--demo: %w", err)
	}
	br, err := scenario.BreachAt(b, breachAt)
	if err != nil {
		return fmt.Errorf("--demo: %w", err)
	}
	w, err := s.Apply(ctx, b)
	if err != nil {
		return fmt.Errorf("--demo: loading into the store: %w", err)
	}
	log.Info("demo loaded", "events", len(b.Events), "call_buckets", len(b.Calls), "inserted", w.Inserted, "updated", w.Updated, "duplicates", w.Duplicates, "took", time.Since(start).Round(time.Millisecond))
	fmt.Fprintf(stdout, "demo loaded: breach of %s on %s at %s\n  breach page: %s/breaches/%s\n  GraphQL variables for the tour: {\"at\": \"%s\"}\n",
		br.SLO, br.Service, br.StartedAt.Format(time.RFC3339), publicURL, br.ID, br.StartedAt.Format(time.RFC3339))
	return nil
}

// withDataDir opens the embedded store in dir for a command that reads it
// directly, runs fn and closes it. busy says what to do when a server
// holds the store.
func withDataDir(dir, busy string, fn func(*pebble.Store) error) error {
	st, err := pebble.Open(dir, pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if errors.Is(err, pebble.ErrInUse) {
		return fmt.Errorf("%w: stop it, or %s", err, busy)
	}
	if err != nil {
		return fmt.Errorf("open --data-dir %s (if a server is running on it, %s): %w", dir, busy, err)
	}
	err = fn(st)
	if cerr := st.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close --data-dir %s: %w", dir, cerr))
	}
	return err
}
