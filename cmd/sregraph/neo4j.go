package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/sregraph/sregraph/graph/neo4j"
)

// openNeo4j opens the Neo4j store --store names, with its schema
// bootstrapped.
func openNeo4j(ctx context.Context, cfg serveConfig, log *slog.Logger) (store, error) {
	nc := neo4j.Config{URI: cfg.Store, User: cfg.Neo4jUser, Password: cfg.Neo4jPassword, Database: cfg.Neo4jDatabase}
	if err := nc.Validate(); err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	s, err := neo4j.Open(ctx, nc, neo4j.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("open Neo4j at %s (check --store, --neo4j-user, --neo4j-password and that the server is up): %w", cfg.Store, err)
	}
	return s, nil
}
