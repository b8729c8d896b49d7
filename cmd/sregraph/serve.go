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
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/resolvers"
)

// serveConfig is everything `sregraph serve` is told.
type serveConfig struct {
	HTTP            string
	PublicURL       string
	DataDir         string
	Store           string
	Neo4jUser       string
	Neo4jPassword   string
	Neo4jDatabase   string
	Aliases         string
	Tokens          string
	InsecureListen  bool
	Retention       durationFlag
	Demo            bool
	DemoDir         string
	NoIntrospection bool
	LogFormat       string
	LogLevel        string
	ShutdownTimeout time.Duration
}

func (c *serveConfig) register(fs *flag.FlagSet) {
	fs.StringVar(&c.HTTP, "http", "127.0.0.1:8080", "listen address for the API, pages, ingest and metrics")
	fs.StringVar(&c.PublicURL, "public-url", "", "absolute URL users reach this server at, for links in alerts (default http://<--http>)")
	fs.StringVar(&c.DataDir, "data-dir", "./data", "directory of the embedded store")
	fs.StringVar(&c.Store, "store", "embedded", "embedded, or a Neo4j URI (neo4j://, neo4j+s://, bolt://, bolt+s://)")
	fs.StringVar(&c.Neo4jUser, "neo4j-user", "neo4j", "Neo4j user")
	fs.StringVar(&c.Neo4jPassword, "neo4j-password", "", "Neo4j password")
	fs.StringVar(&c.Neo4jDatabase, "neo4j-database", "neo4j", "Neo4j database name")
	fs.StringVar(&c.Aliases, "aliases", "", "YAML file mapping service aliases to service names")
	fs.StringVar(&c.Tokens, "tokens", "", "YAML file of API tokens with read and ingest scopes")
	fs.BoolVar(&c.InsecureListen, "insecure-listen", false, "allow listening beyond loopback without tokens (anyone who can reach the port can read and write)")
	c.Retention = durationFlag(30 * 24 * time.Hour)
	fs.Var(&c.Retention, "retention", "keep events and call buckets this long (e.g. 30d, 720h)")
	fs.BoolVar(&c.Demo, "demo", false, "load the bundled demo scenario into the store at start")
	fs.StringVar(&c.DemoDir, "demo-dir", "testdata/demo", "directory of the demo scenario")
	fs.BoolVar(&c.NoIntrospection, "no-introspection", false, "turn GraphQL schema introspection off")
	fs.StringVar(&c.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.LogLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 20*time.Second, "how long a graceful shutdown may take")
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

func (d *durationFlag) String() string { return time.Duration(*d).String() }

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
	return serve(ctx, cfg, extra, log, stdout)
}

// readiness collects the reasons the server is not ready to serve.
type readiness []func() error

func (r readiness) check() error {
	var errs []error
	for _, f := range r {
		if err := f(); err != nil {
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
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := ready.check(); err != nil {
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

func graphqlHandler(mux *http.ServeMux, o resolvers.Options) {
	h := resolvers.New(o)
	mux.Handle("/graphql", h)
}
