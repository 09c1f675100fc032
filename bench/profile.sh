#!/usr/bin/env bash
# Profiles tvgate (perf record, cpu-clock: hardware counters are not available in this VM)
# under one benchmark workload, server set up exactly as in the benchmark scripts.
# usage: bench/profile.sh login|badpass|ratelimited|m3u|live [SECONDS]
# Prints the top symbols by self time (and, with CALLGRAPH=1, caller chains via DWARF unwinding).
# Output kept in $BENCH_WORK/profile-<workload>.{data,txt}.
source "$(dirname "$0")/lib.sh"
WORKLOAD=${1:?usage: profile.sh login|badpass|ratelimited|m3u|live [SECONDS]}
SECS=${2:-10}
command -v perf >/dev/null || die "perf not found (apt-get install -y linux-perf)"
need_tools; ensure_binary; bench_lock
BIG=1000000000
EXTRA=()
case $WORKLOAD in
    login|badpass|ratelimited)
        DATA="$BENCH_WORK/lines$LOGIN_USERS"; prepare_lines_dir "$LOGIN_USERS" "$DATA"
        P="$BENCH_WORK/login_${WORKLOAD}.txt"
        login_paths "$P" "$([ "$WORKLOAD" = login ] && echo good || echo bad)"
        [ "$WORKLOAD" = badpass ] && EXTRA=(TVGATE_LOGIN_FAILURES_PER_IP=$BIG TVGATE_LOGIN_FAILURES_PER_USERNAME=$BIG)
        CONNS=64; PATHARG=(/ "$BENCH_DIR/lua/rotate.lua" "$P") ;;
    m3u|live)
        DATA="$BENCH_WORK/cat100000"; prepare_catalog_dir 100000 "$DATA"
        CONNS=8
        if [ "$WORKLOAD" = m3u ]; then U="/get.php?username=bench&password=bench-pass&type=m3u_plus&output=ts"
        else U="/player_api.php?username=bench&password=bench-pass&action=get_live_streams"; fi
        PATHARG=("$U") ;;
    *) die "unknown workload $WORKLOAD" ;;
esac
PORT=$(free_port); start_tvgate "$DATA" "$PORT" "$BENCH_WORK/tvgate-profile.log" "${EXTRA[@]}"
OUT="$BENCH_WORK/profile-$WORKLOAD"
url="http://127.0.0.1:$PORT${PATHARG[0]}"
DURATION=2 run_wrk "$CONNS" "$url" "${PATHARG[@]:1}" >/dev/null
if [ "${CALLGRAPH:-0}" = 1 ]; then G=(--call-graph dwarf,16384 -F 499); else G=(-F 1999); fi
perf record -e cpu-clock "${G[@]}" -p "$TVGATE_PID" -o "$OUT.data" >/dev/null 2>"$OUT.perf.log" &
PERF=$!; STARTED_PIDS+=("$PERF")
sleep 0.5
DURATION=$SECS run_wrk "$CONNS" "$url" "${PATHARG[@]:1}" | tee "$OUT.wrk"
kill -INT "$PERF"; wait "$PERF" 2>/dev/null; forget_pid "$PERF"
perf report -i "$OUT.data" --no-children --sort dso,symbol --percent-limit 0.7 --stdio 2>/dev/null \
    | grep -v '^$' | head -60 > "$OUT.txt"
cat "$OUT.txt"
log "full data: perf report -i $OUT.data"
