package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/ingest/scenario"
	"github.com/sregraph/sregraph/resolvers"
	"github.com/sregraph/sregraph/resolvers/page"
)

// store is what the server needs of a graph store; graph/pebble and
// graph/neo4j both satisfy it.
type store interface {
	graph.ContextSource
	Apply(ctx context.Context, b graph.Batch) (graph.Written, error)
	Event(ctx context.Context, id string) (graph.Event, error)
	CountEvents(ctx context.Context, f graph.EventFilter) (int, error)
	Service(ctx context.Context, name string) (graph.Service, error)
	Services(ctx context.Context, f graph.ServiceFilter) (graph.Page[graph.Service], error)
	CountServices(ctx context.Context, f graph.ServiceFilter) (int, error)
	DeleteBefore(ctx context.Context, t time.Time) (events, buckets int, err error)
	Ping(ctx context.Context) error
	Close() error
}

// openStore opens the store --store names.
func openStore(ctx context.Context, cfg serveConfig, log *slog.Logger) (store, error) {
	if cfg.Store == "embedded" {
		s, err := pebble.Open(cfg.DataDir, pebble.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("open the embedded store in --data-dir %s: %w", cfg.DataDir, err)
		}
		return s, nil
	}
	return openNeo4j(ctx, cfg, log)
}

// serve runs the server until ctx ends, then shuts down in reverse order
// of start.
func serve(ctx context.Context, cfg serveConfig, extra *componentConfig, log *slog.Logger, stdout io.Writer) error {
	now := time.Now
	st, err := openStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()

	ln, err := net.Listen("tcp", cfg.HTTP)
	if err != nil {
		return fmt.Errorf("listen on --http %s: %w (is another sregraph running? pick another address with --http)", cfg.HTTP, err)
	}
	publicURL := cfg.PublicURL
	if publicURL == "" {
		publicURL = "http://" + ln.Addr().String()
	}
	publicURL = strings.TrimRight(publicURL, "/")
	if cfg.Tokens == "" && !isLoopback(cfg.HTTP) {
		log.Warn("LISTENING BEYOND LOOPBACK WITHOUT TOKENS: anyone who can reach " + ln.Addr().String() + " can read and write this graph (--insecure-listen)")
	}

	if cfg.Demo {
		if err := loadDemo(ctx, st, cfg.DemoDir, now(), publicURL, log, stdout); err != nil {
			_ = ln.Close()
			return err
		}
	}

	reg := metricsRegistry()
	feed := resolvers.NewFeed()
	writer := resolvers.Publishing{W: st, Feed: feed}
	aliases, err := ingest.LoadAliases(cfg.Aliases)
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("--aliases: %w", err)
	}
	var ready readiness
	ready = append(ready, func() error {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := st.Ping(pctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		return nil
	})

	mux := http.NewServeMux()
	graphqlHandler(mux, resolvers.Options{
		Store: st, Feed: feed, Now: now, PublicURL: publicURL, Logger: log, NoIntrospection: cfg.NoIntrospection,
	})
	page.New(page.Options{Source: st, Now: now, PublicURL: publicURL, Logger: log}).Register(mux)
	healthHandlers(mux, ready)
	metricsHandler(mux, reg)

	// Background work runs until the HTTP server has drained, so that a
	// request in flight can still reach Kafka or the store.
	stopped := ctx
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	start := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	var cleanups []func()
	defer func() {
		for i := len(cleanups) - 1; i >= 0; i-- {
			cleanups[i]()
		}
	}()
	after := func(f func()) { cleanups = append(cleanups, f) }
	if err := extra.wire(ctx, wiring{mux: mux, store: st, writer: writer, aliases: aliases, reg: reg, log: log, now: now, publicURL: publicURL, ready: &ready, start: start, after: after}); err != nil {
		cancel()
		wg.Wait()
		_ = ln.Close()
		return err
	}
	start("retention", func(ctx context.Context) error {
		graph.RunRetention(ctx, st, time.Hour, time.Duration(cfg.Retention), now, log)
		return nil
	})

	tok, err := optionalTokens(cfg.Tokens)
	if err != nil {
		cancel()
		wg.Wait()
		_ = ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           authenticate(tok, mux),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	log.Info("sregraph listening", "url", publicURL, "graphql", publicURL+"/graphql", "store", storeName(cfg))
	fmt.Fprintf(stdout, "sregraph %s listening on http://%s (GraphQL IDE: %s/graphql)\n", version, ln.Addr(), publicURL)

	var runErr error
	select {
	case <-stopped.Done():
	case runErr = <-errc:
		log.Error("shutting down after a failure", "err", runErr)
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	cancel()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		log.Warn("background work did not stop within the shutdown timeout")
	}
	return runErr
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

// loadDemo loads the bundled scenario with its breach 20 minutes ago and
// prints where to look.
func loadDemo(ctx context.Context, s store, dir string, now time.Time, publicURL string, log *slog.Logger, stdout io.Writer) error {
	breachAt := now.UTC().Add(-20 * time.Minute).Truncate(time.Minute)
	start := time.Now()
	b, err := scenario.Load(dir, breachAt, now)
	if err != nil {
		return fmt.Errorf("--demo: %w (run from the repository root, or point --demo-dir at testdata/demo)", err)
	}
	w, err := s.Apply(ctx, b)
	if err != nil {
		return fmt.Errorf("--demo: loading into the store: %w", err)
	}
	log.Info("demo loaded", "events", len(b.Events), "call_buckets", len(b.Calls), "inserted", w.Inserted, "updated", w.Updated, "duplicates", w.Duplicates, "took", time.Since(start).Round(time.Millisecond))
	page, err := s.Events(ctx, graph.EventFilter{Kinds: []graph.Kind{graph.KindSLOBreach}, OpenOnly: true, First: 1})
	if err != nil {
		return fmt.Errorf("--demo: finding the demo breach: %w", err)
	}
	if len(page.Items) > 0 {
		br := graph.BreachOf(page.Items[0])
		fmt.Fprintf(stdout, "demo loaded: breach of %s on %s at %s\n  breach page: %s/breaches/%s\n", br.SLO, br.Service, br.StartedAt.Format(time.RFC3339), publicURL, br.ID)
	}
	return nil
}
