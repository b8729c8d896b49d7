#!/usr/bin/env bash
# Installs Debian's chromium for the breach-page browser tests
# (resolvers/page/browser_test.go), unless it is already there.
#
#   scripts/browser/install.sh          # as root, or with sudo available
#
# The tests look for /usr/bin/chromium (override with SREGRAPH_CHROMIUM).
set -euo pipefail

bin="${SREGRAPH_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$bin" ]; then
	"$bin" --version 2>/dev/null || true
	exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "chromium is missing and installing it needs root: run as root or install sudo" >&2
		exit 1
	fi
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update
# fonts-dejavu-core gives the screenshots readable glyphs on minimal images.
$sudo apt-get install -y --no-install-recommends chromium fonts-dejavu-core
"$bin" --version
