#!/usr/bin/env bash
# bench/cluster.sh — cross-node fan-out of a two-node eventrouter cluster.
#
# Builds bin/eventrouter, bin/eventrouter-bench and bin/cluster-report,
# starts a private redis-server (no persistence) on a free port, and
# measures, each phase against freshly started servers and a fresh Redis,
# with the default config.yaml plus the cluster's environment overrides:
#
#   a  single    one eventrouter, no cluster; CLIENTS receivers and the
#                sender on it. The baseline, as bench/run.sh's sweep.
#   b  local     nodes A and B on the Redis; every receiver and the sender
#                on A: every delivery is local, but each broadcast is
#                XADDed to Redis first. Compared to (a).
#   c  split     nodes A and B; half the receivers on A, half on B, the
#                sender on A: A's deliveries are local, B's come through
#                the Redis stream.
#
# Pinning (taskset): the measured node(s) on CPU 0, the load generator on
# CPU 1. (a): the node on CPU 0. (b): A on CPU 0; Redis and the idle node B
# on CPU 1, beside the load generator (they see one XADD and one stream
# read per message, a few hundred a second). (c): A and B both on CPU 0,
# Redis on CPU 1.
#
# Every step reports the CPU use of each node and of Redis (from
# /proc/PID/stat, by eventrouter-bench --watch-pids); each phase's totals
# over the whole sweep come from /proc/PID/stat and Redis's INFO cpu.
# Finally writes bench/cluster-results.md (with bench/cluster-analysis.md,
# written by hand, after the tables) and bench/cluster-summary.md, and
# puts the summary into BENCHMARKS.md (between its "cluster" markers;
# bench/run.sh includes bench/cluster-summary.md when it regenerates it).
#
#   bench/cluster.sh             full run (about 12 minutes: 2 rounds)
#   QUICK=1 bench/cluster.sh     quick run (under 3 minutes) to iterate
#
# REPORT_ONLY=DIR rewrites the markdown from the results in DIR (its
# meta.env holds the run's settings), without measuring.
#
# Other knobs (env): CLIENTS, RATES, STEP, DRAIN, ROUNDS (each round runs
# a, b and c again, interleaved; the report gives every round's figures),
# PHASES (default "a b c"), REDIS_CPU and IDLE_NODE_CPU (default 1: where
# Redis and phase b's idle node B run, to see what the placement costs),
# BENCH_ARGS (more eventrouter-bench flags for the sweeps, e.g.
# "--senders 4"), OUT, NO_REPORT=1 (leave the .md files alone),
# PROFILE_RATE=N (after the sweeps, CPU-profile for PROFILE_SECONDS at N
# deliveries/s, through /debug/pprof on the admin listener: the node in
# phase a, node A in phase b, node B in phase c; files p[abc]-*).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD

QUICK=${QUICK:-0}
CLIENTS=${CLIENTS:-1000}
if [[ $QUICK == 1 ]]; then
	RATES=${RATES:-25000,50000,75000,100000,200000,300000,400000}
	STEP=${STEP:-3s}
	DRAIN=${DRAIN:-2s}
	ROUNDS=${ROUNDS:-1}
else
	RATES=${RATES:-5000,10000,25000,50000,75000,100000,125000,150000,200000,250000,300000,350000,400000,500000}
	STEP=${STEP:-10s}
	DRAIN=${DRAIN:-3s}
	ROUNDS=${ROUNDS:-2}
fi
PHASES=${PHASES:-a b c}
BENCH_ARGS=${BENCH_ARGS:-}
PROFILE_RATE=${PROFILE_RATE:-}
PROFILE_SECONDS=${PROFILE_SECONDS:-20}
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$ROOT/bin/bench-results/cluster-$STAMP}
NODE_CPU=0
BENCH_CPU=1
REDIS_CPU=${REDIS_CPU:-1}         # Redis, in b and c
IDLE_NODE_CPU=${IDLE_NODE_CPU:-1} # node B in phase b

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- report --------------------------------------------------------------
# The report reads only the results directory: the run's settings and
# machine facts are in $OUT/meta.env, so REPORT_ONLY=DIR can rewrite the
# markdown (say, after editing bench/cluster-analysis.md) without measuring.
META_VARS=(RUN_DATE MODE_TEXT GITREV DIRTY OUT_REL MACHINE_LINE GOVER ADAPTERV REDISV
	CLIENTS RATES STEP DRAIN ROUNDS PHASES BENCH_ARGS LOAD_START LOAD_END
	NODE_CPU BENCH_CPU REDIS_CPU IDLE_NODE_CPU)

# on_cpu N PHASE: what ran on CPU N in PHASE, for the pinning table.
on_cpu() {
	local cpu=$1 phase=$2 list=()
	case $phase in
	a) ((NODE_CPU == cpu)) && list+=("the node") ;;
	b)
		((NODE_CPU == cpu)) && list+=("node A")
		((IDLE_NODE_CPU == cpu)) && list+=("node B (idle: no clients)")
		((REDIS_CPU == cpu)) && list+=("Redis")
		;;
	c)
		((NODE_CPU == cpu)) && list+=("nodes A and B")
		((REDIS_CPU == cpu)) && list+=("Redis")
		;;
	esac
	((BENCH_CPU == cpu)) && list+=("load generator")
	local IFS=,
	echo "${list[*]:-—}" | sed 's/,/, /g'
}

# write_report: the tables (bin/cluster-report), then, unless NO_REPORT=1,
# bench/cluster-results.md, bench/cluster-summary.md and BENCHMARKS.md's
# Cluster section.
write_report() {
	bin/cluster-report -dir "$OUT" -rounds "$ROUNDS" -phases "$PHASES" \
		-table "$OUT/cluster-table.md" -summary "$OUT/cluster-summary-table.md"
	cat "$OUT/cluster-summary-table.md" >&2

	if [[ ${NO_REPORT:-0} == 1 ]]; then
		log "NO_REPORT=1: bench/cluster-results.md and BENCHMARKS.md left alone; tables in $OUT"
		return 0
	fi
	rounds_note=
	((ROUNDS > 1)) && rounds_note=" The phases ran $ROUNDS times, interleaved (a b c, a b c, …); the summary gives each round's figures, in order, and every round has its own per-rate tables."

	{
		cat <<EOF
# Cluster benchmark: cross-node fan-out

Two eventrouter nodes sharing broadcasts through Redis (\`router/cluster\`,
the Redis streams adapter), against one node alone, measured side by side in
one run of \`bench/cluster.sh\`. **Absolute numbers are this machine's;
compare the ratios.**$rounds_note

- Run: $RUN_DATE, $MODE_TEXT mode, commit $GITREV$DIRTY, results in \`$OUT_REL\` (not committed)
- Machine: $MACHINE_LINE
- eventrouter: $GOVER, zishang520/socket.io redis adapter $ADAPTERV, default \`config.yaml\` (logs every message, to a file) plus \`EVENTROUTER_CLUSTER_REDIS_URL\`, \`EVENTROUTER_CLUSTER_REDIS_PREFIX\`, \`EVENTROUTER_CLUSTER_NODE_ID\`, \`EVENTROUTER_SERVER_LISTEN\`, \`EVENTROUTER_ADMIN_LISTEN\`
- Redis: redis-server $REDISV, private, on a free port, no persistence (\`--save '' --appendonly no\`), fresh for each phase
- Load: \`eventrouter-bench\`, $CLIENTS receivers + 1 sender${BENCH_ARGS:+ (extra flags: \`$BENCH_ARGS\`)}, 100-byte JSON payload; rates $RATES deliveries/s, $STEP per step, $DRAIN drain
- Load average (1, 5, 15 min) before the run: $LOAD_START; after: $LOAD_END (per phase: in the results directory, \`*-cpu.txt\`)

## Phases and pinning

| phase | what | CPU 0 (\`taskset -c 0\`) | CPU 1 (\`taskset -c 1\`) |
|---|---|---|---|
| (a) single node | one eventrouter, no cluster; $CLIENTS receivers and the sender on it | $(on_cpu 0 a) | $(on_cpu 1 a) |
| (b) cluster, local delivery | nodes A and B on one Redis; all $CLIENTS receivers and the sender on A, so every delivery is local, but each broadcast is XADDed to Redis first and B reads it from the stream | $(on_cpu 0 b) | $(on_cpu 1 b) |
| (c) cluster, split | nodes A and B; $((CLIENTS - CLIENTS / 2)) receivers and the sender on A (local delivery), $((CLIENTS / 2)) receivers on B (cross-node: read from the stream, delivered by the library's per-socket path) | $(on_cpu 0 c) | $(on_cpu 1 c) |

In (b) node B has no clients: it reads each broadcast from the stream and
has no one to deliver it to; Redis handles one XADD and one stream read per
node per message, a few hundred a second. Their CPU use is in the tables.
In (c) the two nodes share CPU 0, so the cluster has the same one core for
its eventrouter work as the single node.

## Results

EOF
		cat "$OUT/cluster-table.md"
		if [[ -f bench/cluster-analysis.md ]]; then
			echo
			cat bench/cluster-analysis.md
		fi
		cat <<EOF

## How it is measured

- **Offered deliveries/s** = messages/s × receivers, as in
  [BENCHMARKS.md](../BENCHMARKS.md#how-it-is-measured): one sender emits
  \`send_message\` on a fixed schedule; every receiver gets each
  \`receive_message\` and measures its latency from the send time in the
  payload. In (c) the receivers are spread round robin over A and B
  (\`eventrouter-bench --receiver-urls A,B\`); each group's figures count its
  own receivers only, and its offered rate is its share (messages/s × its
  receivers).
- **Sustained** is the highest offered rate up to which every step kept
  p99 ≤ 100 ms with at most 0.1 % lost (a step that passes above a failing one
  does not count); "≥" means no tried rate failed. For the local and
  cross-node rows of (c), the same rule on that group's p99 and losses, in
  that group's deliveries/s. The sweep stops after a step whose p99 over all
  receivers exceeds 1 s or loses over 10 %. When a higher step passes again
  after a failing one, the summary says so ("disturbed?"): one step upset by
  something else on the machine ends a sweep early, which is why the full
  mode runs 10 s steps and two rounds, and QUICK runs are indicative only.
- **CPU** is utime + stime from \`/proc/PID/stat\` over each step and its
  drain, in % of one core (\`eventrouter-bench --watch-pids\`); the
  summary's "there" columns are the step at the sustained rate. The
  per-phase totals (whole
  sweep, including connecting) also come from \`/proc/PID/stat\`, and for
  Redis from \`INFO cpu\` (used_cpu_user + used_cpu_sys), which agree.
- **Local throughput cost of clustering** is (b)'s sustained rate ÷ (a)'s,
  both with every receiver on the measured node; "CPU per delivery" is the
  measured node's CPU time per delivered message at the same offered rate.
- Reproduce with \`bench/cluster.sh\` (\`QUICK=1\` for a quick look).
EOF
	} >bench/cluster-results.md

	{
		cat <<EOF
<!-- cluster: begin. Written by bench/cluster.sh (bench/cluster-summary.md); bench/run.sh keeps it. -->
## Cluster

Two nodes sharing broadcasts through Redis, $CLIENTS clients, against a single
node, side by side in one run of \`bench/cluster.sh\` ($MODE_TEXT mode, commit
$GITREV$DIRTY, ${RUN_DATE%% *}, on $MACHINE_LINE). Nodes on CPU $NODE_CPU, load generator on CPU $BENCH_CPU, Redis on CPU $REDIS_CPU
(details, per-rate tables, where the time goes and how it is measured:
[bench/cluster-results.md](bench/cluster-results.md)).

EOF
		cat "$OUT/cluster-summary-table.md"
		echo
		echo "<!-- cluster: end -->"
	} >bench/cluster-summary.md

	# BENCHMARKS.md: replace the section between the markers, or append it
	if grep -q '^<!-- cluster: begin' BENCHMARKS.md; then
		awk -v f=bench/cluster-summary.md '
			/^<!-- cluster: begin/ {while ((getline l < f) > 0) print l; skip = 1; next}
			/^<!-- cluster: end/ {skip = 0; next}
			!skip' BENCHMARKS.md >"$OUT/BENCHMARKS.md.new"
	else
		{ cat BENCHMARKS.md; echo; cat bench/cluster-summary.md; } >"$OUT/BENCHMARKS.md.new"
	fi
	mv "$OUT/BENCHMARKS.md.new" BENCHMARKS.md
	log "wrote bench/cluster-results.md, bench/cluster-summary.md and the Cluster section of BENCHMARKS.md"
}

if [[ -n ${REPORT_ONLY:-} ]]; then
	[[ -f $REPORT_ONLY/meta.env ]] || die "$REPORT_ONLY/meta.env not found: not a bench/cluster.sh results directory"
	OUT=$(cd "$REPORT_ONLY" && pwd)
	# shellcheck source=/dev/null
	source "$OUT/meta.env"
	go build -o bin/cluster-report ./bench/clusterreport
	write_report
	exit 0
fi

# --- limits and machine checks -------------------------------------------
mkdir -p "$OUT"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
if (($(ulimit -n) < CLIENTS + 512)); then
	die "open-file limit $(ulimit -n) is below the $((CLIENTS + 512)) needed"
fi
for cmd in taskset redis-server redis-cli curl jq ss; do
	command -v "$cmd" >/dev/null || die "$cmd is required"
done
(($(nproc) >= 2)) || die "needs 2 CPUs: nodes on CPU $NODE_CPU, load generator and Redis on CPU $BENCH_CPU"
(($(nproc) > 2)) && log "note: $(nproc) CPUs; still pinning nodes to CPU $NODE_CPU, load and Redis to CPU $BENCH_CPU"
[[ $(getconf CLK_TCK) == 100 ]] || die "CLK_TCK is $(getconf CLK_TCK); the CPU figures assume 100"

# --- build ---------------------------------------------------------------
log "building into bin/"
go build -o bin/eventrouter ./cmd/eventrouter
go build -o bin/eventrouter-bench ./cmd/eventrouter-bench
go build -o bin/cluster-report ./bench/clusterreport

# --- ports ---------------------------------------------------------------
# free_port VAR: sets VAR to the first port from NEXT_PORT up that nothing
# listens on (below the ephemeral range the clients use), and moves
# NEXT_PORT past it. Not a command substitution: NEXT_PORT must persist.
NEXT_PORT=23000
free_port() {
	local p=$NEXT_PORT
	while [[ -n $(ss -Htln "sport = :$p") ]]; do p=$((p + 1)); done
	NEXT_PORT=$((p + 1))
	printf -v "$1" '%s' "$p"
}

# --- process lifecycle ---------------------------------------------------
PIDS=()    # everything this script started and still runs
REDIS_PID= # current Redis
REDIS_PORT=

stop_pid() {
	local pid=$1 i
	kill "$pid" 2>/dev/null || true
	for i in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
stop_all() {
	local pid
	for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
	PIDS=()
	REDIS_PID=
}
BENCH_PID=
cleanup() {
	[[ -n $BENCH_PID ]] && kill "$BENCH_PID" 2>/dev/null || true
	stop_all
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_redis PHASE: a fresh, empty redis-server on a free port, pinned to
# REDIS_CPU, without persistence.
start_redis() {
	local phase=$1 i
	free_port REDIS_PORT
	taskset -c "$REDIS_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$OUT" --logfile "$OUT/$phase-redis.log" --protected-mode yes &
	REDIS_PID=$!
	PIDS+=("$REDIS_PID")
	for i in $(seq 50); do
		[[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && return 0
		kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited at start; see $OUT/$phase-redis.log"
		sleep 0.1
	done
	die "redis-server did not answer on port $REDIS_PORT"
}

# start_node PHASE NAME CPU CLUSTER(0|1): a fresh eventrouter with
# config.yaml, pinned to CPU, its listeners on free ports; with CLUSTER=1
# it joins the Redis of start_redis. Sets NODE_PID, NODE_URL, NODE_ADMIN.
start_node() {
	local phase=$1 name=$2 cpu=$3 cluster=$4 port admin i
	free_port port
	free_port admin
	NODE_URL=http://127.0.0.1:$port
	NODE_ADMIN=http://127.0.0.1:$admin
	local logf="$OUT/$phase-$name.log"
	echo "=== $(date -u +%FT%TZ) $name on CPU $cpu, port $port, admin $admin" >>"$logf"
	if [[ $cluster == 1 ]]; then
		EVENTROUTER_SERVER_LISTEN=127.0.0.1:$port EVENTROUTER_ADMIN_LISTEN=127.0.0.1:$admin \
			EVENTROUTER_CLUSTER_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0 \
			EVENTROUTER_CLUSTER_REDIS_PREFIX=bench-$phase \
			EVENTROUTER_CLUSTER_NODE_ID=$name \
			taskset -c "$cpu" bin/eventrouter --config config.yaml >>"$logf" 2>&1 &
	else
		EVENTROUTER_SERVER_LISTEN=127.0.0.1:$port EVENTROUTER_ADMIN_LISTEN=127.0.0.1:$admin \
			taskset -c "$cpu" bin/eventrouter --config config.yaml >>"$logf" 2>&1 &
	fi
	NODE_PID=$!
	PIDS+=("$NODE_PID")
	for i in $(seq 100); do
		if curl -fsS -o /dev/null "$NODE_URL/socket.io/?EIO=4&transport=polling" 2>/dev/null &&
			[[ $(curl -fsS "$NODE_ADMIN/readyz" 2>/dev/null) == ready* ]]; then
			return 0
		fi
		kill -0 "$NODE_PID" 2>/dev/null || die "$name exited at start; see $logf"
		sleep 0.1
	done
	die "$name did not get ready on $NODE_URL (admin $NODE_ADMIN); see $logf"
}

# calc EXPR: floating-point arithmetic, 3 decimals.
calc() { awk "BEGIN {printf \"%.3f\", $*}"; }
# cpu_ticks PID: utime + stime of the process, in clock ticks (1/100 s).
cpu_ticks() { awk '{sub(/^.*\) /, ""); print $12 + $13}' "/proc/$1/stat"; }
# redis_cpu_s: Redis's own used_cpu_user + used_cpu_sys, in seconds.
redis_cpu_s() { redis-cli -p "$REDIS_PORT" info cpu | tr -d '\r' | awk -F: '/^used_cpu_(user|sys):/ {s += $2} END {printf "%.3f", s}'; }

# sweep PHASE NAMES... -- BENCH ARGS: runs the bench sweep and records the
# CPU use of the named processes (NAME=PID pairs) over it in PHASE-cpu.txt.
sweep() {
	local phase=$1
	shift
	local watch=() arg
	while [[ $1 != -- ]]; do watch+=("$1"); shift; done
	shift
	local w0 r0 t0 w1 r1 t1 pair name pid
	declare -A before
	for pair in "${watch[@]}"; do before[${pair%%=*}]=$(cpu_ticks "${pair#*=}"); done
	r0=$([[ -n $REDIS_PID ]] && redis_cpu_s || echo 0)
	t0=$(date +%s.%N)
	local load0
	load0=$(cut -d' ' -f1-3 /proc/loadavg)
	taskset -c "$BENCH_CPU" bin/eventrouter-bench --clients "$CLIENTS" --rates "$RATES" \
		--step-duration "$STEP" --drain "$DRAIN" --json \
		--watch-pids "$(IFS=,; echo "${watch[*]}")" $BENCH_ARGS "$@" \
		>"$OUT/$phase-sweep.json" 2> >(tee "$OUT/$phase-sweep.err" | sed "s/^/  $phase: /" >&2) &
	BENCH_PID=$!
	wait "$BENCH_PID" || log "$phase: eventrouter-bench exited with $?"
	BENCH_PID=
	t1=$(date +%s.%N)
	{
		echo "wall_s=$(calc "$t1 - $t0")"
		for pair in "${watch[@]}"; do
			name=${pair%%=*} pid=${pair#*=}
			echo "cpu_s_$name=$(calc "($(cpu_ticks "$pid") - ${before[$name]}) / 100")"
		done
		if [[ -n $REDIS_PID ]]; then
			r1=$(redis_cpu_s)
			echo "redis_info_cpu_s=$(calc "$r1 - $r0")"
		fi
		echo "load_before=$load0"
		echo "load_after=$(cut -d' ' -f1-3 /proc/loadavg)"
	} >"$OUT/$phase-cpu.txt"
	if [[ -n $REDIS_PID ]]; then
		redis-cli -p "$REDIS_PORT" info commandstats | tr -d '\r' >"$OUT/$phase-redis-commandstats.txt"
		redis-cli -p "$REDIS_PORT" info memory | tr -d '\r' | grep -E '^used_memory(_human)?:' >"$OUT/$phase-redis-memory.txt"
	fi
}

# cluster_metrics PHASE NAME ADMIN: the node's eventrouter_cluster_*
# counters (published, unpublished, queue full, Redis errors) after the
# sweep, in PHASE-NAME-metrics.txt.
cluster_metrics() {
	curl -fsS "$3/metrics" 2>/dev/null | grep '^eventrouter_cluster_' >"$OUT/$1-$2-metrics.txt" ||
		log "$1: no cluster metrics from node $2"
}

# profile PHASE URL ADMIN: a fixed-rate run at PROFILE_RATE while the
# node at ADMIN records a CPU profile.
profile() {
	local phase=$1 url=$2 admin=$3
	shift 3
	local secs=$((PROFILE_SECONDS + 6))
	taskset -c "$BENCH_CPU" bin/eventrouter-bench --url "$url" --clients "$CLIENTS" --rates "$PROFILE_RATE" \
		--step-duration "${secs}s" --drain "$DRAIN" --json "$@" >"$OUT/$phase-profile-run.json" 2>"$OUT/$phase-profile-run.err" &
	BENCH_PID=$!
	sleep 4 # connected and sending
	curl -fsS -o "$OUT/$phase-cpu.pprof" "$admin/debug/pprof/profile?seconds=$PROFILE_SECONDS" || log "$phase: profile failed"
	# an execution trace of 2 s, for where goroutines wait (tracing slows
	# the node, so after the CPU profile): -pprof=net is the time blocked
	# on network reads (Redis replies), -pprof=sched the time runnable
	curl -fsS -o "$OUT/$phase-trace.out" "$admin/debug/pprof/trace?seconds=2" || log "$phase: trace failed"
	wait "$BENCH_PID" || true
	BENCH_PID=
	go tool pprof -top -nodecount=40 bin/eventrouter "$OUT/$phase-cpu.pprof" >"$OUT/$phase-pprof-top.txt" 2>/dev/null || true
	go tool pprof -top -cum -nodecount=40 bin/eventrouter "$OUT/$phase-cpu.pprof" >"$OUT/$phase-pprof-cum.txt" 2>/dev/null || true
	local kind
	for kind in net sched; do
		go tool trace -pprof="$kind" "$OUT/$phase-trace.out" >"$OUT/$phase-trace-$kind.pprof" 2>/dev/null &&
			go tool pprof -top -cum -nodecount=40 bin/eventrouter "$OUT/$phase-trace-$kind.pprof" >"$OUT/$phase-trace-$kind-cum.txt" 2>/dev/null || true
	done
	log "$phase profile at $PROFILE_RATE/s: $(jq -r '.steps[0] | "p99 \(.latency.p99_ms) ms, lost \(.lost), CPU \(.watched_cpu_pct)"' "$OUT/$phase-profile-run.json" 2>/dev/null); $OUT/$phase-pprof-top.txt"
}

# --- phases --------------------------------------------------------------
phase_a() {
	local tag=$1
	log "phase a$tag: single node on CPU $NODE_CPU, $CLIENTS receivers"
	start_node "a$tag" A "$NODE_CPU" 0
	sweep "a$tag" "A=$NODE_PID" -- --url "$NODE_URL"
	stop_all
}

phase_b() {
	local tag=$1
	log "phase b$tag: cluster, all local: A on CPU $NODE_CPU with $CLIENTS receivers + sender; B (idle) and Redis on CPU $REDIS_CPU"
	start_redis "b$tag"
	start_node "b$tag" A "$NODE_CPU" 1
	local a_pid=$NODE_PID a_url=$NODE_URL a_admin=$NODE_ADMIN
	start_node "b$tag" B "$IDLE_NODE_CPU" 1
	local b_pid=$NODE_PID b_admin=$NODE_ADMIN
	sweep "b$tag" "A=$a_pid" "B=$b_pid" "redis=$REDIS_PID" -- --url "$a_url"
	cluster_metrics "b$tag" A "$a_admin"
	cluster_metrics "b$tag" B "$b_admin"
	stop_all
}

phase_c() {
	local tag=$1
	log "phase c$tag: cluster, split: A and B on CPU $NODE_CPU, $((CLIENTS - CLIENTS / 2)) receivers + sender on A, $((CLIENTS / 2)) receivers on B; Redis on CPU $REDIS_CPU"
	start_redis "c$tag"
	start_node "c$tag" A "$NODE_CPU" 1
	local a_pid=$NODE_PID a_url=$NODE_URL a_admin=$NODE_ADMIN
	start_node "c$tag" B "$NODE_CPU" 1
	local b_pid=$NODE_PID b_url=$NODE_URL b_admin=$NODE_ADMIN
	sweep "c$tag" "A=$a_pid" "B=$b_pid" "redis=$REDIS_PID" -- --url "$a_url" --receiver-urls "$a_url,$b_url"
	cluster_metrics "c$tag" A "$a_admin"
	cluster_metrics "c$tag" B "$b_admin"
	stop_all
}

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
if awk '{exit !($1 > 0.7)}' /proc/loadavg; then
	log "warning: load average $LOAD_START before the run: other processes are using the CPUs and will skew the figures"
fi
T0=$SECONDS
for round in $(seq "$ROUNDS"); do
	tag=
	((ROUNDS > 1)) && tag=$round
	for p in $PHASES; do
		"phase_$p" "$tag"
	done
done

if [[ -n $PROFILE_RATE ]]; then
	log "profiling at $PROFILE_RATE deliveries/s for ${PROFILE_SECONDS}s"
	start_node pa A "$NODE_CPU" 0
	profile pa "$NODE_URL" "$NODE_ADMIN" --watch-pids "A=$NODE_PID"
	stop_all
	start_redis pb
	start_node pb A "$NODE_CPU" 1
	pa_url=$NODE_URL pa_admin=$NODE_ADMIN pa_pid=$NODE_PID
	start_node pb B "$IDLE_NODE_CPU" 1
	profile pb "$pa_url" "$pa_admin" --watch-pids "A=$pa_pid,B=$NODE_PID,redis=$REDIS_PID"
	stop_all
	# (c): node B, which delivers the cross-node half
	start_redis pc
	start_node pc A "$NODE_CPU" 1
	pa_url=$NODE_URL pa_pid=$NODE_PID
	start_node pc B "$NODE_CPU" 1
	profile pc "$pa_url" "$NODE_ADMIN" --receiver-urls "$pa_url,$NODE_URL" --watch-pids "A=$pa_pid,B=$NODE_PID,redis=$REDIS_PID"
	stop_all
fi
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)
log "measurements done in $((SECONDS - T0))s; results in $OUT"

RUN_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
MODE_TEXT="full"
[[ $QUICK == 1 ]] && MODE_TEXT="QUICK (short steps, fewer rates: indicative only)"
GITREV=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
# uncommitted changes to anything but the files this script writes
DIRTY=$(git status --porcelain -- . ':!BENCHMARKS.md' ':!bench/cluster-results.md' ':!bench/cluster-summary.md' 2>/dev/null |
	grep -qv '^??' && echo " (with uncommitted changes)" || true)
OUT_REL=${OUT#$ROOT/}
MACHINE_LINE="$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(nproc) CPUs (\`nproc\`), $(free -h | awk '/^Mem:/ {print $2}') RAM (\`free -h\`), $(uname -sr)"
GOVER=$(go version | awk '{print $3}')
ADAPTERV=$(go list -m -f '{{.Version}}' github.com/zishang520/socket.io/adapters/redis/v3 2>/dev/null || echo unknown)
REDISV=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')
declare -p "${META_VARS[@]}" >"$OUT/meta.env"
write_report
