package graph

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// memSource is an in-memory ContextSource for testing the engine alone.
type memSource struct {
	events []Event
	edges  []EdgeActivity
}

func (m *memSource) EdgesTouching(_ context.Context, services []string, from, to time.Time) ([]EdgeActivity, error) {
	var out []EdgeActivity
	for _, e := range m.edges {
		if !containsString(services, e.From) && !containsString(services, e.To) {
			continue
		}
		a := EdgeActivity{From: e.From, To: e.To, Declared: e.Declared}
		for _, b := range e.Buckets {
			if !b.Start().Before(from) && b.Start().Before(to) {
				a.Buckets = append(a.Buckets, b)
			}
		}
		if a.Declared || len(a.Buckets) > 0 {
			out = append(out, a)
		}
	}
	return out, nil
}

func (m *memSource) Events(_ context.Context, f EventFilter) (Page[Event], error) {
	var out []Event
	for _, e := range m.events {
		if f.Matches(&e) {
			out = append(out, e)
		}
	}
	SortEvents(out)
	return Page[Event]{Items: out}, nil
}

// calls makes per-minute buckets on an edge from start for n minutes, with
// the error ratio switching at switchAt.
func calls(from, to string, start time.Time, n int, perMin int64, errBefore, errAfter float64, switchAt time.Time) EdgeActivity {
	a := EdgeActivity{From: from, To: to}
	for i := 0; i < n; i++ {
		s := start.Add(time.Duration(i) * time.Minute)
		ratio := errBefore
		if !s.Before(switchAt) {
			ratio = errAfter
		}
		a.Buckets = append(a.Buckets, BucketCount{Minute: MinuteOf(s), Calls: perMin, Errors: int64(float64(perMin) * ratio)})
	}
	return a
}

// withWindow gives q the schema's default window.
func withWindow(q ContextQuery) ContextQuery {
	q.Before, q.After = DefaultBefore, DefaultAfter
	return q
}

func ev(kind Kind, service string, at time.Time, summary string) Event {
	e := Event{Kind: kind, Service: service, At: at, Source: "test", Summary: summary, ExternalID: summary}
	if err := e.Normalize(time.Time{}); err != nil {
		panic(err)
	}
	return e
}

// scenario: web → checkout → payments → ledger; fraud ← payments;
// search is unrelated. The breach is on checkout.
func scenario(breach time.Time) *memSource {
	start := breach.Add(-4 * time.Hour)
	n := int((4*time.Hour + 15*time.Minute) / time.Minute)
	culprit := breach.Add(-7 * time.Minute)
	return &memSource{
		edges: []EdgeActivity{
			calls("web", "checkout", start, n, 200, 0.001, 0.001, breach),
			calls("checkout", "payments", start, n, 100, 0.002, 0.04, culprit),
			calls("payments", "ledger", start, n, 1000, 0.002, 0.09, culprit),
			calls("payments", "fraud", start, n, 50, 0.0, 0.0, breach),
			calls("search", "catalog", start, n, 50, 0.0, 0.0, breach),
			// An edge that existed only last week must not appear.
			calls("checkout", "legacy", breach.Add(-7*24*time.Hour), 60, 10, 0, 0, breach),
		},
		events: []Event{
			ev(KindDeploy, "ledger", culprit, "ledger 2.14.0 deployed"),
			ev(KindDeploy, "checkout", breach.Add(-95*time.Minute), "checkout 7.1.0 deployed"),
			ev(KindDeploy, "web", breach.Add(-10*time.Minute), "web 3.3.0 deployed"),
			ev(KindDeploy, "search", culprit, "search 1.0.1 deployed"),
			ev(KindRollback, "checkout", breach.Add(5*time.Minute), "checkout rolled back"),
			ev(KindDeploy, "fraud", breach.Add(-3*time.Hour), "fraud 0.9 deployed (outside the window)"),
			ev(KindDeploy, "legacy", breach.Add(-20*time.Minute), "legacy deployed"),
			ev(KindAnomaly, "payments", breach.Add(-5*time.Minute), "payments error ratio up"),
			ev(KindScale, "payments", breach.Add(-30*time.Minute), "payments scaled 4→6"),
		},
	}
}

func TestBuildContextRanksTheCulpritFirst(t *testing.T) {
	breach := time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC)
	q := withWindow(ContextQuery{Service: "checkout", At: breach, Breach: &Breach{ID: "b1", Service: "checkout", StartedAt: breach}})
	c, err := BuildContext(context.Background(), scenario(breach), q)
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, ch := range c.Changes {
		order = append(order, ch.Event.Service+"/"+string(ch.Event.Kind))
	}
	// The verdict on ledger stays in the answer as the alternative,
	// scored by the little the deploy leaves unexplained.
	want := []string{"ledger/deploy", "payments/scale", "web/deploy", "checkout/deploy", "checkout/rollback", "ledger/degradation", "payments/anomaly"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Fatalf("ranking = %v\nwant      %v", order, want)
	}
	if alt := c.Changes[5]; !strings.Contains(alt.Event.Summary, "unless a change ranked above caused it") || alt.Score >= c.Changes[0].Score/4 {
		t.Errorf("ledger's verdict = %q (score %.3f); want it well below the deploy, as the alternative", alt.Event.Summary, alt.Score)
	}
	top := c.Changes[0]
	if top.Rank != 1 || top.Hops != 2 || top.Relation != Dependencies || strings.Join(top.Path, ">") != "checkout>payments>ledger" {
		t.Fatalf("top = %+v", top)
	}
	reasons := strings.Join(top.Reasons, "\n")
	for _, want := range []string{"deployed 7 min before the breach", "checkout → payments → ledger", "errors on payments→ledger rose from 0.2% to 9.0%", "as the degradation began at 11:43"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("top reasons lack %q:\n%s", want, reasons)
		}
	}
	last := c.Changes[len(c.Changes)-1]
	if !last.Symptom || last.Score > c.Changes[len(c.Changes)-2].Score {
		t.Errorf("the anomaly must come last and score no higher than the weakest cause: %+v", last)
	}
	for i := 1; i < len(c.Changes); i++ {
		if c.Changes[i].Score > c.Changes[i-1].Score {
			t.Errorf("scores not descending at rank %d", i+1)
		}
	}
	var names []string
	for _, s := range c.Services {
		names = append(names, fmt.Sprintf("%s:%d:%s", s.Service, s.Hops, s.Relation))
	}
	if got := strings.Join(names, " "); got != "checkout:0:BOTH payments:1:DEPENDENCIES web:1:DEPENDENTS fraud:2:DEPENDENCIES ledger:2:DEPENDENCIES" {
		t.Errorf("neighbourhood = %s", got)
	}
	if len(c.Edges) != 4 {
		t.Errorf("edges = %+v", c.Edges)
	}
}

func TestBuildContextDirectionAndDepth(t *testing.T) {
	breach := time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC)
	src := scenario(breach)
	tests := []struct {
		name  string
		q     ContextQuery
		names string
	}{
		// Errors on payments→ledger start below the depth asked for: the
		// evidence follows them to ledger, where they start.
		{"depth 1 follows the degradation", ContextQuery{Depth: 1}, "checkout payments web ledger"},
		{"dependencies", ContextQuery{Direction: Dependencies}, "checkout payments fraud ledger"},
		{"dependents", ContextQuery{Direction: Dependents, Depth: 3}, "checkout web"},
		{"week ago: the legacy edge existed then", ContextQuery{At: breach.Add(-7*24*time.Hour + 30*time.Minute), Depth: 1}, "checkout legacy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Service = "checkout"
			if q.At.IsZero() {
				q.At = breach
			}
			c, err := BuildContext(context.Background(), src, withWindow(q))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range c.Services {
				names = append(names, s.Service)
			}
			if got := strings.Join(names, " "); got != tt.names {
				t.Fatalf("services = %q, want %q", got, tt.names)
			}
		})
	}
}

func TestRankSupersession(t *testing.T) {
	breach := time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC)
	src := &memSource{events: []Event{
		ev(KindDeploy, "api", breach.Add(-20*time.Minute), "api 1"),
		ev(KindDeploy, "api", breach.Add(-10*time.Minute), "api 2"),
	}}
	c, err := BuildContext(context.Background(), src, withWindow(ContextQuery{Service: "api", At: breach}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Changes[0].Event.Summary != "api 2" || !strings.Contains(strings.Join(c.Changes[1].Reasons, " "), "superseded by a later deploy on api 10 min after it") {
		t.Fatalf("changes = %+v", c.Changes)
	}
}

func TestRankIsDeterministic(t *testing.T) {
	breach := time.Date(2026, 11, 21, 11, 50, 0, 0, time.UTC)
	a, _ := BuildContext(context.Background(), scenario(breach), withWindow(ContextQuery{Service: "checkout", At: breach, Depth: 3}))
	for i := 0; i < 20; i++ {
		b, _ := BuildContext(context.Background(), scenario(breach), withWindow(ContextQuery{Service: "checkout", At: breach, Depth: 3}))
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatal("same data gave a different answer")
		}
	}
}

// The events of services the evidence adds after the walk are merged into
// those read during the analysis in listing order, cut at the limit.
func TestMergePages(t *testing.T) {
	at := time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)
	e := func(id string, min int) Event { return Event{ID: id, At: at.Add(time.Duration(min) * time.Minute)} }
	walked := Page[Event]{Items: []Event{e("b", 5), e("a", 1)}}
	added := Page[Event]{Items: []Event{e("d", 5), e("c", 3)}}
	tests := []struct {
		first       int
		x, y        Page[Event]
		want        string
		wantHasNext bool
	}{
		{first: 10, x: walked, y: added, want: "b d c a"},
		{first: 3, x: walked, y: added, want: "b d c", wantHasNext: true},
		{first: 10, x: Page[Event]{Items: walked.Items, HasNext: true}, y: added, want: "b d c a", wantHasNext: true},
		{first: 10, x: walked, y: Page[Event]{}, want: "b a"},
	}
	for _, tc := range tests {
		got := mergePages(tc.x, tc.y, tc.first)
		var ids []string
		for _, ev := range got.Items {
			ids = append(ids, ev.ID)
		}
		if s := strings.Join(ids, " "); s != tc.want || got.HasNext != tc.wantHasNext {
			t.Errorf("first %d: got %q (hasNext %v), want %q (hasNext %v)", tc.first, s, got.HasNext, tc.want, tc.wantHasNext)
		}
	}
}
