#!/usr/bin/env bash
# Starts a single-node Apache Kafka broker (KRaft: broker and controller in
# one process) on 127.0.0.1 for the Kafka integration suite, and makes sure
# kcat is installed.
#
# Kafka comes from Maven Central (org.apache.kafka:kafka_2.13, see pom.xml)
# and runs on the installed Java 17; nothing else is downloaded. On success it
# writes KAFKA_BROKERS=127.0.0.1:PORT to .cache/kafka/env (source it, or let
# scripts/test.sh do so) and prints the same line.
#
# Environment:
#   KAFKA_PORT      listener port (default: a free port)
#   KAFKA_TIMEOUT   seconds to wait for the broker to answer (default 90)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cache="$repo/.cache/kafka"
lib="$cache/lib"
data="$cache/data"
logdir="$cache/logs"
envfile="$cache/env"
pidfile="$cache/kafka.pid"
timeout=${KAFKA_TIMEOUT:-90}

mkdir -p "$cache" "$logdir"

if [[ -f "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
	echo "kafka: already running (pid $(cat "$pidfile")); stop it with scripts/kafka/stop.sh" >&2
	[[ -f "$envfile" ]] && cat "$envfile"
	exit 0
fi

# kcat is the independent client the integration suite produces with.
if ! command -v kcat >/dev/null 2>&1; then
	echo "kafka: installing kcat (Debian package)" >&2
	if [[ $(id -u) -eq 0 ]]; then sudo=""; else sudo="sudo"; fi
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq kcat >/dev/null
fi

# Fetch the broker and its runtime dependencies (cached in ~/.m2 and $lib).
if [[ ! -f "$lib/.complete" ]]; then
	echo "kafka: fetching the broker from Maven Central" >&2
	rm -rf "$lib"
	(cd "$here" && mvn -q -B dependency:copy-dependencies \
		-DincludeScope=runtime -DoutputDirectory="$lib")
	touch "$lib/.complete"
fi

if [[ -n "${KAFKA_PORT:-}" ]]; then
	port=$KAFKA_PORT
else
	# Ask the kernel for a free port.
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
controller=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# A fresh log directory every start: the suite creates its own topics.
# Topics are not auto-created (as on most production clusters): a client
# asking for a missing topic must not create it, and the late-topic test
# needs a topic that stays missing until the test creates it.
rm -rf "$data"
mkdir -p "$data"
cat >"$cache/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$data
num.partitions=5
offsets.topic.replication.factor=1
offsets.topic.num.partitions=5
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
PROPS
cat >"$cache/log4j.properties" <<PROPS
log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=$logdir/server.log
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.kafka=INFO
log4j.logger.org.apache.kafka=INFO
PROPS

cp="$lib/*"
jvm=(-Xms256m -Xmx1g -XX:+UseG1GC -Djava.awt.headless=true
	-Dlog4j.configuration="file:$cache/log4j.properties")

# A cluster id as `kafka-storage.sh random-uuid` makes one (base64url of 16
# random bytes, not starting with '-'), without starting a JVM for it.
cluster_id=$(python3 -c 'import base64, uuid
while True:
    s = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not s.startswith("-"):
        print(s)
        break')
java -cp "$cp" "${jvm[@]}" kafka.tools.StorageTool format \
	-t "$cluster_id" -c "$cache/server.properties" >"$logdir/format.log" 2>&1 || {
	echo "kafka: formatting the KRaft storage failed:" >&2
	tail -n 40 "$logdir/format.log" >&2
	exit 1
}

: >"$logdir/stdout.log"
nohup java -cp "$cp" "${jvm[@]}" kafka.Kafka "$cache/server.properties" \
	>"$logdir/stdout.log" 2>&1 &
echo $! >"$pidfile"

# Ready when the broker answers a metadata request on the listener.
deadline=$((SECONDS + timeout))
until kcat -b "127.0.0.1:$port" -L -m 2 >/dev/null 2>&1; do
	if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		echo "kafka: the broker exited during start-up; last log lines:" >&2
		tail -n 40 "$logdir/stdout.log" "$logdir/server.log" >&2 || true
		rm -f "$pidfile"
		exit 1
	fi
	if ((SECONDS >= deadline)); then
		echo "kafka: the broker did not answer on 127.0.0.1:$port within ${timeout}s; last log lines:" >&2
		tail -n 40 "$logdir/server.log" >&2 || true
		kill "$(cat "$pidfile")" 2>/dev/null || true
		rm -f "$pidfile"
		exit 1
	fi
	sleep 0.5
done

echo "KAFKA_BROKERS=127.0.0.1:$port" >"$envfile"
echo "kafka: ready on 127.0.0.1:$port (pid $(cat "$pidfile"), logs in $logdir)" >&2
cat "$envfile"
