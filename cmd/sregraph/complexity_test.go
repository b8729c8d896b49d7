package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/resolvers"
)

// TestComplexityPricesRealCost: the neighbourhood queries are priced by
// depth and first, so hundreds of aliased deep ones are refused with a
// sentence saying what to do, while the CLI's query at the deepest depth
// and largest first it offers, and a breach with its context, pass.
func TestComplexityPricesRealCost(t *testing.T) {
	st, err := pebble.Open(t.TempDir(), pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	srv := httptest.NewServer(resolvers.New(resolvers.Options{Store: st}))
	defer srv.Close()
	ask := func(query string, vars map[string]any) []map[string]any {
		t.Helper()
		body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post(srv.URL, "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Errors []map[string]any }
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return out.Errors
	}
	isComplexity := func(errs []map[string]any) bool {
		for _, e := range errs {
			if ext, _ := e["extensions"].(map[string]any); ext["code"] == "COMPLEXITY_LIMIT_EXCEEDED" {
				return true
			}
		}
		return false
	}

	var b strings.Builder
	b.WriteString("{")
	for i := range 300 {
		fmt.Fprintf(&b, ` a%d: changesNear(service: "x", at: "2026-01-01T00:00:00Z", depth: 6, first: 1) { at }`, i)
	}
	b.WriteString(" }")
	errs := ask(b.String(), nil)
	if !isComplexity(errs) {
		t.Fatalf("300 aliases of changesNear(depth: 6, first: 1): %v; want refused for complexity", errs)
	}
	if msg, _ := errs[0]["message"].(string); !strings.Contains(msg, "fewer") {
		t.Errorf("message %q does not say what to do", msg)
	}

	for _, depth := range []int{graph.DefaultDepth, graph.MaxDepth} {
		vars := map[string]any{"service": "x", "at": "2026-01-01T00:00:00Z", "depth": depth, "first": graph.MaxFirst}
		if errs := ask(contextQueryText, vars); isComplexity(errs) {
			t.Errorf("the CLI's query at depth %d, first %d: %v", depth, graph.MaxFirst, errs)
		}
	}
	breach := `{ breach(id: "b") { id slo startedAt resolvedAt url service { name }
	  context { focus { name } at from to services { service { name } hops relation path } edges { from to calls errors }
	    changes { rank score hops relation path reasons event { id kind summary at service { name } } } } } }`
	if errs := ask(breach, nil); isComplexity(errs) {
		t.Errorf("a breach with its context: %v", errs)
	}
	// The README's first GraphQL example.
	readme := `{ breaches(openOnly: true, first: 1) { nodes { id slo startedAt url service { name }
	  context(before: "2h", after: "15m", depth: 2, direction: BOTH) { changes { rank score hops relation path reasons
	    event { kind summary at url service { name } } } } } } }`
	if errs := ask(readme, nil); isComplexity(errs) {
		t.Errorf("the README's breaches query: %v", errs)
	}
}
