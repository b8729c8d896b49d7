#!/usr/bin/env bash
# Starts a Neo4j 5.26 LTS community server for the Neo4j store's tests and
# benchmarks: in-process (neo4j-harness from Maven Central), Java 17, Bolt on
# 127.0.0.1 only, authentication disabled.
#
#   scripts/neo4j/start.sh            # a free port
#   NEO4J_PORT=7687 scripts/neo4j/start.sh
#
# On success it prints NEO4J_URI=bolt://127.0.0.1:PORT and writes
# .cache/neo4j/env (source it) and .cache/neo4j/pid. If a server started by
# this script is still running, it is reused. Environment:
#   NEO4J_PORT          Bolt port (default 0: a free one)
#   NEO4J_HEAP          JVM heap (default 1g)
#   NEO4J_START_TIMEOUT seconds to wait for Bolt (default 120)
#   MAVEN_OFFLINE=1     build without touching Maven Central (after a first fetch)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cache="$root/.cache/neo4j"
port=${NEO4J_PORT:-0}
heap=${NEO4J_HEAP:-1g}
timeout=${NEO4J_START_TIMEOUT:-120}
mkdir -p "$cache"

if [[ -f "$cache/pid" ]] && kill -0 "$(cat "$cache/pid")" 2>/dev/null && [[ -f "$cache/env" ]]; then
	cat "$cache/env"
	exit 0
fi
rm -f "$cache/pid" "$cache/env" "$cache/uri"

jar="$cache/build/neo4j-launcher-1.jar"
classpath="$cache/build/classpath.txt"
if [[ ! -f "$jar" || ! -f "$classpath" || "$here/pom.xml" -nt "$jar" || "$here/src/main/java/io/sregraph/neo4jlauncher/Launcher.java" -nt "$jar" ]]; then
	offline=()
	if [[ "${MAVEN_OFFLINE:-}" == 1 ]]; then offline=(-o); fi
	if ! mvn -q -B "${offline[@]}" -f "$here/pom.xml" package >"$cache/build.log" 2>&1; then
		echo "neo4j: building the launcher failed; last lines of $cache/build.log:" >&2
		tail -n 40 "$cache/build.log" >&2
		exit 1
	fi
fi

rm -rf "$cache/data"
log="$cache/server.log"
# setsid: the server outlives this script and ignores the caller's job control.
setsid java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC \
	-cp "$jar:$(cat "$classpath")" io.sregraph.neo4jlauncher.Launcher \
	"$cache/data" "$port" "$cache/uri" >"$log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$cache/pid"

fail() {
	echo "neo4j: $1; last lines of $log:" >&2
	tail -n 40 "$log" >&2
	kill "$pid" 2>/dev/null || true
	rm -f "$cache/pid"
	exit 1
}

deadline=$((SECONDS + timeout))
until [[ -s "$cache/uri" ]]; do
	kill -0 "$pid" 2>/dev/null || fail "the server exited while starting"
	((SECONDS < deadline)) || fail "Bolt did not come up within ${timeout}s"
	sleep 0.5
done
uri=$(cat "$cache/uri")
hostport=${uri#bolt://}
# The launcher writes the URI once the server is started; check that Bolt
# really accepts connections.
until (exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}") 2>/dev/null; do
	kill -0 "$pid" 2>/dev/null || fail "the server exited while starting"
	((SECONDS < deadline)) || fail "Bolt at $uri refused connections for ${timeout}s"
	sleep 0.5
done

printf 'NEO4J_URI=%s\nNEO4J_USER=\nNEO4J_PASSWORD=\n' "$uri" >"$cache/env"
cat "$cache/env"
