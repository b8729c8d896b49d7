package neo4j

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/sregraph/sregraph/graph"
)

// Bounds passed for an open end of a time filter. Neo4j's DateTime range is
// far wider than anything graph accepts.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

// eventRow is the parameter map that stores one event.
func eventRow(e graph.Event) (map[string]any, error) {
	var attrs any
	if len(e.Attributes) > 0 {
		raw, err := json.Marshal(e.Attributes)
		if err != nil {
			return nil, fmt.Errorf("attributes of event %s: %w", e.ID, err)
		}
		attrs = string(raw)
	}
	var end any
	if e.End != nil {
		end = e.End.UTC()
	}
	return map[string]any{
		"id":          e.ID,
		"kind":        string(e.Kind),
		"service":     e.Service,
		"environment": e.Environment,
		"at":          e.At.UTC(),
		"end":         end,
		"source":      e.Source,
		"externalId":  e.ExternalID,
		"summary":     e.Summary,
		"url":         e.URL,
		"attributes":  attrs,
	}, nil
}

// eventFromRecord reads an event from a record with the columns the event
// statements return.
func eventFromRecord(r *driver.Record) (graph.Event, error) {
	m := r.AsMap()
	e := graph.Event{
		ID:          str(m["id"]),
		Kind:        graph.Kind(str(m["kind"])),
		Service:     str(m["service"]),
		Environment: str(m["environment"]),
		Source:      str(m["source"]),
		ExternalID:  str(m["externalId"]),
		Summary:     str(m["summary"]),
		URL:         str(m["url"]),
	}
	at, ok := m["at"].(time.Time)
	if !ok {
		return graph.Event{}, fmt.Errorf("event %s: stored without a time", e.ID)
	}
	e.At = at.UTC()
	if end, ok := m["end"].(time.Time); ok {
		end = end.UTC()
		e.End = &end
	}
	if raw, ok := m["attributes"].(string); ok && raw != "" {
		if err := json.Unmarshal([]byte(raw), &e.Attributes); err != nil {
			return graph.Event{}, fmt.Errorf("event %s: attributes: %w", e.ID, err)
		}
		if len(e.Attributes) == 0 {
			e.Attributes = nil
		}
	}
	return e, nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Event returns one event by ID.
func (s *Store) Event(ctx context.Context, id string) (graph.Event, error) {
	recs, err := s.read(ctx, cypherEvent, map[string]any{"id": id})
	if err != nil {
		return graph.Event{}, fmt.Errorf("neo4j: event %s: %w", id, err)
	}
	if len(recs) == 0 {
		return graph.Event{}, graph.NotFoundf("event %q not found", id)
	}
	return eventFromRecord(recs[0])
}

// eventParams turns a validated filter into the parameters the event
// statements share, and picks the statements for it.
func eventParams(f graph.EventFilter) (list, count string, params map[string]any, err error) {
	from, to := minTime, maxTime
	if !f.From.IsZero() {
		from = f.From.UTC()
	}
	if !f.To.IsZero() {
		to = f.To.UTC()
	}
	kinds := make([]string, len(f.Kinds))
	for i, k := range f.Kinds {
		kinds[i] = string(k)
	}
	params = map[string]any{
		"from": from, "to": to, "kinds": kinds, "openOnly": f.OpenOnly,
		"afterAt": nil, "afterID": "", "limit": int64(f.First) + 1,
	}
	if f.After != "" {
		at, id, err := graph.DecodeCursor(f.After)
		if err != nil {
			return "", "", nil, err
		}
		params["afterAt"], params["afterID"] = at.UTC(), id
	}
	if len(f.Services) > 0 {
		params["services"] = f.Services
		return cypherEventsOfServices, cypherCountEventsOfServices, params, nil
	}
	return cypherEventsAll, cypherCountEventsAll, params, nil
}

// Events lists events newest first (graph.EventLess order).
func (s *Store) Events(ctx context.Context, f graph.EventFilter) (graph.Page[graph.Event], error) {
	if err := f.Validate(); err != nil {
		return graph.Page[graph.Event]{}, err
	}
	list, _, params, err := eventParams(f)
	if err != nil {
		return graph.Page[graph.Event]{}, err
	}
	recs, err := s.read(ctx, list, params)
	if err != nil {
		return graph.Page[graph.Event]{}, fmt.Errorf("neo4j: events: %w", err)
	}
	page := graph.Page[graph.Event]{Items: make([]graph.Event, 0, min(len(recs), f.First))}
	for i, r := range recs {
		if i == f.First {
			page.HasNext = true
			break
		}
		e, err := eventFromRecord(r)
		if err != nil {
			return graph.Page[graph.Event]{}, fmt.Errorf("neo4j: events: %w", err)
		}
		page.Items = append(page.Items, e)
	}
	return page, nil
}

// CountEvents counts what Events would list, ignoring First and After.
func (s *Store) CountEvents(ctx context.Context, f graph.EventFilter) (int, error) {
	f.After, f.First = "", 0
	if err := f.Validate(); err != nil {
		return 0, err
	}
	_, count, params, err := eventParams(f)
	if err != nil {
		return 0, err
	}
	recs, err := s.read(ctx, count, params)
	if err != nil {
		return 0, fmt.Errorf("neo4j: count events: %w", err)
	}
	return countOf(recs)
}

// countOf reads the single "n" column of a count statement.
func countOf(recs []*driver.Record) (int, error) {
	if len(recs) != 1 {
		return 0, fmt.Errorf("count returned %d rows", len(recs))
	}
	n, _, err := driver.GetRecordValue[int64](recs[0], "n")
	if err != nil {
		return 0, fmt.Errorf("count: %w", err)
	}
	return int(n), nil
}
