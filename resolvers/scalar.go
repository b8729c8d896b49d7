package resolvers

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/99designs/gqlgen/graphql"

	"github.com/sregraph/sregraph/graph"
)

// Duration is the GraphQL Duration scalar: Go syntax ("90m") or ISO 8601
// ("PT2H") on input, Go syntax on output.
type Duration = time.Duration

// MarshalDuration writes a duration in Go syntax.
func MarshalDuration(d time.Duration) graphql.Marshaler {
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(d.String()))
	})
}

// UnmarshalDuration reads a duration from a string.
func UnmarshalDuration(v any) (time.Duration, error) {
	s, ok := v.(string)
	if !ok {
		return 0, graph.Invalidf("duration must be a string like \"90m\" or \"PT2H\", not %s", jsonKind(v))
	}
	d, err := graph.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, graph.Invalidf("duration %q must not be negative", s)
	}
	return d, nil
}

// Time is the GraphQL Time scalar: an instant in RFC 3339.
type Time = time.Time

// MarshalTime writes an instant in RFC 3339 with as many fractional
// digits as it has; the zero instant is null.
func MarshalTime(t time.Time) graphql.Marshaler {
	if t.IsZero() {
		return graphql.Null
	}
	return graphql.WriterFunc(func(w io.Writer) {
		_, _ = io.WriteString(w, strconv.Quote(t.Format(time.RFC3339Nano)))
	})
}

// UnmarshalTime reads an instant in RFC 3339 (fractional seconds
// optional), or, as earlier versions accepted, "2006-01-02 15:04:05" in
// UTC. Anything else is a user's mistake (graph.ErrInvalid), which the
// API reports with code BAD_USER_INPUT and where it is in the query.
func UnmarshalTime(v any) (time.Time, error) {
	s, ok := v.(string)
	if !ok {
		return time.Time{}, graph.Invalidf("time must be an RFC 3339 string like \"2026-11-21T11:50:00Z\", not %s", jsonKind(v))
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateTime, s); err == nil {
		return t, nil
	}
	return time.Time{}, graph.Invalidf("time %q is not RFC 3339: want e.g. \"2026-11-21T11:50:00Z\"", s)
}

// jsonKind names the JSON type of a decoded value, for messages.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, int, int64, float64:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
