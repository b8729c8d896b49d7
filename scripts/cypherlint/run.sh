#!/usr/bin/env bash
# Checks every Cypher statement the Neo4j store sends with Neo4j's own
# parser and semantic analysis: the statements are dumped from
# graph/neo4j/cypher.go by a Go test, then linted by lint.mjs. Exits non-zero
# on any error or deprecation (or other) warning.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out="$root/.cache/cypherlint"
mkdir -p "$out"

(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >"$out/npm.log" 2>&1) || {
	echo "cypherlint: npm ci failed:" >&2
	cat "$out/npm.log" >&2
	exit 1
}
(cd "$root" && go test ./graph/neo4j -run '^TestCypherLivesInOnePlace$' -count=1 -dump-cypher="$out/statements.json" >"$out/dump.log" 2>&1) || {
	echo "cypherlint: dumping the statements failed:" >&2
	cat "$out/dump.log" >&2
	exit 1
}
node "$here/lint.mjs" "$out/statements.json"
