#!/bin/sh
# Stops an Alertmanager started by start.sh: scripts/alertmanager/stop.sh DIR
set -eu
if [ $# -ne 1 ] || [ ! -f "$1/alertmanager.pid" ]; then
	echo "usage: $0 DIR (the directory start.sh printed as ALERTMANAGER_DIR)" >&2
	exit 2
fi
pid=$(cat "$1/alertmanager.pid")
if kill "$pid" 2>/dev/null; then
	i=0
	while kill -0 "$pid" 2>/dev/null && [ "$i" -lt 100 ]; do
		i=$((i + 1))
		sleep 0.1
	done
fi
rm -f "$1/alertmanager.pid"
