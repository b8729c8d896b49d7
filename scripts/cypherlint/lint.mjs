// Lints Cypher statements with Neo4j's own parser and semantic analysis
// (@neo4j-cypher/language-support), as Cypher 5 (what Neo4j 5.26 LTS runs)
// and Cypher 25. Any error, deprecation or other warning fails the run.
//
//   node lint.mjs statements.json
//
// statements.json is [{"name": "...", "text": "..."}], as written by
// `go test ./graph/neo4j -run TestCypherLivesInOnePlace -dump-cypher=FILE`.
import { readFileSync } from 'node:fs';
import { lintCypherQuery, testData } from '@neo4j-cypher/language-support';

// The graph the statements may touch. A label, relationship type or
// property missing here is reported, so a typo in a statement fails.
const model = {
  labels: ['Service', 'Event'],
  relationshipTypes: ['AFFECTS', 'DEPENDS_ON', 'CALLS', 'CALLS_EDGE'],
  propertyKeys: [
    // Service, CALLS_EDGE
    'name', 'environment', 'owner', 'firstSeen', 'lastSeen',
    // CALLS_EDGE
    'connection',
    // Event
    'id', 'kind', 'service', 'at', 'end', 'source', 'externalId', 'summary', 'url', 'attributes',
    // CALLS
    'key', 'caller', 'callee', 'hour', 'producer', 'calls', 'errors', 'latencySum', 'latency',
    // CALLS of the former per-minute layout, which tests write
    'start',
    // keys of the $rows maps that are read in patterns or as properties
    // (the analysis treats any map key there as a property key)
    'from', 'to', 'minute', 'offset', 'length',
  ],
  graphSchema: [
    { from: 'Event', relType: 'AFFECTS', to: 'Service' },
    { from: 'Service', relType: 'DEPENDS_ON', to: 'Service' },
    { from: 'Service', relType: 'CALLS', to: 'Service' },
    { from: 'Service', relType: 'CALLS_EDGE', to: 'Service' },
  ],
};

const severities = { 1: 'error', 2: 'warning', 3: 'information', 4: 'hint' };
const versions = ['CYPHER 5', 'CYPHER 25'];

function main(argv) {
  if (argv.length !== 1) {
    console.error('usage: node lint.mjs statements.json');
    return 2;
  }
  const statements = JSON.parse(readFileSync(argv[0], 'utf8'));
  if (!Array.isArray(statements) || statements.length === 0) {
    console.error(`${argv[0]}: no statements`);
    return 1;
  }
  let failed = 0;
  let passed = 0;
  for (const { name, text } of statements) {
    const parameters = Object.fromEntries([...text.matchAll(/\$([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => [m[1], null]));
    const problems = [];
    for (const version of versions) {
      const schema = {
        ...model,
        parameters,
        // Neo4j's own procedure and function signatures, as shipped with
        // the language support package.
        procedures: testData.mockSchema.procedures,
        functions: testData.mockSchema.functions,
        defaultLanguage: version,
      };
      const { diagnostics } = lintCypherQuery(text, schema);
      for (const d of diagnostics) {
        const at = text.slice(d.offsets.start, Math.max(d.offsets.end, d.offsets.start + 1));
        problems.push(`  ${version} ${severities[d.severity] ?? d.severity} at line ${d.range.start.line + 1} (${JSON.stringify(at)}): ${d.message}`);
      }
    }
    if (problems.length > 0) {
      failed++;
      console.log(`FAIL ${name}\n${text.replace(/^/gm, '    | ')}\n${problems.join('\n')}`);
    } else {
      passed++;
      console.log(`ok   ${name}`);
    }
  }
  console.log(`${passed} passed, ${failed} failed`);
  return failed === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
