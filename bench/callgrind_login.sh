#!/usr/bin/env bash
# Instructions per player_api.php login, counted by callgrind (deterministic, unlike CPU time on
# this shared machine). The release tvgate runs under `valgrind --tool=callgrind` on LOGIN_USERS
# (10,000) lines; a small client (callgrind_login.py, one kept-alive connection) logs WARM lines
# in once (first logins, not counted), the counters are zeroed (`callgrind_control --zero`), N
# logins are sent, and the counters are dumped (`callgrind_control --dump`): everything the
# process executed in that window (hyper, the handler, the stats and ledger, timers) divided by N.
#
# Modes (MODE):
#   good   N logins rotating over the WARM lines already logged in (the steady state of B1)
#   first  N logins of lines never logged in since the start (each its first: no cached proof)
#   bad    N wrong passwords rotating over the WARM lines (failure budget out of reach)
#   all    the three, one server each
#
# Caveat: valgrind's CPU model has no SHA extensions (sha_ni), so the sha2 crate takes its
# portable path under callgrind: HMAC-SHA256 counts ~4-5x the instructions it costs natively
# on this machine (which has sha_ni). Figures are instructions, not time; compare them only
# with figures from this script.
#
# STORE=postgres: the same lines in PostgreSQL (lib.sh's prepare_lines_pg, BENCH_POSTGRES_URL) and
# the server on TVGATE_STORE_URL (issue 12: a login on a PostgreSQL-backed node must cost within
# 10 % of a SQLite-backed one). Only tvgate's own instructions are counted: work the PostgreSQL
# server does for it (the timeline's inserts) is in another process, so compare with that in mind.
#
# Env: N (2000) WARM (1000) LOGIN_USERS (100000, lib.sh's) MODE (good) SETTLE (3) STORE (sqlite)
#      BENCH_WORK TVGATE_BIN BENCH_BUILD=1
#      KEEP=1 keeps the callgrind.out files (for callgrind_annotate) in $BENCH_WORK/callgrind
source "$(dirname "$0")/lib.sh"
N=${N:-2000}
WARM=${WARM:-1000}
LOGIN_USERS=${LOGIN_USERS:-10000}
MODE=${MODE:-good}
SETTLE=${SETTLE:-3}   # seconds for the timeline's writer (every 1 s) to store what is queued
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
    die "valgrind not found (apt-get install -y valgrind)"
[ $((WARM + 1 + N)) -le "$LOGIN_USERS" ] || die "MODE=first needs WARM + N < LOGIN_USERS"
ensure_binary
results_file callgrind_login
STORE=${STORE:-sqlite}
STORE_ENV=()
case $STORE in
    sqlite)
        DATA="$BENCH_WORK/lines$LOGIN_USERS"
        prepare_lines_dir "$LOGIN_USERS" "$DATA" ;;
    postgres)
        DATA="$BENCH_WORK/pg-lines$LOGIN_USERS"
        prepare_lines_pg "$LOGIN_USERS" "$DATA"
        STORE_ENV=(TVGATE_STORE_URL="$PG_STORE_URL") ;;
    *) die "STORE=$STORE: use sqlite or postgres" ;;
esac
OUT="$BENCH_WORK/callgrind"; mkdir -p "$OUT"
# Failures are a workload of their own (MODE=bad): a budget that never runs out.
BUDGET=(TVGATE_LOGIN_FAILURES_PER_IP=4000000000 TVGATE_LOGIN_FAILURES_PER_USERNAME=4000000000)

one() { # MODE -> prints "mode=.. logins=N instructions=.. per_login=.."
    local mode=$1 port logf pid first kind dump ir
    port=$(free_port); logf="$OUT/server-$mode.log"
    rm -f "$OUT"/callgrind.out."$mode".*
    env TVGATE_WORKER_THREADS=1 $(steady_env) "${BUDGET[@]}" "${STORE_ENV[@]}" \
        valgrind --tool=callgrind --callgrind-out-file="$OUT/callgrind.out.$mode.%p" \
        "$TVGATE_BIN" serve --listen "127.0.0.1:$port" --data-dir "$DATA" >"$logf" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    wait_http "http://127.0.0.1:$port/healthz" 300 || { tail -5 "$logf" >&2; die "tvgate did not start under valgrind"; }
    python3 "$BENCH_DIR/callgrind_login.py" "127.0.0.1:$port" 1 "$WARM" good || die "warm-up failed"
    case $mode in
        good) first=1 kind=good ;;
        first) first=$((WARM + 1)) kind=good ;;
        bad) first=1 kind=bad ;;
    esac
    # One login of the measured kind before zeroing: lazily built state is not counted.
    python3 "$BENCH_DIR/callgrind_login.py" "127.0.0.1:$port" "$first" 1 "$kind" || die "login failed"
    [ "$mode" = first ] && first=$((first + 1))
    # The timeline's writer stores the queued login events every second: let it store the
    # warm-up's before zeroing, and the measured logins' before dumping, so each measured
    # login's event is counted once and no other's is.
    sleep "$SETTLE"
    callgrind_control --zero "$pid" >/dev/null || die "callgrind_control --zero failed"
    python3 "$BENCH_DIR/callgrind_login.py" "127.0.0.1:$port" "$first" "$N" "$kind" "$([ "$mode" = first ] && echo "$N" || echo "$WARM")" \
        || die "measured logins failed"
    sleep "$SETTLE"
    callgrind_control --dump="after $N $mode logins" "$pid" >/dev/null || die "callgrind_control --dump failed"
    dump=$(grep -l "^desc: Trigger: .*after $N $mode logins" "$OUT"/callgrind.out."$mode"."$pid".* 2>/dev/null | head -1)
    [ -n "$dump" ] || dump=$(ls -t "$OUT"/callgrind.out."$mode"."$pid".* 2>/dev/null | head -1)
    [ -n "$dump" ] || die "no callgrind dump found"
    ir=$(awk '/^(summary|totals):/ {print $2; exit}' "$dump")
    stop_pid "$pid"
    [ "${KEEP:-0}" = 1 ] || rm -f "$OUT"/callgrind.out."$mode".*
    awk -v m="$mode" -v n="$N" -v ir="$ir" -v st="$STORE" 'BEGIN { printf "store=%s mode=%s logins=%d instructions=%d per_login=%.0f\n", st, m, n, ir, ir / n }'
}

{
echo "# callgrind login: $(date -Is); $(bin_info); lines $LOGIN_USERS, warm $WARM, N=$N; valgrind $(valgrind --version)"
echo "# note: no sha_ni under valgrind: SHA-256 runs its portable code here (more instructions than natively)"
if [ "$MODE" = all ]; then
    for m in good first bad; do one "$m"; done
else
    one "$MODE"
fi
} | tee -a "$RESULTS"
