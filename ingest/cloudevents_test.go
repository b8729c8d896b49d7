package ingest

import (
	"encoding/base64"
	"strconv"
	"strings"
	"testing"

	"github.com/sregraph/sregraph/graph"
)

const deployedCDEvent = `{
  "context": {"specversion": "0.5.0", "id": "ev-1", "source": "/ci", "type": "dev.cdevents.service.deployed.0.3.0", "timestamp": "2026-11-21T11:50:00Z"},
  "subject": {"id": "/services/payments", "content": {"environment": {"id": "prod"}, "artifactId": "pkg:oci/payments@1.42.0"}}
}`

// The same CDEvent sent in every transport shape is the same event.
func TestCloudEventsModes(t *testing.T) {
	binaryHeaders := func(sep string) map[string]string {
		return map[string]string{
			"ce" + sep + "specversion": "1.0", "ce" + sep + "id": "ev-1", "ce" + sep + "source": "/ci",
			"ce" + sep + "type": "dev.cdevents.service.deployed.0.3.0", "content-type": "application/json",
		}
	}
	structured := `{"specversion":"1.0","id":"ev-1","source":"/ci","type":"dev.cdevents.service.deployed.0.3.0","datacontenttype":"application/json","data":` + deployedCDEvent + `}`
	structuredB64 := `{"specversion":"1.0","id":"ev-1","source":"/ci","type":"dev.cdevents.service.deployed.0.3.0","data_base64":"` + base64.StdEncoding.EncodeToString([]byte(deployedCDEvent)) + `"}`
	structuredString := replaceOnce(structured, `"data":`+deployedCDEvent, `"data":`+strconv.Quote(deployedCDEvent))
	if structuredString == structured {
		t.Fatal("test setup: data was not re-encoded as a string")
	}
	cases := []struct {
		name    string
		body    string
		headers map[string]string
	}{
		{"bare CDEvent", deployedCDEvent, nil},
		{"structured", structured, map[string]string{"Content-Type": "application/cloudevents+json"}},
		{"structured base64 data", structuredB64, nil},
		{"structured data as a JSON string", structuredString, nil},
		{"batch", "[" + structured + "]", map[string]string{"content-type": "application/cloudevents-batch+json"}},
		{"binary over HTTP", deployedCDEvent, binaryHeaders("-")},
		{"binary over Kafka", deployedCDEvent, binaryHeaders("_")},
	}
	var first graph.Event
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name, dec := Detect([]byte(c.body), NewHeaders(c.headers))
			if name != FormatCloudEvents {
				t.Fatalf("Detect = %q", name)
			}
			e := mustEvent(t, mustDecode(t, dec, c.body, c.headers))
			if e.Kind != graph.KindDeploy || e.Service != "payments" || e.Environment != "prod" || e.ExternalID != "ev-1" || !e.At.Equal(testNow.Add(-600e9)) {
				t.Errorf("got %+v", e)
			}
			if i == 0 {
				first = e
			} else if e.ID != first.ID {
				t.Errorf("ID %s differs from the bare CDEvent's %s", e.ID, first.ID)
			}
		})
	}
}

// Binary mode with a body that is only the subject content still works:
// the envelope's headers fill in the context.
func TestCloudEventsBinaryEnvelopeFillsContext(t *testing.T) {
	h := map[string]string{"ce-specversion": "1.0", "ce-id": "x-9", "ce-type": "dev.cdevents.service.rolledback.0.3.0",
		"ce-subject": "cart", "ce-time": "2026-11-21T11:00:00Z", "ce-source": "/spinnaker"}
	e := mustEvent(t, mustDecode(t, DecodeCloudEvents, `{"subject":{"content":{"environment":{"id":"prod"}}}}`, h))
	if e.Kind != graph.KindRollback || e.Service != "cart" || e.ExternalID != "x-9" || e.Summary != "cart rolled back in prod" {
		t.Errorf("got %+v", e)
	}
}

func TestCDEventTypes(t *testing.T) {
	tests := []struct {
		typ     string
		content string
		want    graph.Kind // "" = no item
		wantEnd bool
	}{
		{"dev.cdevents.service.deployed.0.3.0", `{}`, graph.KindDeploy, false},
		{"dev.cdevents.service.deployed.0.1.1", `{}`, graph.KindDeploy, false},
		{"dev.cdevents.service.deployed", `{}`, graph.KindDeploy, false},
		{"dev.cdevents.service.upgraded.0.2.0", `{}`, graph.KindDeploy, false},
		{"dev.cdevents.service.rolledback.0.3.0", `{}`, graph.KindRollback, false},
		{"dev.cdevents.service.removed.0.3.0", `{}`, "", false},
		{"dev.cdevents.pipelinerun.finished.0.2.0", `{}`, "", false},
		{"dev.cdevents.incident.detected.0.3.0", `{"service":{"id":"/svc/payments"}}`, graph.KindIncident, false},
		{"dev.cdevents.incident.reported.0.3.0", `{"service":{"id":"payments"}}`, graph.KindIncident, false},
		{"dev.cdevents.incident.resolved.0.3.0", `{"service":{"id":"payments"}}`, graph.KindIncident, true},
		{"dev.cdevents.ticket.created.0.2.0", `{"labels":["service:payments"]}`, graph.KindTicket, false},
		{"dev.cdevents.ticket.updated.0.2.0", `{"labels":["Service=payments"]}`, graph.KindTicket, false},
		{"dev.cdevents.ticket.closed.0.2.0", `{"labels":["service:payments"]}`, graph.KindTicket, true},
	}
	for _, tt := range tests {
		t.Run(tt.typ, func(t *testing.T) {
			body := `{"context":{"version":"0.4.1","id":"i-1","type":"` + tt.typ + `","timestamp":"2026-11-21T11:00:00Z"},"subject":{"id":"payments","content":` + tt.content + `}}`
			items := mustDecode(t, DecodeCloudEvents, body, nil)
			if tt.want == "" {
				if len(items) != 0 {
					t.Fatalf("got %+v, want no items", items)
				}
				return
			}
			e := mustEvent(t, items)
			if e.Kind != tt.want || e.Service != "payments" || (e.End != nil) != tt.wantEnd {
				t.Errorf("got kind %s service %q end %v", e.Kind, e.Service, e.End)
			}
		})
	}
}

func TestCloudEventsItemErrors(t *testing.T) {
	tests := map[string]string{
		"not a CDEvent":          `{"specversion":"1.0","id":"1","type":"com.example.x","data":{}}`,
		"incident no service":    `{"context":{"id":"1","type":"dev.cdevents.incident.detected.0.3.0","timestamp":"2026-11-21T11:00:00Z"},"subject":{"id":"inc-1","content":{}}}`,
		"ticket no service":      `{"context":{"id":"1","type":"dev.cdevents.ticket.created.0.2.0","timestamp":"2026-11-21T11:00:00Z"},"subject":{"id":"t-1","content":{"labels":["bug"]}}}`,
		"no type":                `{"context":{"id":"1","timestamp":"2026-11-21T11:00:00Z"},"subject":{"id":"a"}}`,
		"bad time":               `{"context":{"id":"1","type":"dev.cdevents.service.deployed.0.3.0","timestamp":"noon"},"subject":{"id":"a"}}`,
		"data not an object":     `{"specversion":"1.0","id":"1","type":"dev.cdevents.service.deployed.0.3.0","data":"text"}`,
		"data_base64 not base64": `{"specversion":"1.0","id":"1","type":"dev.cdevents.service.deployed.0.3.0","data_base64":"!!"}`,
	}
	for name, body := range tests {
		t.Run(name, func(t *testing.T) {
			items := mustDecode(t, DecodeCloudEvents, body, nil)
			checkItems(t, items, nil)
			if len(items) != 1 || items[0].Err == nil {
				t.Fatalf("got %+v, want one item error", items)
			}
		})
	}
	if _, err := DecodeCloudEvents([]byte(`{"hello":"world"}`), nil, testNow); err == nil || !strings.Contains(err.Error(), "specversion") {
		t.Errorf("a body that is neither CloudEvent nor CDEvent: err = %v", err)
	}
}

func FuzzDecodeCloudEvents(f *testing.F) { fuzzDecoder(f, FormatCloudEvents, DecodeCloudEvents) }
