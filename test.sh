#!/usr/bin/env bash
# Runs eventrouter's whole test suite: vet, the rule tests of every shipped
# config, and every Go test under the race detector, including the
# end-to-end tests that drive the daemon with the official Node
# socket.io-client. Installs the Node test clients first (npm ci).
set -euo pipefail
cd "$(dirname "$0")"

command -v go >/dev/null || { echo "test.sh: Go 1.26 is required (https://go.dev/dl)" >&2; exit 1; }
command -v npm >/dev/null || { echo "test.sh: Node.js 20+ with npm is required" >&2; exit 1; }

if [ ! -d node_modules/socket.io-client ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
	npm ci --no-audit --no-fund
fi

# The cluster tests run real redis-server processes. Install it from the
# distribution when we can; without it those tests are skipped, with a
# message saying so (ERTEST_REQUIRE_REDIS=1 makes them fail instead).
if ! command -v redis-server >/dev/null; then
	if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
		apt-get update && apt-get install -y --no-install-recommends redis-server
	else
		echo "test.sh: redis-server is not installed (apt-get install redis-server): the cluster tests will be skipped" >&2
	fi
fi

# The browser tests drive Debian's chromium with playwright-core; without
# it they are skipped, with a message saying so (ERTEST_REQUIRE_BROWSER=1
# makes them fail instead).
if ! command -v chromium >/dev/null; then
	if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
		apt-get update && apt-get install -y --no-install-recommends chromium
	else
		echo "test.sh: chromium is not installed (apt-get install chromium): the browser tests will be skipped" >&2
	fi
fi

go vet ./...
go test -race -count=1 -timeout 20m ./...
# The end-to-end suite again on the library's Engine.IO server, kept for
# one release as a way back (socketio.engine: library).
ERTEST_SOCKETIO_ENGINE=library go test -race -count=1 -timeout 20m .
