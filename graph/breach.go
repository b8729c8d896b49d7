package graph

import "time"

// Breach is one firing episode of an SLO on a service: it opens when the
// alert fires and closes when the alert resolves. It is stored as an event
// of kind KindSLOBreach; Breach is the view of that event.
type Breach struct {
	ID         string     `json:"id"`
	Service    string     `json:"service"`
	SLO        string     `json:"slo"`
	StartedAt  time.Time  `json:"startedAt"`
	ResolvedAt *time.Time `json:"resolvedAt,omitempty"`
	Summary    string     `json:"summary"`
	// Labels are the alert's labels, when the source had any.
	Labels map[string]string `json:"labels,omitempty"`
	Event  Event             `json:"-"`
}

// BreachOf returns the breach view of an slo_breach event. The SLO name is
// the attribute "slo", else "sloth_slo", else "alertname" (in attributes or
// their "labels"), else the summary.
func BreachOf(e Event) Breach {
	b := Breach{ID: e.ID, Service: e.Service, StartedAt: e.At, ResolvedAt: e.End, Summary: e.Summary, Event: e}
	labels := map[string]string{}
	if raw, ok := e.Attributes["labels"].(map[string]any); ok {
		for k, v := range raw {
			if s, ok := v.(string); ok {
				labels[k] = s
			}
		}
	}
	if len(labels) > 0 {
		b.Labels = labels
	}
	for _, key := range []string{"slo", "sloth_slo", "alertname"} {
		if s, ok := e.Attributes[key].(string); ok && s != "" {
			b.SLO = s
			return b
		}
		if s := labels[key]; s != "" {
			b.SLO = s
			return b
		}
	}
	b.SLO = e.Summary
	return b
}

// Open reports whether the breach had not resolved by t.
func (b Breach) Open(t time.Time) bool { return b.ResolvedAt == nil || b.ResolvedAt.After(t) }
