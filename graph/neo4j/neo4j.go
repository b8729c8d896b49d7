// Package neo4j is the graph store backed by a Neo4j 5 server (or cluster),
// reached over Bolt with the official Go driver. It is the only package that
// imports the driver.
//
// Writes are batched UNWIND … MERGE statements in one managed (retried)
// transaction per batch, nodes before relationships; reads are parameterised
// Cypher. Every statement is a constant in cypher.go. The neighbourhood walk
// itself is graph.Walk, which asks the store for the edges around one level
// of services at a time, so no query needs a variable-length pattern.
package neo4j

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/sregraph/sregraph/graph"
)

// Defaults for Config.
const (
	DefaultDatabase  = "neo4j"
	DefaultBatchRows = 5000
	// MaxBatchRows bounds the rows sent in one UNWIND statement.
	MaxBatchRows = 50000
)

// Config says how to reach Neo4j.
type Config struct {
	// URI is a neo4j://, neo4j+s://, neo4j+ssc://, bolt://, bolt+s:// or
	// bolt+ssc:// address. The +s schemes use TLS with the system's
	// certificate authorities; +ssc accepts a self-signed certificate.
	URI string
	// User and Password authenticate; an empty User connects without auth.
	User     string
	Password string
	// Database is the database every statement runs against
	// (DefaultDatabase when empty).
	Database string
	// BatchRows is how many rows one UNWIND statement carries
	// (DefaultBatchRows when zero). A graph.Batch larger than that is still
	// written in one transaction, as several statements.
	BatchRows int
	// MaxRetryTime bounds how long a write transaction is retried on
	// transient errors (the driver's default, 30s, when zero).
	MaxRetryTime time.Duration
}

// Validate fills defaults and reports the first bad field.
func (c *Config) Validate() error {
	if c.URI == "" {
		return graph.Invalidf("neo4j: a URI is required (e.g. neo4j://localhost:7687)")
	}
	u, err := url.Parse(c.URI)
	if err != nil {
		return graph.Invalidf("neo4j: malformed URI %q: %v", c.URI, err)
	}
	switch u.Scheme {
	case "neo4j", "neo4j+s", "neo4j+ssc", "bolt", "bolt+s", "bolt+ssc":
	default:
		return graph.Invalidf("neo4j: URI scheme %q is not one of neo4j, neo4j+s, neo4j+ssc, bolt, bolt+s, bolt+ssc", u.Scheme)
	}
	if u.Host == "" {
		return graph.Invalidf("neo4j: URI %q has no host", c.URI)
	}
	if u.User != nil {
		return graph.Invalidf("neo4j: put the user and password in their own settings, not in the URI")
	}
	if c.User == "" && c.Password != "" {
		return graph.Invalidf("neo4j: a password without a user")
	}
	if c.Database == "" {
		c.Database = DefaultDatabase
	}
	if c.BatchRows == 0 {
		c.BatchRows = DefaultBatchRows
	}
	if c.BatchRows < 1 || c.BatchRows > MaxBatchRows {
		return graph.Invalidf("neo4j: batch rows %d out of range: want 1..%d", c.BatchRows, MaxBatchRows)
	}
	if c.MaxRetryTime < 0 {
		return graph.Invalidf("neo4j: max retry time must not be negative")
	}
	return nil
}

// Options are the store's collaborators.
type Options struct {
	// Now is the clock; it stamps services known only from declared
	// dependencies (time.Now when nil).
	Now func() time.Time
	// Logger receives start-up and retry messages (discarded when nil).
	Logger *slog.Logger
}

// Store is a graph store in a Neo4j database. It is safe for concurrent use.
type Store struct {
	driver   driver.DriverWithContext
	database string
	rows     int
	now      func() time.Time
	log      *slog.Logger
}

// Open connects to Neo4j, verifies that it answers and creates the schema
// (constraints and indexes) if it is missing.
func Open(ctx context.Context, cfg Config, opts Options) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	auth := driver.NoAuth()
	if cfg.User != "" {
		auth = driver.BasicAuth(cfg.User, cfg.Password, "")
	}
	d, err := driver.NewDriverWithContext(cfg.URI, auth, func(c *config.Config) {
		if cfg.MaxRetryTime > 0 {
			c.MaxTransactionRetryTime = cfg.MaxRetryTime
		}
	})
	if err != nil {
		return nil, fmt.Errorf("neo4j: driver for %s: %w", cfg.URI, err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	s := &Store{driver: d, database: cfg.Database, rows: cfg.BatchRows, now: now, log: log}
	if err := d.VerifyConnectivity(ctx); err != nil {
		_ = d.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("neo4j: connecting to %s: %w: %w", cfg.URI, graph.ErrUnavailable, err)
	}
	start := time.Now()
	if err := s.bootstrap(ctx); err != nil {
		_ = d.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	log.Info("neo4j schema ready", "uri", cfg.URI, "database", cfg.Database, "took", time.Since(start).Round(time.Millisecond))
	return s, nil
}

// bootstrap creates the constraints and indexes; each statement is
// idempotent, so it runs at every start.
func (s *Store) bootstrap(ctx context.Context) error {
	for _, stmt := range schemaStatements {
		if _, err := driver.ExecuteQuery(ctx, s.driver, stmt, nil, driver.EagerResultTransformer,
			driver.ExecuteQueryWithDatabase(s.database)); err != nil {
			return fmt.Errorf("neo4j: schema: %w", classify(err))
		}
	}
	return nil
}

// Close releases the driver's connections.
func (s *Store) Close() error {
	if err := s.driver.Close(context.Background()); err != nil {
		return fmt.Errorf("neo4j: close: %w", err)
	}
	return nil
}

// Ping reports whether the database answers a query.
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.read(ctx, cypherPing, nil); err != nil {
		return fmt.Errorf("neo4j: ping: %w", err)
	}
	return nil
}

// read runs one read statement and returns its records.
func (s *Store) read(ctx context.Context, stmt string, params map[string]any) ([]*driver.Record, error) {
	res, err := driver.ExecuteQuery(ctx, s.driver, stmt, params, driver.EagerResultTransformer,
		driver.ExecuteQueryWithDatabase(s.database), driver.ExecuteQueryWithReadersRouting())
	if err != nil {
		return nil, classify(err)
	}
	return res.Records, nil
}

// session opens a session on the configured database.
func (s *Store) session(ctx context.Context, mode driver.AccessMode) driver.SessionWithContext {
	return s.driver.NewSession(ctx, driver.SessionConfig{DatabaseName: s.database, AccessMode: mode})
}

// run runs one statement inside tx and collects its records.
func run(ctx context.Context, tx driver.ManagedTransaction, stmt string, params map[string]any) ([]*driver.Record, error) {
	res, err := tx.Run(ctx, stmt, params)
	if err != nil {
		return nil, err
	}
	return res.Collect(ctx)
}

// classify marks errors that mean the server could not be reached (or the
// transaction could not get through after retries) as graph.ErrUnavailable,
// so callers retry instead of dropping input.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var conn *driver.ConnectivityError
	var limit *driver.TransactionExecutionLimit
	if errors.As(err, &conn) || errors.As(err, &limit) || driver.IsRetryable(err) {
		return fmt.Errorf("%w: %w", graph.ErrUnavailable, err)
	}
	return err
}
