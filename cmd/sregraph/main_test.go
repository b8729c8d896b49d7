package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/ingest/scenario"
	"github.com/sregraph/sregraph/ingest/scenario/scenariotest"
)

// TestMain lets the test binary stand in for the sregraph binary: with
// SREGRAPH_TEST_MAIN=1 it runs main, so tests can start real child
// processes (and kill them) without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("SREGRAPH_TEST_MAIN") == "1" {
		main()
		return
	}
	code := m.Run()
	if err := removeChaosBinary(); err != nil {
		fmt.Fprintln(os.Stderr, "removing the chaos suite's binary:", err)
		code = max(code, 1)
	}
	os.Exit(code)
}

// child is a running `sregraph serve` process.
type child struct {
	cmd *exec.Cmd
	url string
	out *bytes.Buffer
}

// startServer starts `sregraph serve` on a free loopback port and waits
// until it says where it listens.
func startServer(t *testing.T, dataDir string, args ...string) *child {
	t.Helper()
	root, _ := filepath.Abs("../..")
	all := append([]string{"serve", "--http", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "warn"}, args...)
	cmd := exec.Command(os.Args[0], all...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "SREGRAPH_TEST_MAIN=1")
	stderr := &bytes.Buffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, out: &bytes.Buffer{}}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			c.out.WriteString(line + "\n")
			if _, rest, ok := strings.Cut(line, "listening on "); ok {
				found <- strings.Fields(rest)[0]
			}
		}
	}()
	select {
	case c.url = <-found:
		return c
	case <-time.After(60 * time.Second):
		t.Fatalf("sregraph serve did not start:\n%s\n%s", c.out, stderr)
	}
	return nil
}

func (c *child) graphql(t *testing.T, query string, vars map[string]any, out any) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post(c.url+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var env struct {
		Data   json.RawMessage `json:"data"`
		Errors []any           `json:"errors"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || len(env.Errors) > 0 {
		t.Fatalf("graphql: %v %s", err, raw)
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		t.Fatal(err)
	}
}

type ingestAnswer struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Index int    `json:"index"`
		Error string `json:"error"`
	} `json:"rejected"`
}

func postEvents(url string, ids []string, at time.Time) (ingestAnswer, error) {
	var b strings.Builder
	for _, id := range ids {
		fmt.Fprintf(&b, `{"id":%q,"kind":"deploy","service":"svc-%s","at":%q,"source":"crash-test","summary":"deploy %s"}`+"\n",
			id, id[:2], at.Format(time.RFC3339), id)
	}
	resp, err := http.Post(url+"/v1/events", "application/x-ndjson", strings.NewReader(b.String()))
	if err != nil {
		return ingestAnswer{}, err
	}
	defer resp.Body.Close()
	var a ingestAnswer
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		return a, fmt.Errorf("status %s: %s", resp.Status, raw)
	}
	return a, json.NewDecoder(resp.Body).Decode(&a)
}

// TestCrashLosesNothingAcknowledged SIGKILLs a server while clients
// ingest, restarts it on the same data directory, and checks that every
// acknowledged event is there exactly once.
func TestCrashLosesNothingAcknowledged(t *testing.T) {
	dir := t.TempDir()
	srv := startServer(t, dir)
	at := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)

	var mu sync.Mutex
	acked := map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				ids := make([]string, 25)
				for k := range ids {
					ids[k] = fmt.Sprintf("w%d-%d-%d", w, i, k)
				}
				a, err := postEvents(srv.url, ids, at)
				if err != nil {
					return // the server died mid-request: nothing was acknowledged
				}
				if a.Accepted+a.Duplicates != len(ids) || len(a.Rejected) > 0 {
					t.Errorf("unexpected answer %+v", a)
					return
				}
				mu.Lock()
				for _, id := range ids {
					acked[id] = true
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = srv.cmd.Wait()
	cancel()
	wg.Wait()
	if len(acked) < 100 {
		t.Fatalf("only %d events acknowledged before the kill; the test needs more to mean anything", len(acked))
	}
	t.Logf("%d events acknowledged before SIGKILL", len(acked))

	srv = startServer(t, dir)
	seen := map[string]int{}
	after := ""
	total := 0
	for {
		var page struct {
			Events struct {
				TotalCount int
				Nodes      []struct{ ID, ExternalID string }
				PageInfo   struct {
					HasNextPage bool
					EndCursor   string
				}
			}
		}
		srv.graphql(t, `query($after: String) { events(first: 1000, after: $after) { totalCount nodes { id externalId } pageInfo { hasNextPage endCursor } } }`,
			map[string]any{"after": after}, &page)
		total = page.Events.TotalCount
		for _, n := range page.Events.Nodes {
			seen[n.ExternalID]++
		}
		if !page.Events.PageInfo.HasNextPage {
			break
		}
		after = page.Events.PageInfo.EndCursor
	}
	var listed int
	for id, n := range seen {
		listed += n
		if n != 1 {
			t.Errorf("event %s stored %d times", id, n)
		}
	}
	if listed != total {
		t.Errorf("listed %d events but totalCount is %d", listed, total)
	}
	for id := range acked {
		if seen[id] != 1 {
			t.Errorf("acknowledged event %s is missing after the crash", id)
		}
	}
	// Resending what was acknowledged is all duplicates.
	ids := make([]string, 0, 50)
	for id := range acked {
		if ids = append(ids, id); len(ids) == 50 {
			break
		}
	}
	a, err := postEvents(srv.url, ids, at)
	if err != nil || a.Accepted != 0 || a.Duplicates != len(ids) {
		t.Fatalf("resend after restart: %+v %v", a, err)
	}
}

// TestDemoCulpritFromCLI serves the demo and asks the CLI, over GraphQL,
// what changed near the demo breach: the planted culprit (see
// testdata/demo/README.md) must rank first with reasons naming the
// timing and the path.
func TestDemoCulpritFromCLI(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--demo")
	var breaches struct {
		Breaches struct {
			Nodes []struct {
				ID        string
				StartedAt time.Time
				URL       string
				Service   struct{ Name string }
			}
		}
	}
	srv.graphql(t, `{ breaches(openOnly: true, first: 1) { nodes { id startedAt url service { name } } } }`, nil, &breaches)
	if len(breaches.Breaches.Nodes) != 1 {
		t.Fatalf("the demo has no open breach: %+v", breaches)
	}
	b := breaches.Breaches.Nodes[0]
	if !strings.HasPrefix(b.URL, srv.url+"/breaches/") || !strings.Contains(srv.out.String(), b.URL) {
		t.Errorf("breach url %q should be absolute and printed at start:\n%s", b.URL, srv.out)
	}

	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"context", b.Service.Name, "--at", b.StartedAt.Format(time.RFC3339), "--server", srv.url, "--json"},
		func(string) string { return "" }, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("context exited %d: %s", code, stderr.String())
	}
	var c graph.Context
	if err := json.Unmarshal(stdout.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	top := c.Changes[0]
	if top.Event.Summary != "ledger 2.14.0 deployed" || top.Hops != 2 {
		t.Fatalf("top suspect = %+v", top)
	}
	reasons := strings.Join(top.Reasons, "\n")
	for _, want := range []string{"7 min before", "checkout → payments → ledger"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("reasons lack %q:\n%s", want, reasons)
		}
	}

	stdout.Reset()
	code = run(context.Background(), []string{"context", "checkout", "--at", b.StartedAt.Format(time.RFC3339), "--server", srv.url},
		func(string) string { return "" }, &stdout, &stderr)
	out := stdout.String()
	_, table, _ := strings.Cut(out, "\nRANK ")
	lines := strings.Split(table, "\n")
	if code != 0 || len(lines) < 2 || !strings.HasPrefix(lines[1], "1 ") || !strings.Contains(lines[1], "ledger 2.14.0 deployed") {
		t.Fatalf("table output (exit %d):\n%s\n%s", code, out, stderr.String())
	}
	if !strings.Contains(out, "\nWhere it starts: ledger at ") || !strings.Contains(out, "errors on payments→ledger rose from") {
		t.Errorf("the output does not say where the degradation starts:\n%s", out)
	}
}

func TestCLIErrors(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		code int
		want string
	}{
		{[]string{"frobnicate"}, nil, 2, `unknown command "frobnicate"`},
		{[]string{"context"}, nil, 1, "which service?"},
		{[]string{"context", "checkout", "--depth", "9", "--server", "http://127.0.0.1:1"}, nil, 1, "depth 9 is out of range"},
		{[]string{"context", "checkout", "--at", "yesterday"}, nil, 1, "--at: \"yesterday\": want \"breach\""},
		{[]string{"context", "checkout", "--server", "http://127.0.0.1:1"}, nil, 1, "cannot reach sregraph"},
		{[]string{"serve", "--http", "0.0.0.0:0"}, nil, 1, "listens beyond loopback without --tokens"},
		{[]string{"serve"}, map[string]string{"SREGRAPH_HTTP": "0.0.0.0:0"}, 1, "listens beyond loopback"},
		{[]string{"serve", "--retention", "soon"}, nil, 2, "invalid value"},
		{[]string{"serve", "--graphql-timeout", "0s"}, nil, 1, "--graphql-timeout 0s"},
		{[]string{"serve", "--graphql-max-expensive", "0"}, nil, 1, "--graphql-max-expensive 0"},
		{[]string{"serve", "--retention", "3650d"}, nil, 2, "longer than the limit of 3100d"},
		{[]string{"serve", "--retention", "87600h"}, nil, 1, "--retention 3650d is longer than the limit of 3100d"},
		{[]string{"context", "checkout", "--kinds", "deplyo", "--server", "http://127.0.0.1:1"}, nil, 1, "--kinds: no kind named `deplyo`; did you mean `deploy`?"},
		{[]string{"context", "checkout", "--direction", "dependecies", "--server", "http://127.0.0.1:1"}, nil, 1, "--direction: no direction named `dependecies`; did you mean `DEPENDENCIES`?"},
		{[]string{"context", "checkout", "--at", "-15m", "--server", "http://127.0.0.1:1"}, nil, 1, "is in the future"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out bytes.Buffer
			code := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, &out, &out)
			if code != tt.code || !strings.Contains(out.String(), tt.want) {
				t.Fatalf("exit %d, output:\n%s\nwant exit %d and %q", code, out.String(), tt.code, tt.want)
			}
		})
	}
}

// TestAliasesRenameBeforeStoring serves with the sample alias file and
// checks that an event sent under an alias is stored under the service
// name, and that resending it under the real name is a duplicate.
func TestAliasesRenameBeforeStoring(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--aliases", "testdata/aliases.yaml")
	send := func(service string) ingestAnswer {
		body := fmt.Sprintf(`{"kind":"deploy","service":%q,"at":"2026-11-21T10:00:00Z","source":"alias-test","summary":"payments 1.2.3 deployed"}`, service)
		resp, err := http.Post(srv.url+"/v1/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var a ingestAnswer
		if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
			t.Fatal(err)
		}
		return a
	}
	if a := send("payments-api"); a.Accepted != 1 {
		t.Fatalf("first send: %+v", a)
	}
	if a := send("payments"); a.Duplicates != 1 {
		t.Fatalf("the same event under the real name must be a duplicate: %+v", a)
	}
	var r struct {
		Service *struct {
			Events struct{ TotalCount int }
		}
		Alias *struct{ Name string }
	}
	srv.graphql(t, `{ service(name: "payments") { events { totalCount } } alias: service(name: "payments-api") { name } }`, nil, &r)
	if r.Service == nil || r.Service.Events.TotalCount != 1 || r.Alias != nil {
		t.Fatalf("stored under the wrong name: %+v", r)
	}
}

// TestBacktestCommand replays the demo, the way a team replays its own
// incidents, and a broken scenario beside it: the good one is still
// scored, the broken one named, and the exit says something failed.
func TestBacktestCommand(t *testing.T) {
	dir := t.TempDir()
	demo, err := os.ReadFile(filepath.Join("..", "..", "testdata", "demo", "scenario.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "a-demo.json"), demo, 0o644); err != nil {
		t.Fatal(err)
	}
	broken := `{"name": "no breach", "services": [{"name": "a"}], "expect": {"breach": "nope", "culprit": "x"}}`
	if err := os.WriteFile(filepath.Join(dir, "b-broken.json"), []byte(broken), 0o644); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"backtest", dir}, func(string) string { return "" }, &stdout, &stderr)
	out := stdout.String()
	if code != 1 {
		t.Errorf("exit %d, want 1 (one scenario could not be replayed)\n%s\n%s", code, out, stderr.String())
	}
	if !strings.Contains(out, "1     a-demo") || !strings.Contains(out, "deploy on ledger (ledger@4464f19)") {
		t.Errorf("the demo's culprit is not scored first:\n%s", out)
	}
	if !strings.Contains(out, "overall     1 scenarios  top-1  1 (100%)") {
		t.Errorf("no summary line:\n%s", out)
	}
	if !strings.Contains(stderr.String(), `b-broken.json: expect.breach: no slo_breach event with id "nope"`) {
		t.Errorf("the broken scenario is not named with its problem:\n%s", stderr.String())
	}
}

// TestBacktestConfirmed confirms the causes of the demo's two breaches in
// a store, the way responders would, and scores the ranking against them.
func TestBacktestConfirmed(t *testing.T) {
	dir := t.TempDir()
	st, err := pebble.Open(dir, pebble.Options{Now: scenariotest.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	b, err := scenario.Load(scenariotest.Dir(), scenariotest.Breach(), scenariotest.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := st.Apply(ctx, b); err != nil {
		t.Fatal(err)
	}
	byExternal := map[string]graph.Event{}
	var breaches []graph.Event
	for _, e := range b.Events {
		byExternal[e.ExternalID] = e
		if e.Kind == graph.KindSLOBreach {
			breaches = append(breaches, e)
		}
	}
	if len(breaches) != 2 {
		t.Fatalf("the demo has %d breaches, want 2", len(breaches))
	}
	// The older breach first (listing order is newest first).
	slices.SortFunc(breaches, func(a, b graph.Event) int { return a.At.Compare(b.At) })
	for i, cause := range []string{"payments@a1e1bf6", "ledger@4464f19"} {
		if _, err := graph.RecordConfirmation(ctx, st, breaches[i].ID, byExternal[cause].ID, "", scenariotest.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{"backtest", "--confirmed", "--data-dir", dir}, func(string) string { return "" }, &stdout, &stderr)
	out := stdout.String()
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr.String())
	}
	for _, want := range []string{"payments 3.8.0 deployed", "ledger 2.14.0 deployed", "overall     2 scenarios  top-1  2 (100%)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// An empty store says how to get confirmations.
	empty := t.TempDir()
	code = run(ctx, []string{"backtest", "--confirmed", "--data-dir", empty}, func(string) string { return "" }, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "no breach in this store has a confirmed cause yet") {
		t.Errorf("empty store: exit %d, %s", code, stderr.String())
	}
}

// TestSLOBreachEpisodesFromPyrra sends a Pyrra SLO's burn-rate alerts
// (two windows firing, then resolving one by one, as Alertmanager
// delivers them) to a server started with --slo-service-label: one
// breach of the service the configured label names, resolved when the
// last window resolves, with both windows and the worst severity.
func TestSLOBreachEpisodesFromPyrra(t *testing.T) {
	srv := startServer(t, t.TempDir(), "--slo-service-label", "team,service")
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	alert := func(status, long, short, severity string, starts, ends time.Duration) string {
		end := "0001-01-01T00:00:00Z"
		if status == "resolved" {
			end = t0.Add(ends).Format(time.RFC3339)
		}
		return fmt.Sprintf(`{"status":%q,"labels":{"alertname":"ErrorBudgetBurn","exhaustion":"2d","long":%q,"short":%q,"severity":%q,"slo":"cart-errors","team":"shop","handler":"/api/cart"},
			"annotations":{"description":"The error budget of cart-errors is burning too fast."},"startsAt":%q,"endsAt":%q,
			"generatorURL":"http://prometheus.monitoring.svc:9090/graph?g0.expr=x","fingerprint":"%016x"}`,
			status, long, short, severity, t0.Add(starts).Format(time.RFC3339), end, len(long)*7+len(short))
	}
	deliver := func(status string, alerts ...string) {
		body := fmt.Sprintf(`{"version":"4","groupKey":"{}:{alertname=\"ErrorBudgetBurn\"}","status":%q,"receiver":"sregraph","groupLabels":{"alertname":"ErrorBudgetBurn"},"alerts":[%s]}`,
			status, strings.Join(alerts, ","))
		resp, err := http.Post(srv.url+"/v1/webhooks/alertmanager", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery: %s %s", resp.Status, raw)
		}
	}
	deliver("firing", alert("firing", "1h", "5m", "critical", 0, 0))
	deliver("firing", alert("firing", "1h", "5m", "critical", 0, 0), alert("firing", "1d", "2h", "warning", 10*time.Minute, 0))
	deliver("resolved", alert("resolved", "1h", "5m", "critical", 0, 30*time.Minute), alert("firing", "1d", "2h", "warning", 10*time.Minute, 0))
	var open struct {
		Breaches struct {
			TotalCount int
			Nodes      []struct{ ResolvedAt *string }
		}
	}
	srv.graphql(t, `{ breaches(service: "shop") { totalCount nodes { resolvedAt } } }`, nil, &open)
	if open.Breaches.TotalCount != 1 || open.Breaches.Nodes[0].ResolvedAt != nil {
		t.Fatalf("after the first window resolved: %+v; want one open breach of shop", open)
	}
	deliver("resolved", alert("resolved", "1h", "5m", "critical", 0, 30*time.Minute), alert("resolved", "1d", "2h", "warning", 10*time.Minute, 45*time.Minute))
	var r struct {
		Breaches struct {
			TotalCount int
			Nodes      []struct {
				StartedAt  string
				ResolvedAt *string
				Slo        string
			}
		}
		Events struct {
			Nodes []struct{ Attributes map[string]any }
		}
	}
	srv.graphql(t, `{ breaches(service: "shop") { totalCount nodes { startedAt resolvedAt slo } }
		events(services: ["shop"], kinds: [SLO_BREACH]) { nodes { attributes } } }`, nil, &r)
	if r.Breaches.TotalCount != 1 || len(r.Events.Nodes) != 1 {
		t.Fatalf("breaches of shop: %+v; want one", r)
	}
	b, attrs := r.Breaches.Nodes[0], r.Events.Nodes[0].Attributes
	if b.ResolvedAt == nil || *b.ResolvedAt != t0.Add(45*time.Minute).Format(time.RFC3339) || b.StartedAt != t0.Format(time.RFC3339) || b.Slo != "cart-errors" ||
		attrs["severity"] != "critical" || fmt.Sprint(attrs["windows"]) != "[1d/2h 1h/5m]" {
		t.Fatalf("breach %+v attributes severity %v windows %v; want cart-errors from %s to %s, critical, [1d/2h 1h/5m]",
			b, attrs["severity"], attrs["windows"], t0.Format(time.RFC3339), t0.Add(45*time.Minute).Format(time.RFC3339))
	}
}
