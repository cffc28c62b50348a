#!/usr/bin/env bash
# Runs the topology of compose.yaml on this machine, without Docker:
#
#   clients -> nginx 127.0.0.1:3000 -> node1 127.0.0.1:3001 --\
#                                   -> node2 127.0.0.1:3002 ----> redis-server 127.0.0.1:<free port>
#
# Needs Go and redis-server; nginx is optional (without it, connect to the
# nodes directly: a client connected to one node needs no stickiness).
# Every process logs to this terminal, tagged with its name; Ctrl-C stops
# them all and removes the temporary directory.
#
#   examples/cluster/run.sh              nginx with sticky sessions (polling and websocket)
#   WS_ONLY=1 examples/cluster/run.sh    nginx round-robin, websocket only; the nodes refuse polling
#
# The nodes' admin listeners (/metrics, /healthz, /readyz) are on
# 127.0.0.1:9091 and 127.0.0.1:9092.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
ws_only=${WS_ONLY:-0}

need() { command -v "$1" >/dev/null || { echo "run.sh: $1 is required${2:+ ($2)}" >&2; exit 1; }; }
need go "https://go.dev/dl"
need redis-server "apt-get install redis-server"
need curl

# in_use reports whether something listens on 127.0.0.1:$1.
in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

for port in 3001 3002 9091 9092; do
	if in_use "$port"; then echo "run.sh: port $port is in use" >&2; exit 1; fi
done
nginx_bin=$(command -v nginx || true)
if [ -n "$nginx_bin" ] && in_use 3000; then
	echo "run.sh: port 3000 is in use" >&2
	exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/eventrouter-cluster.XXXXXX")
pids=()

cleanup() {
	trap - INT TERM EXIT
	echo "run.sh: stopping" >&2
	# Last started, first stopped: nginx, the nodes, then Redis.
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
	done
	for pid in "${pids[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	sleep 0.2 # the taggers' last lines
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start NAME CMD...: runs CMD in the background, its output tagged with NAME.
# The tagger ignores Ctrl-C, so that it outlives CMD and prints its last
# lines (and CMD never writes to a closed pipe).
start() {
	local name=$1
	shift
	"$@" > >(trap '' INT; exec sed -u "s/^/[$name] /") 2>&1 &
	pids+=($!)
}

# wait_for URL WHAT: waits up to 60s for URL to answer 2xx.
wait_for() {
	for _ in $(seq 600); do
		if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	echo "run.sh: $2 did not come up ($1)" >&2
	exit 1
}

# Redis on the first free port from 6380.
redis_port=6380
while in_use "$redis_port"; do redis_port=$((redis_port + 1)); done
start redis redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no
for _ in $(seq 100); do
	if in_use "$redis_port"; then break; fi
	sleep 0.1
done
redis_url="redis://127.0.0.1:$redis_port/0"

# One build for both nodes. The binary runs as the nodes' own process
# (rather than under `go run`, which does not pass SIGTERM on), so Ctrl-C
# stops each node gracefully.
echo "run.sh: building eventrouter" >&2
(cd "$repo" && go build -o "$tmp/eventrouter" ./cmd/eventrouter)

# The nodes differ only in what the environment and the flags give them.
export EVENTROUTER_CLUSTER_REDIS_URL=$redis_url
# nginx forwards the client address in X-Forwarded-For.
export EVENTROUTER_SERVER_TRUSTED_PROXIES=127.0.0.1
if [ "$ws_only" = 1 ]; then
	export EVENTROUTER_SOCKETIO_TRANSPORTS=websocket
fi
for n in 1 2; do
	start "node$n" env EVENTROUTER_CLUSTER_NODE_ID="node$n" "$tmp/eventrouter" run \
		--config "$here/config.yaml" --listen "127.0.0.1:300$n" --admin-listen "127.0.0.1:909$n"
done
wait_for http://127.0.0.1:9091/readyz node1
wait_for http://127.0.0.1:9092/readyz node2

if [ -n "$nginx_bin" ]; then
	# nginx.conf as compose.yaml uses it, with the nodes on this machine,
	# every path nginx writes to under $tmp (so it runs without root), and
	# with WS_ONLY=1 upstream B in place of upstream A.
	mkdir -p "$tmp/nginx"
	chmod 1777 "$tmp/nginx" # the worker processes run as nobody when nginx is started as root
	awk -v ws_only="$ws_only" -v dir="$tmp/nginx" '
		/^http \{/ {
			print
			print "    access_log /dev/stdout;"
			print "    client_body_temp_path " dir "/body;"
			print "    proxy_temp_path " dir "/proxy;"
			print "    fastcgi_temp_path " dir "/fastcgi;"
			print "    uwsgi_temp_path " dir "/uwsgi;"
			print "    scgi_temp_path " dir "/scgi;"
			next
		}
		ws_only == 1 && /^    upstream eventrouter_socketio \{/ { in_a = 1 }
		in_a { print "#" $0; if ($0 ~ /^    \}/) in_a = 0; next }
		ws_only == 1 && /^    # upstream eventrouter_socketio \{/ { in_b = 1 }
		in_b { line = $0; sub(/^    # ?/, "    ", line); print line; if ($0 ~ /^    # \}/) in_b = 0; next }
		{ print }
	' "$here/nginx.conf" |
		sed -e 's/server node1:3000;/server 127.0.0.1:3001;/' -e 's/server node2:3000;/server 127.0.0.1:3002;/' \
			>"$tmp/nginx.conf"
	nginx_args=(-c "$tmp/nginx.conf" -p "$tmp/nginx" -e stderr -g "pid $tmp/nginx/nginx.pid; daemon off;")
	"$nginx_bin" -q -t "${nginx_args[@]}"
	start nginx "$nginx_bin" "${nginx_args[@]}"
	for _ in $(seq 100); do
		if in_use 3000; then break; fi
		sleep 0.1
	done
	entry="http://127.0.0.1:3000 (nginx, $([ "$ws_only" = 1 ] && echo "round-robin, websocket only" || echo "sticky sessions"))"
else
	entry="http://127.0.0.1:3001 or http://127.0.0.1:3002 (nginx is not installed)"
fi

cat >&2 <<EOF
run.sh: ready, Redis at $redis_url
  Socket.IO and POST /post: $entry
  try:   curl -s -X POST ${entry%% *}/post -H 'Content-Type: application/json' -d '{"hello":"world"}'
  Ctrl-C stops everything.
EOF
# Until Ctrl-C, or until one of them exits; either way the EXIT trap
# stops the others.
wait -n "${pids[@]}" || true
