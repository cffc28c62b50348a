#!/usr/bin/env bash
# bench/run.sh — eventrouter and the Node reference server, side by side.
#
# Builds bin/eventrouter, bin/eventrouter-bench and bin/bench-plot, installs
# bench/node-reference (npm ci) when needed, then for each server — pinned
# to CPU 0 with the load generator pinned to CPU 1 — measures:
#   idle     RSS per idle websocket connection (VmRSS before/after, ÷ N)
#   connect  connects/s for N concurrent clients
#   sweep    a rate sweep with CLIENTS receivers
#   latency  p50/p99 at 25k deliveries/s
# Each phase runs against a freshly started server, with logging as shipped
# (eventrouter: config.yaml; node: console.log), logs going to files.
# Finally writes BENCHMARKS.md and bench/p99-vs-rate.svg; BENCHMARKS.md
# ends with bench/cluster-summary.md, which bench/cluster.sh writes.
#
#   bench/run.sh                 full run (~10 minutes)
#   QUICK=1 bench/run.sh         quick run (< 3 minutes) to iterate
#   IDLE=2000 bench/run.sh       fewer idle/connect clients
#
# ENGINE=library runs eventrouter on the library's Engine.IO server
# (socketio.engine); the default is its own, builtin. The server name
# eventrouter-library in SERVERS is eventrouter on the library's engine
# whatever ENGINE says, so both engines can be measured in one run:
#   SERVERS="eventrouter eventrouter-library node" bench/run.sh
#
# PHASES="idle connect" runs only those phases (default: all four).
#
# Other knobs (env): CLIENTS, SENDERS, RATES, STEP, LAT_STEP, CONNECT_N, IDLE_RUNS, OUT,
# SERVERS (default "eventrouter node yardstick"), NO_REPORT=1 (skip BENCHMARKS.md).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then
	CLIENTS=${CLIENTS:-500}
	RATES=${RATES:-5000,10000,25000,50000,75000,100000}
	STEP=${STEP:-3s}
	LAT_STEP=${LAT_STEP:-5s}
	DRAIN=${DRAIN:-2s}
	IDLE=${IDLE:-2000}
	IDLE_RUNS=${IDLE_RUNS:-1}
else
	CLIENTS=${CLIENTS:-1000}
	# Up the ramp until eventrouter itself fails (the sweep stops after a
	# step with p99 over 1 s): past 1.5M deliveries/s here.
	RATES=${RATES:-5000,10000,25000,50000,75000,100000,150000,200000,300000,500000,750000,1000000,1250000,1500000,1750000,2000000,2500000,3000000}
	STEP=${STEP:-10s}
	LAT_STEP=${LAT_STEP:-15s}
	DRAIN=${DRAIN:-3s}
	IDLE=${IDLE:-10000}
	IDLE_RUNS=${IDLE_RUNS:-5}
fi
CONNECT_N=${CONNECT_N:-$IDLE}
SERVERS=${SERVERS:-eventrouter node yardstick}
ENGINE=${ENGINE:-builtin}
PHASES=${PHASES:-idle connect sweep latency}
# Senders of the sweep: config.yaml holds each socket to 1000 events/s
# (limits.events_per_second), so one sender would cap the sweep at 1M
# deliveries/s with 1000 receivers; four share the load.
SENDERS=${SENDERS:-4}
for phase in $PHASES; do
	case $phase in idle | connect | sweep | latency) ;; *)
		echo "bench/run.sh: unknown phase $phase in PHASES (idle, connect, sweep, latency)" >&2
		exit 2
		;;
	esac
done
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/bin/bench-results/$STAMP}
SVG=bench/p99-vs-rate.svg
SERVER_CPU=0
BENCH_CPU=1
mkdir -p "$OUT"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- limits and machine checks -------------------------------------------
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
need=$((IDLE > CONNECT_N ? IDLE : CONNECT_N))
need=$((need > CLIENTS ? need : CLIENTS))
if (($(ulimit -n) < need + 512)); then
	die "open-file limit $(ulimit -n) is below the $((need + 512)) needed; lower IDLE/CONNECT_N or raise the hard limit"
fi
command -v taskset >/dev/null || die "taskset (util-linux) is required"
if (($(nproc) < 2)); then
	die "needs 2 CPUs: the server runs on CPU $SERVER_CPU, the load generator on CPU $BENCH_CPU"
fi
(($(nproc) > 2)) && log "note: $(nproc) CPUs; still pinning server to CPU $SERVER_CPU and load to CPU $BENCH_CPU"

# --- build ---------------------------------------------------------------
log "building into bin/"
go build -o bin/eventrouter ./cmd/eventrouter
go build -o bin/eventrouter-bench ./cmd/eventrouter-bench
go build -o bin/bench-plot ./bench/plot
go build -o bin/yardstick ./bench/yardstick
NODE_DIR=bench/node-reference
if [[ " $SERVERS " == *" node "* ]]; then
	command -v node >/dev/null || die "node is required for the reference server"
	if [[ ! -d $NODE_DIR/node_modules/socket.io || $NODE_DIR/package-lock.json -nt $NODE_DIR/node_modules/.package-lock.json ]]; then
		log "npm ci in $NODE_DIR"
		(cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
	fi
fi

# --- server lifecycle ----------------------------------------------------
SERVER_PID=
PORT=21000 # below the ephemeral range (ip_local_port_range), which the clients use

# start_server NAME: starts a fresh server on the next port, pinned to
# SERVER_CPU, logging to $OUT/NAME.log; sets SERVER_PID and URL.
start_server() {
	local name=$1
	PORT=$((PORT + 1))
	URL=http://127.0.0.1:$PORT
	echo "=== $(date -u +%FT%TZ) start on port $PORT" >>"$OUT/$name.log"
	case $name in
	eventrouter)
		EVENTROUTER_SOCKETIO_ENGINE=$ENGINE taskset -c "$SERVER_CPU" bin/eventrouter --config config.yaml --listen "127.0.0.1:$PORT" >>"$OUT/$name.log" 2>&1 &
		;;
	eventrouter-library)
		EVENTROUTER_SOCKETIO_ENGINE=library taskset -c "$SERVER_CPU" bin/eventrouter --config config.yaml --listen "127.0.0.1:$PORT" >>"$OUT/$name.log" 2>&1 &
		;;
	node)
		PORT=$PORT taskset -c "$SERVER_CPU" node "$NODE_DIR/server.js" >>"$OUT/$name.log" 2>&1 &
		;;
	yardstick)
		taskset -c "$SERVER_CPU" bin/yardstick --listen "127.0.0.1:$PORT" >>"$OUT/$name.log" 2>&1 &
		;;
	*) die "unknown server $name" ;;
	esac
	SERVER_PID=$!
	local i
	for i in $(seq 100); do
		if curl -fsS -o /dev/null "$URL/socket.io/?EIO=4&transport=polling" 2>/dev/null; then
			sleep 0.5 # let the heap settle before any RSS reading
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || die "$name exited at start; see $OUT/$name.log"
		sleep 0.1
	done
	die "$name did not answer on $URL"
}

stop_server() {
	[[ -n $SERVER_PID ]] || return 0
	kill "$SERVER_PID" 2>/dev/null || true
	local i
	for i in $(seq 50); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}
BENCH_PID=
cleanup() {
	[[ -n $BENCH_PID ]] && kill "$BENCH_PID" 2>/dev/null || true
	stop_server
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

bench() { taskset -c "$BENCH_CPU" bin/eventrouter-bench --url "$URL" "$@"; }

# --- phases --------------------------------------------------------------
# phase_idle NAME: IDLE_RUNS runs, each on a fresh server; NAME-rss.txt
# gets one block per run (the report takes their median: when the
# collector last ran moves one run's figure by about 10 %).
phase_idle() {
	local name=$1 run
	: >"$OUT/$name-rss.txt"
	for run in $(seq "$IDLE_RUNS"); do
		idle_once "$name"
	done
}

idle_once() {
	local name=$1 hold=$((IDLE / 1000 + 6))s before after held
	start_server "$name"
	before=$(rss_kb "$SERVER_PID")
	bench --idle "$IDLE" --hold "$hold" --json >"$OUT/$name-idle.json" 2>"$OUT/$name-idle.err" &
	BENCH_PID=$!
	local i
	for i in $(seq 600); do
		grep -q '^HOLDING' "$OUT/$name-idle.err" 2>/dev/null && break
		kill -0 "$BENCH_PID" 2>/dev/null || break
		sleep 0.1
	done
	sleep 3 # connections up: let the server finish their setup
	after=$(rss_kb "$SERVER_PID")
	wait "$BENCH_PID" || true
	BENCH_PID=
	held=$(sed -n 's/^HOLDING n=\([0-9]*\).*/\1/p' "$OUT/$name-idle.err")
	printf 'rss_before_kb=%s\nrss_after_kb=%s\nn=%s\n' "$before" "$after" "${held:-0}" >>"$OUT/$name-rss.txt"
	log "$name idle: ${held:-0} connections, VmRSS ${before} KB -> ${after} KB"
	stop_server
}

phase_connect() {
	local name=$1
	start_server "$name"
	bench --connect-rate --clients "$CONNECT_N" --json >"$OUT/$name-connect.json" 2>"$OUT/$name-connect.err" || true
	log "$name connect: $(jq -r '.connect | "\(.connected)/\(.attempted) in \(.seconds)s = \(.connects_per_s)/s, \(.errors) errors"' "$OUT/$name-connect.json")"
	stop_server
}

phase_sweep() {
	local name=$1
	start_server "$name"
	log "$name sweep: $CLIENTS clients, rates $RATES, $STEP per step"
	bench --clients "$CLIENTS" --senders "$SENDERS" --rates "$RATES" --step-duration "$STEP" --drain "$DRAIN" --watch-pids "server=$SERVER_PID" --json \
		>"$OUT/$name-sweep.json" 2> >(tee "$OUT/$name-sweep.err" | sed "s/^/  $name: /" >&2) || true
	stop_server
}

phase_latency() {
	local name=$1
	start_server "$name"
	bench --clients "$CLIENTS" --rates 25000 --warmup 2s --step-duration "$LAT_STEP" --drain "$DRAIN" --json \
		>"$OUT/$name-latency.json" 2>"$OUT/$name-latency.err" || true
	log "$name at 25k/s: $(jq -r '.steps[0] | "p50 \(.latency.p50_ms) ms, p99 \(.latency.p99_ms) ms, max \(.latency.max_ms) ms, lost \(.lost)"' "$OUT/$name-latency.json" 2>/dev/null)"
	stop_server
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if awk '{exit !($1 > 0.7)}' /proc/loadavg; then
	log "warning: load average $LOAD_START before the run: other processes are using the CPUs and will skew the figures"
fi
T0=$SECONDS
for name in $SERVERS; do
	log "=== $name (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	for phase in $PHASES; do
		"phase_$phase" "$name"
	done
done
log "measurements done in $((SECONDS - T0))s; results in $OUT"

# --- report --------------------------------------------------------------
servers_arg=
for name in $SERVERS; do
	case $name in
	eventrouter) servers_arg+="eventrouter=eventrouter (config.yaml; engine $ENGINE)," ;;
	eventrouter-library) servers_arg+="eventrouter-library=eventrouter (config.yaml; engine library)," ;;
	node) servers_arg+="node=Node: Express + socket.io $(node -p 'require("./'$NODE_DIR'/node_modules/socket.io/package.json").version' 2>/dev/null)," ;;
	yardstick) servers_arg+="yardstick=bare gorilla/websocket hub (the yardstick)," ;;
	*) servers_arg+="$name," ;;
	esac
done
bin/bench-plot -dir "$OUT" -svg "$OUT/p99-vs-rate.svg" -table "$OUT/table.md" -servers "${servers_arg%,}"
cat "$OUT/table.md" >&2

if [[ ${NO_REPORT:-0} == 1 ]]; then
	log "NO_REPORT=1: BENCHMARKS.md left alone; table and plot in $OUT"
	exit 0
fi
cp "$OUT/p99-vs-rate.svg" "$SVG"

mode="full"
[[ $QUICK == 1 ]] && mode="QUICK (short steps, fewer clients: indicative only)"
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
mem=$(free -h | awk '/^Mem:/ {print $2}')
gitrev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# the report's own outputs (the plot was just copied) do not make the tree dirty
dirty=$(git status --porcelain -- . ':!BENCHMARKS.md' ":!$SVG" 2>/dev/null | grep -qv '^??' && echo " (with uncommitted changes)" || true)
sio_go=$(go list -m -f '{{.Version}}' github.com/zishang520/socket.io/servers/socket/v3 2>/dev/null || echo unknown)
pkgv() { node -p "require('./$NODE_DIR/node_modules/$1/package.json').version" 2>/dev/null || echo unknown; }

{
	cat <<EOF
# Benchmarks

eventrouter against the Node server it replaces (\`bench/node-reference\`:
Express + cors + socket.io), measured side by side in one run of
\`bench/run.sh\`. **Absolute numbers are this machine's; compare the ratios.**

- Run: $(date -u '+%Y-%m-%d %H:%M UTC'), $mode mode, results in \`${OUT#$ROOT/}\` (not committed)
- Machine: $cpu, $(nproc) CPUs (\`nproc\`), $mem RAM (\`free -h\`), $(uname -sr)
- Pinning: each server on CPU $SERVER_CPU (\`taskset -c $SERVER_CPU\`), the load generator on CPU $BENCH_CPU
- eventrouter: commit $gitrev$dirty, $(go version | awk '{print $3}'), zishang520/socket.io $sio_go, default \`config.yaml\` (logs every message, to a file), Engine.IO: $ENGINE (socketio.engine)
- Node: $(node --version), socket.io $(pkgv socket.io), express $(pkgv express), logging to a file as shipped
- Load average (1, 5, 15 min) before the run: $LOAD_START; after: $(cut -d' ' -f1-3 /proc/loadavg) (anything well above 0 means other processes shared the CPUs)
- Load: \`eventrouter-bench\` (Engine.IO v4 / Socket.IO v5 over raw gorilla/websocket), $CLIENTS receivers + $SENDERS senders (1 for the latency at 25k), 100-byte JSON payload; rates $RATES deliveries/s, $STEP per step, $DRAIN drain; $IDLE idle connections; $CONNECT_N clients for the connect rate

## Results

EOF
	cat "$OUT/table.md"
	cat <<EOF

![p99 latency against offered rate](bench/p99-vs-rate.svg)

## How it is measured

- **Offered deliveries/s** = messages/s × receivers: the senders ($SENDERS in
  the sweep, each under config.yaml's 1000 events/s per socket) emit
  \`send_message\` on a fixed schedule; every receiver gets each
  \`receive_message\`. Each payload carries a sequence number and the send
  time (Unix ns); receivers compute latency against their own clock (same
  process). Percentiles are exact (all samples sorted, nearest rank).
- **Sustained** is the highest offered rate up to which every step of the
  sweep kept p99 ≤ 100 ms with at most 0.1 % of deliveries lost (a step that
  passes above a failing one does not count). Lost = expected − received once the senders stop
  and a drain time ($DRAIN) has passed. "≥" means no tried rate failed.
  The sweep stops after a step whose p99 exceeds 1 s or loses over 10 %.
- **p50 / p99 at 25k** is a separate run: 2 s warm-up, then $LAT_STEP at
  25 000 deliveries/s.
- **RSS per idle connection** = (VmRSS with N idle, answered-ping clients −
  VmRSS of the fresh server) ÷ N, from \`/proc/PID/status\`, 3 s after the
  last connection completed; the median of $IDLE_RUNS runs, each on a fresh
  server (when the collector last ran moves one run's figure by about 10 %).
- **Connects/s**: N clients connect with at most 256 handshakes in flight;
  N ÷ time until the last Socket.IO CONNECT is acknowledged.
- **Payload key order kept**: whether every delivery had its keys in the
  order sent (seq, ts, pad).
- Every phase uses a freshly started server. Reproduce with
  \`bench/run.sh\` (\`QUICK=1\` for a quick look, \`IDLE=2000\` for fewer idle
  clients).
EOF
	cat bench/analysis.md
	# the Cluster section, which bench/cluster.sh measures and writes
	if [[ -f bench/cluster-summary.md ]]; then
		echo
		cat bench/cluster-summary.md
	fi
} >BENCHMARKS.md
log "wrote BENCHMARKS.md and $SVG"
