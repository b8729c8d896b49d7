#!/usr/bin/env bash
# Stops the Neo4j server that start.sh started, waiting for a clean shutdown.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache="$(cd "$here/../.." && pwd)/.cache/neo4j"
[[ -f "$cache/pid" ]] || exit 0
pid=$(cat "$cache/pid")
if kill "$pid" 2>/dev/null; then
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "neo4j: pid $pid did not stop in 30s; killing it" >&2
		kill -9 "$pid" 2>/dev/null || true
	fi
fi
rm -f "$cache/pid" "$cache/env" "$cache/uri"
