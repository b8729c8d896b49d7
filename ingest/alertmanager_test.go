package ingest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

// alertmanagerBody wraps alerts (JSON objects) in a version 4 webhook.
func alertmanagerBody(alerts ...string) string {
	return `{"version":"4","status":"firing","receiver":"sregraph","alerts":[` + strings.Join(alerts, ",") + `]}`
}

func TestAlertmanagerServiceAndSLO(t *testing.T) {
	tests := []struct {
		name        string
		labels      string
		wantService string
		wantSLO     string
	}{
		{"service label wins", `{"service":"payments","sloth_service":"pay","app":"p","job":"j","slo":"avail","alertname":"A"}`, "payments", "avail"},
		{"Sloth labels", `{"sloth_service":"checkout","sloth_slo":"requests-availability","sloth_id":"checkout-requests-availability","alertname":"A"}`, "checkout", "requests-availability"},
		{"Pyrra labels", `{"job":"cart","slo":"cart-errors","alertname":"ErrorBudgetBurn"}`, "cart", "cart-errors"},
		{"app before job", `{"app":"search","job":"prometheus","alertname":"SearchLatency"}`, "search", "SearchLatency"},
		{"blank service label falls through", `{"service":" ","app":"search","alertname":"X"}`, "search", "X"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := alertmanagerBody(`{"status":"firing","labels":` + tt.labels + `,"startsAt":"2026-11-21T11:00:00Z","fingerprint":"f1"}`)
			e := mustEvent(t, mustDecode(t, DecodeAlertmanager, body, nil))
			if e.Service != tt.wantService || e.Attributes["slo"] != tt.wantSLO || e.Kind != graph.KindSLOBreach {
				t.Errorf("got service %q slo %v kind %s, want %q %q slo_breach", e.Service, e.Attributes["slo"], e.Kind, tt.wantService, tt.wantSLO)
			}
		})
	}
}

// An alert without any service label is a breach of the service its SLO
// names (Pyrra rules whose selector has no job), not a rejection.
func TestAlertmanagerNoServiceLabelFallsBackToTheSLO(t *testing.T) {
	body := alertmanagerBody(`{"status":"firing","labels":{"alertname":"ErrorBudgetBurn","slo":"checkout-errors","long":"1h","short":"5m","severity":"critical","exhaustion":"2d"},"startsAt":"2026-11-21T11:00:00Z","fingerprint":"f1"}`)
	e := mustEvent(t, mustDecode(t, DecodeAlertmanager, body, nil))
	if e.Service != "checkout-errors" {
		t.Errorf("service = %q; want the SLO name checkout-errors", e.Service)
	}
	sl, err := ParseServiceLabels("team")
	if err != nil {
		t.Fatal(err)
	}
	withTeam := strings.Replace(body, `"slo":`, `"team":"checkout","slo":`, 1)
	items := sl.Apply(mustDecode(t, DecodeAlertmanager, withTeam, nil))
	if e := mustEvent(t, items); e.Service != "checkout" {
		t.Errorf("with --slo-service-label team: service = %q; want checkout", e.Service)
	}
	if _, err := ParseServiceLabels("app.kubernetes.io/name"); err == nil {
		t.Error("a label name with dots and a slash was accepted")
	}
}

// A breach's resolve carries the firing notification's ID and closes it.
func TestAlertmanagerResolveClosesBreach(t *testing.T) {
	alert := func(status, endsAt string) string {
		return alertmanagerBody(fmt.Sprintf(`{"status":%q,"labels":{"service":"payments","slo":"availability"},
			"startsAt":"2026-11-21T11:00:00.5Z","endsAt":%q,"fingerprint":"5f1d2c5a9b3e7d11"}`, status, endsAt))
	}
	firing := mustEvent(t, mustDecode(t, DecodeAlertmanager, alert("firing", "2026-11-21T11:04:00Z"), nil))
	resolved := mustEvent(t, mustDecode(t, DecodeAlertmanager, alert("resolved", "2026-11-21T11:40:00Z"), nil))
	if firing.End != nil {
		t.Errorf("firing alert has End %v; a firing alert's endsAt is provisional", firing.End)
	}
	if firing.ID != resolved.ID {
		t.Fatalf("firing ID %s != resolved ID %s", firing.ID, resolved.ID)
	}
	merged, changed := graph.Merge(firing, resolved)
	if !changed || merged.End == nil || !merged.End.Equal(testNow.Add(-20*60e9)) {
		t.Errorf("merge = %+v (changed %v), want End 11:40", merged.End, changed)
	}
	// A report of the same alert with a later start is another report:
	// Episodes decides whether it joins a stored breach.
	again := mustEvent(t, mustDecode(t, DecodeAlertmanager, strings.Replace(alert("firing", ""), "11:00:00.5Z", "11:50:00Z", 1), nil))
	if again.ID == firing.ID {
		t.Error("a later firing episode has the ID of the first")
	}
}

func TestAlertmanagerWholeBodyErrors(t *testing.T) {
	for name, body := range map[string]string{
		"not JSON":      `alerts!`,
		"no alerts":     `{"version":"4","status":"firing"}`,
		"wrong version": `{"version":"2","alerts":[]}`,
		"alerts object": `{"version":"4","alerts":{}}`,
		"empty":         ``,
	} {
		t.Run(name, func(t *testing.T) {
			items, err := DecodeAlertmanager([]byte(body), nil, testNow)
			if err == nil {
				t.Fatalf("got %d items and no error", len(items))
			}
			checkItems(t, items, err)
		})
	}
}

func FuzzDecodeAlertmanager(f *testing.F) { fuzzDecoder(f, FormatAlertmanager, DecodeAlertmanager) }

func BenchmarkDecodeAlertmanager(b *testing.B) {
	alerts := make([]string, 50)
	for i := range alerts {
		alerts[i] = fmt.Sprintf(`{"status":"firing","labels":{"alertname":"Burn","sloth_service":"svc-%d","sloth_slo":"availability","sloth_id":"svc-%d-availability","sloth_severity":"page"},
			"annotations":{"title":"(page) svc-%d availability SLO error budget burn rate is too high."},
			"startsAt":"2026-11-21T11:%02d:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://prometheus:9090/graph?g0.expr=x","fingerprint":"%016x"}`, i, i, i, i, i)
	}
	body := []byte(alertmanagerBody(alerts...))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		items, err := DecodeAlertmanager(body, nil, testNow)
		if err != nil || len(items) != 50 || items[0].Event == nil {
			b.Fatalf("decode: %v, %d items", err, len(items))
		}
	}
}
