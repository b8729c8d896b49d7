// Package graph is sregraph's domain: the time-aware service graph and the
// breach-context query that runs over it.
//
// The graph has three kinds of things in it:
//
//   - Services, named after the service.name teams already use (after
//     aliases are applied).
//   - Events that happen to one service at one instant: deploys, rollbacks,
//     scale events, config and flag changes, tickets, incidents, SLO breaches
//     and anomalies. Every event has an idempotency key, so writing the same
//     event twice stores it once.
//   - Dependency edges between services. Edges derived from traces carry
//     time: calls and errors are counted per time bucket, so the graph can be
//     asked how it looked during any window. Declared edges (from a catalog)
//     are always present.
//
// Time model: every instant is UTC; a breach context looks at the window
// [at-before, at+after] around an instant; an edge belongs to a window when it
// carried calls inside the window or within a grace period before it.
//
// This package imports only the standard library. Stores live in
// subpackages named after their storage library (graph/pebble, graph/neo4j);
// the GraphQL adapter, ingest and the command wire them together.
package graph
