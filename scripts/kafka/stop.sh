#!/usr/bin/env bash
# Stops the broker that start.sh started, if it is running.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache="$here/../../.cache/kafka"
pidfile="$cache/kafka.pid"

if [[ ! -f "$pidfile" ]]; then
	echo "kafka: not running" >&2
	exit 0
fi
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
	kill "$pid"
	for _ in $(seq 1 60); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.5
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "kafka: pid $pid did not stop within 30s; killing it" >&2
		kill -9 "$pid" 2>/dev/null || true
	fi
fi
rm -f "$pidfile" "$cache/env"
echo "kafka: stopped" >&2
