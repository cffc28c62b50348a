#!/usr/bin/env bash
# Builds eventrouter's Debian and RPM packages:
#   dist/eventrouter_<version>_amd64.deb
#   dist/eventrouter-<version>.x86_64.rpm
# with nfpm as a Go library (internal/packaging): nothing to install but Go.
#
# The version is $VERSION if set, else the git tag on HEAD (v1.2.0 -> 1.2.0),
# else 0.0.0~git<commit date>.<short commit> (~ sorts before any release).
# The binary is static (CGO_ENABLED=0) and says its version and commit in
# "eventrouter version". OUT=dir writes somewhere other than dist/.
set -euo pipefail
cd "$(dirname "$0")"

command -v go >/dev/null || { echo "package.sh: Go 1.26 is required" >&2; exit 1; }

commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
if [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
	commit="$commit-modified"
fi
if [ -z "${VERSION:-}" ]; then
	if tag=$(git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null); then
		VERSION=${tag#v}
	else
		VERSION="0.0.0~git$(git log -1 --format=%cd --date=format:%Y%m%d%H%M%S 2>/dev/null || date -u +%Y%m%d%H%M%S).$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
	fi
fi
VERSION=${VERSION//-/\~} # 1.2.0-rc1 -> 1.2.0~rc1: dpkg and rpm sort it before 1.2.0
# Every file's time is the commit's, so a package is reproducible.
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

out=${OUT:-dist}
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT

echo "package.sh: eventrouter $VERSION ($commit)"
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath \
	-ldflags "-s -w -X main.version=$VERSION -X main.commit=$commit" \
	-o "$build/eventrouter" ./cmd/eventrouter
go run ./internal/packaging/mkpackage -version "$VERSION" -binary "$build/eventrouter" -out "$out"
