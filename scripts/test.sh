#!/usr/bin/env bash
# Runs every sregraph test: the fast in-process suites and the integration
# suites against real servers, which this script installs (Debian packages,
# Maven Central, npm) and starts on loopback:
#
#   Neo4j 5.26 (neo4j-harness)   graph/neo4j contract suite and benchmarks' smoke
#   Apache Kafka (KRaft) + kcat  ingest Kafka integration suite
#   Alertmanager                 real webhook deliveries
#   Chromium (headless)          breach-page browser tests
#   graphql-http (npm)           GraphQL over HTTP audit of a running sregraph
#   podman (runc)                the container image, built and started once
#
# The deploy/ module (container image, Dockerfile, Helm chart) has its own
# go.mod, so that Helm and the Kubernetes API types stay out of the main
# module; it is vetted and tested after the main module.
#
# Before the tests it runs go vet and staticcheck (installed at a pinned
# version into .cache/bin).
#
# Suites that need a server fail (not skip) here when it cannot start.
# NEO4J_URI or KAFKA_BROKERS already set point the suites at existing
# servers instead of starting new ones.
#
# Usage: scripts/test.sh [go test flags...]   (e.g. -run TestX, -v)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
mkdir -p .cache
export SREGRAPH_TEST_OUT=${SREGRAPH_TEST_OUT:-$root/.cache/test-output}
mkdir -p "$SREGRAPH_TEST_OUT"

step() { printf '\n==> %s\n' "$*" >&2; }
started=()
cleanup() {
	for s in "${started[@]}"; do
		"scripts/$s/stop.sh" >/dev/null 2>&1 || true
	done
}
trap cleanup EXIT

step "installing system packages the suites need (chromium, kcat, alertmanager, node, podman)"
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v kcat >/dev/null 2>&1 || need+=(kcat)
command -v npm >/dev/null 2>&1 || need+=(nodejs npm)
command -v prometheus-alertmanager >/dev/null 2>&1 || command -v alertmanager >/dev/null 2>&1 || need+=(prometheus-alertmanager)
command -v podman >/dev/null 2>&1 || need+=(podman)
command -v runc >/dev/null 2>&1 || need+=(runc)
[[ -s /etc/ssl/certs/ca-certificates.crt ]] || need+=(ca-certificates)
if ((${#need[@]})); then
	SUDO=""
	[[ $(id -u) == 0 ]] || SUDO=sudo
	$SUDO apt-get update -qq >&2
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
scripts/alertmanager/install.sh >/dev/null

if [[ -z "${NEO4J_URI:-}" ]]; then
	step "starting Neo4j"
	scripts/neo4j/start.sh >&2
	started+=(neo4j)
	set -a; source .cache/neo4j/env; set +a
fi
if [[ -z "${KAFKA_BROKERS:-}" ]]; then
	step "starting Kafka"
	scripts/kafka/start.sh >&2
	started+=(kafka)
	set -a; source .cache/kafka/env; set +a
fi
step "installing graphql-http for the GraphQL over HTTP audit"
SREGRAPH_GRAPHQL_AUDIT=$(scripts/graphql-audit/install.sh)
export SREGRAPH_GRAPHQL_AUDIT
export SREGRAPH_REQUIRE_NEO4J=1 SREGRAPH_REQUIRE_KAFKA=1 SREGRAPH_REQUIRE_ALERTMANAGER=1 SREGRAPH_REQUIRE_BROWSER=1 SREGRAPH_REQUIRE_TMPFS=1 SREGRAPH_REQUIRE_PODMAN=1
export SREGRAPH_REQUIRE_GRAPHQL_AUDIT=1
# podman's default runtime, crun, refuses hosts with hybrid cgroups; runc
# runs there and everywhere else.
export SREGRAPH_PODMAN_RUNTIME=${SREGRAPH_PODMAN_RUNTIME:-runc}

step "go vet"
go vet ./...

step "staticcheck"
# Installed into the repository's cache at a pinned version, so that CI
# and every machine check the same rules.
staticcheck_version=v0.8.2
export GOBIN="$root/.cache/bin"
if [[ "$("$GOBIN/staticcheck" -version 2>/dev/null)" != *"(${staticcheck_version#v})"* ]]; then
	go install "honnef.co/go/tools/cmd/staticcheck@$staticcheck_version"
fi
"$GOBIN/staticcheck" ./...
unset GOBIN

step "go vet and staticcheck (deploy module)"
(cd deploy && go vet ./... && "$root/.cache/bin/staticcheck" ./...)

step "Cypher through Neo4j's own parser and linter"
scripts/cypherlint/run.sh

step "go test ./... (NEO4J_URI=$NEO4J_URI KAFKA_BROKERS=$KAFKA_BROKERS)"
go test -count=1 -timeout 40m "$@" ./... 2>&1 | tee .cache/go-test.log
status=${PIPESTATUS[0]}

step "deploy module: image built and run under podman ($SREGRAPH_PODMAN_RUNTIME), Dockerfile, Helm chart"
(cd deploy && go test -count=1 -timeout 20m "$@" ./...) 2>&1 | tee .cache/go-test-deploy.log
deploy_status=${PIPESTATUS[0]}
((status != 0)) || status=$deploy_status

step "screenshots and other test output: $SREGRAPH_TEST_OUT"
exit "$status"
