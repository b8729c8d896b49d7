package graph

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func TestEventNormalize(t *testing.T) {
	at := now.Add(-time.Hour)
	end := at.Add(-time.Minute)
	tests := []struct {
		name string
		e    Event
		err  string
	}{
		{"ok", Event{Kind: KindDeploy, Service: " payments ", Source: "argo-cd", At: at}, ""},
		{"no kind", Event{Service: "p", Source: "s", At: at}, "kind is required"},
		{"unknown kind", Event{Kind: "reboot", Service: "p", Source: "s", At: at}, "no kind named `reboot`; want one of `deploy`"},
		{"no service", Event{Kind: KindDeploy, Source: "s", At: at}, "service is required"},
		{"slash in service", Event{Kind: KindDeploy, Service: "a/b", Source: "s", At: at}, "contains a control character"},
		{"no source", Event{Kind: KindDeploy, Service: "p", At: at}, "source is required"},
		{"no time", Event{Kind: KindDeploy, Service: "p", Source: "s"}, "at is required"},
		{"epoch", Event{Kind: KindDeploy, Service: "p", Source: "s", At: time.Unix(1, 0)}, "outside the accepted range"},
		{"future", Event{Kind: KindDeploy, Service: "p", Source: "s", At: now.Add(48 * time.Hour)}, "in the future"},
		{"end before start", Event{Kind: KindDeploy, Service: "p", Source: "s", At: at, End: &end}, "is before at"},
		{"long summary", Event{Kind: KindDeploy, Service: "p", Source: "s", At: at, Summary: strings.Repeat("x", MaxSummaryLen+1)}, "summary is longer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.e
			err := e.Normalize(now)
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if e.Service != "payments" || e.ID == "" || e.Summary != "deploy on payments" {
					t.Fatalf("not normalised: %+v", e)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("Normalize() = %v; want ErrInvalid containing %q", err, tt.err)
			}
		})
	}
}

func TestEventIDIsTheIdempotencyKey(t *testing.T) {
	at := now.Add(-time.Hour)
	mk := func(mut func(*Event)) string {
		e := Event{Kind: KindDeploy, Service: "payments", Source: "argo-cd", At: at, Summary: "v2", Attributes: map[string]any{"b": 1.0, "a": "x"}}
		mut(&e)
		if err := e.Normalize(now); err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	base := mk(func(*Event) {})
	if base != mk(func(e *Event) { e.Attributes = map[string]any{"a": "x", "b": 1.0} }) {
		t.Error("attribute order changed the content hash")
	}
	if base == mk(func(e *Event) { e.Summary = "v3" }) {
		t.Error("a different summary must be a different event")
	}
	withID := mk(func(e *Event) { e.ExternalID = "42" })
	if withID != mk(func(e *Event) { e.ExternalID = "42"; e.Summary = "other"; e.At = at.Add(time.Minute) }) {
		t.Error("with an external id, (source, id) alone is the key")
	}
	if withID == mk(func(e *Event) { e.ExternalID = "42"; e.Source = "github" }) {
		t.Error("the same id from another source is another event")
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"DEPLOY": KindDeploy, "slo-breach": KindSLOBreach, " Rollback ": KindRollback} {
		if got, err := ParseKind(in); err != nil || got != want {
			t.Errorf("ParseKind(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseKind("dependency"); err == nil {
		t.Error("dependency is not an event kind")
	}
}
