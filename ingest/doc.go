// Package ingest turns what teams already emit into graph writes.
//
// Decoders are pure functions from bytes (and, for Kafka and webhooks, the
// headers that came with them) to Items: events, declared dependencies or
// call buckets, each with its own error so that one bad item never takes
// the good ones down with it. Aliases rename services before anything is
// stored. The HTTP handlers and Kafka consumers in this package run the
// decoders and hand the results to a store.
package ingest
