#!/usr/bin/env bash
# B7 (issue 12): connection admission across nodes against one Redis.
# A throw-away redis-server (127.0.0.1, free port, no persistence) pinned to SERVER_CPU; the load
# generator crates/redis/examples/admission.rs (release) pinned to LOAD_CPU, in which every "node"
# is a tvgate_redis::connect of its own (its own connection and subscription, as a tvgate serve
# has), admitting leases on LINES lines of MAX connections (policy refuse) and ending them.
# Four runs, in one invocation:
#   local   the in-process ledger (the one-box default), one thread, as fast as it goes
#   redis1  one node, closed loop (CONCURRENCY viewers back to back, no hold): its most
#   redisN  NODES nodes, closed loop: their most, in total and per node
#   paced   NODES nodes, RATE admissions/s in total (each admitted lease held 0-2*HOLD_MS ms, then
#           ended: RATE admits + ends per second), open loop: p50/p99/p99.9 admission latency,
#           the limit checked from the nodes' side and from Redis's (every line's live leases every
#           100 ms), Redis CPU per admission from INFO cpu before/after
# Targets: p99 <= 2 ms on loopback; per node >= 50 % of the single-node (in-process) rate.
# PACING=even (default): each admission launched at its own instant by a pacing thread;
# PACING=tick: the ones due launched together every millisecond (the first version's bursts).
# Env: RATE (10000) NODES (3) DURATION (10) LINES (1000) MAX (2) HOLD_MS (20) CONCURRENCY (32)
#      SERVER_CPU LOAD_CPU BENCH_WORK BENCH_BUILD=1 (rebuild the generator) CARGO_TARGET_DIR
source "$(dirname "$0")/lib.sh"
RATE=${RATE:-10000}
NODES=${NODES:-3}
LINES=${LINES:-1000}
MAX=${MAX:-2}
HOLD_MS=${HOLD_MS:-20}
PACING=${PACING:-even}
CONCURRENCY=${CONCURRENCY:-32}
for t in redis-server redis-cli taskset flock python3; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install -y redis-server util-linux python3)"
done
bench_lock
results_file b7_admission

GEN="$CARGO_TARGET_DIR/release/examples/admission"
if [ "${BENCH_BUILD:-0}" = 1 ] || [ ! -x "$GEN" ]; then
    log "building the load generator into $CARGO_TARGET_DIR ..."
    (cd "$REPO" && cargo build --release -p tvgate-redis --example admission) >&2 || die "build failed"
fi

RPORT=$(free_port)
mkdir -p "$BENCH_WORK/b7-redis"
taskset -c "$SERVER_CPU" redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$BENCH_WORK/b7-redis" >"$BENCH_WORK/b7-redis.log" 2>&1 &
REDIS_PID=$!
STARTED_PIDS+=("$REDIS_PID")
for _ in $(seq 100); do
    [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ] && break
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited: $(tail -n 2 "$BENCH_WORK/b7-redis.log")"
    sleep 0.1
done
[ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ] || die "redis-server did not answer"
URL="redis://127.0.0.1:$RPORT"

gen() { # LABEL ARGS... -> "LABEL key=value ..." appended to $RESULTS and printed
    local label=$1 out; shift
    out=$(taskset -c "$LOAD_CPU" "$GEN" "$@") || die "$label: the generator failed"
    printf '%s %s\n' "$label" "$out" | tee -a "$RESULTS"
}

{
echo "# B7 admission: $(date -Is) $(uname -r); $(redis-server --version | cut -d' ' -f3) on CPU $SERVER_CPU, generator on CPU $LOAD_CPU; HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)"
echo "# $NODES nodes, $LINES lines of $MAX connections, ${DURATION}s per run; paced: $RATE admissions/s in total, leases held 0-$((2 * HOLD_MS)) ms then ended; closed loop: $CONCURRENCY viewers per node, no hold"
} | tee -a "$RESULTS"

BGF="$BENCH_WORK/b7-bg.$$"
gen local local --seconds "$DURATION" --lines "$LINES" --max "$MAX"
gen redis1 redis "$URL" "b7:1:" --nodes 1 --rate 0 --concurrency "$CONCURRENCY" --hold-ms 0 \
    --seconds "$DURATION" --lines "$LINES" --max "$MAX"
gen redisN redis "$URL" "b7:n:" --nodes "$NODES" --rate 0 --concurrency "$CONCURRENCY" --hold-ms 0 \
    --seconds "$DURATION" --lines "$LINES" --max "$MAX"
bg_measure "$DURATION" >"$BGF" &
BGPID=$!
gen paced redis "$URL" "b7:p:" --nodes "$NODES" --rate "$RATE" --hold-ms "$HOLD_MS" --pacing "$PACING" \
    --seconds "$DURATION" --lines "$LINES" --max "$MAX"
wait "$BGPID"
echo "# background CPU during the paced run: $(cat "$BGF")" | tee -a "$RESULTS"
rm -f "$BGF"
echo "# keys left in Redis: $(redis-cli -p "$RPORT" dbsize)" | tee -a "$RESULTS"

python3 - "$RESULTS" "$MAX" "$RATE" <<'EOF' | tee -a "$RESULTS"
import sys
path, limit, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
runs = {}
for line in open(path):
    f = line.split()
    if f and not f[0].startswith("#"):
        runs[f[0]] = dict(x.split("=", 1) for x in f[1:] if "=" in x)
def num(run, key): return float(runs[run][key])
local, one = num("local", "rate"), num("redis1", "rate")
n = int(runs["redisN"]["nodes"])
per_node = num("redisN", "per_node")
p = runs["paced"]
print("# summary")
print(f"paced: {num('paced', 'rate'):.0f} admissions/s of {rate:.0f} asked ({p['admitted']} admitted, {p['full']} at the limit, {p['ends']} ends),"
      f" admission p50 {int(p['admit_p50_us'])/1000:.2f} ms, p99 {int(p['admit_p99_us'])/1000:.2f} ms, p99.9 {int(p['admit_p999_us'])/1000:.2f} ms, max {int(p['admit_max_us'])/1000:.2f} ms;"
      f" end p99 {int(p['end_p99_us'])/1000:.2f} ms")
ok = all(int(runs[r]["over_limit_nodes"]) == 0 and int(runs[r]["max_live_per_line_redis"]) <= limit for r in ("redis1", "redisN", "paced"))
print(f"limit {limit}: {'never exceeded' if ok else 'EXCEEDED'} (nodes' side: " +
      ", ".join(f"{r} {runs[r]['over_limit_nodes']} over" for r in ('redis1', 'redisN', 'paced')) +
      "; Redis's side, most live leases of one line: " +
      ", ".join(f"{r} {runs[r]['max_live_per_line_redis']} ({runs[r]['redis_samples']} samples)" for r in ('redis1', 'redisN', 'paced')) + ")")
print(f"Redis CPU per admission (its end included): paced {num('paced', 'redis_cpu_us_per_admission'):.1f} us,"
      f" closed loop {num('redisN', 'redis_cpu_us_per_admission'):.1f} us; Redis busy {num('paced', 'redis_cpu_s') / num('paced', 'secs'):.2f} core at the paced rate")
print(f"rates (admissions/s): in-process {local:.0f}; one node on Redis {one:.0f}; {n} nodes on Redis {num('redisN', 'rate'):.0f} in total, {per_node:.0f} per node")
print(f"per node / in-process: {per_node / local:.3f} (target >= 0.5); per node / one node on Redis: {per_node / one:.2f}")
print(f"targets: p99 <= 2 ms: {'ok' if int(p['admit_p99_us']) <= 2000 else 'miss'}; per node >= 50 % of the in-process rate: {'ok' if per_node >= 0.5 * local else 'miss'}")
EOF
