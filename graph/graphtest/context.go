package graphtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// The breach-context scenario. checkout breaches at T0. Its call graph in
// the hours around T0:
//
//	web → checkout → payments → ledger → ledger-db
//	        └──────→ cart
//	web → search
//
// checkout called legacy-auth only a week earlier, and mailer talks to
// nobody. Changes:
//
//	checkout   deploy      T0-95m  (its callers' errors do not move)
//	ledger     deploy      T0-50m  (superseded by the next one)
//	cart       config      T0-30m  (no error rise on calls into cart)
//	web        deploy      T0-20m  (a caller; no calls into web to judge by)
//	legacy-auth deploy     T0-10m  (not a neighbour any more)
//	ledger     deploy      T0-7m   (the culprit: errors on payments→ledger go 1% → 20%)
//	search     deploy      T0-7m   (reachable only through web's other call)
//	mailer     deploy      T0-7m   (unrelated)
//	ledger-db  deploy      T0-5m   (three hops down)
//	payments   anomaly     T0-2m   (a symptom)
//	ledger     rollback    T0+6m   (the mitigation; errors fall back to 1%)
//
// and, a week earlier, legacy-auth deploy at T0-7d-10m while checkout
// still called it.
type scenario struct {
	breach graph.Event
	ids    map[string]string // short name → event ID
}

func buildScenario(t *testing.T, s Store) scenario {
	t.Helper()
	sc := scenario{ids: map[string]string{}}
	var evs []graph.Event
	add := func(name string, kind graph.Kind, service string, at time.Time) {
		e := MustEvent(t, kind, service, at, name)
		sc.ids[name] = e.ID
		evs = append(evs, e)
	}
	add("checkout-deploy", graph.KindDeploy, "checkout", T0.Add(-95*time.Minute))
	add("ledger-old-deploy", graph.KindDeploy, "ledger", T0.Add(-50*time.Minute))
	add("cart-config", graph.KindConfig, "cart", T0.Add(-30*time.Minute))
	add("web-deploy", graph.KindDeploy, "web", T0.Add(-20*time.Minute))
	add("legacy-deploy", graph.KindDeploy, "legacy-auth", T0.Add(-10*time.Minute))
	add("ledger-deploy", graph.KindDeploy, "ledger", T0.Add(-7*time.Minute))
	add("search-deploy", graph.KindDeploy, "search", T0.Add(-7*time.Minute))
	add("mailer-deploy", graph.KindDeploy, "mailer", T0.Add(-7*time.Minute))
	add("ledger-db-deploy", graph.KindDeploy, "ledger-db", T0.Add(-5*time.Minute))
	add("payments-anomaly", graph.KindAnomaly, "payments", T0.Add(-2*time.Minute))
	add("ledger-rollback", graph.KindRollback, "ledger", T0.Add(6*time.Minute))
	add("legacy-deploy-last-week", graph.KindDeploy, "legacy-auth", T0.Add(-7*24*time.Hour-10*time.Minute))
	add("breach", graph.KindSLOBreach, "checkout", T0)
	sc.breach = evs[len(evs)-1]

	var calls []graph.CallBucket
	for m := -180; m <= 14; m++ {
		at := T0.Add(time.Duration(m) * time.Minute)
		ledgerErrors := int64(1)
		if m >= -6 && m <= 6 {
			ledgerErrors = 20
		}
		calls = append(calls,
			bucket("web", "checkout", at, 300, 3),
			bucket("checkout", "payments", at, 200, 2),
			bucket("checkout", "cart", at, 100, 1),
			bucket("payments", "ledger", at, 100, ledgerErrors),
			bucket("ledger", "ledger-db", at, 100, 1),
			bucket("web", "search", at, 100, 1),
		)
	}
	lastWeek := T0.Add(-7 * 24 * time.Hour)
	for m := -60; m <= 14; m++ {
		calls = append(calls, bucket("checkout", "legacy-auth", lastWeek.Add(time.Duration(m)*time.Minute), 50, 0))
	}
	// Two batches, as ingest would send them.
	MustApply(t, s, graph.Batch{Calls: calls})
	MustApply(t, s, graph.Batch{Events: evs})
	return sc
}

// wantChange is one expected ranked change. Score is derived in the case
// from the factors documented in graph/rank.go.
type wantChange struct {
	event    string
	score    float64
	hops     int
	relation graph.Direction
	path     []string
	// reasons are the expected reasons in order, each a prefix of the
	// actual one.
	reasons []string
	symptom bool
}

// half is the time factor of a change made d before the reference.
func half(d time.Duration) float64 { return math.Pow(0.5, float64(d)/float64(graph.TimeHalfLife)) }

func hop(n int) float64 { return math.Pow(graph.HopFactor, float64(n)) }

func testBreachContext(t *testing.T, s Store) {
	sc := buildScenario(t, s)
	breach := graph.BreachOf(sc.breach)
	dep, dnt, both := graph.Dependencies, graph.Dependents, graph.Both

	cart := wantChange{"cart-config",
		half(30*time.Minute) * hop(1) * graph.NoRiseFactor, // 0.318
		1, dep, []string{"checkout", "cart"},
		[]string{
			"config changed 30 min before the breach",
			"checkout calls cart (1 hop)",
			"no error rise on checkout→cart in the 30 min after this change (1.0% before, 1.0% after)",
		}, false}
	web := wantChange{"web-deploy",
		half(20*time.Minute) * hop(1) * graph.DependentScale * graph.NoCallDataFactor, // 0.286
		1, dnt, []string{"checkout", "web"},
		[]string{
			"deployed 20 min before the breach",
			"web calls checkout (1 hop, a caller)",
		}, false}
	checkout := wantChange{"checkout-deploy",
		half(95*time.Minute) * graph.NoRiseFactor, // 0.200
		0, both, []string{"checkout"},
		[]string{
			"deployed 1 h 35 min before the breach",
			"on checkout itself",
			"no error rise on web→checkout in the 30 min after this change (1.0% before, 1.0% after)",
		}, false}
	anomaly := wantChange{"payments-anomaly",
		half(2*time.Minute) * hop(1) * graph.KindPrior(graph.KindAnomaly), // 0.147 before the cap
		1, dep, []string{"checkout", "payments"},
		[]string{
			"anomaly seen 2 min before the breach",
			"checkout calls payments (1 hop)",
			"a symptom, shown for context: it cannot be the cause",
		}, true}
	type nearby struct {
		service  string
		hops     int
		relation graph.Direction
	}
	neighbourhood2 := []nearby{{"checkout", 0, both}, {"cart", 1, dep}, {"payments", 1, dep}, {"web", 1, dnt}, {"ledger", 2, dep}}
	cases := []struct {
		name     string
		q        graph.ContextQuery
		services []nearby
		edges    []string
		changes  []wantChange
		// evidence cases rank by the telemetry's evidence: order holds
		// the expected ranking, and the whole answer (scores, reasons,
		// evidence) is compared with a golden file shared by every store.
		order []string
	}{
		{
			name:     "depth 2 both ways",
			q:        graph.ContextQuery{Depth: 2},
			services: neighbourhood2,
			edges:    []string{"checkout→cart", "checkout→payments", "payments→ledger", "web→checkout"},
			order:    []string{"ledger-deploy", "ledger-old-deploy", "cart-config", "web-deploy", "checkout-deploy", "ledger-rollback", "payments-anomaly"},
		},
		{
			name:     "depth 1",
			q:        graph.ContextQuery{Depth: 1},
			services: []nearby{{"checkout", 0, both}, {"cart", 1, dep}, {"payments", 1, dep}, {"web", 1, dnt}},
			edges:    []string{"checkout→cart", "checkout→payments", "web→checkout"},
			changes:  []wantChange{cart, web, checkout, anomaly},
		},
		{
			name:     "depth 3",
			q:        graph.ContextQuery{Depth: 3},
			services: append(append([]nearby(nil), neighbourhood2...), nearby{"ledger-db", 3, dep}),
			edges:    []string{"checkout→cart", "checkout→payments", "ledger→ledger-db", "payments→ledger", "web→checkout"},
			order:    []string{"ledger-deploy", "ledger-old-deploy", "cart-config", "ledger-db-deploy", "web-deploy", "checkout-deploy", "ledger-rollback", "payments-anomaly"},
		},
		{
			name:     "dependencies only",
			q:        graph.ContextQuery{Depth: 2, Direction: graph.Dependencies},
			services: []nearby{{"checkout", 0, both}, {"cart", 1, dep}, {"payments", 1, dep}, {"ledger", 2, dep}},
			edges:    []string{"checkout→cart", "checkout→payments", "payments→ledger"},
			order:    []string{"ledger-deploy", "ledger-old-deploy", "cart-config", "checkout-deploy", "ledger-rollback", "payments-anomaly"},
		},
		{
			name:     "dependents only",
			q:        graph.ContextQuery{Depth: 2, Direction: graph.Dependents},
			services: []nearby{{"checkout", 0, both}, {"web", 1, dnt}},
			edges:    []string{"web→checkout"},
			changes:  []wantChange{web, checkout},
		},
		{
			name:     "deploys only",
			q:        graph.ContextQuery{Depth: 2, Kinds: []graph.Kind{graph.KindDeploy}},
			services: neighbourhood2,
			edges:    []string{"checkout→cart", "checkout→payments", "payments→ledger", "web→checkout"},
			order:    []string{"ledger-deploy", "ledger-old-deploy", "web-deploy", "checkout-deploy"},
		},
		{
			name:     "first 2",
			q:        graph.ContextQuery{Depth: 2, First: 2},
			services: neighbourhood2,
			edges:    []string{"checkout→cart", "checkout→payments", "payments→ledger", "web→checkout"},
			order:    []string{"ledger-deploy", "ledger-old-deploy"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := c.q
			q.Service, q.At, q.Breach = "checkout", T0, &breach
			q.Before, q.After = graph.DefaultBefore, graph.DefaultAfter
			got, err := graph.BuildContext(context.Background(), s, q)
			if err != nil {
				t.Fatal(err)
			}
			var gotNearby []nearby
			for _, n := range got.Services {
				gotNearby = append(gotNearby, nearby{n.Service, n.Hops, n.Relation})
			}
			if fmt.Sprint(gotNearby) != fmt.Sprint(c.services) {
				t.Errorf("services = %v; want %v", gotNearby, c.services)
			}
			var edges []string
			for _, e := range got.Edges {
				edges = append(edges, e.From+"→"+e.To)
			}
			if fmt.Sprint(edges) != fmt.Sprint(c.edges) {
				t.Errorf("edges = %v; want %v", edges, c.edges)
			}
			if c.order != nil {
				checkEvidenceChanges(t, sc, c.name, got.Changes, c.order)
			} else {
				checkChanges(t, sc, got.Changes, c.changes)
			}
			if wantTrunc := c.q.First != 0; got.Truncated != wantTrunc {
				t.Errorf("truncated = %v; want %v", got.Truncated, wantTrunc)
			}
		})
	}

	t.Run("edge counts in the window", func(t *testing.T) {
		got, err := graph.BuildContext(context.Background(), s, graph.ContextQuery{Service: "checkout", At: T0, Before: 2 * time.Hour, After: 15 * time.Minute, Breach: &breach})
		if err != nil {
			t.Fatal(err)
		}
		// [T0-2h, T0+15m) holds the buckets T0-120m..T0+14m: 135 of them.
		want := map[string][2]int64{
			"checkout→payments": {135 * 200, 135 * 2},
			"payments→ledger":   {135 * 100, 114*1 + 13*20 + 8*1},
		}
		for _, e := range got.Edges {
			if w, ok := want[e.From+"→"+e.To]; ok && (e.Calls != w[0] || e.Errors != w[1]) {
				t.Errorf("%s→%s: %d calls, %d errors; want %d, %d", e.From, e.To, e.Calls, e.Errors, w[0], w[1])
			}
		}
	})

	t.Run("as of last week", func(t *testing.T) {
		// A week earlier checkout still called legacy-auth, and nothing
		// else carried calls.
		at := T0.Add(-7 * 24 * time.Hour)
		got, err := graph.BuildContext(context.Background(), s, graph.ContextQuery{Service: "checkout", At: at, Before: 2 * time.Hour, After: 15 * time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range got.Services {
			names = append(names, n.Service)
		}
		if fmt.Sprint(names) != "[checkout legacy-auth]" {
			t.Errorf("services = %v; want [checkout legacy-auth]", names)
		}
		checkChanges(t, sc, got.Changes, []wantChange{{"legacy-deploy-last-week",
			half(10*time.Minute) * hop(1) * graph.NoRiseFactor, // 0.401
			1, dep, []string{"checkout", "legacy-auth"},
			[]string{
				"deployed 10 min before 14:00 UTC",
				"checkout calls legacy-auth (1 hop)",
				"no error rise on checkout→legacy-auth in the 25 min after this change (0.0% before, 0.0% after)",
			}, false}})
	})
}

func checkChanges(t *testing.T, sc scenario, got []graph.RankedChange, want []wantChange) {
	t.Helper()
	names := map[string]string{}
	for name, id := range sc.ids {
		names[id] = name
	}
	var gotNames, wantNames []string
	for _, c := range got {
		gotNames = append(gotNames, names[c.Event.ID])
	}
	for _, w := range want {
		wantNames = append(wantNames, w.event)
	}
	if !sameStrings(gotNames, wantNames) {
		t.Fatalf("ranked changes = %v; want %v", gotNames, wantNames)
	}
	for i, w := range want {
		c := got[i]
		if c.Rank != i+1 {
			t.Errorf("%s: rank %d; want %d", w.event, c.Rank, i+1)
		}
		// Scores are rounded to 0.001.
		if math.Abs(c.Score-w.score) > 0.0006 {
			t.Errorf("%s: score %.3f; want %.3f", w.event, c.Score, w.score)
		}
		if c.Hops != w.hops || c.Relation != w.relation || strings.Join(c.Path, " ") != strings.Join(w.path, " ") {
			t.Errorf("%s: %d hops, %s, path %v; want %d, %s, %v", w.event, c.Hops, c.Relation, c.Path, w.hops, w.relation, w.path)
		}
		if c.Symptom != w.symptom {
			t.Errorf("%s: symptom %v; want %v", w.event, c.Symptom, w.symptom)
		}
		// Each reason must say what the expected one says; wording added
		// after it (a parenthetical hint) is free.
		ok := len(c.Reasons) == len(w.reasons)
		for j := 0; ok && j < len(w.reasons); j++ {
			ok = strings.HasPrefix(c.Reasons[j], w.reasons[j])
		}
		if !ok {
			t.Errorf("%s: reasons\n got %q\nwant %q", w.event, c.Reasons, w.reasons)
		}
	}
}

// checkEvidenceChanges checks an answer ranked by evidence: the order of
// the changes, and everything else about them against a golden file that
// every store shares (testdata/contract/NAME.golden.json from the project
// root; SREGRAPH_UPDATE_GOLDEN=1 rewrites it).
func checkEvidenceChanges(t *testing.T, sc scenario, name string, got []graph.RankedChange, order []string) {
	t.Helper()
	names := map[string]string{}
	for n, id := range sc.ids {
		names[id] = n
	}
	type change struct {
		Name     string           `json:"name"`
		Rank     int              `json:"rank"`
		Score    float64          `json:"score"`
		Hops     int              `json:"hops"`
		Relation graph.Direction  `json:"relation"`
		Path     []string         `json:"path"`
		Reasons  []string         `json:"reasons"`
		Symptom  bool             `json:"symptom,omitempty"`
		Evidence []graph.Evidence `json:"evidence,omitempty"`
	}
	var gotNames []string
	var answer []change
	for _, c := range got {
		n := names[c.Event.ID]
		if n == "" {
			n = string(c.Event.Kind) + ":" + c.Event.Service
		}
		gotNames = append(gotNames, n)
		answer = append(answer, change{n, c.Rank, c.Score, c.Hops, c.Relation, c.Path, c.Reasons, c.Symptom, c.Evidence})
	}
	if !sameStrings(gotNames, order) {
		t.Fatalf("ranked changes = %v; want %v", gotNames, order)
	}
	data, err := json.MarshalIndent(answer, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, '\n')
	path := filepath.Join("..", "..", "testdata", "contract", strings.ReplaceAll(name, " ", "-")+".golden.json")
	if os.Getenv("SREGRAPH_UPDATE_GOLDEN") != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (set SREGRAPH_UPDATE_GOLDEN=1 to write it)", err)
	}
	if !bytes.Equal(data, want) {
		t.Errorf("answer differs from %s (the same for every store):\n got %s", path, data)
	}
}
