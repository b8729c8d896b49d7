package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sregraph/sregraph/graph"
	"github.com/sregraph/sregraph/graph/pebble"
)

// contextQueryText is the GraphQL the CLI sends; its answer decodes into
// graph.Context.
const contextQueryText = `query Context($service: String!, $at: Time!, $before: Duration, $after: Duration, $depth: Int, $direction: Direction, $kinds: [EventKind!], $first: Int) {
  changesNear(service: $service, at: $at, before: $before, after: $after, depth: $depth, direction: $direction, kinds: $kinds, first: $first) {
    focus { name } at from to truncated
    services { service { name } hops relation path }
    edges { from to calls errors declared }
    origins { service onset strength linked evidence { signal from to onset before after } }
    changes { rank score hops relation path reasons symptom
      evidence { signal from to onset before after }
      event { id kind service { name } at end source externalId summary url } }
  }
}`

type contextFlags struct {
	service, at, before, after, direction, kinds, server, token, dataDir string
	depth, first                                                         int
	json                                                                 bool
}

func contextCommand(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return contextCommandAt(ctx, args, getenv, stdout, stderr, time.Now)
}

// contextCommandAt is the context command on the clock now, which --at
// durations count back from.
func contextCommandAt(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, now func() time.Time) error {
	var f contextFlags
	fs := flag.NewFlagSet("sregraph context", flag.ContinueOnError)
	fs.StringVar(&f.service, "service", "", "the service (or give it as the first argument)")
	fs.StringVar(&f.at, "at", "now", "the instant: \"breach\" (when the service's latest breach started), an RFC 3339 time, a duration meaning that long ago (15m), or \"now\"")
	fs.StringVar(&f.before, "before", "2h", "look this long before --at")
	fs.StringVar(&f.after, "after", "15m", "look this long after --at")
	fs.IntVar(&f.depth, "depth", graph.DefaultDepth, "hops from the service, 1..6")
	fs.StringVar(&f.direction, "direction", "BOTH", "DEPENDENCIES (what it calls), DEPENDENTS (what calls it) or BOTH")
	fs.StringVar(&f.kinds, "kinds", "", "comma list of event kinds to keep (default all)")
	fs.IntVar(&f.first, "first", 20, "how many changes to print")
	fs.StringVar(&f.server, "server", "http://127.0.0.1:8080", "a running sregraph server to ask")
	fs.StringVar(&f.token, "token", "", "API token with the read scope, if the server needs one")
	fs.StringVar(&f.dataDir, "data-dir", "", "read an embedded store directly instead of asking a server (the server must not be running on it)")
	fs.BoolVar(&f.json, "json", false, "print the answer as JSON")
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		f.service, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args, getenv, stderr); err != nil {
		return err
	}
	if f.service == "" && fs.NArg() > 0 {
		f.service = fs.Arg(0)
	}
	if f.service == "" {
		return errors.New("which service? usage: sregraph context SERVICE [--at TIME] [flags]")
	}
	at, err := graph.ParseInstant(f.at, now())
	if err != nil {
		return fmt.Errorf("--at: %w", err)
	}
	q, err := f.query(at.Time)
	if err != nil {
		return err
	}
	var c *graph.Context
	if f.dataDir != "" {
		c, err = contextFromDataDir(ctx, f.dataDir, q, at.Breach)
	} else {
		c, err = contextFromServer(ctx, f.server, f.token, q, at.Breach)
	}
	if err != nil {
		return err
	}
	if f.json {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	return printContext(stdout, c)
}

// query builds the question at the instant at (for --at breach, the
// present: the breach's start replaces it once it is known).
func (f *contextFlags) query(at time.Time) (graph.ContextQuery, error) {
	q := graph.ContextQuery{Service: f.service, At: at, Depth: f.depth, First: f.first}
	var err error
	if q.Before, err = graph.ParseDuration(f.before); err != nil {
		return q, fmt.Errorf("--before: %w", err)
	}
	if q.After, err = graph.ParseDuration(f.after); err != nil {
		return q, fmt.Errorf("--after: %w", err)
	}
	if q.Direction, err = graph.ParseDirection(f.direction); err != nil {
		return q, fmt.Errorf("--direction: %w", err)
	}
	for _, k := range strings.Split(f.kinds, ",") {
		if strings.TrimSpace(k) == "" {
			continue
		}
		kind, err := graph.ParseKind(k)
		if err != nil {
			return q, fmt.Errorf("--kinds: %w", err)
		}
		q.Kinds = append(q.Kinds, kind)
	}
	return q, q.Validate()
}

// contextFromServer asks a running server over GraphQL; with atBreach,
// at the start of the service's latest breach.
func contextFromServer(ctx context.Context, server, token string, q graph.ContextQuery, atBreach bool) (*graph.Context, error) {
	if atBreach {
		var out struct {
			Service  *struct{ Name string } `json:"service"`
			Breaches struct {
				Nodes []struct {
					StartedAt time.Time `json:"startedAt"`
				} `json:"nodes"`
			} `json:"breaches"`
		}
		err := askGraphQL(ctx, server, token, `query LatestBreach($service: String!, $to: Time) {
  service(name: $service) { name }
  breaches(service: $service, to: $to, first: 1) { nodes { startedAt } }
}`, map[string]any{"service": q.Service, "to": q.At.Format(time.RFC3339Nano)}, &out)
		if err != nil {
			return nil, err
		}
		switch {
		case out.Service == nil:
			// An unknown service: changesNear says so, with the names
			// meant.
		case len(out.Breaches.Nodes) == 0:
			return nil, graph.NotFoundf("%s has no breach before %s: give --at a time instead", q.Service, q.At.Format(time.RFC3339))
		default:
			q.At = out.Breaches.Nodes[0].StartedAt.UTC()
		}
	}
	kinds := make([]string, len(q.Kinds))
	for i, k := range q.Kinds {
		kinds[i] = strings.ToUpper(string(k))
	}
	vars := map[string]any{
		"service": q.Service, "at": q.At.Format(time.RFC3339Nano), "before": q.Before.String(), "after": q.After.String(),
		"depth": q.Depth, "direction": string(q.Direction), "first": q.First,
	}
	if len(kinds) > 0 {
		vars["kinds"] = kinds
	}
	var out struct {
		ChangesNear *wireContext `json:"changesNear"`
	}
	if err := askGraphQL(ctx, server, token, contextQueryText, vars, &out); err != nil {
		return nil, err
	}
	if out.ChangesNear == nil {
		return nil, fmt.Errorf("%s returned no context", server)
	}
	c := out.ChangesNear.domain()
	c.Depth = q.Depth
	return c, nil
}

// askGraphQL posts query with vars to server and decodes the answer's data
// into out; GraphQL errors come back as one error carrying their
// messages.
func askGraphQL(ctx context.Context, server, token, query string, vars map[string]any, out any) error {
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		return fmt.Errorf("encoding the GraphQL request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(server, "/")+"/graphql", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("--server %q: %w", server, err)
	}
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach sregraph at %s (is `sregraph serve` running? use --server or --data-dir): %w", server, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the answer from %s: %w", server, err)
	}
	var env struct {
		Data   json.RawMessage `json:"data"`
		Errors []struct {
			Message string `json:"message"`
		} `json:"errors"`
	}
	if jerr := json.Unmarshal(raw, &env); jerr != nil {
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s answered %s: %s", server, resp.Status, strings.TrimSpace(string(raw)))
		}
		return fmt.Errorf("%s did not answer with GraphQL JSON: %w", server, jerr)
	}
	if len(env.Errors) > 0 {
		msgs := make([]string, len(env.Errors))
		for i, e := range env.Errors {
			msgs[i] = e.Message
		}
		return errors.New(strings.Join(msgs, "; "))
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s: %s", server, resp.Status, strings.TrimSpace(string(raw)))
	}
	if err := json.Unmarshal(env.Data, out); err != nil {
		return fmt.Errorf("%s answered GraphQL data of another shape: %w", server, err)
	}
	return nil
}

// wireContext is the GraphQL shape of a BreachContext, where services are
// objects rather than names.
type wireContext struct {
	Focus     struct{ Name string } `json:"focus"`
	At        time.Time             `json:"at"`
	From      time.Time             `json:"from"`
	To        time.Time             `json:"to"`
	Truncated bool                  `json:"truncated"`
	Services  []struct {
		Service  struct{ Name string } `json:"service"`
		Hops     int                   `json:"hops"`
		Relation graph.Direction       `json:"relation"`
		Path     []string              `json:"path"`
	} `json:"services"`
	Edges   []graph.Edge   `json:"edges"`
	Origins []graph.Origin `json:"origins"`
	Changes []struct {
		Rank     int              `json:"rank"`
		Score    float64          `json:"score"`
		Hops     int              `json:"hops"`
		Relation graph.Direction  `json:"relation"`
		Path     []string         `json:"path"`
		Reasons  []string         `json:"reasons"`
		Symptom  bool             `json:"symptom"`
		Evidence []graph.Evidence `json:"evidence"`
		Event    struct {
			ID         string                `json:"id"`
			Kind       string                `json:"kind"`
			Service    struct{ Name string } `json:"service"`
			At         time.Time             `json:"at"`
			End        *time.Time            `json:"end"`
			Source     string                `json:"source"`
			ExternalID string                `json:"externalId"`
			Summary    string                `json:"summary"`
			URL        string                `json:"url"`
		} `json:"event"`
	} `json:"changes"`
}

func (w *wireContext) domain() *graph.Context {
	c := &graph.Context{Focus: w.Focus.Name, At: w.At, From: w.From, To: w.To, Truncated: w.Truncated, Edges: w.Edges, Origins: w.Origins}
	for _, s := range w.Services {
		c.Services = append(c.Services, graph.NearbyService{Service: s.Service.Name, Hops: s.Hops, Relation: s.Relation, Path: s.Path})
	}
	for _, ch := range w.Changes {
		e := ch.Event
		c.Changes = append(c.Changes, graph.RankedChange{
			Rank: ch.Rank, Score: ch.Score, Hops: ch.Hops, Relation: ch.Relation, Path: ch.Path, Reasons: ch.Reasons, Symptom: ch.Symptom,
			Evidence: ch.Evidence,
			Event: graph.Event{ID: e.ID, Kind: graph.Kind(strings.ToLower(e.Kind)), Service: e.Service.Name, At: e.At, End: e.End,
				Source: e.Source, ExternalID: e.ExternalID, Summary: e.Summary, URL: e.URL},
		})
	}
	return c
}

// printContext writes where the degradation starts, then the ranked
// changes as a table, reasons indented under each row.
func printContext(w io.Writer, c *graph.Context) error {
	fmt.Fprintf(w, "%s at %s (window %s to %s, depth %d): %s, %s, %s\n\n",
		c.Focus, c.At.Format(time.RFC3339), c.From.Format("Jan 2 15:04"), c.To.Format("Jan 2 15:04 MST"), c.Depth,
		count(len(c.Services), "service", "services"), count(len(c.Edges), "call edge", "call edges"), count(len(c.Changes), "change", "changes"))
	for i, o := range c.Origins {
		if i == 3 {
			break
		}
		how := "reached from " + c.Focus + " along calls that degraded"
		if !o.Linked {
			how = "not on " + c.Focus + "'s degraded calls"
		}
		fmt.Fprintf(w, "Where it starts: %s at %s (%s; strength %.2f)\n", o.Service, o.Onset.Format("15:04 MST"), how, o.Strength)
		for _, e := range o.Evidence[:min(2, len(o.Evidence))] {
			fmt.Fprintf(w, "  - %s\n", e.Sentence())
		}
	}
	if len(c.Origins) > 0 {
		fmt.Fprintln(w)
	}
	if len(c.Changes) == 0 {
		wider := max(6*time.Hour, 2*c.At.Sub(c.From)).Round(time.Hour)
		try := fmt.Sprintf("a wider window (--before %dh)", int(wider.Hours()))
		if c.Depth > 0 && c.Depth < graph.MaxDepth {
			try += fmt.Sprintf(" or more hops (--depth %d)", c.Depth+1)
		}
		_, err := fmt.Fprintf(w, "No changes near this service in the window. Try %s.\n", try)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tSCORE\tWHEN\tKIND\tSERVICE\tHOPS\tSUMMARY")
	for _, ch := range c.Changes {
		when := graph.FormatAgo(c.At.Sub(ch.Event.At)) + " before"
		if ch.Event.At.After(c.At) {
			when = graph.FormatAgo(ch.Event.At.Sub(c.At)) + " after"
		}
		fmt.Fprintf(tw, "%d\t%.3f\t%s\t%s\t%s\t%d\t%s\n", ch.Rank, ch.Score, when, ch.Event.Kind, ch.Event.Service, ch.Hops, ch.Event.Summary)
		for _, r := range ch.Reasons {
			fmt.Fprintf(tw, "\t\t\t\t\t\t  - %s\n", r)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if c.Truncated {
		_, err := fmt.Fprintln(w, "\n(more changes matched; raise --first to see them)")
		return err
	}
	return nil
}

// contextFromDataDir opens an embedded store directly; with atBreach, it
// asks at the start of the service's latest breach.
func contextFromDataDir(ctx context.Context, dir string, q graph.ContextQuery, atBreach bool) (c *graph.Context, err error) {
	err = withDataDir(dir, "ask the server with --server instead", func(s *pebble.Store) error {
		if err := graph.CheckService(ctx, s, q.Service); err != nil {
			return err
		}
		if atBreach {
			b, err := graph.LatestBreach(ctx, s, q.Service, q.At)
			if err != nil {
				return err
			}
			q.At = b.StartedAt
		}
		c, err = graph.BuildContext(ctx, s, q)
		return err
	})
	return c, err
}

// count says how many of something there are: "1 service", "3 services".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
