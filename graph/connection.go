package graph

import "time"

// ConnectionType is what kind of connection the calls on an edge go over,
// with the values of Grafana Tempo's service graph connection_type label.
type ConnectionType string

// The connection types.
const (
	// ConnectionNone is a plain request/response call (HTTP, RPC): a
	// CLIENT span answered by a SERVER span.
	ConnectionNone ConnectionType = ""
	// ConnectionMessaging is a message passed through a broker: a PRODUCER
	// span consumed by a CONSUMER span.
	ConnectionMessaging ConnectionType = "messaging_system"
	// ConnectionDatabase is a call to a database, named from the client
	// span's attributes alone.
	ConnectionDatabase ConnectionType = "database"
	// ConnectionVirtual is a call with one end inferred rather than seen:
	// a root SERVER or CONSUMER span called by an uninstrumented caller,
	// or a CLIENT or PRODUCER span to an uninstrumented peer.
	ConnectionVirtual ConnectionType = "virtual_node"
)

// Valid reports whether c is one of the connection types.
func (c ConnectionType) Valid() bool { return c.rank() >= 0 }

// rank orders the types for a tie between calls in the same bucket: the
// inferred virtual node is the weakest claim, a database or messaging
// connection named by the spans the strongest.
func (c ConnectionType) rank() int {
	switch c {
	case ConnectionVirtual:
		return 0
	case ConnectionNone:
		return 1
	case ConnectionMessaging:
		return 2
	case ConnectionDatabase:
		return 3
	}
	return -1
}

// Code is c as a small number for stores (1–4; 0 is no type recorded).
func (c ConnectionType) Code() byte { return byte(c.rank() + 1) }

// ConnectionOfCode is the connection type of a Code (ConnectionNone for 0
// or an unknown code).
func ConnectionOfCode(b byte) ConnectionType {
	switch b {
	case 1:
		return ConnectionVirtual
	case 3:
		return ConnectionMessaging
	case 4:
		return ConnectionDatabase
	}
	return ConnectionNone
}

// Supersedes reports whether a connection type seen on calls in the
// bucket starting at at replaces old, seen in the bucket starting at
// oldAt, as an edge's connection type. An edge's type is that of its
// latest bucket, and in one bucket the higher ranked type (database,
// then messaging, then none, then virtual node), so every store answers
// the same whatever order the buckets were written in.
func (c ConnectionType) Supersedes(at time.Time, old ConnectionType, oldAt time.Time) bool {
	if !at.Equal(oldAt) {
		return at.After(oldAt)
	}
	return c.rank() > old.rank()
}
