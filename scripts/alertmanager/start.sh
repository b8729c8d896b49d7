#!/bin/sh
# Starts a throwaway Alertmanager on a free loopback port whose only
# receiver is a webhook to WEBHOOK_URL, for trying sregraph's
# /v1/webhooks/alertmanager by hand:
#
#   scripts/alertmanager/start.sh http://127.0.0.1:8080/v1/webhooks/alertmanager [DIR] [TOKEN]
#
# DIR (default: a new temporary directory) receives alertmanager.yml, the
# data directory, alertmanager.log and alertmanager.pid. TOKEN, when given,
# is sent as "Authorization: Bearer TOKEN" (sregraph's --webhook-token).
# Grouping waits are 1s so that firing and resolved notifications arrive
# within seconds. The script waits for readiness and prints
# ALERTMANAGER_URL=..., ALERTMANAGER_DIR=... and ALERTMANAGER_PID=....
# Stop it with scripts/alertmanager/stop.sh DIR.
#
# Send an alert (and resolve it by sending it again with an endsAt in the
# past):
#
#   curl -XPOST -H 'Content-Type: application/json' "$ALERTMANAGER_URL/api/v2/alerts" \
#     -d '[{"labels":{"alertname":"PaymentsAvailability","service":"payments","slo":"availability"}}]'
set -eu

if [ $# -lt 1 ]; then
	echo "usage: $0 WEBHOOK_URL [DIR] [TOKEN]" >&2
	exit 2
fi
url=$1
dir=${2:-$(mktemp -d "${TMPDIR:-/tmp}/alertmanager.XXXXXX")}
token=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
bin=$("$here/install.sh")

mkdir -p "$dir/data"

# A free loopback port: ask the kernel for one, else pick one at random.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null ||
	awk 'BEGIN { srand(); print 20000 + int(rand() * 20000) }')

{
	echo "global:"
	echo "  resolve_timeout: 1m"
	echo "route:"
	echo "  receiver: sregraph"
	echo "  group_by: [alertname, service]"
	echo "  group_wait: 1s"
	echo "  group_interval: 1s"
	echo "  repeat_interval: 1h"
	echo "receivers:"
	echo "  - name: sregraph"
	echo "    webhook_configs:"
	echo "      - url: '$url'"
	echo "        send_resolved: true"
	if [ -n "$token" ]; then
		echo "        http_config:"
		echo "          authorization:"
		echo "            credentials: '$token'"
	fi
} >"$dir/alertmanager.yml"

"$bin" --config.file="$dir/alertmanager.yml" --storage.path="$dir/data" \
	--web.listen-address="127.0.0.1:$port" --cluster.listen-address= \
	>"$dir/alertmanager.log" 2>&1 &
pid=$!
echo "$pid" >"$dir/alertmanager.pid"

i=0
until curl -fsS "http://127.0.0.1:$port/-/ready" >/dev/null 2>&1; do
	i=$((i + 1))
	if ! kill -0 "$pid" 2>/dev/null || [ "$i" -ge 300 ]; then
		echo "start.sh: Alertmanager did not become ready; its log ($dir/alertmanager.log):" >&2
		cat "$dir/alertmanager.log" >&2
		kill "$pid" 2>/dev/null || true
		exit 1
	fi
	sleep 0.1
done

echo "ALERTMANAGER_URL=http://127.0.0.1:$port"
echo "ALERTMANAGER_DIR=$dir"
echo "ALERTMANAGER_PID=$pid"
