package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
	"github.com/sregraph/sregraph/graph/pebble/pebbletest"
	"github.com/sregraph/sregraph/resolvers"
)

// waitingStore is an embedded store whose neighbourhood reads wait until
// released or until their context ends.
type waitingStore struct {
	*pebble.Store
	release chan struct{}
	entered chan string
}

func (s *waitingStore) EdgesTouching(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error) {
	s.entered <- ""
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Store.EdgesTouching(ctx, services, from, to)
}

// TestGraphQLCapCountsPerToken: with tokens, the cap on concurrent
// expensive GraphQL operations counts each token on its own, although
// both come from the same address.
func TestGraphQLCapCountsPerToken(t *testing.T) {
	tok, err := parseTokens([]byte(`
- {name: grafana, token: read-token-0123456789, scopes: [read]}
- {name: oncall, token: read-token-9876543210, scopes: [read]}
`), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := &waitingStore{Store: pebbletest.MustOpen(t, pebble.Options{}), release: make(chan struct{}), entered: make(chan string, 100)}
	// The service must be known: an unknown one is refused before the
	// neighbourhood is read.
	deploy := graph.Event{Kind: graph.KindDeploy, Service: "checkout", Source: "ci", ExternalID: "d1", Summary: "checkout deployed",
		At: time.Date(2026, 11, 21, 11, 0, 0, 0, time.UTC)}
	if err := deploy.Normalize(deploy.At); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Store.Apply(context.Background(), graph.Batch{Events: []graph.Event{deploy}}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(authenticate(tok, resolvers.New(resolvers.Options{Store: s, MaxConcurrentExpensive: 1})))
	defer srv.Close()
	ask := func(token string) string {
		req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{"query":"{ changesNear(service: \"checkout\", at: \"2026-11-21T11:40:00Z\") { changes { rank } } }"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return string(raw)
	}
	started := func(who string) {
		t.Helper()
		select {
		case <-s.entered:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s's query did not start", who)
		}
	}
	first := make(chan string, 1)
	go func() { first <- ask("read-token-0123456789") }()
	started("grafana")
	if a := ask("read-token-0123456789"); !strings.Contains(a, "RETRY_LATER") {
		t.Fatalf("grafana's second query: %s; want RETRY_LATER", a)
	}
	other := make(chan string, 1)
	go func() { other <- ask("read-token-9876543210") }()
	select {
	case <-s.entered:
	case a := <-other:
		t.Fatalf("oncall's query, from the same address, was refused: %s", a)
	case <-time.After(5 * time.Second):
		t.Fatal("oncall's query did not start")
	}
	close(s.release)
	for _, a := range []string{<-first, <-other} {
		if strings.Contains(a, "errors") {
			t.Errorf("answer %s", a)
		}
	}
}
