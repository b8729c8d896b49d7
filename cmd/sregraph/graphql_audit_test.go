package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGraphQLOverHTTPAudit runs graphql-http's audit (auditServer, the
// GraphQL over HTTP specification's MUST and SHOULD rules) against a
// running sregraph, with the demo loaded: any failure or warning fails the
// test. scripts/graphql-audit/install.sh installs graphql-http from npm
// and prints the directory to put in SREGRAPH_GRAPHQL_AUDIT; without it
// the test is skipped, unless SREGRAPH_REQUIRE_GRAPHQL_AUDIT=1 (as
// scripts/test.sh sets) makes that a failure.
func TestGraphQLOverHTTPAudit(t *testing.T) {
	dir := os.Getenv("SREGRAPH_GRAPHQL_AUDIT")
	node, nodeErr := exec.LookPath("node")
	if dir == "" || nodeErr != nil {
		msg := "graphql-http's audit needs node and SREGRAPH_GRAPHQL_AUDIT=$(scripts/graphql-audit/install.sh)"
		if os.Getenv("SREGRAPH_REQUIRE_GRAPHQL_AUDIT") == "1" {
			t.Fatal(msg + " (SREGRAPH_REQUIRE_GRAPHQL_AUDIT=1 requires it)")
		}
		t.Skip(msg)
	}
	c := startServer(t, t.TempDir(), "--demo")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "audit.mjs"), c.url+"/graphql")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	summary := lines[len(lines)-1]
	t.Log(summary)
	if err != nil || !strings.HasSuffix(summary, " 0 failures, 0 warnings") {
		t.Errorf("graphql-http audit: %v\n%s", err, out)
	}
}
