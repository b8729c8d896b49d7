package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/ingest/scenario"
	"github.com/sregraph/sregraph/ingest/scenario/scenariotest"
)

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), args, func(string) string { return "" }, &out, &errb)
	return code, out.String(), errb.String()
}

// TestCLIAgainstTheDemo asks a demo server the way a newcomer would: a
// misspelled service is an error with the name meant, never "no changes";
// --at breach finds the breach; --json says the depth walked; a data
// directory a server holds says who holds it.
func TestCLIAgainstTheDemo(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir, "--demo")

	code, out, errOut := runCLI("context", "chekout", "--at", "breach", "--server", srv.url)
	if code != 1 || strings.TrimSpace(errOut) != "sregraph context: no service named `chekout`; did you mean `checkout`?" || out != "" {
		t.Errorf("a misspelled service: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, _, errOut = runCLI("context", "chekout", "--at", "20m", "--server", srv.url)
	if code != 1 || !strings.Contains(errOut, "did you mean `checkout`?") {
		t.Errorf("a misspelled service at a time: exit %d, %q", code, errOut)
	}
	code, _, errOut = runCLI("context", "search", "--at", "breach", "--server", srv.url)
	if code != 1 || !strings.Contains(errOut, "search has no breach before") {
		t.Errorf("--at breach of a service that never breached: exit %d, %q", code, errOut)
	}

	var breaches struct {
		Breaches struct {
			Nodes []struct{ StartedAt time.Time }
		}
	}
	srv.graphql(t, `{ breaches(service: "checkout", openOnly: true, first: 1) { nodes { startedAt } } }`, nil, &breaches)
	if len(breaches.Breaches.Nodes) != 1 {
		t.Fatalf("no open demo breach: %+v", breaches)
	}
	started := breaches.Breaches.Nodes[0].StartedAt
	code, out, errOut = runCLI("context", "checkout", "--at", "breach", "--server", srv.url, "--json")
	if code != 0 {
		t.Fatalf("--at breach: exit %d, %s", code, errOut)
	}
	var c graph.Context
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if !c.At.Equal(started) || c.Depth != 2 || len(c.Changes) == 0 || c.Changes[0].Event.Summary != "ledger 2.14.0 deployed" {
		t.Errorf("--at breach --json: at %s (breach %s), depth %d, %d changes", c.At, started, c.Depth, len(c.Changes))
	}
	code, out, _ = runCLI("context", "checkout", "--at", "breach", "--depth", "3", "--server", srv.url, "--json")
	if err := json.Unmarshal([]byte(out), &c); code != 0 || err != nil || c.Depth != 3 {
		t.Errorf("--depth 3 --json: exit %d, depth %d, %v", code, c.Depth, err)
	}

	// The server holds the data directory: reading it directly says who.
	code, _, errOut = runCLI("context", "checkout", "--data-dir", dir)
	want := fmt.Sprintf("data dir %s is in use by another sregraph process (pid %d?): stop it, or ask the server with --server instead", dir, srv.cmd.Process.Pid)
	if code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("a locked data dir: exit %d, %q\nwant %q", code, errOut, want)
	}
}

// TestCLIOnADataDir reads a store directly: the same unknown-name error,
// and --at breach from the store.
func TestCLIOnADataDir(t *testing.T) {
	dir := t.TempDir()
	st, err := pebble.Open(dir, pebble.Options{Now: scenariotest.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := scenario.Load(scenariotest.Dir(), scenariotest.Breach(), scenariotest.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI("context", "Checkout", "--data-dir", dir)
	if code != 1 || strings.TrimSpace(errOut) != "sregraph context: no service named `Checkout`; did you mean `checkout`?" {
		t.Errorf("unknown service on a data dir: exit %d, %q", code, errOut)
	}
	code, out, errOut := runCLI("context", "checkout", "--at", "breach", "--data-dir", dir, "--first", "3")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	head := fmt.Sprintf("checkout at %s (window ", scenariotest.Breach().Format(time.RFC3339))
	if !strings.HasPrefix(out, head) || !strings.Contains(out, "depth 2): ") || !strings.Contains(out, "ledger 2.14.0 deployed") {
		t.Errorf("--at breach on a data dir:\n%s", out)
	}
}

func TestPrintContextCountsAndHints(t *testing.T) {
	at := scenariotest.Breach()
	c := &graph.Context{Focus: "ledger", At: at, From: at.Add(-2 * time.Hour), To: at.Add(15 * time.Minute), Depth: 2,
		Services: []graph.NearbyService{{Service: "ledger"}}, Edges: []graph.Edge{{From: "ledger", To: "postgres"}}}
	var out bytes.Buffer
	if err := printContext(&out, c); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"depth 2): 1 service, 1 call edge, 0 changes", "Try a wider window (--before 6h) or more hops (--depth 3)."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	c.Depth, c.From = graph.MaxDepth, at.Add(-6*time.Hour)
	c.Services = append(c.Services, graph.NearbyService{Service: "postgres"})
	out.Reset()
	if err := printContext(&out, c); err != nil {
		t.Fatal(err)
	}
	if s := out.String(); !strings.Contains(s, "2 services, 1 call edge") || !strings.Contains(s, "Try a wider window (--before 12h).") || strings.Contains(s, "--depth") {
		t.Errorf("at the deepest depth and a 6 h window:\n%s", s)
	}
}

// TestDemoAnnouncesItsOwnBreach restarts the demo on a data directory
// that holds a newer open breach of another service: the demo still
// points at its own.
func TestDemoAnnouncesItsOwnBreach(t *testing.T) {
	dir := t.TempDir()
	st, err := pebble.Open(dir, pebble.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	other := graph.Event{Kind: graph.KindSLOBreach, Service: "billing", Source: "alertmanager", ExternalID: "other-breach",
		At: time.Now().UTC().Add(-time.Minute).Truncate(time.Second), Summary: "billing-latency",
		Attributes: map[string]any{"slo": "billing-latency"}}
	if err := other.Normalize(time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Apply(context.Background(), graph.Batch{Events: []graph.Event{other}}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, dir, "--demo")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(srv.out.String(), "GraphQL variables") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	out := srv.out.String()
	if !strings.Contains(out, "demo loaded: breach of checkout-availability on checkout at ") || strings.Contains(out, "billing") {
		t.Errorf("the demo announces another breach:\n%s", out)
	}
}

// TestDemoFromADirectory loads the demo from --demo-dir instead of the
// copy built in, and refuses a directory without a scenario.
func TestDemoFromADirectory(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--demo", "--demo-dir", "testdata/demo")
	if !strings.Contains(srv.out.String(), "demo loaded: breach of checkout-availability on checkout at ") {
		t.Errorf("--demo-dir testdata/demo:\n%s", srv.out)
	}
	code, _, errOut := runCLI("serve", "--demo", "--demo-dir", t.TempDir(), "--http", "127.0.0.1:0", "--data-dir", t.TempDir())
	if code != 1 || !strings.Contains(errOut, "--demo: read scenario:") {
		t.Errorf("--demo-dir without a scenario: exit %d, %s", code, errOut)
	}
}
