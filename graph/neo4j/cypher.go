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
//	(:Service)-[:CALLS {key, caller, callee, start, producer, calls,
//	                    errors, latencySum, latency}]->(:Service)
//	                                                          call buckets
//	(:Service)-[:CALLS_EDGE {firstSeen, lastSeen}]->(:Service)
//	                                                          call edges
//
// Instants are DateTime values in UTC; attributes are a JSON string; a call
// bucket's key is "from NUL to NUL start NUL producer", so writing the same
// bucket again replaces its counts. A bucket also carries the names of its
// ends, so that the buckets of a few services in a window are found through
// a composite index whatever the retention and the size of the org. A
// bucket's latency is its histogram (graph.CallBucket.Latency) as a list of
// integers, absent when the producer recorded none. A call edge holds the
// starts of the earliest and latest buckets ever written on it; retention
// removes buckets but not call edges, so the first seen is the first ever
// seen.

// schemaStatements create the constraints and indexes the queries rely on.
// Each is idempotent; they run in order when a store opens.
var schemaStatements = []string{
	cypherServiceNameConstraint,
	cypherEventIDConstraint,
	cypherCallKeyConstraint,
	cypherEventAtIndex,
	cypherEventServiceAtIndex,
	cypherCallStartIndex,
	cypherCallCallerStartIndex,
	cypherCallCalleeStartIndex,
	cypherAwaitIndexes,
}

const (
	cypherServiceNameConstraint = `CREATE CONSTRAINT service_name IF NOT EXISTS
FOR (s:Service) REQUIRE s.name IS UNIQUE`

	cypherEventIDConstraint = `CREATE CONSTRAINT event_id IF NOT EXISTS
FOR (e:Event) REQUIRE e.id IS UNIQUE`

	cypherCallKeyConstraint = `CREATE CONSTRAINT calls_key IF NOT EXISTS
FOR ()-[c:CALLS]-() REQUIRE c.key IS UNIQUE`

	cypherEventAtIndex = `CREATE RANGE INDEX event_at IF NOT EXISTS
FOR (e:Event) ON (e.at)`

	cypherEventServiceAtIndex = `CREATE RANGE INDEX event_service_at IF NOT EXISTS
FOR (e:Event) ON (e.service, e.at)`

	cypherCallStartIndex = `CREATE RANGE INDEX calls_start IF NOT EXISTS
FOR ()-[c:CALLS]-() ON (c.start)`

	cypherCallCallerStartIndex = `CREATE RANGE INDEX calls_caller_start IF NOT EXISTS
FOR ()-[c:CALLS]-() ON (c.caller, c.start)`

	cypherCallCalleeStartIndex = `CREATE RANGE INDEX calls_callee_start IF NOT EXISTS
FOR ()-[c:CALLS]-() ON (c.callee, c.start)`

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

	// cypherMergeCalls stores call buckets; a repeat replaces the counts.
	cypherMergeCalls = `UNWIND $rows AS row
MATCH (a:Service {name: row.from})
MATCH (b:Service {name: row.to})
MERGE (a)-[c:CALLS {key: row.key}]->(b)
SET c.caller = row.from, c.callee = row.to, c.start = row.start, c.producer = row.producer, c.calls = row.calls,
    c.errors = row.errors, c.latencySum = row.latencySum, c.latency = row.latency`

	// cypherMergeCallEdges widens the call edges' first and last seen to
	// the batch's earliest and latest bucket starts on them; the minimum
	// and maximum make a redelivery change nothing. An edge the row does
	// not widen is not written, so batches on the same busy edges do not
	// queue behind each other.
	cypherMergeCallEdges = `UNWIND $rows AS row
MATCH (a:Service {name: row.from})
MATCH (b:Service {name: row.to})
MERGE (a)-[e:CALLS_EDGE]->(b)
WITH e, row,
     CASE WHEN e.firstSeen IS NULL OR row.firstSeen < e.firstSeen THEN row.firstSeen ELSE e.firstSeen END AS firstSeen,
     CASE WHEN e.lastSeen IS NULL OR row.lastSeen > e.lastSeen THEN row.lastSeen ELSE e.lastSeen END AS lastSeen
WHERE e.firstSeen IS NULL OR firstSeen <> e.firstSeen OR lastSeen <> e.lastSeen
SET e.firstSeen = firstSeen, e.lastSeen = lastSeen`
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
USING INDEX e:Event(service, at)
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
USING INDEX e:Event(service, at)
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
	// cypherCallsTouching sums the call buckets starting in [$from, $to) on
	// edges with either end in $services, per edge and bucket start.
	cypherCallsTouching = `CALL () {
  MATCH ()-[c:CALLS]->()
  USING INDEX c:CALLS(caller, start)
  WHERE c.caller IN $services AND c.start >= $from AND c.start < $to
  RETURN c
  UNION
  MATCH ()-[c:CALLS]->()
  USING INDEX c:CALLS(callee, start)
  WHERE c.callee IN $services AND c.start >= $from AND c.start < $to
  RETURN c
}
RETURN c.caller AS caller, c.callee AS callee, c.start AS start, sum(c.calls) AS calls, sum(c.errors) AS errors
ORDER BY caller, callee, start`

	// cypherEdgeLatency sums the calls, latency and latency histograms
	// ($slots long) of the call buckets of the edge $caller→$callee that
	// start in [$from, $to).
	cypherEdgeLatency = `MATCH ()-[c:CALLS]->()
USING INDEX c:CALLS(caller, start)
WHERE c.caller = $caller AND c.start >= $from AND c.start < $to AND c.callee = $callee
WITH sum(c.calls) AS calls, sum(c.latencySum) AS latencySum, collect(c.latency) AS hists
RETURN calls, latencySum,
       [i IN range(0, $slots - 1) | reduce(n = 0, h IN hists | n + coalesce(h[i], 0))] AS latency`

	// cypherEdgesOfServices lists the declared edges (declared true) and
	// the call edges, with their first and last seen (declared false), with
	// either end in $services.
	cypherEdgesOfServices = `CALL () {
  MATCH (a:Service)-[r:DEPENDS_ON|CALLS_EDGE]->(b:Service)
  WHERE a.name IN $services
  RETURN a.name AS caller, b.name AS callee, r
  UNION
  MATCH (a:Service)-[r:DEPENDS_ON|CALLS_EDGE]->(b:Service)
  WHERE b.name IN $services
  RETURN a.name AS caller, b.name AS callee, r
}
RETURN caller, callee, type(r) = 'DEPENDS_ON' AS declared, r.firstSeen AS firstSeen, r.lastSeen AS lastSeen
ORDER BY caller, callee`
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

	// cypherDeleteCallsBefore removes up to $limit call buckets that start
	// before $before.
	cypherDeleteCallsBefore = `MATCH ()-[c:CALLS]->()
WHERE c.start < $before
WITH c LIMIT $limit
DELETE c
RETURN count(*) AS n`

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
