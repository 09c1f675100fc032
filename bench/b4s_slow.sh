#!/usr/bin/env bash
# B4s slow clients (perf.md §5): B4 with N=1000 viewers of ONE relayed 8 Mbit/s channel, where
# 89 % read at 1 MB/s, 10 % at 0.5 MB/s (half the live rate: they fall behind) and 1 % do not read
# at all (rate 1 B/s: viewers.c never reads a byte). Three viewers.c processes run at once (all
# pinned to the load core). tvgate is started afresh for every repetition.
#
#   bench/b4s_slow.sh                 # REPS=3, VDUR=30 s (~2 min)
#   FAST=890 HALF=100 STUCK=10 VDUR=20 REPS=1 bench/b4s_slow.sh
#
# Reports per repetition: fast viewers below 95 % of 1 MB/s (target <= 0.1 %, i.e. 0 of 890),
# the half-rate and stuck groups (rates, closed = dropped by the server), tvgate's
# tvgate_viewer_lag_skips_total and tvgate_viewers_dropped_lagging_total, RSS before / peak /
# after, kernel TCP memory, machine busy and bg, and the upstream connections (must be 1).
# The hub's policy (crates/relay/src/hub.rs): a viewer more than 4 MiB or 4 s behind jumps to the
# live edge (lag skip); the 3rd jump within 30 s drops it.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/live_lib.sh"

FAST=${FAST:-890}
HALF=${HALF:-100}
STUCK=${STUCK:-10}
RATE=${RATE:-1000000}
VDUR=${VDUR:-30}
REPS=${REPS:-3}

need_live_tools
ensure_binary
bench_lock
results_file b4s_slow
log "$(bin_info)"
echo "# b4s_slow: FAST=$FAST HALF=$HALF STUCK=$STUCK RATE=$RATE VDUR=$VDUR $(bin_info)" >>"$RESULTS"

UPORT=$(free_port)
start_upstream "$UPORT"
mkdir -p "$BENCH_WORK/live-b4s"
DIR="$BENCH_WORK/live-b4s/data"
SID=$(prepare_live_dir "$DIR" "http://127.0.0.1:$UPORT/live/1.ts" 0) || die "prepare failed"
TPORT=$(free_port)
PATHQ="/live/$LIVE_USER/$LIVE_PASS/$SID.ts"

for rep in $(seq 1 "$REPS"); do
    bg_gate
    start_tvgate "$DIR" "$TPORT" "$BENCH_WORK/live-b4s/tvgate.log"
    pid=$TVGATE_PID
    up0=$(upstream_total "$UPORT")
    sleep 0.5
    rss0=$(rss_kb "$pid"); reset_hwm "$pid"
    cmds=("taskset -c $LOAD_CPU $VIEWERS_BIN $TPORT $PATHQ $FAST $RATE $VDUR"
          "taskset -c $LOAD_CPU $VIEWERS_BIN $TPORT $PATHQ $HALF $((RATE / 2)) $VDUR"
          "taskset -c $LOAD_CPU $VIEWERS_BIN $TPORT $PATHQ $STUCK 1 $VDUR")
    vp=()
    for i in 0 1 2; do
        VIEWERS_UA="group$i" ${cmds[$i]} >"$BENCH_WORK/viewers.$i.out" 2>&1 &
        vp+=($!); STARTED_PIDS+=($!)
    done
    win=$((VDUR - 4))
    sleep 2
    t0=$(cpu_ticks "$pid")
    machine_busy "$win" >"$BENCH_WORK/busy.$$" &
    bpid=$!
    bg_measure "$win" >"$BENCH_WORK/bg.$$" &
    gpid=$!
    sleep $((win / 2)); sock=$(sockmem_kb); rssmid=$(rss_kb "$pid")
    wait "$bpid" "$gpid"
    t1=$(cpu_ticks "$pid")
    for p in "${vp[@]}"; do wait "$p"; forget_pid "$p"; done
    hwm=$(hwm_kb "$pid")
    skips=$(metric "$TPORT" '^tvgate_viewer_lag_skips_total' | awk '{s+=$1} END {print s+0}')
    dropped=$(metric "$TPORT" '^tvgate_viewers_dropped_lagging_total' | awk '{s+=$1} END {print s+0}')
    sleep 2
    rss1=$(rss_kb "$pid")
    up1=$(upstream_total "$UPORT")
    stop_pid "$pid"
    fast=$(parse_viewers "$(grep '^viewers' "$BENCH_WORK/viewers.0.out")")
    half=$(parse_viewers "$(grep '^viewers' "$BENCH_WORK/viewers.1.out")")
    stuck=$(parse_viewers "$(grep '^viewers' "$BENCH_WORK/viewers.2.out")")
    busy=$(sed 's/^busy=\([0-9.]*\).*/\1/' "$BENCH_WORK/busy.$$")
    bg=$(sed -e 's/^bg=\([0-9.]*\)cores.*/\1/' "$BENCH_WORK/bg.$$")
    line=$(printf 'tvgate:rep%d fast_below95=%s/%s fast_min_MBps=%s fast_p50_MBps=%s half_below95=%s/%s half_min_MBps=%s half_p50_MBps=%s half_closed=%s stuck_closed=%s/%s lag_skips=%s dropped_lagging=%s rss0_MiB=%.1f rss_mid_MiB=%.1f rss_peak_MiB=%.1f rss_after_MiB=%.1f tcp_mem_MiB=%.0f server_cores=%.3f busy=%s bg=%s upstream_conns=%d' \
        "$rep" "$(kv below95 "$fast")" "$FAST" "$(kv min "$fast")" "$(kv p50 "$fast")" \
        "$(kv below95 "$half")" "$HALF" "$(kv min "$half")" "$(kv p50 "$half")" "$(kv closed "$half")" \
        "$(kv closed "$stuck")" "$STUCK" "$skips" "$dropped" \
        "$(echo "$rss0/1024" | bc -l)" "$(echo "$rssmid/1024" | bc -l)" "$(echo "$hwm/1024" | bc -l)" "$(echo "$rss1/1024" | bc -l)" \
        "$(echo "$sock/1024" | bc -l)" "$(echo "($t1-$t0)/$CLK_TCK/$win" | bc -l)" "$busy" "$bg" $((up1 - up0)))
    printf '%s\n' "$line" | tee -a "$RESULTS"
    for i in 0 1 2; do printf '  cmd: %s\n    -> %s\n' "${cmds[$i]}" "$(grep '^viewers' "$BENCH_WORK/viewers.$i.out")"; done
    printf '  machine: %s\n' "$(cut -d' ' -f1-4 "$BENCH_WORK/busy.$$")"
    rm -f "$BENCH_WORK/busy.$$" "$BENCH_WORK/bg.$$"
done
echo "results in $RESULTS (half_below95 counts half-rate viewers below 95 % of THEIR rate, 0.5 MB/s)"
