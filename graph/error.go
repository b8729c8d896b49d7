package graph

import (
	"errors"
	"fmt"
)

// Error kinds. Callers test for them with errors.Is; the edges of the
// program (GraphQL, HTTP) translate them into codes and statuses once.
var (
	// ErrNotFound means the thing asked for does not exist.
	ErrNotFound = errors.New("not found")
	// ErrInvalid means the input was rejected; the message says why.
	ErrInvalid = errors.New("invalid")
	// ErrUnavailable means a backing store could not be reached; retrying
	// later may succeed.
	ErrUnavailable = errors.New("unavailable")
)

// Invalidf returns an error of kind ErrInvalid whose message is the
// formatted text alone, suitable for showing to the user who sent the input.
func Invalidf(format string, args ...any) error {
	return &kindError{kind: ErrInvalid, msg: fmt.Sprintf(format, args...)}
}

// NotFoundf returns an error of kind ErrNotFound with a user-facing message.
func NotFoundf(format string, args ...any) error {
	return &kindError{kind: ErrNotFound, msg: fmt.Sprintf(format, args...)}
}

type kindError struct {
	kind error
	msg  string
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }

// Message returns the user-facing text of err when err is one of this
// package's error kinds (or wraps one), and "" otherwise.
func Message(err error) string {
	var ke *kindError
	if errors.As(err, &ke) {
		return ke.msg
	}
	var ue *UnknownNameError
	if errors.As(err, &ue) {
		return ue.Error()
	}
	return ""
}
