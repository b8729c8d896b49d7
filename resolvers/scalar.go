package resolvers

import (
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
		return 0, fmt.Errorf("duration must be a string like \"90m\" or \"PT2H\", not %T", v)
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
