#!/usr/bin/env bash
# Redis's instructions per admission and its end, counted by callgrind (repeatable whatever else
# the machine is doing, unlike B7's CPU seconds). A throw-away redis-server (127.0.0.1, free port,
# no persistence) runs under `valgrind --tool=callgrind`; the load generator of B7
# (crates/redis/examples/admission.rs) runs one node, one viewer at a time (admit, end at once) on
# LINES lines of MAX connections, for SECONDS, with Redis's side of the limit not sampled. The
# counters are zeroed before the run (`callgrind_control --zero`) and dumped after; everything
# redis-server executed meanwhile (the scripts, the commands they call, the protocol) is divided
# by the admissions the generator reports. Compare only with figures from this script.
#
# Env: SECONDS_RUN (20) LINES (1000) MAX (2) BENCH_WORK CARGO_TARGET_DIR BENCH_BUILD=1
#      GEN (a generator binary to use instead, e.g. one built from another commit)
source "$(dirname "$0")/lib.sh"
SECONDS_RUN=${SECONDS_RUN:-20}
LINES=${LINES:-1000}
MAX=${MAX:-2}
for t in redis-server redis-cli valgrind callgrind_control; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install -y redis-server valgrind)"
done
results_file b7_scripts

GEN=${GEN:-$CARGO_TARGET_DIR/release/examples/admission}
if [ "${BENCH_BUILD:-0}" = 1 ] || [ ! -x "$GEN" ]; then
    log "building the load generator into $CARGO_TARGET_DIR ..."
    (cd "$REPO" && cargo build --release -p tvgate-redis --example admission) >&2 || die "build failed"
fi

RPORT=$(free_port)
OUT="$BENCH_WORK/b7-callgrind"
rm -rf "$OUT" && mkdir -p "$OUT"
valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.%p" \
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT" \
    >"$OUT/redis.log" 2>&1 &
REDIS_PID=$!
STARTED_PIDS+=("$REDIS_PID")
for _ in $(seq 300); do
    [ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ] && break
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited: $(tail -n 2 "$OUT/redis.log")"
    sleep 0.1
done
[ "$(redis-cli -p "$RPORT" ping 2>/dev/null)" = PONG ] || die "redis-server did not answer"

# A short run first loads the scripts (EVALSHA's first NOSCRIPT) outside the counted window.
"$GEN" redis "redis://127.0.0.1:$RPORT" "b7s:w:" --nodes 1 --rate 0 --concurrency 1 --hold-ms 0 \
    --seconds 1 --lines "$LINES" --max "$MAX" --sample 0 >/dev/null || die "the warm-up run failed"
callgrind_control --zero "$REDIS_PID" >/dev/null
out=$("$GEN" redis "redis://127.0.0.1:$RPORT" "b7s:" --nodes 1 --rate 0 --concurrency 1 --hold-ms 0 \
    --seconds "$SECONDS_RUN" --lines "$LINES" --max "$MAX" --sample 0) || die "the generator failed"
callgrind_control --dump "$REDIS_PID" >/dev/null
admissions=$(kv admissions "$out")
ends=$(kv ends "$out")
ir=$(cat "$OUT"/callgrind.out.* | awk '/^totals:/ {t += $2} END {print t + 0}')
[ "$ir" -gt 0 ] || die "no callgrind totals in $OUT"
{
echo "# B7 scripts under callgrind: $(date -Is); $(redis-server --version | cut -d' ' -f3); HEAD $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null); generator $GEN"
echo "admissions=$admissions ends=$ends ir=$ir ir_per_admission_and_end=$((ir / (admissions > 0 ? admissions : 1)))"
} | tee -a "$RESULTS"
