package graph

import (
	"bytes"
	"encoding/json"
	"reflect"
	"sort"
	"time"
)

// UpdatedAttr is the attribute in which a source's report of a lasting
// event (a ticket, an incident) says when that report was made (RFC 3339).
// Merge orders reports by it, since At holds the start and stays put; a
// report without it is taken as made at its At.
const UpdatedAttr = "updatedAt"

// BreachAlertsAttr is the attribute of an slo_breach event that lists the
// alerts of one firing episode: a map from an alert's key (its fingerprint
// and start) to a map with "status" ("firing" or "resolved"), "startsAt",
// "endsAt" (RFC 3339, resolved only), "severity" and "window". Merge
// unions it across reports; the breach is resolved when all its alerts
// are, and carries the worst severity and every window that fired.
const BreachAlertsAttr = "alerts"

// Merge decides what to store when an event with the same ID as old
// arrives. It returns the event to keep and whether that differs from old.
// It is what both stores apply, so a source's repeats, retries and
// status updates mean the same on either. The rules depend on the kind:
//
//   - A confirmation (a responder's record of a breach's cause) is
//     replaced by a later one: the copy with the later At is kept.
//   - A change (deploy, rollback, config, flag, scale, anomaly) happened
//     when it first happened: the copy with the
//     earlier At is kept, a repeat never moves its time, and the other copy
//     only fills in what the kept one lacks (an attribute key it does not
//     have, an end, a summary or link).
//   - A ticket or an incident keeps its start (the earliest At) and takes
//     its state from the newest report (UpdatedAttr, else At): that report's
//     attributes, summary, link and end win, the older report's fill in
//     what the newer lacks. An end, once reported, stays unless a newer
//     report gives another one.
//   - An SLO breach keeps its start (the earliest At); its alerts
//     (BreachAlertsAttr) are unioned, an alert's resolve being final; it is
//     resolved, at the latest alert's end, when all its alerts are, and
//     open while any fires. A breach without alerts (a canonical event) is
//     closed by the first end that arrives and never reopened.
//
// Merge is order-tolerant: the same reports in any order give the same
// event (the At of a change tie-breaks to the stored copy).
func Merge(old, incoming Event) (Event, bool) {
	var merged Event
	switch old.Kind {
	case KindTicket, KindIncident:
		merged = mergeLasting(old, incoming)
	case KindSLOBreach:
		merged = mergeBreach(old, incoming)
	case KindConfirmation:
		// A responder's later word on a breach's cause replaces the
		// earlier one.
		merged = old
		if !incoming.At.Before(old.At) {
			merged = incoming
		}
	default:
		merged = mergeChange(old, incoming)
	}
	if eventEqual(old, merged) {
		return old, false
	}
	return merged, true
}

// Replace is what a Replace batch does to a stored event: incoming
// replaces old. It reports whether anything changed.
func Replace(old, incoming Event) (Event, bool) {
	if eventEqual(old, incoming) {
		return old, false
	}
	return incoming, true
}

// mergeChange keeps the first report of a change and fills in the gaps.
func mergeChange(old, in Event) Event {
	first, other := old, in
	if in.At.Before(old.At) {
		first, other = in, old
	}
	out := first
	out.ID = old.ID
	out.Attributes = overlay(other.Attributes, first.Attributes)
	if out.End == nil && other.End != nil && !other.End.Before(out.At) {
		out.End = other.End
	}
	fillText(&out, other)
	return out
}

// mergeLasting keeps the start of a ticket or incident and takes its state
// from the newest report.
func mergeLasting(old, in Event) Event {
	newer, older := in, old
	if reportTime(in).Before(reportTime(old)) {
		newer, older = old, in
	}
	out := newer
	out.ID = old.ID
	out.At = minTime(old.At, in.At)
	out.Attributes = overlay(older.Attributes, newer.Attributes)
	if out.End == nil {
		out.End = older.End
	}
	if out.End != nil && out.End.Before(out.At) {
		out.End = nil
	}
	if rt := reportTime(newer); rt.After(out.At) {
		if out.Attributes == nil {
			out.Attributes = map[string]any{}
		}
		out.Attributes[UpdatedAttr] = rt.UTC().Format(time.RFC3339Nano)
	}
	fillText(&out, older)
	return out
}

// mergeBreach keeps a breach's start and unions its alerts.
func mergeBreach(old, in Event) Event {
	oldAlerts, _ := old.Attributes[BreachAlertsAttr].(map[string]any)
	inAlerts, _ := in.Attributes[BreachAlertsAttr].(map[string]any)
	if oldAlerts == nil && inAlerts == nil {
		out := old
		out.At = minTime(old.At, in.At)
		if old.End == nil && in.End != nil && !in.End.Before(out.At) {
			out.End = in.End
			if in.Summary != "" {
				out.Summary = in.Summary
			}
			out.Attributes = overlay(old.Attributes, in.Attributes)
		}
		return out
	}
	base, other := old, in
	if in.At.Before(old.At) {
		base, other = in, old
	}
	out := base
	out.ID = old.ID
	out.Attributes = overlay(other.Attributes, base.Attributes)
	alerts := make(map[string]any, len(oldAlerts)+len(inAlerts))
	for _, m := range []map[string]any{oldAlerts, inAlerts} {
		for k, v := range m {
			a, _ := v.(map[string]any)
			prev, _ := alerts[k].(map[string]any)
			if prev == nil || (alertStatus(prev) != "resolved" && alertStatus(a) == "resolved") {
				alerts[k] = a
			}
		}
	}
	out.Attributes[BreachAlertsAttr] = alerts
	summarizeBreach(&out, alerts)
	if out.End == nil {
		fillText(&out, other)
	} else if other.End != nil && other.End.Equal(*out.End) {
		// The report that resolved the breach names it best.
		out.Summary = firstText(other.Summary, out.Summary)
	}
	return out
}

// SummarizeBreach sets a breach's status, worst severity ("severity"),
// windows ("windows") and end from its alerts (BreachAlertsAttr); a
// breach without alerts is left as it is. Decoders call it on the report
// they build, Merge on every merged breach.
func SummarizeBreach(e *Event) {
	alerts, ok := e.Attributes[BreachAlertsAttr].(map[string]any)
	if !ok {
		return
	}
	summarizeBreach(e, alerts)
}

func summarizeBreach(e *Event, alerts map[string]any) {
	var (
		worst   string
		windows []string
		end     time.Time
		firing  bool
	)
	seenWindow := map[string]bool{}
	for _, v := range alerts {
		a, _ := v.(map[string]any)
		sev, _ := a["severity"].(string)
		if sev != "" && (worst == "" || SeverityRank(sev) < SeverityRank(worst) ||
			(SeverityRank(sev) == SeverityRank(worst) && sev < worst)) {
			worst = sev
		}
		if w, _ := a["window"].(string); w != "" && !seenWindow[w] {
			seenWindow[w] = true
			windows = append(windows, w)
		}
		if alertStatus(a) != "resolved" {
			firing = true
			continue
		}
		s, _ := a["endsAt"].(string)
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil && t.After(end) {
			end = t
		}
	}
	sort.Strings(windows)
	if worst != "" {
		e.Attributes["severity"] = worst
	}
	if len(windows) > 0 {
		w := make([]any, len(windows))
		for i, s := range windows {
			w[i] = s
		}
		e.Attributes["windows"] = w
	}
	switch {
	case firing:
		e.End = nil
		e.Attributes["status"] = "firing"
	default:
		e.Attributes["status"] = "resolved"
		// Every alert ends after it starts (decoders reject the rest), so
		// the latest end is never before the breach's start.
		end = end.UTC()
		e.End = &end
	}
}

// severityOrder ranks alert severities, worst first: the names
// Prometheus rule generators use (Pyrra: critical, warning; Sloth's
// sloth_severity: page, ticket) and common ones.
var severityOrder = []string{"critical", "page", "high", "error", "major", "warning", "ticket", "minor", "low", "info"}

// SeverityRank orders severities, worst first; an unknown name ranks
// after every known one.
func SeverityRank(s string) int {
	for i, name := range severityOrder {
		if s == name {
			return i
		}
	}
	return len(severityOrder)
}

func alertStatus(a map[string]any) string {
	s, _ := a["status"].(string)
	return s
}

// reportTime is when the source made the report an event holds.
func reportTime(e Event) time.Time {
	if s, ok := e.Attributes[UpdatedAttr].(string); ok {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t
		}
	}
	return e.At
}

// overlay returns base with top's keys written over it (nil when both
// are empty); neither map is modified.
func overlay(base, top map[string]any) map[string]any {
	if len(base) == 0 && len(top) == 0 {
		return nil
	}
	out := make(map[string]any, len(base)+len(top))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range top {
		out[k] = v
	}
	return out
}

// fillText fills out's empty summary, link and environment from other.
func fillText(out *Event, other Event) {
	out.Summary = firstText(out.Summary, other.Summary)
	out.URL = firstText(out.URL, other.URL)
	out.Environment = firstText(out.Environment, other.Environment)
}

func firstText(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// minTime is the earlier of a and b.
func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// eventEqual compares two events field by field, times by instant and
// attributes by their JSON form.
func eventEqual(a, b Event) bool {
	if !a.At.Equal(b.At) || (a.End == nil) != (b.End == nil) || (a.End != nil && !a.End.Equal(*b.End)) {
		return false
	}
	// Attributes are compared as JSON, the form stores keep them in: a
	// stored 1.0 and a decoded int64(1) are the same.
	if len(a.Attributes) > 0 || len(b.Attributes) > 0 {
		aa, errA := json.Marshal(a.Attributes)
		ba, errB := json.Marshal(b.Attributes)
		if errA != nil || errB != nil || !bytes.Equal(aa, ba) {
			return false
		}
	}
	a.At, b.At, a.End, b.End, a.Attributes, b.Attributes = time.Time{}, time.Time{}, nil, nil, nil, nil
	return reflect.DeepEqual(a, b)
}
