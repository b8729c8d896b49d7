package ingest

import (
	"errors"

	"github.com/sregraph/sregraph/graph"
)

// Item is one decoded input: an event, a declared dependency, or the
// reason the input could not be decoded.
type Item struct {
	Event      *graph.Event
	Dependency *graph.Dependency
	Err        error
}

// ErrUndecodable marks input that no retry will fix.
var ErrUndecodable = errors.New("undecodable")

// ErrTooLarge marks input a transport refuses for its size (a Kafka
// broker's message.max.bytes), which no retry will change.
var ErrTooLarge = errors.New("too large")
