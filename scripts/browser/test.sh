#!/usr/bin/env bash
# Runs the breach-page tests in a real browser: installs Debian's chromium
# if it is missing, then drives it headless against the pages loaded with
# the demo. A missing browser is a failure here, not a skip.
#
#   scripts/browser/test.sh                 # screenshots in ./test-output/page
#   SREGRAPH_TEST_OUT=/tmp/out scripts/browser/test.sh
set -euo pipefail

cd "$(dirname "$0")/../.."
scripts/browser/install.sh
export SREGRAPH_REQUIRE_BROWSER=1
export SREGRAPH_TEST_OUT="${SREGRAPH_TEST_OUT:-$PWD/test-output}"
go test -count=1 -run 'Browser' -v ./resolvers/page/ "$@"
echo "screenshots: $SREGRAPH_TEST_OUT/page"
