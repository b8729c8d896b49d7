package scenario

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// Anchor is the instant a backtest puts every scenario's breach at, so a
// scenario gives the same answer whenever it runs.
var Anchor = time.Date(2026, 3, 2, 14, 0, 0, 0, time.UTC)

// Default query of a backtest: how the breach page asks.
const defaultAsked = 20 * time.Minute

// Store is what a backtest writes a scenario into and asks: a scratch
// store of its own.
type Store interface {
	Apply(ctx context.Context, b graph.Batch) (graph.Written, error)
	graph.ContextSource
}

// Result is how one scenario's breach context ranked its known cause.
type Result struct {
	Name    string `json:"name"`
	Pattern string `json:"pattern,omitempty"`
	// Expected says what should rank first: an event id, or
	// "DEGRADATION on SERVICE".
	Expected string `json:"expected"`
	// NoChange is true for a scenario whose cause is a degradation.
	NoChange bool `json:"noChange,omitempty"`
	// Rank is the cause's position in the answer, 0 when it is missing.
	Rank int `json:"rank"`
	// Changes is the ranked answer.
	Changes []graph.RankedChange `json:"changes"`
	// Origins is where the answer says the degradation starts.
	Origins []graph.Origin `json:"origins,omitempty"`
}

// Replay writes s into st (empty, or holding nothing s's names collide
// with) with its breach at Anchor, asks for the breach's context as a
// responder would at expect.asked, and finds where the known cause
// ranked.
func Replay(ctx context.Context, s *Scenario, st Store) (Result, error) {
	x := s.Expect
	if x == nil {
		return Result{}, graph.Invalidf("scenario %q has no expect: nothing to score", s.Name)
	}
	asked := defaultAsked
	if x.Asked != "" {
		asked, _ = ParseOffset(x.Asked)
	}
	b, err := Expand(s, Anchor, Anchor.Add(asked))
	if err != nil {
		return Result{}, err
	}
	for _, part := range splitBatch(b) {
		if _, err := st.Apply(ctx, part); err != nil {
			return Result{}, fmt.Errorf("write scenario: %w", err)
		}
	}
	breach, ok := findScenarioEvent(b.Events, x.Breach, graph.KindSLOBreach)
	if !ok {
		return Result{}, graph.Invalidf("expect.breach: no slo_breach event with id %q before expect.asked", x.Breach)
	}
	r := Result{Name: s.Name, Pattern: x.Pattern}
	var culprit graph.Event
	if x.Culprit != "" {
		if culprit, ok = findScenarioEvent(b.Events, x.Culprit, ""); !ok {
			return Result{}, graph.Invalidf("expect.culprit: no event with id %q before expect.asked", x.Culprit)
		}
		r.Expected = x.Culprit
	} else {
		r.NoChange = true
		r.Expected = "DEGRADATION on " + x.Degradation
	}
	q := graph.ContextQuery{Service: breach.Service, At: breach.At, Before: graph.DefaultBefore, After: graph.DefaultAfter,
		Depth: x.Depth, First: graph.MaxFirst}
	if x.Before != "" {
		q.Before, _ = ParseOffset(x.Before)
	}
	if x.After != "" {
		q.After, _ = ParseOffset(x.After)
	}
	bv := graph.BreachOf(breach)
	q.Breach = &bv
	c, err := graph.BuildContext(ctx, st, q)
	if err != nil {
		return Result{}, fmt.Errorf("context of the breach: %w", err)
	}
	r.Changes, r.Origins = c.Changes, c.Origins
	for i, rc := range c.Changes {
		hit := rc.Event.ID == culprit.ID
		if r.NoChange {
			hit = rc.Event.Kind == graph.KindDegradation && rc.Event.Service == x.Degradation
		}
		if hit {
			r.Rank = i + 1
			break
		}
	}
	return r, nil
}

// findEvent finds the event a scenario calls id: its external id (or its
// sregraph id), of kind k when k is set.
func findScenarioEvent(events []graph.Event, id string, k graph.Kind) (graph.Event, bool) {
	for _, e := range events {
		if (e.ExternalID == id || e.ID == id) && (k == "" || e.Kind == k) {
			return e, true
		}
	}
	return graph.Event{}, false
}

// splitBatch cuts a scenario's batch into parts a store takes in one
// write each.
func splitBatch(b graph.Batch) []graph.Batch {
	const most = 20000
	parts := []graph.Batch{{Events: b.Events, Dependencies: b.Dependencies, Services: b.Services}}
	for len(b.Calls) > 0 {
		n := min(most, len(b.Calls))
		parts = append(parts, graph.Batch{Calls: b.Calls[:n]})
		b.Calls = b.Calls[n:]
	}
	return parts
}

// Summary pools backtest results the way the field reports them.
type Summary struct {
	Scenarios int     `json:"scenarios"`
	Top1      int     `json:"top1"`
	Top3      int     `json:"top3"`
	Missed    int     `json:"missed"`
	MRR       float64 `json:"mrr"`
}

// Summarize computes top-1, top-3 and the mean reciprocal rank (a miss
// counts 0).
func Summarize(rs []Result) Summary {
	var s Summary
	var rr float64
	for _, r := range rs {
		s.Scenarios++
		switch {
		case r.Rank == 0:
			s.Missed++
			continue
		case r.Rank == 1:
			s.Top1++
		}
		if r.Rank <= 3 {
			s.Top3++
		}
		rr += 1 / float64(r.Rank)
	}
	if s.Scenarios > 0 {
		s.MRR = math.Round(rr/float64(s.Scenarios)*1000) / 1000
	}
	return s
}
