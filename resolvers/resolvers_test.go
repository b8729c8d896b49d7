package resolvers

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
	"github.com/sregraph/sregraph/ingest/scenario"
	"github.com/sregraph/sregraph/ingest/scenario/scenariotest"
)

var demoNow = scenariotest.Now()

// mustDemoStore opens an embedded store with the demo scenario loaded,
// its breach at demoNow-20m.
func mustDemoStore(tb testing.TB) *pebble.Store {
	tb.Helper()
	s := pebbletest.MustOpen(tb, pebble.Options{Now: func() time.Time { return demoNow }})
	b, err := scenario.Load(scenariotest.Dir(), scenariotest.Breach(), demoNow)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.Apply(context.Background(), b); err != nil {
		tb.Fatal(err)
	}
	return s
}

func newClient(s store, o Options) *client.Client {
	o.Store = s
	o.Now = func() time.Time { return demoNow }
	if o.PublicURL == "" {
		o.PublicURL = "https://sregraph.example.com"
	}
	return client.New(New(o))
}

type gqlErr struct {
	Message    string
	Extensions map[string]any
}

// post runs a query and returns the raw data and the errors.
func post(t *testing.T, c *client.Client, q string, opts ...client.Option) (json.RawMessage, []gqlErr) {
	t.Helper()
	resp, err := c.RawPost(q, opts...)
	if err != nil {
		// The client turns non-200 answers (validation failures) into
		// errors that carry the body.
		_, body, ok := strings.Cut(err.Error(), ": ")
		var env struct{ Errors []gqlErr }
		if !ok || json.Unmarshal([]byte(body), &env) != nil {
			t.Fatal(err)
		}
		return nil, env.Errors
	}
	var errs []gqlErr
	if len(resp.Errors) > 0 {
		if err := json.Unmarshal(resp.Errors, &errs); err != nil {
			t.Fatal(err)
		}
	}
	raw, _ := json.Marshal(resp.Data)
	return raw, errs
}

// mustPost runs a query that must succeed and decodes its data with
// encoding/json (so times and custom types decode as in any client).
func mustPost(t *testing.T, c *client.Client, q string, out any, opts ...client.Option) {
	t.Helper()
	data, errs := post(t, c, q, opts...)
	if len(errs) > 0 {
		t.Fatalf("%s: %+v", q, errs)
	}
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
}

func openBreach(t *testing.T, c *client.Client) (id string, started time.Time) {
	t.Helper()
	var r struct {
		Breaches struct {
			TotalCount int
			Nodes      []struct {
				ID        string
				StartedAt time.Time
				URL       string
			}
		}
	}
	mustPost(t, c, `{ breaches(openOnly: true) { totalCount nodes { id startedAt url } } }`, &r)
	if r.Breaches.TotalCount != 1 || len(r.Breaches.Nodes) != 1 {
		t.Fatalf("want one open breach in the demo, got %+v", r)
	}
	n := r.Breaches.Nodes[0]
	if n.URL != "https://sregraph.example.com/breaches/"+n.ID {
		t.Errorf("url = %q", n.URL)
	}
	return n.ID, n.StartedAt
}

func TestChangesNearAndBreachContextAgree(t *testing.T) {
	c := newClient(mustDemoStore(t), Options{})
	id, started := openBreach(t, c)

	type change struct {
		Rank     int
		Score    float64
		Hops     int
		Relation string
		Path     []string
		Reasons  []string
		Event    struct {
			Kind    string
			Summary string
			Service struct{ Name string }
		}
	}
	var near struct {
		ChangesNear struct {
			Focus    struct{ Name string }
			Services []struct {
				Service  struct{ Name string }
				Hops     int
				Relation string
			}
			Edges []struct {
				From, To      string
				Calls, Errors int
			}
			Changes []change
		}
	}
	mustPost(t, c, `query($at: Time!) { changesNear(service: "checkout", at: $at) {
		focus { name } services { service { name } hops relation } edges { from to calls errors }
		changes { rank score hops relation path reasons event { kind summary service { name } } } } }`,
		&near, client.Var("at", started.Format(time.RFC3339)))
	ch := near.ChangesNear.Changes
	if len(ch) == 0 || ch[0].Event.Summary != "ledger 2.14.0 deployed" || ch[0].Event.Kind != "DEPLOY" || ch[0].Relation != "DEPENDENCIES" {
		t.Fatalf("top change = %+v", ch)
	}
	if near.ChangesNear.Services[0].Service.Name != "checkout" || near.ChangesNear.Services[0].Relation != "BOTH" {
		t.Errorf("focus must come first: %+v", near.ChangesNear.Services[0])
	}
	if len(near.ChangesNear.Edges) == 0 {
		t.Error("no call edges in the neighbourhood")
	}

	var viaBreach struct {
		Breach struct {
			Context struct{ Changes []change }
		}
	}
	mustPost(t, c, `query($id: ID!) { breach(id: $id) { context { changes { rank score hops relation path reasons event { kind summary service { name } } } } } }`,
		&viaBreach, client.Var("id", id))
	got := viaBreach.Breach.Context.Changes
	if len(got) != len(ch)-0 && len(got) != len(ch)-1 {
		t.Errorf("breach context has %d changes, changesNear %d", len(got), len(ch))
	}
	if got[0].Event.Summary != ch[0].Event.Summary || got[0].Score != ch[0].Score {
		t.Errorf("breach context top %+v differs from changesNear top %+v", got[0], ch[0])
	}
	for _, c := range got {
		if c.Event.Kind == "SLO_BREACH" && c.Event.Service.Name == "checkout" && c.Rank == 1 {
			t.Error("the breach itself must not be its own suspect")
		}
	}
}

// TestContextEvidence reads the evidence as a dashboard would: the origin
// of the demo breach, and the shift the culprit explains, as fields.
func TestContextEvidence(t *testing.T) {
	c := newClient(mustDemoStore(t), Options{})
	type evidence struct {
		Signal, From, To string
		Onset            time.Time
		Before, After    float64
	}
	var r struct {
		ChangesNear struct {
			Origins []struct {
				Service  string
				Onset    time.Time
				Linked   bool
				Evidence []evidence
			}
			Changes []struct {
				Event    struct{ Kind, Summary string }
				Evidence []evidence
			}
		}
	}
	at := demoNow.Add(-20 * time.Minute)
	mustPost(t, c, `query($at: Time!) { changesNear(service: "checkout", at: $at) {
		origins { service onset linked evidence { signal from to onset before after } }
		changes { event { kind summary } evidence { signal from to onset before after } } } }`,
		&r, client.Var("at", at.Format(time.RFC3339)))
	o := r.ChangesNear.Origins
	if len(o) == 0 || o[0].Service != "ledger" || !o[0].Linked {
		t.Fatalf("origins = %+v; want ledger first, reached from checkout", o)
	}
	if d := at.Sub(o[0].Onset); d < 0 || d > 10*time.Minute {
		t.Errorf("ledger's onset %s is not in the minutes before the breach %s", o[0].Onset, at)
	}
	top := r.ChangesNear.Changes[0]
	if top.Event.Summary != "ledger 2.14.0 deployed" || len(top.Evidence) == 0 {
		t.Fatalf("top change = %+v; want ledger 2.14.0 with evidence", top)
	}
	e := top.Evidence[0]
	if e.To != "ledger" || e.Signal != "ERRORS" || !(e.After > 10*e.Before) {
		t.Errorf("culprit evidence = %+v; want errors into ledger rising tenfold", e)
	}
}

// TestSharedInputOrigin reads, as a dashboard would, an origin whose
// degradation is in what it sends: the poison-message scenario's queue,
// whose consumers fail together, and its producer's release first.
func TestSharedInputOrigin(t *testing.T) {
	b, err := scenario.Load("../testdata/scenarios/26-producer-poison-messages.json", scenario.Anchor, scenario.Anchor.Add(20*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	s := pebbletest.MustOpen(t, pebble.Options{Now: func() time.Time { return demoNow }})
	if _, err := s.Apply(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	var r struct {
		ChangesNear struct {
			Origins []struct {
				Service                     string
				SharedInput, CallerSpecific bool
				Evidence                    []struct{ From, To string }
			}
			Changes []struct {
				Event struct {
					Kind    string
					Service struct{ Name string }
				}
				Reasons []string
			}
		}
	}
	mustPost(t, newClient(s, Options{}), `query($at: Time!) { changesNear(service: "push-fanout", at: $at) {
		origins { service sharedInput callerSpecific evidence { from to } }
		changes { event { kind service { name } } reasons } } }`,
		&r, client.Var("at", scenario.Anchor.Format(time.RFC3339)))
	o := r.ChangesNear.Origins
	if len(o) == 0 || o[0].Service != "kafka-messages" || !o[0].SharedInput || o[0].CallerSpecific {
		t.Fatalf("origins = %+v; want kafka-messages first, a shared input", o)
	}
	fed := map[string]bool{}
	for _, e := range o[0].Evidence {
		if e.From != "kafka-messages" {
			t.Errorf("shared-input evidence %+v is not on calls kafka-messages sends", e)
		}
		fed[e.To] = true
	}
	if !fed["push-fanout"] || !fed["search-indexer"] {
		t.Errorf("shared-input evidence reaches %v; want push-fanout and search-indexer", fed)
	}
	top := r.ChangesNear.Changes[0]
	if top.Event.Kind != "DEPLOY" || top.Event.Service.Name != "chat-api" || !strings.Contains(strings.Join(top.Reasons, " "), "chat-api feeds kafka-messages") {
		t.Errorf("top change = %+v; want the chat-api deploy, feeding the queue", top)
	}
}

func TestPaginationWalksEveryEventOnce(t *testing.T) {
	c := newClient(mustDemoStore(t), Options{})
	seen := map[string]bool{}
	after := ""
	total := -1
	for pages := 0; ; pages++ {
		var r struct {
			Events struct {
				TotalCount int
				Edges      []struct {
					Cursor string
					Node   struct {
						ID string
						At time.Time
					}
				}
				PageInfo struct {
					HasNextPage bool
					EndCursor   *string
				}
			}
		}
		mustPost(t, c, `query($after: String) { events(first: 7, after: $after) { totalCount edges { cursor node { id at } } pageInfo { hasNextPage endCursor } } }`,
			&r, client.Var("after", after))
		total = r.Events.TotalCount
		for _, e := range r.Events.Edges {
			if seen[e.Node.ID] {
				t.Fatalf("event %s listed twice", e.Node.ID)
			}
			seen[e.Node.ID] = true
		}
		if !r.Events.PageInfo.HasNextPage {
			break
		}
		if pages > 100 || r.Events.PageInfo.EndCursor == nil {
			t.Fatal("pagination does not end")
		}
		after = *r.Events.PageInfo.EndCursor
	}
	if len(seen) != total || total < 50 {
		t.Fatalf("walked %d events, totalCount %d", len(seen), total)
	}
}

func TestInputErrorsAreClearAndCoded(t *testing.T) {
	c := newClient(mustDemoStore(t), Options{MaxComplexity: 5000, MaxDepth: 8})
	tests := []struct {
		name, query, code, msg string
	}{
		{"depth out of range", `{ changesNear(service: "checkout", at: "2026-11-21T11:40:00Z", depth: 9) { at } }`, "BAD_USER_INPUT", "depth 9 is out of range: want 1..6"},
		{"bad duration", `{ changesNear(service: "checkout", at: "2026-11-21T11:40:00Z", before: "a while") { at } }`, "", "bad duration \"a while\""},
		{"negative duration", `{ changesNear(service: "checkout", at: "2026-11-21T11:40:00Z", after: "-5m") { at } }`, "", "must not be negative"},
		{"bad time", `{ changesNear(service: "checkout", at: "yesterday") { at } }`, "", "time"},
		{"bad direction", `{ changesNear(service: "checkout", at: "2026-11-21T11:40:00Z", direction: SIDEWAYS) { at } }`, "BAD_USER_INPUT", "no direction named `SIDEWAYS`; want one of `DEPENDENCIES`, `DEPENDENTS`, `BOTH` or `SIBLINGS`"},
		{"bad cursor", `{ events(after: "???") { totalCount } }`, "BAD_USER_INPUT", "malformed cursor"},
		{"first too large", `{ services(first: 2000) { totalCount } }`, "", "out of range"},
		{"too complex", `{ events(first: 10000) { nodes { id service { name owner } } } }`, "COMPLEXITY_LIMIT_EXCEEDED", "complexity"},
		{"too deep", `{ events(first: 1) { nodes { service { events(first: 1) { nodes { service { events(first: 1) { nodes { service { name } } } } } } } } } }`, "DEPTH_LIMIT_EXCEEDED", "levels deep"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := post(t, c, tt.query)
			if len(errs) == 0 {
				t.Fatal("no error")
			}
			e := errs[0]
			if !strings.Contains(e.Message, tt.msg) {
				t.Errorf("message %q lacks %q", e.Message, tt.msg)
			}
			if tt.code != "" && e.Extensions["code"] != tt.code {
				t.Errorf("code = %v, want %s", e.Extensions["code"], tt.code)
			}
		})
	}
	data, errs := post(t, c, `{ breach(id: "nope") { id } event(id: "nope") { id } service(name: "nope") { name } }`)
	if len(errs) > 0 || string(data) != `{"breach":null,"event":null,"service":null}` {
		t.Errorf("unknown ids must be null without errors: %s %v", data, errs)
	}
}

// failingStore answers every read with an internal failure.
type failingStore struct{ store }

var errDisk = errors.New("pebble: read /var/lib/sregraph/000123.sst: input/output error")

func (failingStore) Events(context.Context, graph.EventFilter) (graph.Page[graph.Event], error) {
	return graph.Page[graph.Event]{}, errDisk
}

func (failingStore) EdgesTouching(context.Context, []string, time.Time, time.Time) ([]graph.EdgeActivity, error) {
	return nil, errDisk
}

func TestStoreFailuresDoNotLeak(t *testing.T) {
	c := newClient(failingStore{mustDemoStore(t)}, Options{})
	for _, q := range []string{
		`{ events { totalCount nodes { id } } }`,
		`{ changesNear(service: "checkout", at: "2026-11-21T11:40:00Z") { at } }`,
	} {
		_, errs := post(t, c, q)
		if len(errs) != 1 || errs[0].Message != "internal error" || errs[0].Extensions["code"] != "INTERNAL" {
			t.Errorf("%s: errors = %+v", q, errs)
		}
		for _, e := range errs {
			if strings.Contains(e.Message, "sst") || strings.Contains(e.Message, "/var/lib") {
				t.Errorf("internal detail leaked: %q", e.Message)
			}
		}
	}
}

func TestIntrospectionCanBeTurnedOff(t *testing.T) {
	s := mustDemoStore(t)
	q := `{ __schema { queryType { name } } }`
	if _, errs := post(t, newClient(s, Options{}), q); len(errs) > 0 {
		t.Errorf("introspection on by default: %+v", errs)
	}
	if _, errs := post(t, newClient(s, Options{NoIntrospection: true}), q); len(errs) == 0 {
		t.Error("introspection still answers with NoIntrospection")
	}
}

func TestPersistedQueries(t *testing.T) {
	c := newClient(mustDemoStore(t), Options{})
	q := `{ services(first: 3) { nodes { name } } }`
	hash := "8df2a98c19f9e4e3f4cf5e15c9d8ef5b6ce8a29e2e0e0a0f8f5b4a0c3a2b1c0d"
	sum := sha256Hex(q)
	ext := func(h string) client.Option {
		return client.Extensions(map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": h}})
	}
	if _, errs := post(t, c, "", ext(sum)); len(errs) == 0 || errs[0].Message != "PersistedQueryNotFound" {
		t.Fatalf("unknown hash: %+v", errs)
	}
	if _, errs := post(t, c, q, ext(hash)); len(errs) == 0 {
		t.Fatal("a wrong hash must be refused")
	}
	if _, errs := post(t, c, q, ext(sum)); len(errs) > 0 {
		t.Fatalf("register: %+v", errs)
	}
	data, errs := post(t, c, "", ext(sum))
	if len(errs) > 0 || !strings.Contains(string(data), `"name"`) {
		t.Fatalf("by hash: %s %+v", data, errs)
	}
}

func TestIDEForBrowsers(t *testing.T) {
	h := New(Options{Store: mustDemoStore(t)})
	req := httptest.NewRequest(http.MethodGet, "/graphql", nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != http.StatusOK || !strings.Contains(strings.ToLower(string(body)), "graphiql") {
		t.Fatalf("IDE: %d %.200s", rec.Code, body)
	}
	req = httptest.NewRequest(http.MethodGet, "/graphql?query="+strings.ReplaceAll("{ services { totalCount } }", " ", "%20"), nil)
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "totalCount") {
		t.Fatalf("GET query: %d %s", rec.Code, rec.Body)
	}
}

// panickingStore panics on a read, like a bug in a store would.
type panickingStore struct{ store }

func (panickingStore) Service(context.Context, string) (graph.Service, error) {
	panic("index out of range [3] with length 3")
}

func TestPanicsAreRecoveredAndHidden(t *testing.T) {
	c := newClient(panickingStore{mustDemoStore(t)}, Options{})
	_, errs := post(t, c, `{ service(name: "checkout") { name } }`)
	if len(errs) != 1 || errs[0].Message != "internal error" || strings.Contains(errs[0].Message, "index out of range") {
		t.Fatalf("errors = %+v", errs)
	}
	// The server keeps serving.
	data, errs := post(t, c, `{ services(first: 1) { totalCount } }`)
	if len(errs) > 0 || !strings.Contains(string(data), "totalCount") {
		t.Fatalf("after a panic: %s %+v", data, errs)
	}
}

// TestConfirmCause records what caused the demo breach, reads it back on
// the breach, replaces it, and refuses what is not a cause or a caller
// without write access.
func TestConfirmCause(t *testing.T) {
	// Each confirmation is made a minute after the one before.
	clock := demoNow
	c := client.New(New(Options{Store: mustDemoStore(t), PublicURL: "https://sregraph.example.com",
		Now: func() time.Time { clock = clock.Add(time.Minute); return clock }}))
	id, _ := openBreach(t, c)
	var ctxr struct {
		Breach struct {
			Context struct {
				Changes []struct {
					Event struct{ ID, Kind, Summary string }
				}
			}
		}
	}
	mustPost(t, c, `query($id: ID!) { breach(id: $id) { context { changes { event { id kind summary } } } } }`, &ctxr, client.Var("id", id))
	culprit := ctxr.Breach.Context.Changes[0].Event
	type conf struct {
		Breach, Cause, CauseKind, CauseService, CauseSummary, Note string
	}
	var r struct{ ConfirmCause conf }
	mustPost(t, c, `mutation($b: ID!, $c: ID!) { confirmCause(breach: $b, cause: $c, note: "rolled back, errors gone") {
		breach cause causeKind causeService causeSummary note } }`, &r, client.Var("b", id), client.Var("c", culprit.ID))
	want := conf{Breach: id, Cause: culprit.ID, CauseKind: "DEPLOY", CauseService: "ledger", CauseSummary: culprit.Summary, Note: "rolled back, errors gone"}
	if r.ConfirmCause != want {
		t.Fatalf("confirmCause = %+v; want %+v", r.ConfirmCause, want)
	}
	var b struct{ Breach struct{ Confirmation *conf } }
	mustPost(t, c, `query($id: ID!) { breach(id: $id) { confirmation { breach cause causeKind causeService causeSummary note } } }`, &b, client.Var("id", id))
	if b.Breach.Confirmation == nil || *b.Breach.Confirmation != want {
		t.Fatalf("breach.confirmation = %+v; want %+v", b.Breach.Confirmation, want)
	}
	// The confirmation is a record, not a suspect.
	mustPost(t, c, `query($id: ID!) { breach(id: $id) { context { changes { event { id kind summary } } } } }`, &ctxr, client.Var("id", id))
	for _, ch := range ctxr.Breach.Context.Changes {
		if ch.Event.Kind == "CONFIRMATION" {
			t.Fatalf("a confirmation is ranked: %+v", ch)
		}
	}
	// A later confirmation replaces it: nothing changed after all.
	mustPost(t, c, `mutation($b: ID!) { confirmCause(breach: $b, cause: "degradation:ledger@1") { causeKind causeService } }`, &r, client.Var("b", id))
	mustPost(t, c, `query($id: ID!) { breach(id: $id) { confirmation { breach cause causeKind causeService causeSummary note } } }`, &b, client.Var("id", id))
	if got := b.Breach.Confirmation; got == nil || got.CauseKind != "DEGRADATION" || got.CauseService != "ledger" {
		t.Fatalf("after a second confirmation, breach.confirmation = %+v; want the degradation of ledger", got)
	}
	for _, tc := range []struct{ name, cause, want string }{
		{"unknown event", "nope", `no event with id "nope"`},
		{"the breach itself", id, "a symptom or a record, not a cause"},
		{"a degradation without a service", "degradation:", "names no service"},
	} {
		_, errs := post(t, c, `mutation($b: ID!, $c: ID!) { confirmCause(breach: $b, cause: $c) { cause } }`, client.Var("b", id), client.Var("c", tc.cause))
		if len(errs) == 0 || !strings.Contains(errs[0].Message, tc.want) {
			t.Errorf("%s: errors %+v; want one saying %q", tc.name, errs, tc.want)
		}
	}
	// A token without the ingest scope may read but not confirm.
	readOnly := client.New(WithoutWrite(New(Options{Store: mustDemoStore(t), Now: func() time.Time { return demoNow }})))
	_, errs := post(t, readOnly, `mutation($b: ID!, $c: ID!) { confirmCause(breach: $b, cause: $c) { cause } }`, client.Var("b", id), client.Var("c", culprit.ID))
	if len(errs) == 0 || !strings.Contains(errs[0].Message, "needs a token with the ingest scope") {
		t.Errorf("read-only confirmCause: errors %+v; want a refusal", errs)
	}
}

// WithoutWrite serves h as a server does for a read-only token.
func WithoutWrite(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(WithWriteAccess(r.Context(), false)))
	})
}
