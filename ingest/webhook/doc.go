// Package webhook receives pushed input over HTTP: canonical events on
// POST /v1/events and the native webhooks of the sources in the ingest
// registry on POST /v1/webhooks/{source}.
//
// It owns the request side: body limits and gzip, signature and shared
// token checks, the JSON answer ({"accepted", "duplicates", "rejected"})
// and its metrics. Decoding is the ingest package's; writing goes to a
// graph.Applier, or, with --webhooks-to-kafka, to a Publisher (the kafka
// package's), which appends the raw delivery to its family's topic.
package webhook
