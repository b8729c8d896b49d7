package neo4j

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph/graphtest"
)

// The store satisfies the contract.
var _ graphtest.Store = (*Store)(nil)

// testConfig points the tests at the server named by NEO4J_URI (with
// NEO4J_USER, NEO4J_PASSWORD and NEO4J_DATABASE). Without one the tests
// skip, unless SREGRAPH_REQUIRE_NEO4J=1 (as in CI) makes that a failure.
func testConfig(tb testing.TB) Config {
	tb.Helper()
	uri := os.Getenv("NEO4J_URI")
	if uri == "" {
		msg := "NEO4J_URI is not set: run scripts/neo4j/start.sh and source .cache/neo4j/env to test against a real Neo4j"
		if os.Getenv("SREGRAPH_REQUIRE_NEO4J") == "1" {
			tb.Fatal(msg + " (SREGRAPH_REQUIRE_NEO4J=1 requires it)")
		}
		tb.Skip(msg)
	}
	return Config{
		URI:      uri,
		User:     os.Getenv("NEO4J_USER"),
		Password: os.Getenv("NEO4J_PASSWORD"),
		Database: os.Getenv("NEO4J_DATABASE"),
	}
}

// MustOpen opens a store on an emptied database and closes it when the
// test ends. Neo4j community has one user database, so tests that use it
// must not run in parallel.
func MustOpen(tb testing.TB, opts Options) *Store {
	tb.Helper()
	return mustOpenConfig(tb, testConfig(tb), opts)
}

func mustOpenConfig(tb testing.TB, cfg Config, opts Options) *Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := Open(ctx, cfg, opts)
	if err != nil {
		tb.Fatalf("open %s: %v", cfg.URI, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	if err := s.wipe(ctx); err != nil {
		tb.Fatalf("wipe: %v", err)
	}
	return s
}

// wipe deletes every relationship and then every node, in batches small
// enough for the server's transaction memory limit.
func (s *Store) wipe(ctx context.Context) error {
	params := map[string]any{"limit": int64(20000)}
	for _, stmt := range []string{cypherWipeRelationships, cypherWipe} {
		for {
			n, _, err := s.writeCounts(ctx, stmt, params)
			if err != nil {
				return err
			}
			if n == 0 {
				break
			}
		}
	}
	return nil
}
