package ingest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/sregraph/sregraph/graph"
)

// eventItem normalises e and wraps it as an Item; a problem becomes the
// Item's error, prefixed with what (the item's position or identity).
func eventItem(e graph.Event, now time.Time, what string) Item {
	if err := e.Normalize(now); err != nil {
		return Item{Err: itemError(what, err)}
	}
	return Item{Event: &e}
}

// itemError makes an ErrInvalid error whose user-facing message is
// "what: problem"; it stays ErrUndecodable when err was.
func itemError(what string, err error) error {
	msg := graph.Message(err)
	if msg == "" {
		msg = err.Error()
	}
	if what != "" {
		msg = what + ": " + msg
	}
	if errors.Is(err, ErrUndecodable) {
		return fmt.Errorf("%w: %w", graph.Invalidf("%s", msg), ErrUndecodable)
	}
	return graph.Invalidf("%s", msg)
}

// parseTime parses an RFC 3339 time from field; an empty string is the
// zero time. A malformed value is an ErrInvalid error naming the field.
func parseTime(field, s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, graph.Invalidf("%s %q is not an RFC 3339 time (e.g. 2026-11-21T11:50:00Z)", field, s)
	}
	return t, nil
}

// decodeJSON unmarshals a whole body into v, turning failures into
// undecodable errors that say which format was expected.
func decodeJSON(format string, body []byte, v any) error {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return undecodable("empty body: expected a " + format + " JSON payload")
	}
	if err := json.Unmarshal(trimmed, v); err != nil {
		return undecodable(format + " payload: " + JSONError(err, trimmed))
	}
	return nil
}

// jsonList splits body into its JSON values: the elements of an array, or
// the body itself when it is one object.
func jsonList(format string, body []byte) ([]json.RawMessage, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var raws []json.RawMessage
		if err := decodeJSON(format, trimmed, &raws); err != nil {
			return nil, err
		}
		return raws, nil
	}
	if len(trimmed) > 0 && trimmed[0] != '{' {
		return nil, undecodable(fmt.Sprintf("%s payload must be a JSON object, not one starting with %q", format, firstRune(trimmed)))
	}
	var probe json.RawMessage
	if err := decodeJSON(format, trimmed, &probe); err != nil {
		return nil, err
	}
	return []json.RawMessage{trimmed}, nil
}

// flexString is a JSON scalar read as a string: sources disagree on
// whether ids are numbers or strings.
type flexString string

// UnmarshalJSON accepts a string, a number, a boolean or null.
func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0 || string(b) == "null":
		*f = ""
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case b[0] == '{':
		return &json.UnmarshalTypeError{Value: "object", Type: reflect.TypeFor[string]()}
	case b[0] == '[':
		return &json.UnmarshalTypeError{Value: "array", Type: reflect.TypeFor[string]()}
	default:
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			if string(b) == "true" || string(b) == "false" {
				*f = flexString(b)
				return nil
			}
			return &json.UnmarshalTypeError{Value: "value " + string(b), Type: reflect.TypeFor[string]()}
		}
		*f = flexString(n.String())
	}
	return nil
}

// flexInt is a JSON integer that may also arrive as a decimal string.
type flexInt int64

// UnmarshalJSON accepts a number or a string holding one.
func (f *flexInt) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s == "" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(string(s), 64)
		if ferr != nil || fl != float64(int64(fl)) {
			return &json.UnmarshalTypeError{Value: fmt.Sprintf("string %q", string(s)), Type: reflect.TypeFor[int64]()}
		}
		n = int64(fl)
	}
	*f = flexInt(n)
	return nil
}

// lastSegment returns the part of s after its last '/', ignoring trailing
// slashes.
func lastSegment(s string) string {
	s = strings.TrimRight(strings.TrimSpace(s), "/")
	if i := strings.LastIndexByte(s, '/'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// labelService returns <name> from the first label of the form
// "service:<name>" (or "service=<name>"), matched case-insensitively.
func labelService(labels []string) string {
	for _, l := range labels {
		l = strings.TrimSpace(l)
		if len(l) > len("service:") && strings.EqualFold(l[:len("service")], "service") &&
			(l[len("service")] == ':' || l[len("service")] == '=') {
			if name := strings.TrimSpace(l[len("service:"):]); name != "" {
				return name
			}
		}
	}
	return ""
}

// shortRevision shortens a commit hash to 7 characters for summaries and
// leaves anything else alone.
func shortRevision(rev string) string {
	if len(rev) == 40 || len(rev) == 64 {
		for _, c := range rev {
			if !strings.ContainsRune("0123456789abcdef", c) {
				return rev
			}
		}
		return rev[:7]
	}
	return rev
}

// setIf stores v under k when v is not empty.
func setIf(m map[string]any, k string, v string) {
	if strings.TrimSpace(v) != "" {
		m[k] = v
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
