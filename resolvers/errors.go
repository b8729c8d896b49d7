package resolvers

import (
	"context"
	"errors"
	"regexp"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/sregraph/sregraph/graph"
)

// internalError marks an error that must not reach a user verbatim: it
// came from the store or from a panic, not from the user's input.
type internalError struct{ err error }

func (e internalError) Error() string { return e.err.Error() }
func (e internalError) Unwrap() error { return e.err }

// guardedStore marks every store error, except "not found" and "invalid",
// as internal, so the error presenter can tell a store failure from a
// user's mistake wherever in a resolver it surfaces.
type guardedStore struct{ s store }

func guard(err error) error {
	if err == nil || errors.Is(err, graph.ErrNotFound) || errors.Is(err, graph.ErrInvalid) {
		return err
	}
	return internalError{err}
}

func (g guardedStore) EdgesTouching(ctx context.Context, services []string, from, to time.Time) ([]graph.EdgeActivity, error) {
	a, err := g.s.EdgesTouching(ctx, services, from, to)
	return a, guard(err)
}

func (g guardedStore) Apply(ctx context.Context, b graph.Batch) (graph.Written, error) {
	w, err := g.s.Apply(ctx, b)
	return w, guard(err)
}

func (g guardedStore) Events(ctx context.Context, f graph.EventFilter) (graph.Page[graph.Event], error) {
	p, err := g.s.Events(ctx, f)
	return p, guard(err)
}

func (g guardedStore) Event(ctx context.Context, id string) (graph.Event, error) {
	e, err := g.s.Event(ctx, id)
	return e, guard(err)
}

func (g guardedStore) CountEvents(ctx context.Context, f graph.EventFilter) (int, error) {
	n, err := g.s.CountEvents(ctx, f)
	return n, guard(err)
}

func (g guardedStore) Service(ctx context.Context, name string) (graph.Service, error) {
	s, err := g.s.Service(ctx, name)
	return s, guard(err)
}

func (g guardedStore) Services(ctx context.Context, f graph.ServiceFilter) (graph.Page[graph.Service], error) {
	p, err := g.s.Services(ctx, f)
	return p, guard(err)
}

func (g guardedStore) CountServices(ctx context.Context, f graph.ServiceFilter) (int, error) {
	n, err := g.s.CountServices(ctx, f)
	return n, guard(err)
}

// The validator's and the variable decoder's words for an enum value that
// does not exist: `Value "SIDEWAYS" does not exist in "Direction" enum.`
// for a literal, `SIDEWAYS is not a valid Direction` for a variable.
var (
	enumLiteralError  = regexp.MustCompile(`^Value "([^"]*)" does not exist in "(\w+)!?" enum\.`)
	enumVariableError = regexp.MustCompile(`^(\S*) is not a valid (\w+)$`)
)

// enumWord is the word an enum of the API is called by in an error, as
// the CLI and the pages call it.
func enumWord(enum string) string {
	switch enum {
	case "EventKind":
		return "kind"
	case "Direction":
		return "direction"
	case "Signal":
		return "signal"
	}
	return enum + " value"
}

// unknownEnumValue rewrites a validation error about a value that is not
// in an enum as the user's mistake it is: code BAD_USER_INPUT, the
// message graph.UnknownNameError words for a service, a kind or a
// direction alike, and the closest values in extensions.suggestions
// (unless suggestions are hidden, as they would name the schema). It
// reports whether gerr was such an error.
func unknownEnumValue(gerr *gqlerror.Error, schema *ast.Schema, hideSuggestions bool) bool {
	m := enumLiteralError.FindStringSubmatch(gerr.Message)
	if m == nil {
		m = enumVariableError.FindStringSubmatch(gerr.Message)
	}
	if m == nil {
		return false
	}
	def := schema.Types[m[2]]
	if def == nil || def.Kind != ast.Enum {
		return false
	}
	values := make([]string, len(def.EnumValues))
	for i, v := range def.EnumValues {
		values[i] = v.Name
	}
	unknown := &graph.UnknownNameError{What: enumWord(def.Name), Name: m[1]}
	if !hideSuggestions {
		unknown.Suggestions = graph.Suggest(m[1], values)
		if len(unknown.Suggestions) == 0 {
			unknown.Known = values
		}
	}
	gerr.Message = unknown.Error()
	setCode(gerr, "BAD_USER_INPUT")
	if len(unknown.Suggestions) > 0 {
		gerr.Extensions["suggestions"] = unknown.Suggestions
	}
	return true
}
