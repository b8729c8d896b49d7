package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
	"github.com/sregraph/sregraph/ingest/scenario/scenariotest"
)

// demoDir is the bundled demo scenario.
var demoDir = scenariotest.Dir()

var update = flag.Bool("update", false, "rewrite the golden files under testdata/demo")

// The demo is anchored at a fixed breach instant in tests; the server
// anchors it a little before its own clock.
var (
	demoBreach = scenariotest.Breach()
	demoNow    = scenariotest.Now()
)

func mustLoadDemo(tb testing.TB, breachAt, now time.Time) graph.Batch {
	tb.Helper()
	b, err := Load(demoDir, breachAt, now)
	if err != nil {
		tb.Fatalf("load demo: %v", err)
	}
	return b
}

// mustOpenDemoStore loads the demo anchored at breachAt into a fresh
// embedded store.
func mustOpenDemoStore(tb testing.TB, breachAt, now time.Time) *pebble.Store {
	tb.Helper()
	st := pebbletest.MustOpen(tb, pebble.Options{Now: func() time.Time { return now }})
	if _, err := st.Apply(context.Background(), mustLoadDemo(tb, breachAt, now)); err != nil {
		tb.Fatalf("apply demo: %v", err)
	}
	return st
}

// demoBreaches returns the demo's breaches, oldest first.
func demoBreaches(b graph.Batch) []graph.Breach {
	var out []graph.Breach
	for _, e := range b.Events {
		if e.Kind == graph.KindSLOBreach {
			out = append(out, graph.BreachOf(e))
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].StartedAt.Before(out[j-1].StartedAt); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// breachContext answers changesNear with the schema's defaults for b.
func breachContext(tb testing.TB, src graph.ContextSource, b graph.Breach) *graph.Context {
	tb.Helper()
	c, err := graph.BuildContext(context.Background(), src, graph.ContextQuery{
		Service: b.Service, At: b.StartedAt, Before: graph.DefaultBefore, After: graph.DefaultAfter,
		Depth: graph.DefaultDepth, Direction: graph.Both, Breach: &b,
	})
	if err != nil {
		tb.Fatalf("context of %s: %v", b.Service, err)
	}
	return c
}

// findChange returns the ranked change of the given kind on service whose
// attributes.version is version, or nil.
func findChange(c *graph.Context, kind graph.Kind, service, version string) *graph.RankedChange {
	for i := range c.Changes {
		ch := &c.Changes[i]
		if ch.Event.Kind == kind && ch.Event.Service == service && ch.Event.Attributes["version"] == version {
			return ch
		}
	}
	return nil
}

func findEvent(b graph.Batch, kind graph.Kind, service, version string) *graph.Event {
	for i := range b.Events {
		e := &b.Events[i]
		if e.Kind == kind && e.Service == service && e.Attributes["version"] == version {
			return e
		}
	}
	return nil
}

func TestDemoScenarioShape(t *testing.T) {
	b := mustLoadDemo(t, demoBreach, demoNow)
	if n := len(b.Services); n < 20 {
		t.Errorf("%d services, want at least 20", n)
	}
	edges := map[[2]string]bool{}
	for _, c := range b.Calls {
		if err := c.Validate(); err != nil {
			t.Fatalf("bucket %+v: %v", c, err)
		}
		if c.Producer != Producer {
			t.Fatalf("bucket producer %q, want %q", c.Producer, Producer)
		}
		if !c.Start.Equal(c.Start.Truncate(graph.BucketWidth)) {
			t.Fatalf("bucket start %s is not on a bucket boundary", c.Start)
		}
		if c.Start.Add(graph.BucketWidth).After(demoNow) {
			t.Fatalf("bucket %s→%s at %s has not ended by now (%s)", c.From, c.To, c.Start, demoNow)
		}
		edges[[2]string{c.From, c.To}] = true
	}
	if len(edges) < 30 {
		t.Errorf("%d call edges carry traffic, want at least 30", len(edges))
	}
	if len(b.Dependencies) < 2 {
		t.Errorf("%d declared dependencies, want at least 2", len(b.Dependencies))
	}
	// Deploys on each of the three days before the breach.
	days := map[int]int{}
	kinds := map[graph.Kind]int{}
	sources := map[string]bool{}
	for _, e := range b.Events {
		if e.ID == "" || e.ExternalID == "" {
			t.Fatalf("event %q on %s has no ID or external id", e.Summary, e.Service)
		}
		if e.At.After(demoNow) {
			t.Fatalf("event %q at %s is after now", e.Summary, e.At)
		}
		kinds[e.Kind]++
		sources[e.Source] = true
		if e.Kind == graph.KindDeploy && e.At.Before(demoBreach) {
			days[int(demoBreach.Sub(e.At)/(24*time.Hour))]++
		}
	}
	for day := range 3 {
		if days[day] < 5 {
			t.Errorf("%d deploys %d to %d days before the breach, want at least 5", days[day], day, day+1)
		}
	}
	for kind, least := range map[graph.Kind]int{
		graph.KindDeploy: 40, graph.KindScale: 10, graph.KindTicket: 5, graph.KindIncident: 2,
		graph.KindSLOBreach: 2, graph.KindAnomaly: 2, graph.KindRollback: 1,
	} {
		if kinds[kind] < least {
			t.Errorf("%d %s events, want at least %d", kinds[kind], kind, least)
		}
	}
	for _, src := range []string{"argo-cd", "github", "kubernetes", "jira", "pagerduty", "alertmanager"} {
		if !sources[src] {
			t.Errorf("no event from %s", src)
		}
	}
	breaches := demoBreaches(b)
	if len(breaches) != 2 {
		t.Fatalf("%d breaches, want 2", len(breaches))
	}
	old, cur := breaches[0], breaches[1]
	if !cur.StartedAt.Equal(demoBreach) || !cur.Open(demoNow) {
		t.Errorf("current breach starts %s (open %v), want an open breach at %s", cur.StartedAt, cur.Open(demoNow), demoBreach)
	}
	if old.Open(demoNow) || demoBreach.Sub(old.StartedAt) < 20*time.Hour {
		t.Errorf("older breach at %s resolved %v: want one resolved about a day before", old.StartedAt, old.ResolvedAt)
	}
	for _, br := range breaches {
		for _, label := range []string{"service", "slo", "alertname"} {
			if br.Labels[label] == "" {
				t.Errorf("breach at %s has no %s label", br.StartedAt, label)
			}
		}
		if br.SLO != br.Labels["slo"] {
			t.Errorf("breach SLO %q, want the slo label %q", br.SLO, br.Labels["slo"])
		}
	}
}

func TestDemoCulpritRanksFirst(t *testing.T) {
	b := mustLoadDemo(t, demoBreach, demoNow)
	st := mustOpenDemoStore(t, demoBreach, demoNow)
	breach := demoBreaches(b)[1]
	c := breachContext(t, st, breach)
	checkGolden(t, "breach-context.golden", formatContext(c, breach.StartedAt))

	if len(c.Changes) == 0 {
		t.Fatal("no changes near the breach")
	}
	top := c.Changes[0]
	if top.Event.Kind != graph.KindDeploy || top.Event.Service != "ledger" || top.Event.Attributes["version"] != "2.14.0" {
		t.Fatalf("rank 1 is %q on %s, want the ledger 2.14.0 deploy", top.Event.Summary, top.Event.Service)
	}
	if top.Hops != 2 || top.Relation != graph.Dependencies {
		t.Errorf("culprit is %d hops away (%s), want 2 hops, %s", top.Hops, top.Relation, graph.Dependencies)
	}
	reasons := strings.Join(top.Reasons, "\n")
	for _, want := range []string{"7 min before the breach", "checkout → payments → ledger", "errors on payments→ledger rose"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("culprit's reasons lack %q:\n%s", want, reasons)
		}
	}
	// The answer must come from the model with a margin, not by a hair.
	if second := c.Changes[1]; top.Score < 1.3*second.Score {
		t.Errorf("culprit scores %.3f, runner-up %q %.3f: want a margin of 30%%", top.Score, second.Event.Summary, second.Score)
	}

	own := findChange(c, graph.KindDeploy, "checkout", "4.12.0")
	if own == nil {
		t.Fatal("checkout's own deploy 95 min before the breach is missing")
	}
	if own.Rank < 2 || own.Rank > 3 {
		t.Errorf("checkout's own deploy ranks %d, want 2 or 3: a real suspect, but not the culprit", own.Rank)
	}
	if !strings.Contains(strings.Join(own.Reasons, "\n"), "1 h 35 min before the breach") {
		t.Errorf("checkout deploy reasons %q do not give its timing", own.Reasons)
	}

	caller := findChange(c, graph.KindDeploy, "api-gateway", "1.31.0")
	if caller == nil {
		t.Fatal("the caller's deploy (api-gateway 1.31.0) is missing")
	}
	if caller.Relation != graph.Dependents || caller.Hops != 1 || caller.Rank <= own.Rank {
		t.Errorf("caller's deploy: rank %d, %d hops, %s; want below checkout's own deploy, 1 hop, %s",
			caller.Rank, caller.Hops, caller.Relation, graph.Dependents)
	}

	simultaneous := findEvent(b, graph.KindDeploy, "search", "3.7.0")
	if simultaneous == nil || !simultaneous.At.Equal(top.Event.At) {
		t.Fatal("the demo lacks search 3.7.0 deployed at the same instant as the culprit")
	}
	for _, ch := range c.Changes {
		if ch.Event.Service == "search" {
			t.Errorf("unrelated search is in the context: %q at rank %d", ch.Event.Summary, ch.Rank)
		}
	}
	for _, s := range c.Services {
		if s.Service == "search" {
			t.Errorf("unrelated search is in the neighbourhood: %+v", s)
		}
	}

	// The breach page shows error counts on the edges of the path.
	for _, edge := range [][2]string{{"payments", "ledger"}, {"checkout", "payments"}, {"api-gateway", "checkout"}} {
		var found bool
		for _, e := range c.Edges {
			if e.From == edge[0] && e.To == edge[1] {
				found = true
				if e.Calls == 0 || e.Errors == 0 {
					t.Errorf("edge %s→%s: %d calls, %d errors; want both", e.From, e.To, e.Calls, e.Errors)
				}
			}
		}
		if !found {
			t.Errorf("edge %s→%s missing from the context", edge[0], edge[1])
		}
	}
}

func TestDemoOlderBreach(t *testing.T) {
	b := mustLoadDemo(t, demoBreach, demoNow)
	st := mustOpenDemoStore(t, demoBreach, demoNow)
	breach := demoBreaches(b)[0]
	c := breachContext(t, st, breach)
	checkGolden(t, "older-breach-context.golden", formatContext(c, breach.StartedAt))

	top := c.Changes[0]
	if top.Event.Kind != graph.KindDeploy || top.Event.Service != "payments" || top.Event.Attributes["version"] != "3.8.0" {
		t.Fatalf("rank 1 of the older breach is %q, want payments 3.8.0", top.Event.Summary)
	}
	var rollback *graph.RankedChange
	for i := range c.Changes {
		if c.Changes[i].Event.Kind == graph.KindRollback {
			rollback = &c.Changes[i]
		}
	}
	if rollback == nil || rollback.Event.Service != "payments" || !rollback.Event.At.After(breach.StartedAt) {
		t.Fatalf("the payments rollback after the older breach is missing: %+v", rollback)
	}
}

func TestDemoIsDeterministic(t *testing.T) {
	a := mustLoadDemo(t, demoBreach, demoNow)
	b := mustLoadDemo(t, demoBreach, demoNow)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two loads with the same anchor differ")
	}
	// Anchored elsewhere, the demo has the same shape and the same IDs.
	shift := 3*time.Hour + 17*time.Minute
	c := mustLoadDemo(t, demoBreach.Add(shift), demoNow.Add(shift))
	if len(a.Events) != len(c.Events) || len(a.Calls) != len(c.Calls) {
		t.Fatalf("shifted load has %d events and %d buckets, want %d and %d", len(c.Events), len(c.Calls), len(a.Events), len(a.Calls))
	}
	for i := range a.Events {
		x, y := a.Events[i], c.Events[i]
		if x.ID != y.ID || !x.At.Add(shift).Equal(y.At) {
			t.Fatalf("event %d: %s at %s, shifted %s at %s", i, x.ID, x.At, y.ID, y.At)
		}
	}
	for i := range a.Calls {
		x, y := a.Calls[i], c.Calls[i]
		x.Start = x.Start.Add(shift)
		if x != y {
			t.Fatalf("bucket %d: %+v, shifted %+v", i, a.Calls[i], y)
		}
	}
}

func TestDemoReload(t *testing.T) {
	ctx := context.Background()
	st := mustOpenDemoStore(t, demoBreach, demoNow)
	b := mustLoadDemo(t, demoBreach, demoNow)
	w, err := st.Apply(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if w.Inserted != 0 || w.Updated != 0 || w.Duplicates != len(b.Events) {
		t.Errorf("reloading the same demo: %+v, want all %d events duplicates", w, len(b.Events))
	}
	// Restarted an hour later, the demo moves its events rather than
	// adding a second copy of them.
	later := mustLoadDemo(t, demoBreach.Add(time.Hour), demoNow.Add(time.Hour))
	w, err = st.Apply(ctx, later)
	if err != nil {
		t.Fatal(err)
	}
	if w.Inserted != 0 || w.Updated != len(later.Events) {
		t.Errorf("reloading an hour later: %+v, want all %d events updated", w, len(later.Events))
	}
	n, err := st.CountEvents(ctx, graph.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(b.Events) {
		t.Errorf("%d events stored after two loads, want %d", n, len(b.Events))
	}
}

func TestDemoDoesNotInventTheFuture(t *testing.T) {
	// Loaded while yesterday's breach was still firing: nothing after now,
	// and the breach not yet resolved.
	now := demoBreach.Add(-(24*time.Hour + 100*time.Minute))
	b := mustLoadDemo(t, demoBreach, now)
	for _, e := range b.Events {
		if e.At.After(now) {
			t.Fatalf("event %q at %s is after now %s", e.Summary, e.At, now)
		}
		if e.End != nil && e.End.After(now) {
			t.Fatalf("event %q ends at %s, after now %s", e.Summary, e.End, now)
		}
	}
	breaches := demoBreaches(b)
	if len(breaches) != 1 || !breaches[0].Open(now) {
		t.Fatalf("breaches %+v: want only yesterday's, still open", breaches)
	}
	var last time.Time
	for _, c := range b.Calls {
		if c.Start.After(last) {
			last = c.Start
		}
	}
	if want := now.Truncate(graph.BucketWidth).Add(-graph.BucketWidth); !last.Equal(want) {
		t.Errorf("last bucket starts %s, want %s (the last whole minute before now)", last, want)
	}
}

func TestParseOffset(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{in: "0", want: 0},
		{in: "-7m", want: -7 * time.Minute},
		{in: "+15m", want: 15 * time.Minute},
		{in: "30m", want: 30 * time.Minute},
		{in: "-2d3h", want: -(51 * time.Hour)},
		{in: "-1d2h9m30s", want: -(26*time.Hour + 9*time.Minute + 30*time.Second)},
		{in: " -6h ", want: -6 * time.Hour},
		{in: "", err: true},
		{in: "-", err: true},
		{in: "7", err: true},
		{in: "-7x", err: true},
		{in: "-3h2d", err: true},
		{in: "-1h1h", err: true},
		{in: "1.5h", err: true},
		{in: "--7m", err: true},
		{in: "-32d", err: true},
		{in: "2026-11-21T11:50:00Z", err: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseOffset(tt.in)
			if tt.err {
				if err == nil || !errors.Is(err, graph.ErrInvalid) {
					t.Fatalf("ParseOffset(%q) = %v, %v; want an invalid-input error", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseOffset(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
		})
	}
}

// minimalScenario is a small valid scenario the error cases break.
const minimalScenario = `{
  "seed": 1,
  "environment": "prod",
  "traffic": [{"start": "-1h", "end": "10m"}],
  "services": [{"name": "a", "owner": "team-a"}, {"name": "b"}],
  "edges": [{"from": "a", "to": "b", "callsPerMinute": 100, "errorRatio": 0.001, "latencyMs": 20}],
  "episodes": [{"from": "a", "to": "b", "start": "-5m", "errorRatio": 0.1}],
  "dependencies": [{"from": "a", "to": "b"}],
  "events": [
    {"kind": "deploy", "service": "b", "at": "-5m", "source": "argo-cd", "summary": "b 1.1.0 deployed"},
    {"id": "f1", "kind": "slo_breach", "service": "a", "at": "0", "source": "alertmanager", "attributes": {"labels": {"slo": "a-availability"}}}
  ]
}`

func TestScenarioErrors(t *testing.T) {
	tests := []struct {
		name, old, new, want string
	}{
		{"unknown service in an edge", `"to": "b", "callsPerMinute"`, `"to": "c", "callsPerMinute"`, `edges[0].to: unknown service "c"`},
		{"self edge", `"from": "a", "to": "b", "callsPerMinute"`, `"from": "b", "to": "b", "callsPerMinute"`, `edges[0]: an edge from "b" to itself`},
		{"bad offset", `"at": "-5m", "source": "argo-cd"`, `"at": "-5x", "source": "argo-cd"`, `events[0].at: bad offset "-5x"`},
		{"end before at", `"at": "0", "source": "alertmanager"`, `"at": "0", "end": "-1m", "source": "alertmanager"`, `events[1].end: -1m is before at 0`},
		{"unknown kind", `"kind": "deploy"`, `"kind": "deployment"`, "events[0].kind: no kind named `deployment`; did you mean `deploy`?"},
		{"dependency as an event", `"kind": "deploy"`, `"kind": "dependency"`, `events[0].kind: declare dependencies under dependencies`},
		{"unknown event service", `"service": "b", "at"`, `"service": "z", "at"`, `events[0].service: unknown service "z"`},
		{"missing source", `"source": "argo-cd", `, ``, `events[0].source: source is required`},
		{"duplicate service", `{"name": "b"}`, `{"name": "a"}`, `services[1].name: service "a" is already declared at services[0]`},
		{"episode on no edge", `"episodes": [{"from": "a", "to": "b"`, `"episodes": [{"from": "b", "to": "a"`, `episodes[0]: no edge b → a`},
		{"ratio above one", `"errorRatio": 0.1}`, `"errorRatio": 9}`, `episodes[0].errorRatio: want a ratio between 0 and 1`},
		{"no calls", `"callsPerMinute": 100`, `"callsPerMinute": 0`, `edges[0].callsPerMinute: want a positive rate`},
		{"dependency on unknown", `"dependencies": [{"from": "a", "to": "b"}]`, `"dependencies": [{"from": "a", "to": "x"}]`, `dependencies[0].to: unknown service "x"`},
		{"traffic window backwards", `{"start": "-1h", "end": "10m"}`, `{"start": "10m", "end": "-1h"}`, `traffic[0]: end -1h is not after start 10m`},
		{"traffic off the minute", `{"start": "-1h", "end": "10m"}`, `{"start": "-1h", "end": "10m30s"}`, `traffic[0]: traffic windows must start and end on whole minutes`},
		{"overlapping traffic", `[{"start": "-1h", "end": "10m"}]`, `[{"start": "-1h", "end": "10m"}, {"start": "5m", "end": "20m"}]`, `traffic[1]: overlaps traffic[0]`},
		{"duplicate event id", `"source": "argo-cd", "summary"`, `"id": "f1", "source": "alertmanager", "summary"`, `events[1].id: events[0] has the same source and id`},
		{"unknown field", `"seed": 1`, `"sed": 1`, `unknown field "sed" (line 2)`},
		{"wrong type", `"callsPerMinute": 100`, `"callsPerMinute": "100"`, `edges.callsPerMinute (line 6): want a number, not JSON string`},
		{"object for an array", `"episodes": [`, `"episodes": {"x": 1}, "e": [`, `episodes (line 7): want a JSON array, not JSON object`},
		{"not JSON", `"seed": 1,`, `"seed": 1,,`, `malformed JSON`},
		{"not an object", minimalScenario, `["a"]`, `scenario: want a JSON object, not JSON array`},
		{"no services", `"services": [{"name": "a", "owner": "team-a"}, {"name": "b"}]`, `"services": []`, `services: a scenario needs at least one service`},
	}
	if _, err := Decode([]byte(minimalScenario), demoBreach, demoNow); err != nil {
		t.Fatalf("the minimal scenario itself fails: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := strings.Replace(minimalScenario, tt.old, tt.new, 1)
			if doc == minimalScenario {
				t.Fatalf("%q is not in the minimal scenario", tt.old)
			}
			_, err := Decode([]byte(doc), demoBreach, demoNow)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !errors.Is(err, graph.ErrInvalid) {
				t.Errorf("error %v is not of kind invalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestScenarioTrafficLimit(t *testing.T) {
	s := Scenario{Traffic: []Window{{Start: "-31d", End: "0"}, {Start: "0", End: "31d"}}}
	for i := range 4 {
		s.Services = append(s.Services, Service{Name: fmt.Sprintf("s%d", i)})
	}
	for _, from := range s.Services {
		for _, to := range s.Services {
			if from != to {
				s.Edges = append(s.Edges, Edge{From: from.Name, To: to.Name, CallsPerMinute: 1})
			}
		}
	}
	doc, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(doc)
	want := "traffic: 12 edges over 89280 minutes would make 1071360 call buckets, more than 500000"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want %q", err, want)
	}
	s.Edges = s.Edges[:2]
	doc, err = json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(doc); err != nil {
		t.Fatalf("2 edges over 62 days: %v", err)
	}
}

func TestLoadScenarioPaths(t *testing.T) {
	byDir, err := Load(demoDir, demoBreach, demoNow)
	if err != nil {
		t.Fatal(err)
	}
	byFile, err := Load(filepath.Join(demoDir, File), demoBreach, demoNow)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(byDir, byFile) {
		t.Error("loading by directory and by file differ")
	}
	_, err = Load(filepath.Join(t.TempDir(), "missing.json"), demoBreach, demoNow)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v, want a not-exist error", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	if err := os.WriteFile(bad, []byte(strings.Replace(minimalScenario, `"to": "b", "callsPerMinute"`, `"to": "c", "callsPerMinute"`, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad, demoBreach, demoNow)
	if err == nil || !strings.Contains(err.Error(), bad+": edges[0].to") {
		t.Errorf("bad file: %v, want the path and the JSON path", err)
	}
}

func FuzzDecodeScenario(f *testing.F) {
	demo, err := os.ReadFile(filepath.Join(demoDir, File))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(demo)
	f.Add([]byte(minimalScenario))
	f.Add([]byte(`{"services": [{"name": "a"}], "events": [{"kind": "scale", "service": "a", "at": "-1d", "end": "+3m", "source": "kubernetes"}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data, demoBreach, demoNow)
		if err != nil {
			if !errors.Is(err, graph.ErrInvalid) {
				t.Fatalf("error %v is not of kind invalid", err)
			}
			return
		}
		for _, e := range b.Events {
			if e.ID == "" || e.At.After(demoNow) || e.Validate(demoNow) != nil {
				t.Fatalf("bad event %+v", e)
			}
		}
		for _, c := range b.Calls {
			if err := c.Validate(); err != nil || c.Start.Add(graph.BucketWidth).After(demoNow) {
				t.Fatalf("bad bucket %+v: %v", c, err)
			}
		}
	})
}

func BenchmarkLoadScenario(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(demoDir, File))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var buckets int
	for b.Loop() {
		batch, err := Decode(data, demoBreach, demoNow)
		if err != nil {
			b.Fatal(err)
		}
		buckets = len(batch.Calls)
	}
	b.ReportMetric(float64(buckets), "buckets/op")
}

// formatContext renders a breach context for a golden file, with instants
// as offsets from ref so the file reads like the scenario.
func formatContext(c *graph.Context, ref time.Time) []byte {
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "focus %s, window %s .. %s, depth %d\n", c.Focus, offset(c.From, ref), offset(c.To, ref), c.Depth)
	fmt.Fprintln(&buf, "\nservices:")
	for _, s := range c.Services {
		fmt.Fprintf(&buf, "  %-18s %-12s hops %d  %s\n", s.Service, s.Relation, s.Hops, strings.Join(s.Path, " → "))
	}
	fmt.Fprintln(&buf, "\nedges:")
	for _, e := range c.Edges {
		declared := ""
		if e.Declared {
			declared = "  (declared)"
		}
		fmt.Fprintf(&buf, "  %-18s → %-18s calls %6d  errors %4d%s\n", e.From, e.To, e.Calls, e.Errors, declared)
	}
	fmt.Fprintln(&buf, "\nchanges:")
	for _, ch := range c.Changes {
		fmt.Fprintf(&buf, "%3d  %.3f  %-9s %-18s %-8s %s\n", ch.Rank, ch.Score, ch.Event.Kind, ch.Event.Service, offset(ch.Event.At, ref), ch.Event.Summary)
		for _, r := range ch.Reasons {
			fmt.Fprintf(&buf, "            - %s\n", r)
		}
	}
	return buf.Bytes()
}

func offset(t, ref time.Time) string {
	d := t.Sub(ref)
	if d == 0 {
		return "0"
	}
	sign := "+"
	if d < 0 {
		sign, d = "-", -d
	}
	return sign + strings.ReplaceAll(graph.FormatAgo(d), " ", "")
}

// checkGolden compares got with testdata/demo/name; -update (declared
// with the package's other golden tests) rewrites it.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join(demoDir, name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run go test -update to accept):\n%s", name, got)
	}
}
