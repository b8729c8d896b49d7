#!/usr/bin/env bash
# Installs graphql-http (and graphql) from npm, at the versions the
# committed package-lock.json pins, into .cache/graphql-audit, next to
# audit.mjs, for the test that runs the audit (cmd/sregraph
# TestGraphQLOverHTTPAudit). Prints that directory: the test reads it from
# SREGRAPH_GRAPHQL_AUDIT.
#
#   SREGRAPH_GRAPHQL_AUDIT=$(scripts/graphql-audit/install.sh) go test ./cmd/sregraph -run Audit
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dir="$root/.cache/graphql-audit"
mkdir -p "$dir"
cp "$here/package.json" "$here/package-lock.json" "$here/audit.mjs" "$dir/"
if ! cmp -s "$here/package-lock.json" "$dir/.installed" || [[ ! -d "$dir/node_modules/graphql-http" ]]; then
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >"$dir/npm.log" 2>&1) || {
		echo "graphql-audit: npm ci failed:" >&2
		cat "$dir/npm.log" >&2
		exit 1
	}
	cp "$here/package-lock.json" "$dir/.installed"
fi
echo "$dir"
