package neo4j

// Every Cypher statement the store sends is a constant in this file, so that
// all of them can be checked by Neo4j's own parser and semantic analysis.
// Values are always parameters; nothing here is ever assembled from strings.
//
// The graph:
//
//	(:Service {name, environment, owner, firstSeen, lastSeen})
//	(:Event {id, kind, service, environment, at, end, source, externalId,
//	         summary, url, attributes})-[:AFFECTS]->(:Service)
//	(:Service)-[:DEPENDS_ON {source}]->(:Service)             declared edges
//	(:Service)-[:CALLS {key, caller, callee, hour, producer, calls,
//	                    errors, latencySum, latency}]->(:Service)
//	                                                          call buckets,
//	                                                          one per hour
//	(:Service)-[:CALLS_EDGE {firstSeen, lastSeen, connection}]->(:Service)
//	                                                          call edges
//
// Instants are DateTime values in UTC; attributes are a JSON string. A call
// edge's connection is its graph.ConnectionType as graph.ConnectionType.Code
// (1 virtual_node, 2 a plain call, 3 messaging_system, 4 database); an edge
// written before connection types has none and reads as a plain call.
//
// A CALLS relationship (a bucket row) holds what one producer observed on
// one edge in one hour: the per-minute call buckets (graph.CallBucket)
// starting in [hour, hour+1h), so a neighbourhood walk reads one row per
// edge, hour and producer instead of one per minute. calls, errors and
// latencySum are lists of 60 integers, minute i of the hour at index i;
// calls[i] is -1 when there is no bucket in minute i (errors[i] and
// latencySum[i] are 0 then). latency is the minutes' histograms
// (graph.CallBucket.Latency) end to end, minute i at [i*slots,
// (i+1)*slots) with slots = graph.LatencyBuckets; a minute written without
// one holds zeros, and the list is absent while no minute of the hour has
// one. The key is "from NUL to NUL hour NUL producer", the hour written as
// 2006-01-02T15, so writing a bucket again replaces its minute's counts. A
// key never equals one of the former per-minute layout, whose third part
// was a full RFC 3339 instant; a CALLS relationship without an hour is of
// that layout, and only the tests' wipe reads or removes it.
//
// A bucket row also carries the names of its ends, so that the rows of a
// few services in a window are found through a composite index whatever
// the retention and the size of the org. The reads name the index to seek
// (USING INDEX SEEK): a plan cached while the database was nearly empty
// would otherwise scan the whole index for as long as it stays cached.
//
// A call edge holds the starts of the earliest and latest buckets ever
// written on it; retention removes buckets but not call edges, so the first
// seen is the first ever seen.

// schemaStatements create the constraints and indexes the queries rely on
// and drop those of the former per-minute bucket layout. Each is
// idempotent; they run in order when a store opens.
var schemaStatements = []string{
	cypherServiceNameConstraint,
	cypherEventIDConstraint,
	cypherCallKeyConstraint,
	cypherEventAtIndex,
	cypherEventServiceAtIndex,
	cypherDropCallStartIndex,
	cypherDropCallCallerStartIndex,
	cypherDropCallCalleeStartIndex,
	cypherCallHourIndex,
	cypherCallCallerHourIndex,
	cypherCallCalleeHourIndex,
	cypherAwaitIndexes,
}

const (
	// cypherServiceNameConstraint keys services by name.
	cypherServiceNameConstraint = `CREATE CONSTRAINT service_name IF NOT EXISTS
FOR (s:Service) REQUIRE s.name IS UNIQUE`

	// cypherEventIDConstraint keys events by ID.
	cypherEventIDConstraint = `CREATE CONSTRAINT event_id IF NOT EXISTS
FOR (e:Event) REQUIRE e.id IS UNIQUE`

	// cypherCallKeyConstraint keys call bucket rows by (from, to, hour,
	// producer), and indexes the key for MERGE.
	cypherCallKeyConstraint = `CREATE CONSTRAINT calls_key IF NOT EXISTS
FOR ()-[c:CALLS]-() REQUIRE c.key IS UNIQUE`

	// cypherEventAtIndex serves event listings without a service filter,
	// and retention.
	cypherEventAtIndex = `CREATE RANGE INDEX event_at IF NOT EXISTS
FOR (e:Event) ON (e.at)`

	// cypherEventServiceAtIndex serves event listings of a few services.
	cypherEventServiceAtIndex = `CREATE RANGE INDEX event_service_at IF NOT EXISTS
FOR (e:Event) ON (e.service, e.at)`

	// cypherDropCallStartIndex drops an index of the former per-minute
	// bucket layout.
	cypherDropCallStartIndex = `DROP INDEX calls_start IF EXISTS`

	// cypherDropCallCallerStartIndex drops an index of the former
	// per-minute bucket layout.
	cypherDropCallCallerStartIndex = `DROP INDEX calls_caller_start IF EXISTS`

	// cypherDropCallCalleeStartIndex drops an index of the former
	// per-minute bucket layout.
	cypherDropCallCalleeStartIndex = `DROP INDEX calls_callee_start IF EXISTS`

	// cypherCallHourIndex serves retention.
	cypherCallHourIndex = `CREATE RANGE INDEX calls_hour IF NOT EXISTS
FOR ()-[c:CALLS]-() ON (c.hour)`

	// cypherCallCallerHourIndex finds the bucket rows of a few callers in
	// a window.
	cypherCallCallerHourIndex = `CREATE RANGE INDEX calls_caller_hour IF NOT EXISTS
FOR ()-[c:CALLS]-() ON (c.caller, c.hour)`

	// cypherCallCalleeHourIndex finds the bucket rows of a few callees in
	// a window.
	cypherCallCalleeHourIndex = `CREATE RANGE INDEX calls_callee_hour IF NOT EXISTS
FOR ()-[c:CALLS]-() ON (c.callee, c.hour)`

	// cypherAwaitIndexes waits until every index is online.
	cypherAwaitIndexes = `CALL db.awaitIndexes(300)`
)

const (
	// cypherPing is the cheapest statement that proves the database serves.
	cypherPing = `RETURN 1 AS ok`

	// cypherLockEvents write-locks the stored events with the batch's IDs
	// and returns them. Holding the lock until commit makes the merge
	// decision, taken in Go, safe against a concurrent writer of the same
	// event; a concurrent insert of a new one fails the event_id constraint
	// instead, and the batch is retried.
	cypherLockEvents = `UNWIND $ids AS id
MATCH (e:Event {id: id})
SET e.id = id
RETURN e.id AS id, e.kind AS kind, e.service AS service, e.environment AS environment,
       e.at AS at, e.end AS end, e.source AS source, e.externalId AS externalId,
       e.summary AS summary, e.url AS url, e.attributes AS attributes`

	// cypherMergeServices records services: the earliest and latest instants
	// seen, an owner when one is given, and an environment when a service
	// entry gives one (row.override) or the service has none yet. A service
	// the row changes nothing about is not written (nor write-locked), so
	// batches naming the same busy services do not queue behind each other.
	// Every row carries both instants.
	cypherMergeServices = `UNWIND $rows AS row
MERGE (s:Service {name: row.name})
WITH s, row,
     CASE WHEN s.firstSeen IS NULL OR row.firstSeen < s.firstSeen THEN row.firstSeen ELSE s.firstSeen END AS firstSeen,
     CASE WHEN s.lastSeen IS NULL OR row.lastSeen > s.lastSeen THEN row.lastSeen ELSE s.lastSeen END AS lastSeen,
     CASE WHEN row.environment <> '' AND (row.override OR coalesce(s.environment, '') = '')
          THEN row.environment ELSE s.environment END AS environment,
     CASE WHEN row.owner <> '' THEN row.owner ELSE s.owner END AS owner
WHERE s.firstSeen IS NULL OR firstSeen <> s.firstSeen OR lastSeen <> s.lastSeen
   OR coalesce(environment, '') <> coalesce(s.environment, '') OR coalesce(owner, '') <> coalesce(s.owner, '')
SET s.firstSeen = firstSeen, s.lastSeen = lastSeen, s.environment = environment, s.owner = owner`

	// cypherCreateEvents stores new events, each pointing at its service.
	cypherCreateEvents = `UNWIND $rows AS row
MATCH (s:Service {name: row.service})
CREATE (e:Event {id: row.id, kind: row.kind, service: row.service, environment: row.environment,
                 at: row.at, end: row.end, source: row.source, externalId: row.externalId,
                 summary: row.summary, url: row.url, attributes: row.attributes})-[:AFFECTS]->(s)`

	// cypherUpdateEvents stores new versions of stored events, moving the
	// AFFECTS relationship when the service changed.
	cypherUpdateEvents = `UNWIND $rows AS row
MATCH (e:Event {id: row.id})
SET e.kind = row.kind, e.service = row.service, e.environment = row.environment,
    e.at = row.at, e.end = row.end, e.source = row.source, e.externalId = row.externalId,
    e.summary = row.summary, e.url = row.url, e.attributes = row.attributes
WITH e, row
CALL (e, row) {
  MATCH (e)-[old:AFFECTS]->(other:Service)
  WHERE other.name <> row.service
  DELETE old
}
WITH e, row
MATCH (s:Service {name: row.service})
MERGE (e)-[:AFFECTS]->(s)`

	// cypherMergeDependencies stores declared edges, keyed by their ends.
	cypherMergeDependencies = `UNWIND $rows AS row
MATCH (a:Service {name: row.from})
MATCH (b:Service {name: row.to})
MERGE (a)-[d:DEPENDS_ON]->(b)
SET d.source = row.source`

	// cypherMergeCallHours stores call bucket rows, one per (from, to,
	// hour, producer). A row carries only the minutes of the batch (see
	// callHourRows): each run of them replaces those minutes of the stored
	// lists, or of empty ones ($perHour long, no buckets) for a new row,
	// and the other minutes stay, so a redelivery changes nothing. The
	// lists are spliced, never rebuilt minute by minute. row.latency is
	// absent when no minute of the row has a histogram; a minute without
	// one gets zeros; $slots is graph.LatencyBuckets.
	cypherMergeCallHours = `UNWIND $rows AS row
MATCH (a:Service {name: row.from})
MATCH (b:Service {name: row.to})
MERGE (a)-[c:CALLS {key: row.key}]->(b)
ON CREATE SET c.caller = row.from, c.callee = row.to, c.hour = row.hour, c.producer = row.producer
WITH c, row,
     coalesce(c.calls, [m IN range(1, $perHour) | -1]) AS calls,
     coalesce(c.errors, [m IN range(1, $perHour) | 0]) AS errors,
     coalesce(c.latencySum, [m IN range(1, $perHour) | 0]) AS latencySum,
     c.latency AS latency
SET c.calls = reduce(l = calls, r IN row.runs |
      l[..r.minute] + row.calls[r.offset..r.offset + r.length] + l[r.minute + r.length..]),
    c.errors = reduce(l = errors, r IN row.runs |
      l[..r.minute] + row.errors[r.offset..r.offset + r.length] + l[r.minute + r.length..]),
    c.latencySum = reduce(l = latencySum, r IN row.runs |
      l[..r.minute] + row.latencySum[r.offset..r.offset + r.length] + l[r.minute + r.length..]),
    c.latency = CASE WHEN row.latency IS NOT NULL OR latency IS NOT NULL THEN
      reduce(l = coalesce(latency, [i IN range(1, $perHour * $slots) | 0]), r IN row.runs |
        l[..r.minute * $slots]
        + coalesce(row.latency[r.offset * $slots..(r.offset + r.length) * $slots], [i IN range(1, r.length * $slots) | 0])
        + l[(r.minute + r.length) * $slots..])
    END`

	// cypherMergeCallEdges widens the call edges' first and last seen to
	// the batch's earliest and latest bucket starts on them; the minimum
	// and maximum make a redelivery change nothing. The connection is the
	// row's when its latest bucket is later than the edge's, the higher
	// code when they start together (graph.ConnectionType.Supersedes). An
	// edge the row changes nothing of is not written, so batches on the
	// same busy edges do not queue behind each other.
	cypherMergeCallEdges = `UNWIND $rows AS row
MATCH (a:Service {name: row.from})
MATCH (b:Service {name: row.to})
MERGE (a)-[e:CALLS_EDGE]->(b)
WITH e, row,
     CASE WHEN e.firstSeen IS NULL OR row.firstSeen < e.firstSeen THEN row.firstSeen ELSE e.firstSeen END AS firstSeen,
     CASE WHEN e.lastSeen IS NULL OR row.lastSeen > e.lastSeen THEN row.lastSeen ELSE e.lastSeen END AS lastSeen,
     CASE WHEN e.lastSeen IS NULL OR row.lastSeen > e.lastSeen THEN row.connection
          WHEN row.lastSeen = e.lastSeen AND row.connection > coalesce(e.connection, 0) THEN row.connection
          ELSE coalesce(e.connection, 0) END AS connection
WHERE e.firstSeen IS NULL OR firstSeen <> e.firstSeen OR lastSeen <> e.lastSeen OR connection <> coalesce(e.connection, 0)
SET e.firstSeen = firstSeen, e.lastSeen = lastSeen, e.connection = connection`
)

const (
	// cypherEvent reads one event.
	cypherEvent = `MATCH (e:Event {id: $id})
RETURN e.id AS id, e.kind AS kind, e.service AS service, e.environment AS environment,
       e.at AS at, e.end AS end, e.source AS source, e.externalId AS externalId,
       e.summary AS summary, e.url AS url, e.attributes AS attributes`

	// cypherEventsOfServices lists the events of some services, newest
	// first, from just past the cursor ($afterAt, $afterID) when one is given.
	cypherEventsOfServices = `MATCH (e:Event)
USING INDEX SEEK e:Event(service, at)
WHERE e.service IN $services AND e.at >= $from AND e.at <= $to
  AND (size($kinds) = 0 OR e.kind IN $kinds)
  AND (NOT $openOnly OR e.end IS NULL)
  AND ($afterAt IS NULL OR e.at < $afterAt OR (e.at = $afterAt AND e.id > $afterID))
RETURN e.id AS id, e.kind AS kind, e.service AS service, e.environment AS environment,
       e.at AS at, e.end AS end, e.source AS source, e.externalId AS externalId,
       e.summary AS summary, e.url AS url, e.attributes AS attributes
ORDER BY e.at DESC, e.id ASC
LIMIT $limit`

	// cypherEventsAll is cypherEventsOfServices without the service filter.
	cypherEventsAll = `MATCH (e:Event)
WHERE e.at >= $from AND e.at <= $to
  AND (size($kinds) = 0 OR e.kind IN $kinds)
  AND (NOT $openOnly OR e.end IS NULL)
  AND ($afterAt IS NULL OR e.at < $afterAt OR (e.at = $afterAt AND e.id > $afterID))
RETURN e.id AS id, e.kind AS kind, e.service AS service, e.environment AS environment,
       e.at AS at, e.end AS end, e.source AS source, e.externalId AS externalId,
       e.summary AS summary, e.url AS url, e.attributes AS attributes
ORDER BY e.at DESC, e.id ASC
LIMIT $limit`

	// cypherCountEventsOfServices counts what cypherEventsOfServices lists.
	cypherCountEventsOfServices = `MATCH (e:Event)
USING INDEX SEEK e:Event(service, at)
WHERE e.service IN $services AND e.at >= $from AND e.at <= $to
  AND (size($kinds) = 0 OR e.kind IN $kinds)
  AND (NOT $openOnly OR e.end IS NULL)
RETURN count(e) AS n`

	// cypherCountEventsAll counts what cypherEventsAll lists.
	cypherCountEventsAll = `MATCH (e:Event)
WHERE e.at >= $from AND e.at <= $to
  AND (size($kinds) = 0 OR e.kind IN $kinds)
  AND (NOT $openOnly OR e.end IS NULL)
RETURN count(e) AS n`
)

const (
	// cypherCallsTouching lists the call bucket rows of the hours in
	// [$from, $to) on edges with either end in $services, one per edge,
	// hour and producer; $from is the start of an hour. An edge with both
	// ends in $services is read from the caller's side only.
	cypherCallsTouching = `CALL () {
  MATCH ()-[c:CALLS]->()
  USING INDEX SEEK c:CALLS(caller, hour)
  WHERE c.caller IN $services AND c.hour >= $from AND c.hour < $to
  RETURN c
  UNION ALL
  MATCH ()-[c:CALLS]->()
  USING INDEX SEEK c:CALLS(callee, hour)
  WHERE c.callee IN $services AND c.hour >= $from AND c.hour < $to AND NOT c.caller IN $services
  RETURN c
}
RETURN c.caller AS caller, c.callee AS callee, c.hour AS hour, c.calls AS calls, c.errors AS errors, c.latencySum AS latencySum`

	// cypherCallsAmong is cypherCallsTouching restricted to edges with
	// both ends in $services.
	cypherCallsAmong = `MATCH ()-[c:CALLS]->()
USING INDEX SEEK c:CALLS(caller, hour)
WHERE c.caller IN $services AND c.hour >= $from AND c.hour < $to AND c.callee IN $services
RETURN c.caller AS caller, c.callee AS callee, c.hour AS hour, c.calls AS calls, c.errors AS errors, c.latencySum AS latencySum`

	// cypherEdgeLatency lists the call bucket rows of the edge
	// $caller→$callee in the hours in [$from, $to), one per hour and
	// producer; $from is the start of an hour.
	cypherEdgeLatency = `MATCH ()-[c:CALLS]->()
USING INDEX SEEK c:CALLS(caller, hour)
WHERE c.caller = $caller AND c.hour >= $from AND c.hour < $to AND c.callee = $callee
RETURN c.hour AS hour, c.calls AS calls, c.latencySum AS latencySum, c.latency AS latency`

	// cypherEdgesOfServices lists the declared edges (declared true) and
	// the call edges, with their first and last seen (declared false), with
	// either end in $services. An edge with both ends in $services is
	// listed once.
	cypherEdgesOfServices = `CALL () {
  MATCH (a:Service)-[r:DEPENDS_ON|CALLS_EDGE]->(b:Service)
  WHERE a.name IN $services
  RETURN a.name AS caller, b.name AS callee, r
  UNION ALL
  MATCH (a:Service)-[r:DEPENDS_ON|CALLS_EDGE]->(b:Service)
  WHERE b.name IN $services AND NOT a.name IN $services
  RETURN a.name AS caller, b.name AS callee, r
}
RETURN caller, callee, type(r) = 'DEPENDS_ON' AS declared, r.firstSeen AS firstSeen, r.lastSeen AS lastSeen, r.connection AS connection`

	// cypherEdgesAmong is cypherEdgesOfServices restricted to edges with
	// both ends in $services.
	cypherEdgesAmong = `MATCH (a:Service)-[r:DEPENDS_ON|CALLS_EDGE]->(b:Service)
WHERE a.name IN $services AND b.name IN $services
RETURN a.name AS caller, b.name AS callee, type(r) = 'DEPENDS_ON' AS declared, r.firstSeen AS firstSeen, r.lastSeen AS lastSeen, r.connection AS connection`
)

const (
	// cypherService reads one service.
	cypherService = `MATCH (s:Service {name: $name})
RETURN s.name AS name, s.environment AS environment, s.owner AS owner,
       s.firstSeen AS firstSeen, s.lastSeen AS lastSeen`

	// cypherServices lists services whose name contains $query (already
	// lower-cased), in name order, from just past $after when it is set.
	cypherServices = `MATCH (s:Service)
WHERE ($query = '' OR toLower(s.name) CONTAINS $query)
  AND ($after IS NULL OR s.name > $after)
RETURN s.name AS name, s.environment AS environment, s.owner AS owner,
       s.firstSeen AS firstSeen, s.lastSeen AS lastSeen
ORDER BY s.name
LIMIT $limit`

	// cypherCountServices counts what cypherServices lists.
	cypherCountServices = `MATCH (s:Service)
WHERE $query = '' OR toLower(s.name) CONTAINS $query
RETURN count(s) AS n`
)

const (
	// cypherDeleteEventsBefore removes up to $limit events that ended (or,
	// without an end, happened) before $before.
	cypherDeleteEventsBefore = `MATCH (e:Event)
WHERE e.at < $before AND coalesce(e.end, e.at) < $before
WITH e LIMIT $limit
DETACH DELETE e
RETURN count(*) AS n`

	// cypherDeleteCallHoursBefore removes up to $limit bucket rows of
	// hours that start before $before, and counts the buckets they held.
	cypherDeleteCallHoursBefore = `MATCH ()-[c:CALLS]->()
USING INDEX SEEK c:CALLS(hour)
WHERE c.hour < $before
WITH c LIMIT $limit
WITH c, size([n IN c.calls WHERE n >= 0]) AS buckets
DELETE c
RETURN count(*) AS n, sum(buckets) AS buckets`

	// cypherTrimCallHour removes the buckets of the first $minutes minutes
	// from up to $limit bucket rows of the hour $hour that hold one, and
	// counts them; a row left without buckets goes. $slots is
	// graph.LatencyBuckets.
	cypherTrimCallHour = `MATCH ()-[c:CALLS]->()
USING INDEX SEEK c:CALLS(hour)
WHERE c.hour = $hour AND any(n IN c.calls[..$minutes] WHERE n >= 0)
WITH c LIMIT $limit
WITH c, c.calls AS calls, c.errors AS errors, c.latencySum AS latencySum, c.latency AS latency
WITH c, calls, errors, latencySum, latency,
     size([n IN calls[..$minutes] WHERE n >= 0]) AS buckets, all(n IN calls[$minutes..] WHERE n < 0) AS emptied
SET c.calls = [i IN range(1, $minutes) | -1] + calls[$minutes..],
    c.errors = [i IN range(1, $minutes) | 0] + errors[$minutes..],
    c.latencySum = [i IN range(1, $minutes) | 0] + latencySum[$minutes..],
    c.latency = CASE WHEN latency IS NOT NULL THEN [i IN range(1, $minutes * $slots) | 0] + latency[$minutes * $slots..] END
WITH c, buckets, emptied
CALL (c, emptied) {
  WITH c WHERE emptied
  DELETE c
}
RETURN count(*) AS n, sum(buckets) AS buckets`

	// cypherCreateFormerCallBucket writes a call bucket of the former
	// per-minute layout (one relationship per minute, with a start and no
	// hour); tests use it to check that such a row is ignored.
	cypherCreateFormerCallBucket = `MATCH (a:Service {name: $from})
MATCH (b:Service {name: $to})
CREATE (a)-[c:CALLS {key: $key, caller: $from, callee: $to, start: $start, producer: $producer,
                     calls: $calls, errors: $errors, latencySum: $latencySum, latency: $latency}]->(b)
RETURN count(c) AS n`

	// cypherForgetConnection removes a call edge's connection, as edges
	// written before connection types were stored lack it; tests use it.
	cypherForgetConnection = `MATCH (:Service {name: $from})-[e:CALLS_EDGE]->(:Service {name: $to})
REMOVE e.connection
RETURN count(e) AS n`

	// cypherWipeRelationships removes up to $limit relationships; tests
	// use it, then cypherWipe, to start from an empty database.
	cypherWipeRelationships = `MATCH ()-[r]->()
WITH r LIMIT $limit
DELETE r
RETURN count(*) AS n`

	// cypherWipe removes up to $limit nodes and their relationships.
	cypherWipe = `MATCH (n)
WITH n LIMIT $limit
DETACH DELETE n
RETURN count(*) AS n`
)
