package ingest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// cloudEvent is a CloudEvents 1.0 envelope: the JSON event format of
// structured mode, or the ce-* headers of binary mode.
type cloudEvent struct {
	SpecVersion string          `json:"specversion"`
	ID          flexString      `json:"id"`
	Source      string          `json:"source"`
	Type        string          `json:"type"`
	Subject     string          `json:"subject"`
	Time        string          `json:"time"`
	Data        json.RawMessage `json:"data"`
	DataBase64  string          `json:"data_base64"`
}

// cdEvent is a CDEvent: a context, a subject and optional custom data.
type cdEvent struct {
	Context struct {
		SpecVersion string     `json:"specversion"`
		Version     string     `json:"version"` // spec 0.3/0.4 name of specversion
		ID          flexString `json:"id"`
		Source      string     `json:"source"`
		Type        string     `json:"type"`
		Timestamp   string     `json:"timestamp"`
		ChainID     string     `json:"chainId"`
	} `json:"context"`
	Subject struct {
		ID      flexString      `json:"id"`
		Source  string          `json:"source"`
		Content json.RawMessage `json:"content"`
	} `json:"subject"`
}

// cdContent holds the subject.content fields of the CDEvents types
// sregraph reads (service, incident and ticket events).
type cdContent struct {
	Environment struct {
		ID     string `json:"id"`
		Source string `json:"source"`
	} `json:"environment"`
	ArtifactID string `json:"artifactId"`
	// incident
	Description string `json:"description"`
	Service     struct {
		ID     string `json:"id"`
		Source string `json:"source"`
	} `json:"service"`
	// ticket
	Summary    string   `json:"summary"`
	TicketType string   `json:"ticketType"`
	Group      string   `json:"group"`
	Creator    string   `json:"creator"`
	Assignees  []string `json:"assignees"`
	Priority   string   `json:"priority"`
	Labels     []string `json:"labels"`
	Milestone  string   `json:"milestone"`
	URI        string   `json:"uri"`
}

const cdeventsPrefix = "dev.cdevents."

// DecodeCloudEvents decodes CDEvents carried as CloudEvents: structured
// mode (content type application/cloudevents+json, or a batch with
// application/cloudevents-batch+json), binary mode (ce-* or ce_* headers,
// the body being the CDEvent), or a bare CDEvent body with no envelope.
//
// Read types, matched by prefix whatever their schema version:
// dev.cdevents.service.deployed and .upgraded become deploys,
// .service.rolledback a rollback (service = last path segment of
// subject.id, at = context.timestamp, externalId = context.id);
// dev.cdevents.incident.detected, .reported and .resolved become incidents
// (service = subject.content.service.id; every report of one incident
// shares the externalId "incident:" + subject.id, so the incident starts
// at the first and the resolve sets its End);
// dev.cdevents.ticket.created, .updated and .closed become tickets (service
// from a "service:<name>" label; every version of a ticket shares one
// externalId, so they are one ticket that keeps its start and takes the
// newest state). Other CDEvents
// (pipeline runs, builds, ...) yield no items; a CloudEvent that is not a
// CDEvent is an item error.
func DecodeCloudEvents(body []byte, h Headers, now time.Time) ([]Item, error) {
	if h.ce("specversion") != "" {
		env := cloudEvent{
			SpecVersion: h.ce("specversion"), ID: flexString(h.ce("id")), Source: h.ce("source"),
			Type: h.ce("type"), Subject: h.ce("subject"), Time: h.ce("time"),
		}
		return collect(cdeventItem(0, env, bytes.TrimSpace(body), now)), nil
	}
	raws, err := jsonList("CloudEvents", body)
	if err != nil {
		return nil, err
	}
	var items []Item
	for i, raw := range raws {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(raw, &probe); err != nil {
			items = append(items, Item{Err: itemError(fmt.Sprintf("event %d", i), undecodable(JSONError(err, raw)))})
			continue
		}
		_, isCE := probe["specversion"]
		_, isCD := probe["context"]
		switch {
		case isCD && !isCE:
			items = append(items, collect(cdeventItem(i, cloudEvent{}, raw, now))...)
		case isCE:
			var env cloudEvent
			if err := json.Unmarshal(raw, &env); err != nil {
				items = append(items, Item{Err: itemError(fmt.Sprintf("event %d", i), undecodable(JSONError(err, raw)))})
				continue
			}
			data := bytes.TrimSpace(env.Data)
			if env.DataBase64 != "" {
				if data, err = base64.StdEncoding.DecodeString(env.DataBase64); err != nil {
					items = append(items, Item{Err: graph.Invalidf("event %d: data_base64 is not base64", i)})
					continue
				}
			}
			items = append(items, collect(cdeventItem(i, env, data, now))...)
		default:
			if len(raws) == 1 {
				return nil, undecodable("body is neither a CloudEvent (no \"specversion\") nor a CDEvent (no \"context\"); for binary mode send the ce-specversion, ce-type, ce-id and ce-source headers")
			}
			items = append(items, Item{Err: graph.Invalidf("event %d is neither a CloudEvent (no \"specversion\") nor a CDEvent (no \"context\")", i)})
		}
	}
	return items, nil
}

// collect turns an optional item into a slice.
func collect(it *Item) []Item {
	if it == nil {
		return nil
	}
	return []Item{*it}
}

// cdeventItem decodes one CDEvent whose envelope is env (zero for a bare
// CDEvent) and whose CDEvent JSON is data. It returns nil for CDEvent types
// sregraph does not record.
func cdeventItem(i int, env cloudEvent, data []byte, now time.Time) *Item {
	what := fmt.Sprintf("event %d", i)
	cd, err := parseCDEvent(data)
	if err != nil {
		return &Item{Err: itemError(what, err)}
	}
	typ := firstNonEmpty(cd.Context.Type, env.Type)
	id := firstNonEmpty(string(cd.Context.ID), string(env.ID))
	if id != "" {
		what = fmt.Sprintf("event %d (%s)", i, id)
	}
	if typ == "" {
		return &Item{Err: graph.Invalidf("%s: no type: a CDEvent needs context.type (e.g. dev.cdevents.service.deployed.0.3.0)", what)}
	}
	if !strings.HasPrefix(typ, cdeventsPrefix) {
		return &Item{Err: graph.Invalidf("%s: CloudEvent type %q is not a CDEvent; sregraph reads dev.cdevents.service.*, incident.* and ticket.* events", what, typ)}
	}
	subjectType, predicate := cdeventType(typ)
	kind, ok := cdeventKinds[subjectType+"."+predicate]
	if !ok {
		return nil
	}
	var content cdContent
	if c := bytes.TrimSpace(cd.Subject.Content); len(c) > 0 && string(c) != "null" {
		if err := json.Unmarshal(c, &content); err != nil {
			return &Item{Err: itemError(what, undecodable("subject.content: "+JSONError(err, c)))}
		}
	}
	at, err := parseTime("context.timestamp", firstNonEmpty(cd.Context.Timestamp, env.Time))
	if err != nil {
		return &Item{Err: itemError(what, err)}
	}
	subjectID := firstNonEmpty(string(cd.Subject.ID), env.Subject)
	attrs := map[string]any{"cdeventType": typ}
	setIf(attrs, "contextSource", firstNonEmpty(cd.Context.Source, env.Source))
	setIf(attrs, "subjectId", subjectID)
	setIf(attrs, "artifactId", content.ArtifactID)
	setIf(attrs, "chainId", cd.Context.ChainID)
	setIf(attrs, "specversion", firstNonEmpty(cd.Context.SpecVersion, cd.Context.Version))
	e := graph.Event{
		Kind:        kind,
		At:          at,
		Source:      "cdevents",
		ExternalID:  id,
		Environment: content.Environment.ID,
		Attributes:  attrs,
	}
	var problem string
	switch subjectType {
	case "service":
		problem = cdServiceEvent(&e, predicate, subjectID, content)
	case "incident":
		problem = cdIncidentEvent(&e, predicate, subjectID, content)
	case "ticket":
		problem = cdTicketEvent(&e, predicate, subjectID, content)
	}
	if problem != "" {
		return &Item{Err: graph.Invalidf("%s: %s", what, problem)}
	}
	e.Summary = truncate(e.Summary, graph.MaxSummaryLen)
	it := eventItem(e, now, what)
	return &it
}

// parseCDEvent reads the CDEvent a CloudEvent's data carries: a JSON
// object, or a JSON string holding one, as some producers send it.
// Empty data or null is an empty CDEvent.
func parseCDEvent(data []byte) (cdEvent, error) {
	var cd cdEvent
	if len(data) > 0 && data[0] == '"' {
		var inner string
		if json.Unmarshal(data, &inner) == nil {
			data = bytes.TrimSpace([]byte(inner))
		}
	}
	switch {
	case len(data) > 0 && data[0] == '{':
		if err := json.Unmarshal(data, &cd); err != nil {
			return cd, undecodable("CDEvent: " + JSONError(err, data))
		}
	case len(data) > 0 && string(data) != "null":
		return cd, graph.Invalidf("data is not a JSON object: send the CDEvent as the CloudEvent's data")
	}
	return cd, nil
}

// cdeventKinds maps the CDEvents sregraph reads, "<subject>.<predicate>",
// to event kinds.
var cdeventKinds = map[string]graph.Kind{
	"service.deployed":   graph.KindDeploy,
	"service.upgraded":   graph.KindDeploy,
	"service.rolledback": graph.KindRollback,
	"incident.detected":  graph.KindIncident,
	"incident.reported":  graph.KindIncident,
	"incident.resolved":  graph.KindIncident,
	"ticket.created":     graph.KindTicket,
	"ticket.updated":     graph.KindTicket,
	"ticket.closed":      graph.KindTicket,
}

// cdServiceEvent fills in a service event: the service is the last path
// segment of the subject id. It returns what is wrong, or "".
func cdServiceEvent(e *graph.Event, predicate, subjectID string, content cdContent) string {
	e.Service = lastSegment(subjectID)
	if e.Service == "" {
		return "subject.id is empty: it names the service (its last path segment is used)"
	}
	e.Summary = e.Service + " " + predicate
	if predicate == "rolledback" {
		e.Summary = e.Service + " rolled back"
	}
	if v := artifactVersion(content.ArtifactID); v != "" {
		e.Summary += " " + v
	}
	if e.Environment != "" {
		e.Summary += " in " + e.Environment
	}
	return ""
}

// cdIncidentEvent fills in an incident event: the service is the one the
// content names, and a resolve ends it. It returns what is wrong, or "".
func cdIncidentEvent(e *graph.Event, predicate, subjectID string, content cdContent) string {
	e.Service = lastSegment(content.Service.ID)
	if e.Service == "" {
		return "incident has no subject.content.service.id naming the affected service"
	}
	if subjectID != "" {
		// detected, reported and resolved are reports of one incident.
		e.ExternalID = "incident:" + subjectID
	}
	e.Attributes["state"] = predicate
	e.Summary = firstNonEmpty(content.Description, "incident "+predicate)
	if predicate == "resolved" {
		end := e.At
		e.End = &end
	}
	return ""
}

// cdTicketEvent fills in a ticket event: the service is the one a
// "service:<name>" label names, and closing ends it. It returns what is
// wrong, or "".
func cdTicketEvent(e *graph.Event, predicate, subjectID string, content cdContent) string {
	e.Service = labelService(content.Labels)
	if e.Service == "" {
		return "ticket has no \"service:<name>\" entry in subject.content.labels; add one so it can be tied to a service"
	}
	if subjectID != "" {
		e.ExternalID = "ticket:" + subjectID
	}
	attrs := e.Attributes
	attrs["state"] = predicate
	setIf(attrs, "ticketType", content.TicketType)
	setIf(attrs, "priority", content.Priority)
	setIf(attrs, "group", content.Group)
	setIf(attrs, "creator", content.Creator)
	setIf(attrs, "milestone", content.Milestone)
	if len(content.Assignees) > 0 {
		attrs["assignees"] = stringsAny(content.Assignees)
	}
	if len(content.Labels) > 0 {
		attrs["labels"] = stringsAny(content.Labels)
	}
	e.Summary = firstNonEmpty(content.Summary, "ticket "+predicate)
	e.URL = content.URI
	if predicate == "closed" {
		end := e.At
		e.End = &end
	}
	return ""
}

// cdeventType splits "dev.cdevents.<subject>.<predicate>.<version>" into
// subject and predicate.
func cdeventType(typ string) (subject, predicate string) {
	parts := strings.SplitN(strings.TrimPrefix(typ, cdeventsPrefix), ".", 3)
	if len(parts) < 2 {
		return parts[0], ""
	}
	return strings.ToLower(parts[0]), strings.ToLower(parts[1])
}

// artifactVersion returns the version of a package URL
// ("pkg:oci/payments@v1.42.0" gives "v1.42.0"), shortening digests.
func artifactVersion(purl string) string {
	i := strings.LastIndexByte(purl, '@')
	if i < 0 {
		return ""
	}
	v := purl[i+1:]
	if q := strings.IndexAny(v, "?#"); q >= 0 {
		v = v[:q]
	}
	if u, err := url.PathUnescape(v); err == nil {
		v = u
	}
	if d, ok := strings.CutPrefix(v, "sha256:"); ok && len(d) > 12 {
		v = "sha256:" + d[:12]
	}
	return v
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func stringsAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
