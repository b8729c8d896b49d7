package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// ServiceLabels re-reads the service of Alertmanager breaches from the
// labels an operator configured (--slo-service-label), first match wins.
// A breach whose alert has none of them keeps the service the decoder
// chose (DefaultSLOServiceLabels, else the SLO name). The zero value
// changes nothing.
type ServiceLabels []string

// ParseServiceLabels parses a comma-separated label list; empty means
// DefaultSLOServiceLabels.
func ParseServiceLabels(s string) (ServiceLabels, error) {
	var out ServiceLabels
	for _, l := range strings.Split(s, ",") {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		for _, r := range l {
			if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
				return nil, graph.Invalidf("label %q is not a Prometheus label name", l)
			}
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return append(ServiceLabels(nil), DefaultSLOServiceLabels...), nil
	}
	return out, nil
}

// Apply sets each Alertmanager breach's service from the first configured
// label its alert has.
func (sl ServiceLabels) Apply(items []Item) []Item {
	if len(sl) == 0 {
		return items
	}
	out, copied := items, false
	for i, it := range items {
		if it.Event == nil || it.Event.Kind != graph.KindSLOBreach || it.Event.Source != "alertmanager" {
			continue
		}
		raw, _ := it.Event.Attributes["labels"].(map[string]any)
		labels := make(map[string]string, len(raw))
		for k, v := range raw {
			if s, ok := v.(string); ok {
				labels[k] = s
			}
		}
		name := firstLabel(labels, sl)
		if name == "" || name == it.Event.Service {
			continue
		}
		if !copied {
			out, copied = append([]Item(nil), items...), true
		}
		e := *it.Event
		e.Service = name
		if err := e.Normalize(time.Time{}); err != nil {
			out[i] = Item{Err: itemError("service from --slo-service-label", err)}
			continue
		}
		out[i] = Item{Event: &e}
	}
	return out
}

// eventLister is the store read Episodes needs.
type eventLister interface {
	Events(ctx context.Context, f graph.EventFilter) (graph.Page[graph.Event], error)
}

// Episodes writes batches through an Applier after joining each breach
// report to the episode it belongs to: an alert (attributes.breachKey,
// from DecodeAlertmanager) that overlaps a stored breach of the same key
// and service — the breach is open, or ended after the alert started —
// is stored under that breach's ID, so Sloth's page and ticket alerts,
// or Pyrra's four burn-rate alerts, make one breach. An alert that
// overlaps none starts a new breach. Writes through one Episodes are
// serialised, so two reports of a new episode cannot both start one.
type Episodes struct {
	store  graph.Applier
	events eventLister
	mu     sync.Mutex
}

// NewEpisodes returns an Applier that joins breach reports to their
// episodes (read from events) before writing to store.
func NewEpisodes(store graph.Applier, events eventLister) *Episodes {
	return &Episodes{store: store, events: events}
}

// maxEpisodeCandidates bounds the stored breaches of one service read to
// find an alert's episode.
const maxEpisodeCandidates = 200

// Apply joins the batch's breach reports to their episodes and writes it.
func (p *Episodes) Apply(ctx context.Context, b graph.Batch) (graph.Written, error) {
	if !hasBreachKey(b.Events) {
		return p.store.Apply(ctx, b)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	events := make([]graph.Event, len(b.Events))
	copy(events, b.Events)
	// Breaches this batch starts, for reports later in the same batch.
	var started []graph.Event
	for i := range events {
		e := &events[i]
		key, _ := e.Attributes["breachKey"].(string)
		if e.Kind != graph.KindSLOBreach || key == "" {
			continue
		}
		starts, ends := e.At, e.End
		match, err := p.episode(ctx, e.Service, key, starts, ends, started)
		if err != nil {
			return graph.Written{}, fmt.Errorf("finding the episode of breach %s: %w", e.ExternalID, err)
		}
		if match == nil {
			started = append(started, *e)
			continue
		}
		if match.ID != e.ID {
			e.ExternalID = match.ExternalID
			if err := e.Normalize(time.Time{}); err != nil {
				return graph.Written{}, fmt.Errorf("joining breach report to %s: %w", match.ID, err)
			}
		}
		// The stored breach grows with the report (a later start never
		// moves it; an earlier one does).
		joined, _ := graph.Merge(*match, *e)
		replaceStarted(&started, joined)
	}
	b.Events = events
	return p.store.Apply(ctx, b)
}

// episode finds the breach of the given key and service that an alert
// active from starts to ends (nil: still firing) overlaps, among those
// this batch started and those stored.
func (p *Episodes) episode(ctx context.Context, service, key string, starts time.Time, ends *time.Time, started []graph.Event) (*graph.Event, error) {
	overlaps := func(c graph.Event) bool {
		k, _ := c.Attributes["breachKey"].(string)
		if k != key || c.Service != service {
			return false
		}
		if ends != nil && c.At.After(*ends) {
			return false
		}
		return c.End == nil || !c.End.Before(starts)
	}
	for i := range started {
		if overlaps(started[i]) {
			return &started[i], nil
		}
	}
	f := graph.EventFilter{Services: []string{service}, Kinds: []graph.Kind{graph.KindSLOBreach}, First: maxEpisodeCandidates}
	if ends != nil {
		f.To = *ends
	}
	page, err := p.events.Events(ctx, f)
	if err != nil {
		return nil, err
	}
	// Newest first: the latest overlapping episode wins.
	for i := range page.Items {
		if overlaps(page.Items[i]) {
			return &page.Items[i], nil
		}
	}
	return nil, nil
}

func replaceStarted(started *[]graph.Event, e graph.Event) {
	for i := range *started {
		if (*started)[i].ID == e.ID {
			(*started)[i] = e
			return
		}
	}
	*started = append(*started, e)
}

func hasBreachKey(events []graph.Event) bool {
	for i := range events {
		if _, ok := events[i].Attributes["breachKey"]; ok && events[i].Kind == graph.KindSLOBreach {
			return true
		}
	}
	return false
}
