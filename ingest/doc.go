// Package ingest turns what teams already emit into graph writes, without
// knowing how it arrived.
//
// It owns:
//   - Item, the decoded input: an event, a declared dependency, or the
//     reason one could not be decoded;
//   - the source registry (source.go): each format's name, decoder,
//     detection rules, webhook endpoint, signature scheme and Kafka
//     family, and Detect, which picks the format of a body from its
//     headers, then its content;
//   - the decoders, one file per source: pure functions from a body and
//     its headers to Items, each item with its own error so that one bad
//     item never takes the good ones down with it;
//   - Aliases, which rename services before anything is stored;
//   - the batch path every transport shares: SplitItems, and ApplyParts,
//     which writes item by item when the store refuses a batch.
//
// It imports only graph (and YAML for alias and catalog files). The
// transports live in subpackages: webhook (HTTP), kafka (consumers, dead
// letters, the webhook publisher), kafka/embedded (the in-process broker)
// and otlp (traces, over HTTP and Kafka).
package ingest
