package ingest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// canonicalEvent is the wire shape of the canonical event (contract.md).
type canonicalEvent struct {
	ID          string          `json:"id"`
	Kind        string          `json:"kind"`
	Service     string          `json:"service"`
	Environment string          `json:"environment"`
	At          *time.Time      `json:"at"`
	End         *time.Time      `json:"end"`
	Source      string          `json:"source"`
	Summary     string          `json:"summary"`
	URL         string          `json:"url"`
	Attributes  json.RawMessage `json:"attributes"`
}

// DecodeCanonical decodes canonical events: one JSON object, a JSON array
// of objects, or NDJSON (one object per line). Every element becomes an
// Item with its own error, so a malformed line or an unknown kind rejects
// that item alone. It returns an error only when the body as a whole has
// no recognisable shape. now bounds future timestamps.
func DecodeCanonical(body []byte, now time.Time) ([]Item, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, graph.Invalidf("empty body: send a JSON object, a JSON array or NDJSON")
	}
	switch trimmed[0] {
	case '[':
		var raws []json.RawMessage
		if err := json.Unmarshal(trimmed, &raws); err != nil {
			return nil, graph.Invalidf("body starts like a JSON array but is not one: %s", JSONError(err, trimmed))
		}
		items := make([]Item, len(raws))
		for i, raw := range raws {
			items[i] = decodeCanonicalOne(raw, now)
		}
		return items, nil
	case '{':
		if json.Valid(trimmed) {
			return []Item{decodeCanonicalOne(trimmed, now)}, nil
		}
		var items []Item
		for _, line := range bytes.Split(trimmed, []byte("\n")) {
			line = bytes.TrimSpace(line)
			if len(line) == 0 {
				continue
			}
			items = append(items, decodeCanonicalOne(line, now))
		}
		return items, nil
	}
	return nil, graph.Invalidf("body is not JSON: it starts with %q; send a JSON object, a JSON array or NDJSON", firstRune(trimmed))
}

func decodeCanonicalOne(raw []byte, now time.Time) Item {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var c canonicalEvent
	if err := dec.Decode(&c); err != nil {
		return Item{Err: undecodable(JSONError(err, raw))}
	}
	if dec.More() {
		return Item{Err: undecodable("more than one JSON value on one line")}
	}
	var attrs map[string]any
	if len(c.Attributes) > 0 && string(c.Attributes) != "null" {
		if err := json.Unmarshal(c.Attributes, &attrs); err != nil {
			return Item{Err: undecodable("attributes must be a JSON object")}
		}
	}
	if strings.EqualFold(strings.TrimSpace(c.Kind), "dependency") {
		target, _ := attrs["target"].(string)
		d := graph.Dependency{From: strings.TrimSpace(c.Service), To: strings.TrimSpace(target), Source: strings.TrimSpace(c.Source)}
		if d.Source == "" {
			d.Source = "declared"
		}
		if err := d.Validate(); err != nil {
			return Item{Err: err}
		}
		return Item{Dependency: &d}
	}
	if c.Kind == "" {
		return Item{Err: graph.Invalidf("kind is required")}
	}
	kind, err := graph.ParseKind(c.Kind)
	if err != nil {
		return Item{Err: err}
	}
	e := graph.Event{
		Kind: kind, Service: c.Service, Environment: c.Environment, Source: c.Source,
		ExternalID: c.ID, Summary: c.Summary, URL: c.URL, Attributes: attrs, End: c.End,
	}
	if c.At != nil {
		e.At = *c.At
	}
	if err := e.Normalize(now); err != nil {
		return Item{Err: err}
	}
	return Item{Event: &e}
}

func undecodable(msg string) error {
	return fmt.Errorf("%w: %w", graph.Invalidf("%s", msg), ErrUndecodable)
}

func firstRune(b []byte) string {
	r := []rune(string(b[:min(len(b), 8)]))
	if len(r) == 0 {
		return ""
	}
	return string(r[0])
}
