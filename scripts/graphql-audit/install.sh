#!/usr/bin/env bash
# Installs graphql-http (and graphql), at the versions pinned in
# package.json, from npm into .cache/graphql-audit, for audit.mjs and the
# test that runs it (cmd/sregraph TestGraphQLOverHTTPAudit). Prints the
# directory holding audit.mjs and its node_modules.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
dir="$root/.cache/graphql-audit"
mkdir -p "$dir"
cp "$here/package.json" "$here/audit.mjs" "$dir/"
if ! cmp -s "$here/package.json" "$dir/.installed" 2>/dev/null || [[ ! -d "$dir/node_modules/graphql-http" ]]; then
	(cd "$dir" && npm install --no-audit --no-fund --loglevel=error >&2)
	cp "$here/package.json" "$dir/.installed"
fi
echo "$dir"
