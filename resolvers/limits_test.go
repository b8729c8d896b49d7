package resolvers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// slowStore is the demo store whose neighbourhood reads (what changesNear
// and Breach.context do first) wait until released or until their
// context ends, as a slow read over a large graph would.
type slowStore struct {
	store
	release chan struct{}
	running atomic.Int32
	entered chan struct{}
}

func newSlowStore(t *testing.T) *slowStore {
	return &slowStore{store: mustDemoStore(t), release: make(chan struct{}), entered: make(chan struct{}, 100)}
}

func (s *slowStore) EdgesTouching(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error) {
	s.running.Add(1)
	defer s.running.Add(-1)
	s.entered <- struct{}{}
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(10 * time.Second):
	}
	return s.store.EdgesTouching(ctx, services, from, to)
}

const nearQuery = `{"query":"{ changesNear(service: \"checkout\", at: \"2026-11-21T11:40:00Z\") { changes { rank } } }"}`

type gqlAnswer struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlErr        `json:"errors"`
}

func postGQL(t *testing.T, url, body string, hdr map[string]string) gqlAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return gqlAnswer{}
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return gqlAnswer{}
	}
	defer resp.Body.Close()
	var a gqlAnswer
	if err := json.NewDecoder(resp.Body).Decode(&a); err != nil {
		t.Errorf("answer is not JSON: %v", err)
	}
	return a
}

func hasCode(a gqlAnswer, code string) bool {
	for _, e := range a.Errors {
		if e.Extensions["code"] == code {
			return true
		}
	}
	return false
}

// TestQueryDeadline: a query still running at the per-request deadline is
// cut off, its resolvers see the deadline, and the answer says it timed
// out and what to do; a cheap query still answers.
func TestQueryDeadline(t *testing.T) {
	s := newSlowStore(t)
	srv := httptest.NewServer(New(Options{Store: s, Now: func() time.Time { return demoNow }, Timeout: 200 * time.Millisecond}))
	defer srv.Close()
	defer close(s.release)
	start := time.Now()
	a := postGQL(t, srv.URL, nearQuery, nil)
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the query took %s; the deadline is 200ms", took)
	}
	if !hasCode(a, "TIMEOUT") || !strings.Contains(a.Errors[0].Message, "200ms") {
		t.Fatalf("errors %+v; want code TIMEOUT naming the 200ms limit", a.Errors)
	}
	if a := postGQL(t, srv.URL, `{"query":"{ services { totalCount } }"}`, nil); len(a.Errors) != 0 {
		t.Errorf("a cheap query: %+v", a.Errors)
	}
}

// TestExpensiveQueryCap: at most MaxConcurrentExpensive changesNear or
// Breach.context operations run at once per client; one more is refused
// at once with RETRY_LATER, while cheap queries and other clients go on,
// and a slot frees when a query ends.
func TestExpensiveQueryCap(t *testing.T) {
	s := newSlowStore(t)
	h := New(Options{Store: s, Now: func() time.Time { return demoNow }, MaxConcurrentExpensive: 2})
	// Tokens name the client (the server's authentication sets it).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if tok := r.Header.Get("X-Test-Token"); tok != "" {
			r = r.WithContext(WithClient(r.Context(), tok))
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	var wg sync.WaitGroup
	first := make([]gqlAnswer, 2)
	for i := range first {
		wg.Add(1)
		go func() { defer wg.Done(); first[i] = postGQL(t, srv.URL, nearQuery, nil) }()
	}
	for range first {
		select {
		case <-s.entered:
		case <-time.After(5 * time.Second):
			t.Fatal("the first queries did not start")
		}
	}
	a := postGQL(t, srv.URL, nearQuery, nil)
	if !hasCode(a, "RETRY_LATER") || !strings.Contains(a.Errors[0].Message, "retry") {
		t.Fatalf("a third expensive query: %+v; want RETRY_LATER saying to retry", a.Errors)
	}
	ctxQuery := `{"query":"{ breaches(first: 1) { nodes { context { changes { rank } } } } }"}`
	if a := postGQL(t, srv.URL, ctxQuery, nil); !hasCode(a, "RETRY_LATER") {
		t.Errorf("a Breach.context query over the cap: %+v; want RETRY_LATER", a.Errors)
	}
	if a := postGQL(t, srv.URL, `{"query":"{ services { totalCount } }"}`, nil); len(a.Errors) != 0 {
		t.Errorf("a cheap query while the cap is reached: %+v", a.Errors)
	}
	other := make(chan gqlAnswer, 1)
	go func() { other <- postGQL(t, srv.URL, nearQuery, map[string]string{"X-Test-Token": "other"}) }()
	select {
	case <-s.entered:
	case a := <-other:
		t.Fatalf("another client's query was not run: %+v", a.Errors)
	case <-time.After(5 * time.Second):
		t.Fatal("another client's query did not start")
	}
	close(s.release)
	wg.Wait()
	for i, a := range append(first, <-other) {
		if len(a.Errors) != 0 {
			t.Errorf("query %d: %+v", i, a.Errors)
		}
	}
	if a := postGQL(t, srv.URL, nearQuery, nil); len(a.Errors) != 0 {
		t.Errorf("after the running queries ended: %+v", a.Errors)
	}
}
