package ingest

import (
	"fmt"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

func pagerdutyBody(eventType, occurred, status string) string {
	return fmt.Sprintf(`{"event":{"id":"ev-%s","event_type":%q,"resource_type":"incident","occurred_at":%q,
		"data":{"id":"Q1","type":"incident","html_url":"https://acme.pagerduty.com/incidents/Q1","number":7,"status":%q,
		"created_at":"2026-11-21T11:00:00Z","title":"checkout errors","urgency":"high","service":{"id":"P1","summary":"checkout"}}}}`, status, eventType, occurred, status)
}

// Every update of one incident is one event; the resolve closes it.
func TestPagerDutyLifecycle(t *testing.T) {
	triggered := mustEvent(t, mustDecode(t, DecodePagerDuty, pagerdutyBody("incident.triggered", "2026-11-21T11:00:00Z", "triggered"), nil))
	acked := mustEvent(t, mustDecode(t, DecodePagerDuty, pagerdutyBody("incident.acknowledged", "2026-11-21T11:05:00Z", "acknowledged"), nil))
	resolved := mustEvent(t, mustDecode(t, DecodePagerDuty, pagerdutyBody("incident.resolved", "2026-11-21T11:40:00Z", "resolved"), nil))
	if triggered.Kind != graph.KindIncident || triggered.Service != "checkout" || triggered.ExternalID != "Q1" || triggered.URL == "" || triggered.End != nil {
		t.Errorf("triggered: %+v", triggered)
	}
	if triggered.ID != acked.ID || triggered.ID != resolved.ID {
		t.Fatal("updates of one incident have different IDs")
	}
	if resolved.End == nil || resolved.End.Format("15:04") != "11:40" || resolved.At.Format("15:04") != "11:00" {
		t.Errorf("resolved: at %v end %v, want at 11:00 (start) end 11:40", resolved.At, resolved.End)
	}
	stored, _ := graph.Merge(triggered, acked)
	stored, changed := graph.Merge(stored, resolved)
	if !changed || stored.End == nil || !stored.At.Equal(triggered.At) {
		t.Errorf("after the resolve the stored incident is %+v (changed %v)", stored, changed)
	}
}

func TestPagerDutyOtherEvents(t *testing.T) {
	for name, body := range map[string]string{
		"service event": `{"event":{"event_type":"service.updated","resource_type":"service","occurred_at":"2026-11-21T11:00:00Z","data":{"id":"P1","type":"service"}}}`,
		"incident note": `{"event":{"event_type":"incident.annotated","resource_type":"incident","occurred_at":"2026-11-21T11:00:00Z","data":{"type":"incident_note","content":"x"}}}`,
		"responder":     `{"event":{"event_type":"incident.responder.added","resource_type":"incident","occurred_at":"2026-11-21T11:00:00Z","data":{"type":"incident_responder"}}}`,
	} {
		items, err := DecodePagerDuty([]byte(body), nil, testNow)
		if err != nil || len(items) != 0 {
			t.Errorf("%s: got %v, %v; want nothing", name, items, err)
		}
	}
	if _, err := DecodePagerDuty([]byte(`{"messages":[]}`), nil, testNow); err == nil {
		t.Error("a v2 webhook was accepted")
	}
}

func FuzzDecodePagerDuty(f *testing.F) { fuzzDecoder(f, FormatPagerDuty, DecodePagerDuty) }
