// Package kafka consumes the Kafka topics of the ingest families into the
// store and publishes webhook deliveries to them. It is the only package
// that imports the Kafka client.
//
// It owns the Consumer (fetch, decode, write, dead-letter, then commit,
// one reader per topic), the span loop that feeds the spans topic to the
// OTLP aggregator in offset order, the dead-letter topics (<topic>.dlq),
// the Publisher behind --webhooks-to-kafka, and Config, the settings
// behind the --kafka-* flags. Decoding is the ingest package's; the
// in-process broker of --kafka embedded is the embedded subpackage's.
package kafka
