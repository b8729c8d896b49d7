// Package otlp turns OpenTelemetry spans into sregraph's time-bucketed call
// edges, deploys and anomalies.
//
// # Inputs
//
// Spans arrive as OTLP ExportTraceServiceRequests: over OTLP/HTTP (Handler,
// POST /v1/traces, protobuf or JSON, optionally gzip) and from Kafka
// (AddKafka, the OpenTelemetry Collector kafka exporter's otlp_proto and
// otlp_json encodings). DecodeRequest reads both encodings into the
// official OTLP protobuf types; OTLP JSON writes trace and span ids in hex,
// which plain protobuf JSON would read as base64, so the ids are rewritten
// before protojson sees them. On the hot path (protobuf over HTTP and
// Kafka) the aggregator reads the protobuf wire format directly, only the
// fields pairing needs, without building the message tree; a fuzz test
// holds it to the generated decoder's results. It checks the wire
// structure of everything and the UTF-8 of the strings it reads, so it
// accepts a few bodies the generated decoder would reject (invalid UTF-8 in
// a span name, a malformed event).
//
// A resource without service.name has its spans rejected (reported as an
// OTLP partial success); so has a span with malformed ids, a start time
// outside the years 2000–2200, a start older than Config.Retention (the
// store's retention), which would be counted only to be deleted, or more
// than Config.MaxAhead after now.
//
// # Edges
//
// Pairing follows Grafana Tempo's service-graph processor, case by case
// (TestTempoServiceGraph re-creates Tempo's test cases). A CLIENT or
// PRODUCER span waits in a pending store under (trace id, span id); a
// SERVER or CONSUMER span under (trace id, parent span id); when both
// halves are there the call counts on the edge client service → server
// service, a messaging_system connection when either is a PRODUCER or
// CONSUMER span. A CLIENT or PRODUCER span with one of
// DatabaseNameAttributes (db.namespace, db.name, db.system,
// db.system.name) is a database call and counts at once, to the node named
// by peer.service, else server.address, else network.peer.address (with
// ":network.peer.port"), else the first of those attributes present. A
// SERVER or CONSUMER span without a parent counts as a call from a virtual
// node named by its first PeerAttributes value (peer.service, db.name,
// db.system, db.system.name), else VirtualCaller ("user"). A CLIENT or
// PRODUCER span that expires unpaired counts as a call to the virtual node
// its first PeerAttributes value names; without one it is counted in
// Stats.Expired. Each call bucket carries its connection type
// (graph.ConnectionType: none, messaging_system, database, virtual_node).
// Spans of kind UNSPECIFIED fall back to Jaeger's parent-service →
// child-service rule: an UNSPECIFIED span pairs with its children and its
// parent of any kind when their services differ. INTERNAL spans are
// ignored. Calls of a service to itself are not counted. Attribute values
// are read when they are strings or integers (ports), integers in decimal.
//
// A pending store holds at most MaxItems entries (default 10 000) for at
// most Wait (default 10 s), Tempo's defaults; when it is full the oldest
// entry expires early (Stats.Evicted). HTTP spans share one store, timed
// by the clock; each Kafka partition has its own, timed by its messages.
// Stats counts spans received, rejected, paired, expired and evicted, for
// metrics.
//
// A call counts in the bucket (default one minute) of its client span's
// start, with the client span's duration (for an UNSPECIFIED parent, the
// child's start and duration); it is an error when the client or the
// server span has status ERROR (an UNSPECIFIED parent's own status is not
// the call's). The services at both ends are written too, with the first
// and last instants they were seen.
//
// # Producers and redelivery
//
// A store keeps call buckets by (from, to, start, producer) and a repeated
// key replaces the counts. Every span comes from an origin, and each origin
// is a producer: the calls of its client spans (paired, database, or
// expired into a virtual edge) count under it, cumulatively, and each
// time they grow they are written whole, so writing them again replaces
// rather than adds. A call counts under its client span's producer even
// when its server span arrives later, through another origin.
//
//   - An HTTP request is "http/<hash of content type and body>". A client's
//     retry of a request already written is recognised (the last Remember
//     hashes) and answered without counting again; the retry of a request
//     whose write failed writes what is unwritten. After a restart a retry
//     is counted again under the same key, which replaces. The Handler
//     serialises its writes so an older snapshot never overwrites a newer,
//     and while the store fails it refuses new requests before counting
//     them.
//   - A Kafka segment is an aligned range of SegmentOffsets (default 1000)
//     offsets of one partition, "kafka/<topic>/<partition>/<first offset of
//     the range>". Each partition has its own pending store, whose clock is
//     the newest message timestamp (the aggregator's clock for messages
//     without one): what a partition yields depends on its messages alone,
//     never on when the consumer flushed or how fast it read. FlushKafka returns, with the batch, offsets to commit that never
//     pass the start of an unfinished segment, so a replay (after a crash,
//     a rebalance, a failed commit, or a new consumer group) re-reads whole
//     segments and rewrites the same keys: it replaces, never adds.
//
// Limits: pending stores live in memory and a replay starts with them
// empty. A call whose client span was read before the offset the replay
// starts at is kept if it was written before the crash and lost if its
// server span arrived after the crash; a call whose server span was read
// before that offset and its client span after it becomes, if the client
// span names a peer (peer.service, server.address), a call to that virtual
// node, which is the same edge when the peer is named after the service,
// or else it stays as first written. After a crash a consumer re-reads up
// to SegmentOffsets messages per partition. A Kafka span waits until a
// later message of its partition is Wait younger, so an idle partition
// holds its last spans until traffic resumes. Set partition_traces_by_id:
// true in the Collector's kafka exporter so both halves of a call land in
// one partition. Several sregraph replicas each count what they receive;
// their producers differ, so the store sums them, but a call whose halves
// reach different replicas is not joined.
//
// # Deploys
//
// A service (per deployment.environment.name) that starts reporting a
// service.version it did not report in the last VersionForget (default
// 1 h), after being seen with another version, yields a DEPLOY event with
// source "otlp", ExternalID "<service>@<version>" and the time of the
// first span with that version. The first version seen after start is not
// a deploy; the old and new versions alternating during a rolling update
// yield one event.
//
// # Anomalies
//
// The aggregator keeps the last Recent+Baseline of each edge's buckets in
// memory and, once per bucket, judges the Recent window (default the 5
// minutes ending at the last bucket boundary at least Wait ago) against the
// Baseline before it (default the hour before). Each window needs at
// least MinCalls calls (default 50). An ANOMALY event (source "otlp") is
// raised on the callee service when
//
//   - the error ratio is at least ErrorRatio (3×) the baseline's and at
//     least ErrorDelta (2 percentage points) above it, or
//   - the mean latency is at least LatencyRatio (2×) the baseline's.
//
// The same test runs per service on the sum of its inbound edges when it
// has more than one. A lasting anomaly is reported once, when it starts;
// the event is dated at the end of the window that showed it and its
// ExternalID is "<edge:from->to|service:name>:<error-ratio|latency>@<window
// end>", so a repeat is a duplicate. The history is not persisted: after
// a restart anomalies need a new hour of baseline.
package otlp
