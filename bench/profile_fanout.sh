#!/usr/bin/env bash
# Profiles tvgate (perf record -e cpu-clock, kernel + user) while it relays one 8 Mbit/s channel
# to N viewers at 1 MB/s (the B4 set-up of b4_fanout.sh). Prints the top symbols by self time,
# the user/kernel split and the syscall counts of the tvgate process (perf trace -s, if present).
#
#   bench/profile_fanout.sh [N=1000] [SECONDS=10]
#   CALLGRAPH=1 bench/profile_fanout.sh 1000 8   # DWARF call chains (bigger, slower)
#   bench/profile_fanout.sh sessions 8           # the B2 load instead: 64 KiB sessions, c64
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/live_lib.sh"
N=${1:-1000}
SECS=${2:-10}
command -v perf >/dev/null || die "perf not found (apt-get install -y linux-perf)"
need_live_tools; ensure_binary; bench_lock
UPORT=$(free_port); start_upstream "$UPORT"
mkdir -p "$BENCH_WORK/live-prof"
DIR="$BENCH_WORK/live-prof/data"
SID=$(prepare_live_dir "$DIR" "http://127.0.0.1:$UPORT/live/1.ts" 0) || die "prepare failed"
PORT=$(free_port)
start_tvgate "$DIR" "$PORT" "$BENCH_WORK/live-prof/tvgate.log"
OUT="$BENCH_WORK/profile-fanout-$N"
if [ "$N" = sessions ]; then
    taskset -c "$LOAD_CPU" "$SESSIONS_BIN" -p "$PORT" -d $((SECS + 4)) -c 64 -b 65536 "/live/$LIVE_USER/$LIVE_PASS/$SID.ts" >"$OUT.viewers" 2>&1 &
else
    taskset -c "$LOAD_CPU" "$VIEWERS_BIN" "$PORT" "/live/$LIVE_USER/$LIVE_PASS/$SID.ts" "$N" 1000000 $((SECS + 4)) >"$OUT.viewers" 2>&1 &
fi
VP=$!; STARTED_PIDS+=("$VP")
sleep 2
if [ "${CALLGRAPH:-0}" = 1 ]; then G=(--call-graph dwarf,16384 -F 499); else G=(-F 1999); fi
t0=$(cpu_ticks "$TVGATE_PID")
perf record -e cpu-clock "${G[@]}" -p "$TVGATE_PID" -o "$OUT.data" >/dev/null 2>"$OUT.perf.log" &
PERF=$!; STARTED_PIDS+=("$PERF")
sleep "$SECS"
kill -INT "$PERF"; wait "$PERF" 2>/dev/null; forget_pid "$PERF"
t1=$(cpu_ticks "$TVGATE_PID")
ut=$(awk '{ sub(/.*\) /, ""); print $12, $13 }' "/proc/$TVGATE_PID/stat")
if command -v strace >/dev/null; then
    timeout 3 strace -c -f -p "$TVGATE_PID" -o "$OUT.strace" >/dev/null 2>&1 || true
fi
wait "$VP"; forget_pid "$VP"
echo "# tvgate CPU over the profile: $(echo "($t1 - $t0) / $CLK_TCK / $SECS" | bc -l | cut -c1-5) cores; utime/stime ticks since start: $ut"
echo "# viewers: $(cat "$OUT.viewers")"
perf report -i "$OUT.data" --no-children --sort dso,symbol --percent-limit 0.7 --stdio 2>/dev/null \
    | grep -v '^$' | head -60 | tee "$OUT.txt"
[ -s "$OUT.strace" ] && { echo "# syscalls over 3 s (strace -c -f):"; head -20 "$OUT.strace"; }
log "full data: perf report -i $OUT.data"
