package graphtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// T0 is the instant the cases are built around.
var T0 = time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)

// Now is the clock stores under test should be given: an hour after T0.
func Now() time.Time { return T0.Add(time.Hour) }

// Run runs every contract case, each on a fresh store from open.
func Run(t *testing.T, open func(t *testing.T) Store) {
	cases := []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"ApplyIsIdempotent", testApplyIdempotent},
		{"ApplyConcurrently", testApplyConcurrent},
		{"ApplyRejectsBadNames", testApplyRejects},
		{"MergeSemantics", testMerge},
		{"EventNotFound", testEventNotFound},
		{"EventFilters", testEventFilters},
		{"EventPagination", testEventPagination},
		{"Services", testServices},
		{"EdgesTouching", testEdges},
		{"EdgeFirstLastSeen", testEdgeSeen},
		{"EdgeConnectionType", testEdgeConnection},
		{"CallBucketProducers", testProducers},
		{"EdgeLatency", testEdgeLatency},
		{"DeleteBefore", testDeleteBefore},
		{"BreachContext", testBreachContext},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			if err := s.Ping(context.Background()); err != nil {
				t.Fatalf("ping a fresh store: %v", err)
			}
			c.run(t, s)
		})
	}
}

// MustEvent builds a normalised event (so its ID is the one ingest would
// give it) from the source "test" with the given external id.
func MustEvent(tb testing.TB, kind graph.Kind, service string, at time.Time, ext string) graph.Event {
	tb.Helper()
	e := graph.Event{Kind: kind, Service: service, At: at, Source: "test", ExternalID: ext,
		Summary: fmt.Sprintf("%s on %s (%s)", kind, service, ext), Attributes: map[string]any{"ext": ext, "n": 1.0}}
	if err := e.Normalize(time.Time{}); err != nil {
		tb.Fatalf("normalise event %s: %v", ext, err)
	}
	return e
}

// MustApply applies b and fails the test on error.
func MustApply(tb testing.TB, s Store, b graph.Batch) graph.Written {
	tb.Helper()
	w, err := s.Apply(context.Background(), b)
	if err != nil {
		tb.Fatalf("apply: %v", err)
	}
	return w
}

func bucket(from, to string, start time.Time, calls, errs int64) graph.CallBucket {
	return graph.CallBucket{From: from, To: to, Start: start, Producer: "p0", Calls: calls, Errors: errs, LatencySum: time.Duration(calls) * time.Millisecond}
}

// eventJSON renders an event canonically for comparison.
func eventJSON(e graph.Event) string {
	e.At = e.At.UTC()
	if e.End != nil {
		end := e.End.UTC()
		e.End = &end
	}
	b, _ := json.Marshal(e)
	return string(b)
}

func ids(evs []graph.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func sameStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func checkWritten(t *testing.T, what string, w graph.Written, ins, upd, dup int) {
	t.Helper()
	if w.Inserted != ins || w.Updated != upd || w.Duplicates != dup || len(w.New) != ins+upd {
		t.Errorf("%s: wrote %d inserted, %d updated, %d duplicates, %d new; want %d, %d, %d, %d",
			what, w.Inserted, w.Updated, w.Duplicates, len(w.New), ins, upd, dup, ins+upd)
	}
}

func testApplyIdempotent(t *testing.T, s Store) {
	ctx := context.Background()
	deploy := MustEvent(t, graph.KindDeploy, "checkout", T0.Add(-10*time.Minute), "d1")
	scale := MustEvent(t, graph.KindScale, "payments", T0.Add(-5*time.Minute), "s1")
	ticket := MustEvent(t, graph.KindTicket, "payments", T0.Add(-20*time.Minute), "t1")
	b := graph.Batch{
		Events:       []graph.Event{deploy, scale, ticket},
		Dependencies: []graph.Dependency{{From: "checkout", To: "payments", Source: "backstage"}},
		Calls: []graph.CallBucket{
			bucket("checkout", "payments", T0.Add(-2*time.Minute), 100, 3),
			bucket("checkout", "payments", T0.Add(-1*time.Minute), 50, 1),
		},
		Services: []graph.Service{{Name: "checkout", Owner: "team-checkout"}},
	}
	w := MustApply(t, s, b)
	checkWritten(t, "first apply", w, 3, 0, 0)
	for i, e := range w.New {
		if eventJSON(e) != eventJSON(b.Events[i]) {
			t.Errorf("first apply: new[%d] = %s, want %s", i, eventJSON(e), eventJSON(b.Events[i]))
		}
	}
	w = MustApply(t, s, b)
	checkWritten(t, "same batch again", w, 0, 0, 3)

	n, err := s.CountEvents(ctx, graph.EventFilter{})
	if err != nil || n != 3 {
		t.Errorf("count after two applies = %d, %v; want 3", n, err)
	}
	acts, err := s.EdgesTouching(ctx, []string{"checkout"}, T0.Add(-time.Hour), T0)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 {
		t.Fatalf("edges after two applies: %+v; want one", acts)
	}
	calls, errs := acts[0].Totals(T0.Add(-time.Hour), T0)
	if !acts[0].Declared || calls != 150 || errs != 4 || len(acts[0].Buckets) != 2 {
		t.Errorf("edge after two applies: declared %v, %d calls, %d errors, %d buckets; want declared, 150, 4, 2",
			acts[0].Declared, calls, errs, len(acts[0].Buckets))
	}

	// One event twice in one batch: the second is a duplicate of the first.
	flag := MustEvent(t, graph.KindFlag, "cart", T0.Add(-3*time.Minute), "f1")
	w = MustApply(t, s, graph.Batch{Events: []graph.Event{flag, flag}})
	checkWritten(t, "event twice in one batch", w, 1, 0, 1)
}

func testApplyConcurrent(t *testing.T, s Store) {
	ctx := context.Background()
	var evs []graph.Event
	for i := range 40 {
		evs = append(evs, MustEvent(t, graph.Kinds[i%len(graph.Kinds)], fmt.Sprintf("svc-%d", i%7), T0.Add(-time.Duration(i)*time.Minute), fmt.Sprintf("c%d", i)))
	}
	const writers = 4
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total graph.Written
		errs  []error
	)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := s.Apply(ctx, graph.Batch{Events: evs})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			total.Inserted += w.Inserted
			total.Updated += w.Updated
			total.Duplicates += w.Duplicates
			total.New = append(total.New, w.New...)
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("concurrent apply: %v", errs)
	}
	checkWritten(t, "4 concurrent applies of one batch", total, len(evs), 0, (writers-1)*len(evs))
	n, err := s.CountEvents(ctx, graph.EventFilter{})
	if err != nil || n != len(evs) {
		t.Errorf("count = %d, %v; want %d", n, err, len(evs))
	}
}

func testApplyRejects(t *testing.T, s Store) {
	ctx := context.Background()
	bad := []graph.Batch{
		{Calls: []graph.CallBucket{{From: "a\x00b", To: "c", Start: T0, Producer: "p", Calls: 1}}},
		{Dependencies: []graph.Dependency{{From: "a/b", To: "c"}}},
		{Services: []graph.Service{{Name: "x\ny"}}},
	}
	for i, b := range bad {
		if _, err := s.Apply(ctx, b); !errors.Is(err, graph.ErrInvalid) {
			t.Errorf("batch %d: err = %v; want ErrInvalid", i, err)
		}
	}
}

func testMerge(t *testing.T, s Store) {
	ctx := context.Background()
	open := MustEvent(t, graph.KindSLOBreach, "checkout", T0, "fp1")
	MustApply(t, s, graph.Batch{Events: []graph.Event{open}})

	resolved := open
	end := T0.Add(25 * time.Minute)
	resolved.End = &end
	resolved.Summary = "resolved"
	w := MustApply(t, s, graph.Batch{Events: []graph.Event{resolved}})
	checkWritten(t, "resolve", w, 0, 1, 0)
	if len(w.New) == 1 && (w.New[0].End == nil || !w.New[0].End.Equal(end) || w.New[0].Summary != "resolved") {
		t.Errorf("resolve: new = %s; want the closed breach", eventJSON(w.New[0]))
	}
	// The firing alert delivered again after the resolve changes nothing.
	w = MustApply(t, s, graph.Batch{Events: []graph.Event{open}})
	checkWritten(t, "late firing redelivery", w, 0, 0, 1)
	got, err := s.Event(ctx, open.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.End == nil || !got.End.Equal(end) {
		t.Errorf("breach after redelivery: end %v; want %v", got.End, end)
	}
	openOnly, err := s.Events(ctx, graph.EventFilter{Kinds: []graph.Kind{graph.KindSLOBreach}, OpenOnly: true})
	if err != nil || len(openOnly.Items) != 0 {
		t.Errorf("open breaches after resolve: %v, %v; want none", ids(openOnly.Items), err)
	}

	// A ticket keeps its start; a newer report updates its state and an
	// older one arriving late changes nothing but what it alone said.
	v1 := MustEvent(t, graph.KindTicket, "payments", T0.Add(-time.Hour), "JIRA-1")
	v1.Summary = "opened"
	v1.Attributes["status"] = "To Do"
	v2 := v1
	v2.At = T0.Add(-30 * time.Minute)
	v2.Summary = "in progress"
	v2.Attributes = map[string]any{"ext": "JIRA-1", "n": 1.0, "status": "In Progress"}
	MustApply(t, s, graph.Batch{Events: []graph.Event{v1}})
	w = MustApply(t, s, graph.Batch{Events: []graph.Event{v2}})
	checkWritten(t, "newer report", w, 0, 1, 0)
	w = MustApply(t, s, graph.Batch{Events: []graph.Event{v1}})
	checkWritten(t, "older report late", w, 0, 0, 1)
	got, err = s.Event(ctx, v1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(v1.At) || got.Summary != "in progress" || got.Attributes["status"] != "In Progress" {
		t.Errorf("ticket stored as %s; want the start of the first report and the state of the newer", eventJSON(got))
	}

	// A deploy happened when it first happened: a repeat (Flux's
	// reconcile loop) never moves it, an earlier copy arriving late does.
	d1 := MustEvent(t, graph.KindDeploy, "ledger", T0.Add(-20*time.Minute), "ledger@731f7ea")
	d2 := d1
	d2.At = T0.Add(-9 * time.Minute)
	d2.Attributes = map[string]any{"ext": "ledger@731f7ea", "n": 2.0}
	MustApply(t, s, graph.Batch{Events: []graph.Event{d1}})
	w = MustApply(t, s, graph.Batch{Events: []graph.Event{d2, d2}})
	checkWritten(t, "deploy repeats", w, 0, 0, 2)
	got, err = s.Event(ctx, d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if eventJSON(got) != eventJSON(d1) {
		t.Errorf("deploy after its repeats: %s; want the first report %s", eventJSON(got), eventJSON(d1))
	}
	d0 := d1
	d0.At = T0.Add(-40 * time.Minute)
	w = MustApply(t, s, graph.Batch{Events: []graph.Event{d0}})
	checkWritten(t, "deploy's earlier report late", w, 0, 1, 0)
	// The deploy moved back in time: every index must follow it.
	for _, f := range []graph.EventFilter{
		{Services: []string{"ledger"}, From: T0.Add(-30 * time.Minute)},
		{Kinds: []graph.Kind{graph.KindDeploy}, From: T0.Add(-30 * time.Minute)},
		{From: T0.Add(-30 * time.Minute)},
	} {
		p, err := s.Events(ctx, f)
		if err != nil || containsID(p.Items, d1.ID) {
			t.Errorf("events %+v after the deploy's first time: %v, %v; want it absent", f, ids(p.Items), err)
		}
		f.From, f.To = time.Time{}, T0.Add(-30*time.Minute)
		p, err = s.Events(ctx, f)
		if err != nil || !containsID(p.Items, d1.ID) {
			t.Errorf("events %+v: %v, %v; want the deploy", f, ids(p.Items), err)
		}
	}

	// A Replace batch (a scenario loaded again, later) moves the deploy
	// forward; its own repeats still merge.
	moved := d1
	moved.At = T0.Add(-5 * time.Minute)
	repeat := moved
	repeat.At = T0.Add(-2 * time.Minute)
	w = MustApply(t, s, graph.Batch{Events: []graph.Event{moved, repeat}, Replace: true})
	checkWritten(t, "replace batch", w, 0, 1, 1)
	got, err = s.Event(ctx, d1.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(moved.At) {
		t.Errorf("deploy after a replace batch at %s; want %s", got.At, moved.At)
	}

	// An SLO breach made of several alerts (Sloth's page and ticket
	// alerts) is one episode: open while any alert fires, resolved at the
	// last alert's resolve, with the worst severity and every window.
	alert := func(status, sev string, starts, ends time.Duration) map[string]any {
		a := map[string]any{"status": status, "severity": sev, "window": sev, "startsAt": T0.Add(starts).Format(time.RFC3339Nano)}
		if status == "resolved" {
			a["endsAt"] = T0.Add(ends).Format(time.RFC3339Nano)
		}
		return a
	}
	report := func(at time.Duration, alerts map[string]any) graph.Event {
		e := MustEvent(t, graph.KindSLOBreach, "search", T0.Add(at), "sloth:search-availability")
		e.Attributes = map[string]any{graph.BreachAlertsAttr: alerts}
		return e
	}
	page := report(-50*time.Minute, map[string]any{"page": alert("firing", "page", -50*time.Minute, 0)})
	ticket := report(-35*time.Minute, map[string]any{"ticket": alert("firing", "ticket", -35*time.Minute, 0)})
	pageResolved := report(-50*time.Minute, map[string]any{"page": alert("resolved", "page", -50*time.Minute, -20*time.Minute)})
	ticketResolved := report(-35*time.Minute, map[string]any{"ticket": alert("resolved", "ticket", -35*time.Minute, -10*time.Minute)})
	MustApply(t, s, graph.Batch{Events: []graph.Event{page, ticket}})
	w = MustApply(t, s, graph.Batch{Events: []graph.Event{pageResolved, page}})
	checkWritten(t, "page resolved, then its firing again", w, 0, 1, 1)
	stillOpen, err := s.Events(ctx, graph.EventFilter{Services: []string{"search"}, OpenOnly: true})
	if err != nil || !containsID(stillOpen.Items, page.ID) {
		t.Errorf("open breaches of search while the ticket alert fires: %v, %v; want %s", ids(stillOpen.Items), err, page.ID)
	}
	MustApply(t, s, graph.Batch{Events: []graph.Event{ticketResolved}})
	got, err = s.Event(ctx, page.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.At.Equal(T0.Add(-50*time.Minute)) || got.End == nil || !got.End.Equal(T0.Add(-10*time.Minute)) ||
		got.Attributes["severity"] != "page" || fmt.Sprint(got.Attributes["windows"]) != "[page ticket]" {
		t.Errorf("breach after both resolves: %s; want 13:10..13:50, severity page, windows page and ticket", eventJSON(got))
	}
}

func containsID(evs []graph.Event, id string) bool {
	for _, e := range evs {
		if e.ID == id {
			return true
		}
	}
	return false
}

func testEventNotFound(t *testing.T, s Store) {
	ctx := context.Background()
	if _, err := s.Event(ctx, "no-such-id"); !errors.Is(err, graph.ErrNotFound) {
		t.Errorf("event no-such-id: err = %v; want ErrNotFound", err)
	}
	if _, err := s.Service(ctx, "no-such-service"); !errors.Is(err, graph.ErrNotFound) {
		t.Errorf("service no-such-service: err = %v; want ErrNotFound", err)
	}
}

// listingEvents is a spread of kinds, services and instants, with ties on
// the same instant (ordered by ID) and an open and a closed breach.
func listingEvents(t *testing.T) []graph.Event {
	var evs []graph.Event
	services := []string{"checkout", "payments", "ledger"}
	for i := range 30 {
		at := T0.Add(-time.Duration(i/2) * 7 * time.Minute) // pairs share an instant
		kind := graph.Kinds[i%len(graph.Kinds)]
		e := MustEvent(t, kind, services[i%len(services)], at, fmt.Sprintf("l%02d", i))
		if kind == graph.KindSLOBreach && i%2 == 0 {
			end := at.Add(10 * time.Minute)
			e.End = &end
		}
		evs = append(evs, e)
	}
	return evs
}

// expected is the reference answer: the filter applied to every event, in
// listing order.
func expected(evs []graph.Event, f graph.EventFilter) []graph.Event {
	var out []graph.Event
	for i := range evs {
		if f.Matches(&evs[i]) {
			out = append(out, evs[i])
		}
	}
	graph.SortEvents(out)
	return out
}

func testEventFilters(t *testing.T, s Store) {
	ctx := context.Background()
	evs := listingEvents(t)
	MustApply(t, s, graph.Batch{Events: evs})
	filters := []struct {
		name string
		f    graph.EventFilter
	}{
		{"all", graph.EventFilter{}},
		{"one service", graph.EventFilter{Services: []string{"payments"}}},
		{"two services", graph.EventFilter{Services: []string{"ledger", "checkout"}}},
		{"unknown service", graph.EventFilter{Services: []string{"nobody"}}},
		{"kinds", graph.EventFilter{Kinds: []graph.Kind{graph.KindDeploy, graph.KindConfig}}},
		{"breaches open only", graph.EventFilter{Kinds: []graph.Kind{graph.KindSLOBreach}, OpenOnly: true}},
		{"open only", graph.EventFilter{OpenOnly: true}},
		{"window inclusive", graph.EventFilter{From: T0.Add(-35 * time.Minute), To: T0.Add(-14 * time.Minute)}},
		{"from only", graph.EventFilter{From: T0.Add(-21 * time.Minute)}},
		{"to only", graph.EventFilter{To: T0.Add(-77 * time.Minute)}},
		{"services kinds window", graph.EventFilter{Services: []string{"checkout", "payments"}, Kinds: []graph.Kind{graph.KindDeploy, graph.KindScale, graph.KindTicket, graph.KindAnomaly}, From: T0.Add(-70 * time.Minute), To: T0}},
		{"empty window", graph.EventFilter{From: T0.Add(time.Minute), To: T0.Add(time.Hour)}},
		{"services open only", graph.EventFilter{Services: []string{"checkout", "payments", "ledger"}, OpenOnly: true}},
	}
	for _, c := range filters {
		t.Run(c.name, func(t *testing.T) {
			want := expected(evs, c.f)
			f := c.f
			f.First = 1000
			page, err := s.Events(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if !sameStrings(ids(page.Items), ids(want)) || page.HasNext {
				t.Errorf("events = %v (next %v); want %v", ids(page.Items), page.HasNext, ids(want))
			}
			for i := range page.Items {
				if i < len(want) && eventJSON(page.Items[i]) != eventJSON(want[i]) {
					t.Errorf("event %d = %s; want %s", i, eventJSON(page.Items[i]), eventJSON(want[i]))
				}
			}
			n, err := s.CountEvents(ctx, c.f)
			if err != nil || n != len(want) {
				t.Errorf("count = %d, %v; want %d", n, err, len(want))
			}
		})
	}
	if len(expected(evs, graph.EventFilter{Kinds: []graph.Kind{graph.KindSLOBreach}, OpenOnly: true})) == 0 {
		t.Fatal("the listing events should include an open breach")
	}
}

func testEventPagination(t *testing.T, s Store) {
	ctx := context.Background()
	evs := listingEvents(t)
	MustApply(t, s, graph.Batch{Events: evs})
	for _, c := range []struct {
		name  string
		f     graph.EventFilter
		first int
	}{
		{"all by 4", graph.EventFilter{}, 4},
		{"all by 7", graph.EventFilter{}, 7},
		{"services by 3", graph.EventFilter{Services: []string{"checkout", "ledger"}}, 3},
		{"services kinds by 2", graph.EventFilter{Services: []string{"payments", "checkout", "ledger"}, Kinds: []graph.Kind{graph.KindDeploy, graph.KindScale, graph.KindSLOBreach}}, 2},
		{"kinds by 2", graph.EventFilter{Kinds: []graph.Kind{graph.KindDeploy, graph.KindRollback, graph.KindScale}}, 2},
		{"window by 5", graph.EventFilter{From: T0.Add(-60 * time.Minute), To: T0.Add(-7 * time.Minute)}, 5},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := expected(evs, c.f)
			var got []graph.Event
			f := c.f
			f.First = c.first
			for pages := 0; ; pages++ {
				if pages > len(evs) {
					t.Fatal("pagination does not end")
				}
				page, err := s.Events(ctx, f)
				if err != nil {
					t.Fatal(err)
				}
				if len(page.Items) > c.first {
					t.Fatalf("page of %d items; asked for %d", len(page.Items), c.first)
				}
				got = append(got, page.Items...)
				if !page.HasNext {
					break
				}
				if len(page.Items) != c.first {
					t.Fatalf("short page of %d with a next page", len(page.Items))
				}
				last := page.Items[len(page.Items)-1]
				f.After = graph.EncodeCursor(last.At, last.ID)
			}
			if !sameStrings(ids(got), ids(want)) {
				t.Errorf("pages = %v; want %v", ids(got), ids(want))
			}
		})
	}
	// A cursor in the middle of a tie on one instant continues with the
	// larger IDs of that instant.
	all := expected(evs, graph.EventFilter{})
	for i := 0; i+1 < len(all); i++ {
		if !all[i].At.Equal(all[i+1].At) {
			continue
		}
		page, err := s.Events(ctx, graph.EventFilter{After: graph.EncodeCursor(all[i].At, all[i].ID), First: 1})
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != all[i+1].ID {
			t.Errorf("after the cursor at %d: %v, %v; want %s", i, ids(page.Items), err, all[i+1].ID)
		}
		break
	}
	if _, err := s.Events(ctx, graph.EventFilter{After: "!!not a cursor"}); !errors.Is(err, graph.ErrInvalid) {
		t.Errorf("bad cursor: err = %v; want ErrInvalid", err)
	}
}

func testServices(t *testing.T, s Store) {
	ctx := context.Background()
	d1 := MustEvent(t, graph.KindDeploy, "Checkout-API", T0.Add(-3*time.Hour), "s1")
	d1.Environment = "prod"
	d2 := MustEvent(t, graph.KindDeploy, "Checkout-API", T0.Add(-time.Hour), "s2")
	d3 := MustEvent(t, graph.KindDeploy, "payments", T0.Add(-2*time.Hour), "s3")
	MustApply(t, s, graph.Batch{
		Events:       []graph.Event{d2, d1, d3},
		Dependencies: []graph.Dependency{{From: "payments", To: "ledger", Source: "backstage"}},
		Calls: []graph.CallBucket{
			bucket("web", "search", T0.Add(-50*time.Minute), 10, 0),
			bucket("web", "search", T0.Add(-40*time.Minute), 10, 0),
		},
		Services: []graph.Service{{Name: "payments", Owner: "team-pay", Environment: "prod-eu"}},
	})
	sv, err := s.Service(ctx, "Checkout-API")
	if err != nil {
		t.Fatal(err)
	}
	if !sv.FirstSeen.Equal(d1.At) || !sv.LastSeen.Equal(d2.At) || sv.Environment != "prod" {
		t.Errorf("Checkout-API = %+v; want first seen %v, last seen %v, environment prod", sv, d1.At, d2.At)
	}
	sv, err = s.Service(ctx, "payments")
	if err != nil || sv.Owner != "team-pay" || sv.Environment != "prod-eu" {
		t.Errorf("payments = %+v, %v; want owner team-pay, environment prod-eu", sv, err)
	}
	sv, err = s.Service(ctx, "search")
	if err != nil || !sv.FirstSeen.Equal(T0.Add(-50*time.Minute)) || !sv.LastSeen.Equal(T0.Add(-40*time.Minute)) {
		t.Errorf("search = %+v, %v; want seen from its call buckets", sv, err)
	}
	if _, err := s.Service(ctx, "ledger"); err != nil {
		t.Errorf("ledger, named only by a dependency: %v", err)
	}
	// A later batch widens the seen range and keeps the owner.
	MustApply(t, s, graph.Batch{Events: []graph.Event{MustEvent(t, graph.KindScale, "payments", T0.Add(-4*time.Hour), "s4")}})
	sv, err = s.Service(ctx, "payments")
	if err != nil || !sv.FirstSeen.Equal(T0.Add(-4*time.Hour)) || sv.Owner != "team-pay" {
		t.Errorf("payments after a second batch = %+v, %v", sv, err)
	}

	all := []string{"Checkout-API", "ledger", "payments", "search", "web"}
	for _, c := range []struct {
		query string
		first int
		want  []string
	}{
		{"", 2, all},
		{"", 50, all},
		{"A", 2, []string{"Checkout-API", "payments", "search"}},
		{"checkout", 1, []string{"Checkout-API"}},
		{"zzz", 3, nil},
	} {
		var got []string
		f := graph.ServiceFilter{Query: c.query, First: c.first}
		for pages := 0; ; pages++ {
			if pages > len(all)+1 {
				t.Fatal("service pagination does not end")
			}
			page, err := s.Services(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) > c.first {
				t.Fatalf("page of %d services; asked for %d", len(page.Items), c.first)
			}
			for _, sv := range page.Items {
				got = append(got, sv.Name)
			}
			if !page.HasNext {
				break
			}
			f.After = graph.EncodeNameCursor(page.Items[len(page.Items)-1].Name)
		}
		if !sameStrings(got, c.want) {
			t.Errorf("services %q by %d = %v; want %v", c.query, c.first, got, c.want)
		}
		n, err := s.CountServices(ctx, graph.ServiceFilter{Query: c.query})
		if err != nil || n != len(c.want) {
			t.Errorf("count services %q = %d, %v; want %d", c.query, n, err, len(c.want))
		}
	}
}

// edgeView is an edge as a test compares it.
type edgeView struct {
	From, To      string
	Declared      bool
	Calls, Errors int64
	Buckets       int
}

func view(acts []graph.EdgeActivity, from, to time.Time) []edgeView {
	out := make([]edgeView, len(acts))
	for i, a := range acts {
		c, e := a.Totals(from, to)
		out[i] = edgeView{a.From, a.To, a.Declared, c, e, len(a.Buckets)}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

func testEdges(t *testing.T, s Store) {
	ctx := context.Background()
	var calls []graph.CallBucket
	for m := range 10 {
		at := T0.Add(time.Duration(m) * time.Minute)
		calls = append(calls,
			bucket("a", "b", at, 10, int64(m%2)),
			bucket("b", "c", at, 20, 0),
			bucket("e", "f", at, 5, 0),
		)
	}
	// An a→b bucket a week before: outside every window below.
	calls = append(calls, bucket("a", "b", T0.Add(-7*24*time.Hour), 999, 9))
	MustApply(t, s, graph.Batch{
		Calls: calls,
		Dependencies: []graph.Dependency{
			{From: "d", To: "a", Source: "backstage"},
			{From: "b", To: "c", Source: "backstage"},
		},
	})
	from, to := T0.Add(2*time.Minute), T0.Add(7*time.Minute) // buckets 2..6
	for _, c := range []struct {
		services []string
		want     []edgeView
	}{
		{[]string{"a"}, []edgeView{{"a", "b", false, 50, 2, 5}, {"d", "a", true, 0, 0, 0}}},
		{[]string{"b"}, []edgeView{{"a", "b", false, 50, 2, 5}, {"b", "c", true, 100, 0, 5}}},
		{[]string{"a", "b"}, []edgeView{{"a", "b", false, 50, 2, 5}, {"b", "c", true, 100, 0, 5}, {"d", "a", true, 0, 0, 0}}},
		{[]string{"c"}, []edgeView{{"b", "c", true, 100, 0, 5}}},
		{[]string{"nobody"}, []edgeView{}},
	} {
		acts, err := s.EdgesTouching(ctx, c.services, from, to)
		if err != nil {
			t.Fatal(err)
		}
		got := view(acts, from, to)
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("edges touching %v = %+v; want %+v", c.services, got, c.want)
		}
		for _, a := range acts {
			for i, b := range a.Buckets {
				if b.Start().Before(from) || !b.Start().Before(to) {
					t.Errorf("%s→%s: bucket %v outside [%v, %v)", a.From, a.To, b.Start(), from, to)
				}
				if i > 0 && !a.Buckets[i-1].Start().Before(b.Start()) {
					t.Errorf("%s→%s: buckets not oldest first", a.From, a.To)
				}
			}
		}
	}
	// A window with no calls on an undeclared edge drops it.
	acts, err := s.EdgesTouching(ctx, []string{"a"}, T0.Add(-time.Hour), T0)
	if err != nil {
		t.Fatal(err)
	}
	if got := view(acts, T0.Add(-time.Hour), T0); fmt.Sprint(got) != fmt.Sprint([]edgeView{{"d", "a", true, 0, 0, 0}}) {
		t.Errorf("edges of a in the hour before = %+v; want only the declared d→a", got)
	}
}

// seenView is an edge's first and last seen as a test compares them.
type seenView struct {
	From, To    string
	First, Last time.Time
}

func seenViews(acts []graph.EdgeActivity) []seenView {
	out := make([]seenView, len(acts))
	for i, a := range acts {
		out[i] = seenView{a.From, a.To, a.FirstSeen, a.LastSeen}
	}
	return out
}

func sameSeen(got, want []seenView) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].From != want[i].From || got[i].To != want[i].To ||
			!got[i].First.Equal(want[i].First) || !got[i].Last.Equal(want[i].Last) {
			return false
		}
	}
	return true
}

func testEdgeSeen(t *testing.T, s Store) {
	ctx := context.Background()
	// Instants inside their minutes: an edge is seen at its buckets' starts.
	t1 := T0.Add(-50*time.Minute + 17*time.Second)
	t2 := T0.Add(-30*time.Minute + 5*time.Second)
	t3 := T0.Add(-10*time.Minute + 59*time.Second)
	m1, m2, m3 := t1.Truncate(time.Minute), t2.Truncate(time.Minute), t3.Truncate(time.Minute)
	other := func(c graph.CallBucket) graph.CallBucket { c.Producer = "p1"; return c }
	for _, b := range []graph.Batch{
		{Calls: []graph.CallBucket{bucket("api", "db", t1, 10, 0)},
			Dependencies: []graph.Dependency{{From: "web", To: "api", Source: "backstage"}}},
		{Calls: []graph.CallBucket{bucket("api", "db", t3, 10, 1), bucket("api", "cache", t2, 3, 0)}},
		{Calls: []graph.CallBucket{other(bucket("api", "db", t2, 4, 0))}},
		// Redeliveries change nothing.
		{Calls: []graph.CallBucket{bucket("api", "db", t1, 10, 0)}},
		{Calls: []graph.CallBucket{bucket("api", "db", t3, 10, 1), other(bucket("api", "db", t2, 4, 0))}},
	} {
		MustApply(t, s, b)
	}
	all := []seenView{{"api", "cache", m2, m2}, {"api", "db", m1, m3}, {"web", "api", time.Time{}, time.Time{}}}
	for _, c := range []struct {
		name     string
		services []string
		from, to time.Time
		want     []seenView
	}{
		{"from the caller", []string{"api"}, T0.Add(-time.Hour), T0, all},
		{"from the callees", []string{"db", "cache"}, T0.Add(-time.Hour), T0, all[:2]},
		{"from both ends", []string{"api", "db", "cache", "web"}, T0.Add(-time.Hour), T0, all},
		// A window holding only the middle bucket still sees the whole span.
		{"around t2", []string{"db"}, m2, m2.Add(time.Minute), all[1:2]},
	} {
		acts, err := s.EdgesTouching(ctx, c.services, c.from, c.to)
		if err != nil {
			t.Fatal(err)
		}
		if got := seenViews(acts); !sameSeen(got, c.want) {
			t.Errorf("%s: first and last seen = %+v; want %+v", c.name, got, c.want)
		}
	}
	nb, err := graph.Walk(ctx, s, graph.NeighbourhoodQuery{Service: "db", From: T0.Add(-time.Hour), To: T0, Depth: 2, Direction: graph.Both})
	if err != nil {
		t.Fatal(err)
	}
	var got []seenView
	for _, e := range nb.Edges {
		got = append(got, seenView{e.From, e.To, e.FirstSeen, e.LastSeen})
	}
	// cache is reached from db only by changing direction: not a neighbour.
	if want := all[1:]; !sameSeen(got, want) {
		t.Errorf("neighbourhood edges first and last seen = %+v; want %+v", got, want)
	}
	// Retention removes buckets, not the first seen.
	if _, _, err := s.DeleteBefore(ctx, m2); err != nil {
		t.Fatal(err)
	}
	acts, err := s.EdgesTouching(ctx, []string{"db"}, T0.Add(-time.Hour), T0)
	if err != nil {
		t.Fatal(err)
	}
	if got := seenViews(acts); !sameSeen(got, all[1:2]) {
		t.Errorf("after retention: first and last seen = %+v; want %+v", got, all[1:2])
	}
}

func testEdgeConnection(t *testing.T, s Store) {
	ctx := context.Background()
	m1, m2, m3 := T0.Add(-50*time.Minute), T0.Add(-30*time.Minute), T0.Add(-10*time.Minute)
	typed := func(c graph.CallBucket, conn graph.ConnectionType, producer string) graph.CallBucket {
		c.ConnectionType, c.Producer = conn, producer
		return c
	}
	for _, b := range []graph.Batch{
		// The latest bucket's type is the edge's, whatever order they come in.
		{Calls: []graph.CallBucket{typed(bucket("api", "orders-db", m2, 5, 0), graph.ConnectionDatabase, "p0")}},
		{Calls: []graph.CallBucket{typed(bucket("api", "orders-db", m1, 5, 0), graph.ConnectionVirtual, "p0")}},
		// One bucket, two producers: the higher ranked type wins, in
		// either order.
		{Calls: []graph.CallBucket{typed(bucket("api", "billing", m3, 1, 0), graph.ConnectionVirtual, "p0")}},
		{Calls: []graph.CallBucket{typed(bucket("api", "billing", m3, 1, 0), graph.ConnectionNone, "p1")}},
		{Calls: []graph.CallBucket{typed(bucket("api", "events", m3, 2, 0), graph.ConnectionMessaging, "p0"),
			typed(bucket("api", "events", m3, 2, 0), graph.ConnectionVirtual, "p1")}},
		// An uninstrumented payment provider later instrumented: the
		// later plain calls replace the virtual node.
		{Calls: []graph.CallBucket{typed(bucket("api", "payments", m1, 1, 0), graph.ConnectionVirtual, "p0")}},
		{Calls: []graph.CallBucket{typed(bucket("api", "payments", m2, 1, 0), graph.ConnectionNone, "p0")}},
		{Calls: []graph.CallBucket{typed(bucket("user", "api", m2, 7, 1), graph.ConnectionVirtual, "p0")}},
		// A redelivered older bucket changes nothing.
		{Calls: []graph.CallBucket{typed(bucket("api", "orders-db", m1, 5, 0), graph.ConnectionVirtual, "p0")}},
	} {
		MustApply(t, s, b)
	}
	want := "api->billing:, api->events:messaging_system, api->orders-db:database, api->payments:, user->api:virtual_node"
	acts, err := s.EdgesTouching(ctx, []string{"api"}, T0.Add(-time.Hour), T0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range acts {
		got = append(got, a.From+"->"+a.To+":"+string(a.ConnectionType))
	}
	if g := strings.Join(got, ", "); g != want {
		t.Errorf("connection types = %s; want %s", g, want)
	}
	nb, err := graph.Walk(ctx, s, graph.NeighbourhoodQuery{Service: "api", From: T0.Add(-time.Hour), To: T0, Depth: 1, Direction: graph.Both})
	if err != nil {
		t.Fatal(err)
	}
	got = got[:0]
	for _, e := range nb.Edges {
		got = append(got, e.From+"->"+e.To+":"+string(e.ConnectionType))
	}
	if g := strings.Join(got, ", "); g != want {
		t.Errorf("neighbourhood connection types = %s; want %s", g, want)
	}
	// Retention keeps the type with the first and last seen.
	if _, _, err := s.DeleteBefore(ctx, m2); err != nil {
		t.Fatal(err)
	}
	if acts, err = s.EdgesTouching(ctx, []string{"orders-db"}, T0.Add(-time.Hour), T0); err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || acts[0].ConnectionType != graph.ConnectionDatabase {
		t.Errorf("after retention: %+v; want api->orders-db a database connection", acts)
	}
}

func testProducers(t *testing.T, s Store) {
	ctx := context.Background()
	at := T0.Add(-5 * time.Minute)
	b := func(producer string, calls, errs int64) graph.CallBucket {
		c := bucket("checkout", "payments", at, calls, errs)
		c.Producer = producer
		return c
	}
	MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{b("p1", 10, 1)}})
	MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{b("p1", 7, 2)}}) // replaces p1
	MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{b("p2", 5, 0)}}) // adds to the sum
	MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{b("p2", 5, 0)}}) // a repeat: no change
	acts, err := s.EdgesTouching(ctx, []string{"payments"}, T0.Add(-time.Hour), T0)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 || len(acts[0].Buckets) != 1 {
		t.Fatalf("edges = %+v; want one edge with one bucket", acts)
	}
	got := acts[0].Buckets[0]
	if !got.Start().Equal(at) || got.Calls != 12 || got.Errors != 2 {
		t.Errorf("bucket = %+v; want %v with 12 calls (7 + 5) and 2 errors", got, at)
	}
}

func testEdgeLatency(t *testing.T, s Store) {
	ctx := context.Background()
	type h = [graph.LatencyBuckets]int64
	b := func(from, to string, at time.Time, producer string, calls int64, sum time.Duration, hist h) graph.CallBucket {
		return graph.CallBucket{From: from, To: to, Start: at, Producer: producer, Calls: calls, LatencySum: sum, Latency: hist}
	}
	start, end := T0.Add(-90*time.Minute), T0
	recent := T0.Add(-5 * time.Minute)
	MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{
		b("checkout", "payments", recent, "p1", 10, 400*time.Millisecond, h{0: 4, 3: 6}),
		b("checkout", "payments", start, "p1", 1, 90*time.Millisecond, h{4: 1}),              // at the start: in
		b("checkout", "payments", end, "p1", 100, time.Second, h{0: 100}),                    // at the end: out
		b("checkout", "payments", T0.Add(-2*time.Hour), "p1", 3, 3*time.Second, h{9: 3}),     // before: out
		b("checkout", "payments", T0.Add(-80*time.Minute), "p1", 2, 2*time.Millisecond, h{}), // no histogram
		b("payments", "checkout", recent, "p1", 50, 50*time.Second, h{9: 50}),                // the other way
		b("checkout", "payments-db", recent, "p1", 20, 20*time.Millisecond, h{0: 20}),        // another callee
		b("checkout-web", "payments", recent, "p1", 30, 30*time.Millisecond, h{0: 30}),       // another caller
	}})
	MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{
		b("checkout", "payments", recent, "p1", 7, 70*time.Millisecond, h{1: 7}), // replaces p1
		b("checkout", "payments", recent, "p2", 5, 15*time.Second, h{9: 5}),      // adds to the sum
	}})
	MustApply(t, s, graph.Batch{Calls: []graph.CallBucket{
		b("checkout", "payments", recent, "p2", 5, 15*time.Second, h{9: 5}), // a repeat: no change
	}})
	for _, tc := range []struct {
		name       string
		from, to   string
		start, end time.Time
		sum        time.Duration
		hist       h
		calls      int64
	}{
		{"window", "checkout", "payments", start, end,
			70*time.Millisecond + 15*time.Second + 90*time.Millisecond + 2*time.Millisecond, h{1: 7, 4: 1, 9: 5}, 7 + 5 + 1 + 2},
		{"one minute", "checkout", "payments", recent, recent.Add(time.Minute),
			70*time.Millisecond + 15*time.Second, h{1: 7, 9: 5}, 12},
		{"a day", "checkout", "payments", T0.Add(-24 * time.Hour), T0.Add(time.Hour),
			70*time.Millisecond + 15*time.Second + 90*time.Millisecond + 2*time.Millisecond + time.Second + 3*time.Second,
			h{0: 100, 1: 7, 4: 1, 9: 5 + 3}, 7 + 5 + 1 + 2 + 100 + 3},
		{"reverse edge", "payments", "checkout", start, end, 50 * time.Second, h{9: 50}, 50},
		{"unknown edge", "checkout", "nowhere", start, end, 0, h{}, 0},
		{"empty window", "checkout", "payments", end, start, 0, h{}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sum, hist, calls, err := s.EdgeLatency(ctx, tc.from, tc.to, tc.start, tc.end)
			if err != nil {
				t.Fatal(err)
			}
			if sum != tc.sum || hist != tc.hist || calls != tc.calls {
				t.Errorf("EdgeLatency(%s->%s) = %s, %v, %d calls; want %s, %v, %d calls",
					tc.from, tc.to, sum, hist, calls, tc.sum, tc.hist, tc.calls)
			}
		})
	}
}

func testDeleteBefore(t *testing.T, s Store) {
	ctx := context.Background()
	cut := T0
	closedOld := MustEvent(t, graph.KindSLOBreach, "checkout", cut.Add(-3*time.Hour), "old-closed")
	end := cut.Add(-2 * time.Hour)
	closedOld.End = &end
	openOld := MustEvent(t, graph.KindDeploy, "checkout", cut.Add(-3*time.Hour), "old-open")
	longRunning := MustEvent(t, graph.KindIncident, "payments", cut.Add(-3*time.Hour), "long")
	endLater := cut.Add(time.Hour)
	longRunning.End = &endLater
	recent := MustEvent(t, graph.KindDeploy, "payments", cut.Add(10*time.Minute), "recent")
	atCut := MustEvent(t, graph.KindScale, "payments", cut, "at-cut")
	var calls []graph.CallBucket
	for m := -3; m < 3; m++ {
		calls = append(calls, bucket("checkout", "payments", cut.Add(time.Duration(m)*time.Minute), 10, 0))
	}
	calls = append(calls, bucket("checkout", "payments", cut.Add(-26*time.Hour), 10, 0))
	MustApply(t, s, graph.Batch{
		Events:       []graph.Event{closedOld, openOld, longRunning, recent, atCut},
		Calls:        calls,
		Dependencies: []graph.Dependency{{From: "web", To: "checkout", Source: "backstage"}},
	})
	events, buckets, err := s.DeleteBefore(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if events != 2 || buckets != 4 {
		t.Errorf("deleted %d events and %d buckets; want 2 and 4", events, buckets)
	}
	for _, id := range []string{closedOld.ID, openOld.ID} {
		if _, err := s.Event(ctx, id); !errors.Is(err, graph.ErrNotFound) {
			t.Errorf("deleted event %s: err = %v; want ErrNotFound", id, err)
		}
	}
	kept := []string{recent.ID, atCut.ID, longRunning.ID}
	for _, f := range []graph.EventFilter{
		{},
		{Services: []string{"checkout", "payments"}},
		{Kinds: []graph.Kind{graph.KindSLOBreach, graph.KindDeploy, graph.KindIncident, graph.KindScale}},
	} {
		page, err := s.Events(ctx, f)
		if err != nil || !sameStrings(ids(page.Items), kept) {
			t.Errorf("events %+v after delete = %v, %v; want %v", f, ids(page.Items), err, kept)
		}
		if n, err := s.CountEvents(ctx, f); err != nil || n != len(kept) {
			t.Errorf("count %+v after delete = %d, %v; want %d", f, n, err, len(kept))
		}
	}
	acts, err := s.EdgesTouching(ctx, []string{"checkout"}, cut.Add(-30*time.Hour), cut.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []edgeView{{"checkout", "payments", false, 30, 0, 3}, {"web", "checkout", true, 0, 0, 0}}
	if got := view(acts, cut.Add(-30*time.Hour), cut.Add(time.Hour)); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("edges after delete = %+v; want %+v", got, want)
	}
	if _, _, n, err := s.EdgeLatency(ctx, "checkout", "payments", cut.Add(-30*time.Hour), cut.Add(time.Hour)); err != nil || n != 30 {
		t.Errorf("latency calls after delete = %d, %v; want the 30 kept", n, err)
	}
	if _, err := s.Service(ctx, "checkout"); err != nil {
		t.Errorf("service after delete: %v", err)
	}
	// Again: nothing left to delete.
	events, buckets, err = s.DeleteBefore(ctx, cut)
	if err != nil || events != 0 || buckets != 0 {
		t.Errorf("second delete = %d, %d, %v; want nothing", events, buckets, err)
	}
}
