#!/usr/bin/env bash
# Fetches the GraphQL IDE's browser files from npm at pinned versions into
# resolvers/graphiql/, where the binary embeds them (resolvers/ide.go), so
# that GET /graphql works with no network: GraphiQL's UMD build and its
# stylesheet, and the React and ReactDOM UMD builds it runs on, each with
# its package's licence.
#
# Every file is checked against the sha256 pinned below (the subresource
# integrity hashes gqlgen's own GraphiQL page uses for the same versions),
# so a re-fetch yields exactly the files in the repository. To move to a
# new version, change the version and the hash together, run this script,
# and run `go test ./resolvers -run IDE`.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
dest="$repo/resolvers/graphiql"

# package@version  file-in-package  sha256 (base64)
files=(
	"graphiql@4.1.2 graphiql.min.js hnImuor1znlJkD/FOTL3jayfS/xsyNoP04abi8bFJWs="
	"graphiql@4.1.2 graphiql.min.css MEh+B2NdMSpj9kexQNN3QKc8UzMrCXW/Sx/phcpuyIU="
	"react@18.2.0 umd/react.production.min.js S0lp+k7zWUMk2ixteM6HZvu8L9Eh//OVrt+ZfbCpmgY="
	"react-dom@18.2.0 umd/react-dom.production.min.js IXWO0ITNDjfnNXIu5POVfqlgYoop36bDzhodR6LW5Pc="
)

command -v npm >/dev/null || { echo "graphiql: npm is needed (apt-get install npm)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for entry in "${files[@]}"; do
	read -r pkg path sum <<<"$entry"
	if [[ ! -d "$work/$pkg" ]]; then
		(cd "$work" && npm pack --silent "$pkg" >/dev/null)
		mkdir -p "$work/$pkg"
		tar xzf "$work/${pkg/@/-}.tgz" -C "$work/$pkg"
	fi
	src="$work/$pkg/package/$path"
	got=$(openssl dgst -sha256 -binary "$src" | base64)
	if [[ "$got" != "$sum" ]]; then
		echo "graphiql: $pkg $path has sha256 $got, want $sum" >&2
		exit 1
	fi
	mkdir -p "$dest/$pkg"
	cp "$src" "$dest/$pkg/$(basename "$path")"
	cp "$work/$pkg/package/LICENSE" "$dest/$pkg/LICENSE"
	echo "graphiql: $pkg/$(basename "$path") sha256-$sum"
done
