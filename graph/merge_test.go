package graph

import (
	"encoding/json"
	"testing"
	"time"
)

func TestMerge(t *testing.T) {
	t0 := time.Date(2026, 11, 21, 2, 54, 56, 0, time.UTC)
	ts := func(d time.Duration) *time.Time { v := t0.Add(d); return &v }
	ev := func(kind Kind, at time.Duration, end *time.Time, summary string, attrs map[string]any) Event {
		return Event{ID: "x", Kind: kind, Service: "payments", Source: "s", ExternalID: "x", At: t0.Add(at), End: end, Summary: summary, Attributes: attrs}
	}
	alert := func(status, sev, window string, starts, ends time.Duration) map[string]any {
		a := map[string]any{"status": status, "severity": sev, "window": window, "startsAt": t0.Add(starts).Format(time.RFC3339Nano)}
		if status == "resolved" {
			a["endsAt"] = t0.Add(ends).Format(time.RFC3339Nano)
		}
		return a
	}
	breach := func(at time.Duration, alerts map[string]any) Event {
		return ev(KindSLOBreach, at, nil, "burn", map[string]any{BreachAlertsAttr: alerts})
	}
	tests := []struct {
		name        string
		old, in     Event
		wantChanged bool
		wantAt      time.Duration
		wantEnd     *time.Time
		wantAttrs   map[string]any // checked key by key when set
		wantSummary string
	}{
		{
			name:   "flux reconcile repeat of one revision keeps the first time",
			old:    ev(KindDeploy, 0, nil, "applied", map[string]any{"message": "Reconciliation finished in 1.1s, next run in 10m0s"}),
			in:     ev(KindDeploy, 11*time.Minute+3*time.Second, nil, "applied", map[string]any{"message": "Reconciliation finished in 980ms, next run in 10m0s"}),
			wantAt: 0, wantAttrs: map[string]any{"message": "Reconciliation finished in 1.1s, next run in 10m0s"}, wantSummary: "applied",
		},
		{
			name:   "a deploy's earlier report arriving late moves it back to when it happened",
			old:    ev(KindDeploy, 11*time.Minute, nil, "applied", map[string]any{"message": "later"}),
			in:     ev(KindDeploy, 0, nil, "applied", map[string]any{"message": "first"}),
			wantAt: 0, wantChanged: true, wantAttrs: map[string]any{"message": "first"},
		},
		{
			name:   "a repeat adds what the first report lacked",
			old:    ev(KindConfig, 0, nil, "flag on", map[string]any{"by": "ann"}),
			in:     ev(KindConfig, time.Minute, ts(2*time.Minute), "flag on", map[string]any{"by": "bob", "ticket": "OPS-1"}),
			wantAt: 0, wantChanged: true, wantEnd: ts(2 * time.Minute), wantAttrs: map[string]any{"by": "ann", "ticket": "OPS-1"},
		},
		{
			name:   "a responder's later confirmation replaces the earlier one",
			old:    ev(KindConfirmation, 0, nil, "cause: ledger deploy", map[string]any{"cause": "d1"}),
			in:     ev(KindConfirmation, 20*time.Minute, nil, "cause: ledger degraded", map[string]any{"cause": "deg"}),
			wantAt: 20 * time.Minute, wantChanged: true, wantAttrs: map[string]any{"cause": "deg"}, wantSummary: "cause: ledger degraded",
		},
		{
			name:   "an exact duplicate changes nothing, whatever the number types",
			old:    ev(KindRollback, 0, nil, "back", map[string]any{"n": 1.0}),
			in:     ev(KindRollback, 0, nil, "back", map[string]any{"n": int64(1)}),
			wantAt: 0,
		},
		{
			name:   "pagerduty acknowledged after triggered: start kept, status updated",
			old:    ev(KindIncident, 0, nil, "db down", map[string]any{"status": "triggered", UpdatedAttr: t0.Format(time.RFC3339)}),
			in:     ev(KindIncident, 15*time.Minute, nil, "db down", map[string]any{"status": "acknowledged", UpdatedAttr: t0.Add(15 * time.Minute).Format(time.RFC3339)}),
			wantAt: 0, wantChanged: true, wantAttrs: map[string]any{"status": "acknowledged"},
		},
		{
			name:   "pagerduty resolved: start kept, end set",
			old:    ev(KindIncident, 0, nil, "db down", map[string]any{"status": "acknowledged", UpdatedAttr: t0.Add(15 * time.Minute).Format(time.RFC3339)}),
			in:     ev(KindIncident, 41*time.Minute, ts(41*time.Minute), "db down", map[string]any{"status": "resolved", UpdatedAttr: t0.Add(41 * time.Minute).Format(time.RFC3339)}),
			wantAt: 0, wantChanged: true, wantEnd: ts(41 * time.Minute), wantAttrs: map[string]any{"status": "resolved"},
		},
		{
			name:   "a late acknowledged after the resolve changes neither status nor end, only the start",
			old:    ev(KindIncident, 41*time.Minute, ts(41*time.Minute), "db down", map[string]any{"status": "resolved", UpdatedAttr: t0.Add(41 * time.Minute).Format(time.RFC3339)}),
			in:     ev(KindIncident, 15*time.Minute, nil, "db down", map[string]any{"status": "acknowledged", "agent": "ann", UpdatedAttr: t0.Add(15 * time.Minute).Format(time.RFC3339)}),
			wantAt: 15 * time.Minute, wantChanged: true, wantEnd: ts(41 * time.Minute), wantAttrs: map[string]any{"status": "resolved", "agent": "ann"},
		},
		{
			name:   "a ticket's update without an update time is ordered by its at, start kept",
			old:    ev(KindTicket, 0, nil, "OPS-1 opened", map[string]any{"status": "To Do"}),
			in:     ev(KindTicket, 30*time.Minute, nil, "OPS-1 in progress", map[string]any{"status": "In Progress"}),
			wantAt: 0, wantChanged: true, wantSummary: "OPS-1 in progress",
			wantAttrs: map[string]any{"status": "In Progress", UpdatedAttr: t0.Add(30 * time.Minute).Format(time.RFC3339Nano)},
		},
		{
			name:   "canonical breach: the resolve closes it",
			old:    ev(KindSLOBreach, 0, nil, "firing", nil),
			in:     ev(KindSLOBreach, 0, ts(25*time.Minute), "resolved", nil),
			wantAt: 0, wantChanged: true, wantEnd: ts(25 * time.Minute), wantSummary: "resolved",
		},
		{
			name:   "canonical breach: a late firing does not reopen it",
			old:    ev(KindSLOBreach, 0, ts(25*time.Minute), "resolved", nil),
			in:     ev(KindSLOBreach, 0, nil, "firing", nil),
			wantAt: 0, wantEnd: ts(25 * time.Minute), wantSummary: "resolved",
		},
		{
			name:   "sloth ticket alert joins the page alert's breach: worst severity, both windows",
			old:    breach(0, map[string]any{"p@0": alert("firing", "page", "page", 0, 0)}),
			in:     breach(20*time.Minute, map[string]any{"t@20": alert("firing", "ticket", "ticket", 20*time.Minute, 0)}),
			wantAt: 0, wantChanged: true,
			wantAttrs: map[string]any{"severity": "page", "windows": []any{"page", "ticket"}, "status": "firing"},
		},
		{
			name: "one of two alerts resolved: the breach stays open",
			old: breach(0, map[string]any{"p@0": alert("firing", "critical", "1h/5m", 0, 0),
				"q@5": alert("firing", "warning", "1d/2h", 5*time.Minute, 0)}),
			in:     breach(0, map[string]any{"p@0": alert("resolved", "critical", "1h/5m", 0, 30*time.Minute)}),
			wantAt: 0, wantChanged: true,
			wantAttrs: map[string]any{"severity": "critical", "windows": []any{"1d/2h", "1h/5m"}, "status": "firing"},
		},
		{
			name: "the last alert resolved: the breach ends at the latest end",
			old: breach(0, map[string]any{"p@0": alert("resolved", "critical", "1h/5m", 0, 30*time.Minute),
				"q@5": alert("firing", "warning", "1d/2h", 5*time.Minute, 0)}),
			in:     breach(5*time.Minute, map[string]any{"q@5": alert("resolved", "warning", "1d/2h", 5*time.Minute, 50*time.Minute)}),
			wantAt: 0, wantChanged: true, wantEnd: ts(50 * time.Minute),
			wantAttrs: map[string]any{"severity": "critical", "status": "resolved"},
		},
		{
			name:   "a firing redelivery of a resolved alert changes nothing",
			old:    breach(0, map[string]any{"p@0": alert("resolved", "critical", "1h/5m", 0, 30*time.Minute)}),
			in:     breach(0, map[string]any{"p@0": alert("firing", "critical", "1h/5m", 0, 0)}),
			wantAt: 0, wantEnd: ts(30 * time.Minute),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.old.Kind == KindSLOBreach && tt.old.Attributes[BreachAlertsAttr] != nil {
				// A stored breach is always summarised.
				SummarizeBreach(&tt.old)
			}
			got, changed := Merge(tt.old, tt.in)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v; want %v (got %s)", changed, tt.wantChanged, dump(got))
			}
			if !got.At.Equal(t0.Add(tt.wantAt)) {
				t.Errorf("at = %s; want %s", got.At, t0.Add(tt.wantAt))
			}
			if (got.End == nil) != (tt.wantEnd == nil) || (got.End != nil && !got.End.Equal(*tt.wantEnd)) {
				t.Errorf("end = %v; want %v", got.End, tt.wantEnd)
			}
			for k, want := range tt.wantAttrs {
				if g, w := dump(got.Attributes[k]), dump(want); g != w {
					t.Errorf("attributes[%s] = %s; want %s", k, g, w)
				}
			}
			if tt.wantSummary != "" && got.Summary != tt.wantSummary {
				t.Errorf("summary = %q; want %q", got.Summary, tt.wantSummary)
			}
			// The same two reports the other way round end the same.
			rev, _ := Merge(tt.in, tt.old)
			if tt.old.Kind != KindSLOBreach || tt.old.Attributes[BreachAlertsAttr] != nil {
				if dump(rev.Attributes) != dump(got.Attributes) || !rev.At.Equal(got.At) || (rev.End == nil) != (got.End == nil) {
					t.Errorf("order matters:\n old then new: %s\n new then old: %s", dump(got), dump(rev))
				}
			}
			// Merging the result again is a duplicate.
			if _, again := Merge(got, tt.in); again {
				t.Errorf("merging %s into its own result changed it", dump(tt.in))
			}
		})
	}
}

func dump(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
