package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/ingest"
	"github.com/sregraph/sregraph/resolvers"
	"github.com/sregraph/sregraph/resolvers/page"
)

// serveConfig is everything `sregraph serve` is told.
type serveConfig struct {
	// Config is the config file the other settings may come from.
	Config          string
	HTTP            string
	PublicURL       string
	DataDir         string
	Store           string
	Neo4jUser       string
	Neo4jPassword   string
	Neo4jDatabase   string
	Aliases         string
	SLOServiceLabel string
	Tokens          string
	InsecureListen  bool
	Retention       durationFlag
	Demo            bool
	DemoDir         string
	NoIntrospection bool
	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
	// ReadTimeout, WriteTimeout and IdleTimeout bound one HTTP request:
	// reading it whole, reading plus answering it, and a keep-alive
	// connection's wait for the next one. Websockets (GraphQL
	// subscriptions) are exempt: net/http clears the deadlines when it
	// hands the connection over, and the websocket keeps itself alive
	// with its own pings.
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	IdleTimeout  time.Duration
	// GraphQLTimeout bounds one GraphQL query or mutation;
	// GraphQLMaxExpensive caps the neighbourhood-reading operations one
	// client runs at once.
	GraphQLTimeout      time.Duration
	GraphQLMaxExpensive int
}

// Defaults for the HTTP server's timeouts. A 10 MiB ingest body (the
// default --max-body) needs a client sending at ~170 KiB/s to arrive
// within the read timeout; the write timeout leaves a minute beyond it
// for the store to make the events durable and for a GraphQL answer to
// be computed and written.
const (
	defaultReadTimeout  = time.Minute
	defaultWriteTimeout = 2 * time.Minute
	defaultIdleTimeout  = 2 * time.Minute
)

func (c *serveConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.Config, configFlag, "", "YAML file of settings, keyed by these flags' names without the dashes (data-dir: /data); the command line and SREGRAPH_* variables win over it")
	fs.StringVar(&c.HTTP, "http", "127.0.0.1:8080", "listen address for the API, pages, ingest and metrics")
	fs.StringVar(&c.PublicURL, "public-url", "", "absolute URL users reach this server at, for links in alerts (default http://<--http>)")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory of the embedded store")
	fs.StringVar(&c.Store, "store", "embedded", "embedded, or a Neo4j URI (neo4j://, neo4j+s://, bolt://, bolt+s://)")
	fs.StringVar(&c.Neo4jUser, "neo4j-user", "neo4j", "Neo4j user")
	fs.StringVar(&c.Neo4jPassword, "neo4j-password", "", "Neo4j password")
	fs.StringVar(&c.Neo4jDatabase, "neo4j-database", "neo4j", "Neo4j database name")
	fs.StringVar(&c.Aliases, "aliases", "", "YAML file mapping service aliases to service names")
	fs.StringVar(&c.SLOServiceLabel, "slo-service-label", strings.Join(ingest.DefaultSLOServiceLabels, ","),
		"comma-separated alert labels naming an SLO breach's service, first match wins (else the SLO name)")
	fs.StringVar(&c.Tokens, "tokens", "", "YAML file of API tokens with read and ingest scopes")
	fs.BoolVar(&c.InsecureListen, "insecure-listen", false, "allow listening beyond loopback without tokens (anyone who can reach the port can read and write)")
	c.Retention = durationFlag(30 * 24 * time.Hour)
	fs.Var(&c.Retention, "retention", "keep events and call buckets this long (e.g. 30d, 720h)")
	fs.BoolVar(&c.Demo, "demo", false, "load the bundled demo scenario into the store at start")
	fs.StringVar(&c.DemoDir, "demo-dir", "", "load the demo scenario from this directory (or scenario file) instead of the one built in")
	fs.BoolVar(&c.NoIntrospection, "no-introspection", false, "turn GraphQL schema introspection off, and the \"Did you mean\" hints that would leak the schema")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "how long a graceful shutdown may take")
	fs.DurationVar(&c.ReadTimeout, "http-read-timeout", defaultReadTimeout, "longest a client may take to send a whole request, body included (a slower one is cut off)")
	fs.DurationVar(&c.WriteTimeout, "http-write-timeout", defaultWriteTimeout, "longest from the end of a request's headers to the end of its answer (websockets are exempt)")
	fs.DurationVar(&c.IdleTimeout, "http-idle-timeout", defaultIdleTimeout, "how long an idle keep-alive connection is held open")
	fs.DurationVar(&c.GraphQLTimeout, "graphql-timeout", resolvers.DefaultTimeout, "longest a GraphQL query or mutation may run (at most --http-write-timeout); one still running is answered with code TIMEOUT (subscriptions are exempt)")
	fs.IntVar(&c.GraphQLMaxExpensive, "graphql-max-expensive", resolvers.DefaultMaxConcurrentExpensive, "how many GraphQL operations reading a neighbourhood (changesNear, Breach.context) one token, or one address without tokens, may run at once; one more is answered with code RETRY_LATER")
}

// validate checks the configuration and reports what to do about a
// mistake.
func (c *serveConfig) validate() error {
	if _, _, err := net.SplitHostPort(c.HTTP); err != nil {
		return fmt.Errorf("--http %q is not host:port: %w", c.HTTP, err)
	}
	if c.Tokens == "" && !c.InsecureListen && !isLoopback(c.HTTP) {
		return fmt.Errorf("--http %s listens beyond loopback without --tokens: anyone who can reach it could read and write; give --tokens FILE, or --insecure-listen if that is really what you want", c.HTTP)
	}
	if c.Retention <= 0 {
		return errors.New("--retention must be positive")
	}
	if time.Duration(c.Retention) > graph.MaxDuration {
		return fmt.Errorf("--retention %s is longer than the limit of %dd", c.Retention.String(), int(graph.MaxDuration/(24*time.Hour)))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"--http-read-timeout", c.ReadTimeout}, {"--http-write-timeout", c.WriteTimeout}, {"--http-idle-timeout", c.IdleTimeout}} {
		if d.v <= 0 {
			return fmt.Errorf("%s %s: want a positive duration such as 1m", d.name, d.v)
		}
	}
	if c.GraphQLTimeout <= 0 {
		return fmt.Errorf("--graphql-timeout %s: want a positive duration such as 10s", c.GraphQLTimeout)
	}
	if c.GraphQLMaxExpensive < 1 {
		return fmt.Errorf("--graphql-max-expensive %d: want at least 1", c.GraphQLMaxExpensive)
	}
	if c.WriteTimeout < c.ReadTimeout {
		return fmt.Errorf("--http-write-timeout %s is shorter than --http-read-timeout %s: the write timeout counts from the end of the headers, so a request that may take the whole read timeout to arrive would have no time left to be answered; make it longer", c.WriteTimeout, c.ReadTimeout)
	}
	if c.Store != "embedded" && !strings.Contains(c.Store, "://") {
		return fmt.Errorf("--store %q: want embedded or a Neo4j URI such as neo4j://localhost:7687", c.Store)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		return fmt.Errorf("--log-format %q: want text or json", c.LogFormat)
	}
	return nil
}

// durationFlag is a flag.Value that reads graph.ParseDuration's syntax.
type durationFlag time.Duration

// String writes whole days as days (30d), anything else in Go syntax.
func (d *durationFlag) String() string {
	if v := time.Duration(*d); v > 0 && v%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", v/(24*time.Hour))
	}
	return time.Duration(*d).String()
}

// Set parses a duration such as 30d, 720h or P30D.
func (d *durationFlag) Set(s string) error {
	v, err := graph.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = durationFlag(v)
	return nil
}

func newLogger(format, level string, w io.Writer) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), nil
}

func serveCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("sregraph serve", flag.ContinueOnError)
	var cfg serveConfig
	cfg.register(fs)
	extra := registerComponentFlags(fs)
	fs.Usage = func() { serveUsage(fs) }
	if err := parseFlags(fs, args, getenv, stderr); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (flags only)", fs.Arg(0))
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	if err := extra.validate(); err != nil {
		return err
	}
	log, err := newLogger(cfg.LogFormat, cfg.LogLevel, stderr)
	if err != nil {
		return err
	}
	s, err := newServer(ctx, cfg, extra, log, stdout)
	if err != nil {
		return err
	}
	runErr := s.Run(ctx)
	if err := s.Close(); err != nil {
		log.Error("shutting down", "err", err)
	}
	return runErr
}

// server is `sregraph serve`: a store, the HTTP server on its listener,
// and the background work (retention, trace flushing, Kafka) bound to
// the server's lifetime. newServer opens and wires everything, Run serves
// until its context ends, and Close releases what newServer acquired: it
// is the one way out, after Run or after a failed start alike.
type server struct {
	cfg       serveConfig
	log       *slog.Logger
	stdout    io.Writer
	store     store
	ln        net.Listener
	http      *http.Server
	publicURL string
	// tasks are the background work Run starts and stops.
	tasks []task
	// cleanups run in reverse order in Close, once every task has
	// stopped.
	cleanups []func() error
	// serving is set once Run has handed the listener to the HTTP
	// server, which closes it.
	serving bool
	// storeFailed receives the error of a store that cannot go on (the
	// embedded store recovers from a full disk by itself and reports only
	// what it cannot recover from): Run stops and returns it, so the
	// process exits non-zero for its supervisor to restart it instead of
	// living on without a store.
	storeFailed chan error
}

// task is background work: run works until its context ends.
type task struct {
	name string
	run  func(context.Context) error
}

// newServer opens the store, listens, loads the demo when asked for and
// wires the API, the pages and the ingest components. Nothing runs until
// Run. On failure it releases what it acquired.
func newServer(ctx context.Context, cfg serveConfig, extra *componentConfig, log *slog.Logger, stdout io.Writer) (_ *server, err error) {
	s := &server{cfg: cfg, log: log, stdout: stdout, storeFailed: make(chan error, 1)}
	defer func() {
		if err != nil {
			if cerr := s.Close(); cerr != nil {
				log.Error("releasing after a failed start", "err", cerr)
			}
		}
	}()
	now := time.Now
	fatal := func(err error) {
		select {
		case s.storeFailed <- err:
		default:
		}
	}
	if s.store, err = openStore(ctx, cfg, log, fatal); err != nil {
		return nil, err
	}
	s.cleanups = append(s.cleanups, func() error {
		if err := s.store.Close(); err != nil {
			return fmt.Errorf("closing the store: %w", err)
		}
		return nil
	})
	if s.ln, err = net.Listen("tcp", cfg.HTTP); err != nil {
		return nil, fmt.Errorf("listen on --http %s: %w (is another sregraph running? pick another address with --http)", cfg.HTTP, err)
	}
	s.publicURL = cfg.PublicURL
	if s.publicURL == "" {
		s.publicURL = "http://" + s.ln.Addr().String()
	}
	s.publicURL = strings.TrimRight(s.publicURL, "/")
	if cfg.Tokens == "" && !isLoopback(cfg.HTTP) {
		log.Warn("LISTENING BEYOND LOOPBACK WITHOUT TOKENS: anyone who can reach " + s.ln.Addr().String() + " can read and write this graph (--insecure-listen)")
	}
	if cfg.Demo {
		if err := loadDemo(ctx, s.store, cfg.DemoDir, now(), s.publicURL, log, stdout); err != nil {
			return nil, err
		}
	}

	reg := metricsRegistry()
	feed := resolvers.NewFeed()
	aliases, err := ingest.LoadAliases(cfg.Aliases)
	if err != nil {
		return nil, fmt.Errorf("--aliases: %w", err)
	}
	sloLabels, err := ingest.ParseServiceLabels(cfg.SLOServiceLabel)
	if err != nil {
		return nil, fmt.Errorf("--slo-service-label: %w", err)
	}
	ready := readiness{func(ctx context.Context) error {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if err := s.store.Ping(pctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		return nil
	}}
	mux := http.NewServeMux()
	graphqlHandler(mux, resolvers.Options{
		Store: s.store, Feed: feed, Now: now, PublicURL: s.publicURL, Logger: log, NoIntrospection: cfg.NoIntrospection,
		Timeout: graphqlTimeout(cfg), MaxConcurrentExpensive: cfg.GraphQLMaxExpensive,
	})
	page.New(page.Options{Source: s.store, Recorder: s.store, Now: now, PublicURL: s.publicURL, Logger: log}).Register(mux)
	// The components' start-up context must not end with ctx: the
	// embedded broker lives until Close, after the consumers' final
	// commits.
	if err := extra.wire(context.WithoutCancel(ctx), wiring{
		mux: mux, store: s.store, aliases: aliases,
		reg: reg, log: log, now: now, publicURL: s.publicURL, ready: &ready, retention: time.Duration(cfg.Retention),
		// Breach reports join their episode before they are written.
		writer: ingest.NewEpisodes(resolvers.Publishing{W: s.store, Feed: feed}, s.store),
		// Breach services come from the configured labels, then every
		// service name goes through the aliases.
		rename: func(items []ingest.Item) []ingest.Item { return aliases.Apply(sloLabels.Apply(items)) },
		start:  func(name string, run func(context.Context) error) { s.tasks = append(s.tasks, task{name, run}) },
		after:  func(f func() error) { s.cleanups = append(s.cleanups, f) },
	}); err != nil {
		return nil, err
	}
	healthHandlers(mux, ready)
	metricsHandler(mux, reg)
	s.tasks = append(s.tasks, task{"retention", func(ctx context.Context) error {
		graph.RunRetention(ctx, s.store, time.Hour, time.Duration(cfg.Retention), now, log)
		return nil
	}})

	tok, err := optionalTokens(cfg.Tokens)
	if err != nil {
		return nil, err
	}
	s.http = &http.Server{
		Handler:           authenticate(tok, mux),
		ReadHeaderTimeout: min(10*time.Second, cfg.ReadTimeout),
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
	}
	return s, nil
}

// Run serves until ctx ends or a part fails, then shuts down: the HTTP
// server drains (within --shutdown-timeout) while the background work
// still runs, so that a request in flight can still reach Kafka or the
// store; then the background work stops, within the same bound.
func (s *server) Run(ctx context.Context) error {
	bg, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	errc := make(chan error, len(s.tasks)+1)
	var wg sync.WaitGroup
	for _, t := range s.tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := t.run(bg); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", t.name, err)
			}
		}()
	}
	s.http.BaseContext = func(net.Listener) context.Context { return bg }
	s.serving = true
	go func() {
		if err := s.http.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("http: %w", err)
		}
	}()
	s.log.Info("sregraph listening", "url", s.publicURL, "graphql", s.publicURL+"/graphql", "store", storeName(s.cfg))
	fmt.Fprintf(s.stdout, "sregraph %s listening on http://%s (GraphQL IDE: %s/graphql)\n", shortVersion(), s.ln.Addr(), s.publicURL)

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		s.log.Error("shutting down after a failure", "err", runErr)
	case err := <-s.storeFailed:
		runErr = fmt.Errorf("the store stopped: %w", err)
		s.log.Error("shutting down: the store cannot go on; restart sregraph once the cause is fixed", "err", err)
	}
	s.log.Info("shutting down", "timeout", s.cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ShutdownTimeout)
	defer cancel()
	if err := s.http.Shutdown(sctx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	stopBackground()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-sctx.Done():
		s.log.Warn("background work did not stop within the shutdown timeout")
	}
	return runErr
}

// Close releases what newServer acquired, last first: the listener when
// Run never served on it, then the cleanups the components registered
// (the embedded broker), then the store.
func (s *server) Close() error {
	var errs []error
	if s.ln != nil && !s.serving {
		if err := s.ln.Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing the listener: %w", err))
		}
	}
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		if err := s.cleanups[i](); err != nil {
			errs = append(errs, err)
		}
	}
	s.cleanups = nil
	return errors.Join(errs...)
}

// readiness collects the reasons the server is not ready to serve.
type readiness []func(context.Context) error

func (r readiness) check(ctx context.Context) error {
	var errs []error
	for _, f := range r {
		if err := f(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func healthHandlers(mux *http.ServeMux, ready readiness) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready.check(r.Context()); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		_, _ = io.WriteString(w, "ready\n")
	})
}

func metricsRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

func metricsHandler(mux *http.ServeMux, reg *prometheus.Registry) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}

// graphqlTimeout is the GraphQL deadline: --graphql-timeout, but never
// past --http-write-timeout, when the connection is cut anyway (the
// deadline still stops the resolvers' work then).
func graphqlTimeout(cfg serveConfig) time.Duration {
	return min(cfg.GraphQLTimeout, cfg.WriteTimeout)
}

func graphqlHandler(mux *http.ServeMux, o resolvers.Options) {
	h := resolvers.New(o)
	mux.Handle("/graphql", h)
	mux.Handle("GET "+resolvers.IDEAssetsPath, h)
}
