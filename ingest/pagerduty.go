package ingest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

type pagerdutyRef struct {
	ID      string `json:"id"`
	Summary string `json:"summary"`
}

// pagerdutyWebhook is a PagerDuty v3 webhook: one event per delivery.
type pagerdutyWebhook struct {
	Event *struct {
		ID           string          `json:"id"`
		EventType    string          `json:"event_type"`
		ResourceType string          `json:"resource_type"`
		OccurredAt   string          `json:"occurred_at"`
		Agent        *pagerdutyRef   `json:"agent"`
		Data         json.RawMessage `json:"data"`
	} `json:"event"`
}

type pagerdutyIncident struct {
	ID            string        `json:"id"`
	Type          string        `json:"type"`
	HTMLURL       string        `json:"html_url"`
	Number        flexInt       `json:"number"`
	Status        string        `json:"status"`
	IncidentKey   string        `json:"incident_key"`
	CreatedAt     string        `json:"created_at"`
	Title         string        `json:"title"`
	Urgency       string        `json:"urgency"`
	Service       pagerdutyRef  `json:"service"`
	Priority      *pagerdutyRef `json:"priority"`
	ResolveReason any           `json:"resolve_reason"`
}

// DecodePagerDuty decodes a PagerDuty v3 webhook. Events about an incident
// (incident.triggered, .acknowledged, .resolved, ...) become one incident
// event of the service event.data.service.summary, with externalId
// event.data.id, so every update of one incident is one event;
// incident.resolved sets End to event.occurred_at. At is the incident's
// start: event.data.created_at, which for incident.triggered is its
// occurred_at, and which stays the same on every later update so that the
// resolve closes the incident instead of moving it. Older v3 payloads
// have no created_at: At is then event.occurred_at, and since the stored
// incident keeps the earliest At (graph.Merge), it starts at the first
// incident.triggered seen while acknowledged and resolved update only its
// status and end. event.occurred_at is kept as attributes.occurredAt and
// attributes.updatedAt, which orders the updates. Events about other
// resources (services, notes, responders) yield no items.
func DecodePagerDuty(body []byte, _ Headers, now time.Time) ([]Item, error) {
	var w pagerdutyWebhook
	if err := decodeJSON("PagerDuty webhook", body, &w); err != nil {
		return nil, err
	}
	if w.Event == nil || w.Event.EventType == "" {
		return nil, undecodable("PagerDuty webhook has no event.event_type: sregraph reads PagerDuty v3 webhooks ({\"event\": {...}})")
	}
	ev := w.Event
	if !strings.HasPrefix(ev.EventType, "incident.") {
		return nil, nil
	}
	var inc pagerdutyIncident
	if len(ev.Data) > 0 {
		if err := json.Unmarshal(ev.Data, &inc); err != nil {
			return nil, undecodable("PagerDuty event.data: " + JSONError(err, ev.Data))
		}
	}
	if inc.Type != "" && inc.Type != "incident" {
		return nil, nil
	}
	what := "PagerDuty " + ev.EventType
	if inc.ID != "" {
		what += " " + inc.ID
	}
	service := strings.TrimSpace(inc.Service.Summary)
	if service == "" {
		return []Item{{Err: graph.Invalidf("%s: event.data.service.summary is empty: it names the service", what)}}, nil
	}
	occurred, err := parseTime("event.occurred_at", ev.OccurredAt)
	if err != nil {
		return []Item{{Err: itemError(what, err)}}, nil
	}
	created, err := parseTime("event.data.created_at", inc.CreatedAt)
	if err != nil {
		return []Item{{Err: itemError(what, err)}}, nil
	}
	at := created
	if at.IsZero() {
		at = occurred
	}
	attrs := map[string]any{"eventType": ev.EventType}
	setIf(attrs, "status", inc.Status)
	setIf(attrs, "urgency", inc.Urgency)
	setIf(attrs, "incidentKey", inc.IncidentKey)
	setIf(attrs, "serviceId", inc.Service.ID)
	setIf(attrs, "occurredAt", ev.OccurredAt)
	if !occurred.IsZero() {
		attrs[graph.UpdatedAttr] = occurred.UTC().Format(time.RFC3339Nano)
	}
	if inc.Number != 0 {
		attrs["number"] = int64(inc.Number)
	}
	if inc.Priority != nil {
		setIf(attrs, "priority", inc.Priority.Summary)
	}
	if ev.Agent != nil {
		setIf(attrs, "agent", ev.Agent.Summary)
	}
	e := graph.Event{
		Kind:       graph.KindIncident,
		Service:    service,
		At:         at,
		Source:     "pagerduty",
		ExternalID: inc.ID,
		Summary:    truncate(firstNonEmpty(inc.Title, "PagerDuty incident "+inc.ID), graph.MaxSummaryLen),
		URL:        inc.HTMLURL,
		Attributes: attrs,
	}
	if ev.EventType == "incident.resolved" {
		end := occurred
		if end.IsZero() {
			end = at
		}
		e.End = &end
	}
	return []Item{eventItem(e, now, what)}, nil
}

// PagerDuty signs with X-PagerDuty-Signature: v1=<hex>[,v1=<hex>...],
// one signature per active secret (so secrets can be rotated).
var pagerdutySignature = Signature{
	Header:   "X-PagerDuty-Signature",
	Secret:   "pagerduty-secret",
	Describe: "PagerDuty v3 webhook signing secret",
	format:   "v1=<hex HMAC-SHA256 of the body>[,v1=...]",
	parse: func(v string) ([]claimedDigest, error) {
		var out []claimedDigest
		for _, part := range strings.Split(v, ",") {
			version, digest, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || version != "v1" {
				continue // a scheme version this server does not know
			}
			sum, err := hex.DecodeString(strings.TrimSpace(digest))
			if err != nil || len(sum) != sha256.Size {
				return nil, fmt.Errorf("v1 signature %q is not 64 hex digits", digest)
			}
			out = append(out, claimedDigest{hash: sha256.New, sum: sum})
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("no v1=<hex> signature in it")
		}
		return out, nil
	},
}
