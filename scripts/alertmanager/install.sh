#!/bin/sh
# Installs Debian's (or Ubuntu's) prometheus-alertmanager package when no
# Alertmanager binary is on the PATH, and prints the binary's path. The
# webhook integration test (ingest/webhook/alertmanager_integration_test.go) runs
# that binary; CI runs this script first and sets
# SREGRAPH_REQUIRE_ALERTMANAGER=1 so that the test fails instead of
# skipping when Alertmanager is missing.
set -eu

find_binary() {
	if [ -n "${SREGRAPH_ALERTMANAGER_BIN:-}" ] && [ -x "$SREGRAPH_ALERTMANAGER_BIN" ]; then
		echo "$SREGRAPH_ALERTMANAGER_BIN"
		return 0
	fi
	command -v prometheus-alertmanager 2>/dev/null || command -v alertmanager 2>/dev/null
}

if bin=$(find_binary); then
	echo "$bin"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install.sh: no Alertmanager binary and no apt-get: install Alertmanager and put it on the PATH, or set SREGRAPH_ALERTMANAGER_BIN" >&2
	exit 1
fi

SUDO=
if [ "$(id -u)" != 0 ]; then
	SUDO=sudo
fi
echo "install.sh: installing prometheus-alertmanager with apt-get" >&2
$SUDO apt-get update >&2
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends prometheus-alertmanager >&2

# The package enables a system service listening on every interface
# (:9093, :9094). The tests start their own instance on loopback, so stop
# and disable the one this installation started, when systemd runs.
if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
	$SUDO systemctl disable --now prometheus-alertmanager >&2 || true
fi

find_binary
