package graph

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Confirmation is a responder's word on what caused a breach: one of the
// changes of its context, or a degradation no change explains. It is
// stored as an event of kind KindConfirmation on the breach's service,
// keyed by the breach, so a later confirmation replaces an earlier one;
// backtest --confirmed scores the ranking against every one kept.
type Confirmation struct {
	// Breach is the breach's ID.
	Breach string `json:"breach"`
	// Cause is the ID of the causing event, or of the DEGRADATION entry
	// ("degradation:SERVICE@UNIX") when nothing changed.
	Cause        string `json:"cause"`
	CauseKind    Kind   `json:"causeKind"`
	CauseService string `json:"causeService"`
	CauseSummary string `json:"causeSummary"`
	Note         string `json:"note"`
	// At is when it was confirmed.
	At time.Time `json:"at"`
}

// DegradationPrefix starts the ID of a DEGRADATION entry.
const DegradationPrefix = "degradation:"

// ConfirmSource is the source of confirmation events.
const ConfirmSource = "sregraph-confirm"

// eventLookup is what ConfirmCause needs from a store.
type eventLookup interface {
	Event(ctx context.Context, id string) (Event, error)
}

// ConfirmCause checks that breach names a breach and cause one of the
// events a store holds (or a DEGRADATION entry), and returns the
// confirmation and the event that records it, at now.
func ConfirmCause(ctx context.Context, src eventLookup, breach, cause, note string, now time.Time) (Confirmation, Event, error) {
	b, err := src.Event(ctx, strings.TrimSpace(breach))
	if err != nil {
		return Confirmation{}, Event{}, fmt.Errorf("breach %q: %w", breach, err)
	}
	if b.Kind != KindSLOBreach {
		return Confirmation{}, Event{}, Invalidf("%q is a %s, not a breach", breach, b.Kind)
	}
	c := Confirmation{Breach: b.ID, Cause: strings.TrimSpace(cause), Note: strings.TrimSpace(note), At: now.UTC().Truncate(time.Millisecond)}
	if len(c.Note) > MaxSummaryLen {
		return Confirmation{}, Event{}, Invalidf("note is longer than %d characters", MaxSummaryLen)
	}
	if svc, ok := strings.CutPrefix(c.Cause, DegradationPrefix); ok {
		name, _, _ := strings.Cut(svc, "@")
		if name == "" {
			return Confirmation{}, Event{}, Invalidf("cause %q names no service: want degradation:SERVICE@UNIX, as the context gives it", cause)
		}
		c.CauseKind, c.CauseService, c.CauseSummary = KindDegradation, name, name+" degraded on its own"
	} else {
		e, err := src.Event(ctx, c.Cause)
		if err != nil {
			return Confirmation{}, Event{}, fmt.Errorf("cause %q: %w", cause, err)
		}
		if e.Kind.Symptom() || e.Kind == KindConfirmation {
			return Confirmation{}, Event{}, Invalidf("cause %q is a %s: a symptom or a record, not a cause", cause, e.Kind)
		}
		c.CauseKind, c.CauseService, c.CauseSummary = e.Kind, e.Service, e.Summary
	}
	ev := Event{Kind: KindConfirmation, Service: b.Service, Environment: b.Environment, At: c.At, Source: ConfirmSource,
		ExternalID: b.ID, Summary: fmt.Sprintf("confirmed cause of %s: %s", BreachOf(b).SLO, c.CauseSummary),
		Attributes: map[string]any{"breach": c.Breach, "cause": c.Cause, "causeKind": string(c.CauseKind),
			"causeService": c.CauseService, "causeSummary": c.CauseSummary}}
	if c.Note != "" {
		ev.Attributes["note"] = c.Note
	}
	if err := ev.Normalize(now); err != nil {
		return Confirmation{}, Event{}, err
	}
	return c, ev, nil
}

// ConfirmationOf reads a confirmation event back.
func ConfirmationOf(e Event) (Confirmation, bool) {
	if e.Kind != KindConfirmation {
		return Confirmation{}, false
	}
	str := func(k string) string { s, _ := e.Attributes[k].(string); return s }
	c := Confirmation{Breach: str("breach"), Cause: str("cause"), CauseKind: Kind(str("causeKind")),
		CauseService: str("causeService"), CauseSummary: str("causeSummary"), Note: str("note"), At: e.At}
	return c, c.Breach != "" && c.Cause != ""
}

// RankOf is where a context ranks a confirmed cause: its position in
// the changes (1 first), or 0 when it is not there. A degradation matches
// the first DEGRADATION entry on its service.
func RankOf(c *Context, conf Confirmation) int {
	for i, rc := range c.Changes {
		hit := rc.Event.ID == conf.Cause
		if conf.CauseKind == KindDegradation {
			hit = rc.Event.Kind == KindDegradation && rc.Event.Service == conf.CauseService
		}
		if hit {
			return i + 1
		}
	}
	return 0
}

// confirmStore is what recording a confirmation needs from a store.
type confirmStore interface {
	eventLookup
	Applier
}

// RecordConfirmation checks and stores a confirmation (see ConfirmCause).
func RecordConfirmation(ctx context.Context, st confirmStore, breach, cause, note string, now time.Time) (Confirmation, error) {
	c, ev, err := ConfirmCause(ctx, st, breach, cause, note, now)
	if err != nil {
		return Confirmation{}, err
	}
	if _, err := st.Apply(ctx, Batch{Events: []Event{ev}}); err != nil {
		return Confirmation{}, fmt.Errorf("record the confirmation: %w", err)
	}
	return c, nil
}

// ConfirmationFor finds what a responder confirmed caused b, if anyone
// has.
func ConfirmationFor(ctx context.Context, src EventSource, b Breach) (Confirmation, bool, error) {
	page, err := src.Events(ctx, EventFilter{Services: []string{b.Service}, Kinds: []Kind{KindConfirmation},
		From: b.StartedAt, First: MaxContextEvents})
	if err != nil {
		return Confirmation{}, false, err
	}
	for _, e := range page.Items {
		if c, ok := ConfirmationOf(e); ok && c.Breach == b.ID {
			return c, true, nil
		}
	}
	return Confirmation{}, false, nil
}
