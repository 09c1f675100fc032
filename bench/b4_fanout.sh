#!/usr/bin/env bash
# B4 fan-out (perf.md §5): ONE upstream MPEG-TS at 8 Mbit/s (ts_upstream.py, the looped clip of
# make_clip.sh) relayed by tvgate to N viewers reading /live/bench/bench-pass/ID.ts at 1 MB/s
# (viewers.c, 20 s, first second excluded), vs nginx sending a 256 MiB file (page cache,
# sendfile) to the same viewers in the same run, interleaved A/B (order alternates per pair).
#
#   bench/b4_fanout.sh                     # N = 100 1000 2000, 3 pairs each (~9 min)
#   NS="1000" PAIRS=5 bench/b4_fanout.sh
#
# Per run: viewers below 95 % of the rate, aggregate, slowest viewer; machine busy (cpustat.py,
# whole machine, usr+sys+softirq of both cores, over the steady window 2 s .. VDUR-2 s) and bg
# (processes that are not this script's); server CPU (tvgate: whole process; nginx: worker) per
# GB/s delivered; RSS before / peak (VmHWM, reset before the load) / 2 s after; kernel TCP memory;
# tvgate's upstream connections (ts_upstream /stats delta per run and tvgate_upstreams_opened_total:
# must be exactly 1). tvgate is started afresh for every run (clean RSS and upstream count).
# Targets: N=1000 0 below 95 %, busy <= 1.3x nginx, <= 0.3 core per GB/s, RSS < 80 MiB;
# N=2000 <= 1 % below.
#
# Before each run the script waits up to BG_WAIT s (90) for bg <= BG_MAX cores (0.25).
# Env: NS PAIRS VDUR RATE BITRATE BIG_MB BG_MAX BG_WAIT TVGATE_BIN SHARED_BENCH BENCH_WORK SERVER_CPU LOAD_CPU
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/live_lib.sh"

NS=${NS:-"100 1000 2000"}
VDUR=${VDUR:-20}
RATE=${RATE:-1000000}
BIG_MB=${BIG_MB:-256}

need_live_tools
ensure_binary
bench_lock
results_file b4_fanout
log "$(bin_info)"
echo "# b4_fanout: NS='$NS' PAIRS=$PAIRS VDUR=$VDUR RATE=$RATE BITRATE=$BITRATE $(bin_info)" >>"$RESULTS"

UPORT=$(free_port)
start_upstream "$UPORT"
DIR="$BENCH_WORK/live-b4/data"
mkdir -p "$BENCH_WORK/live-b4"
SID=$(prepare_live_dir "$DIR" "http://127.0.0.1:$UPORT/live/1.ts" 0) || die "prepare failed"
WWW="$BENCH_WORK/www"
make_big_file "$WWW" big.bin "$BIG_MB"
NPORT=$(free_port)
start_nginx "$WWW" "$NPORT"
TPORT=$(free_port)
log "upstream :$UPORT, nginx :$NPORT, tvgate :$TPORT (stream $SID), viewers $VIEWERS_BIN"

# run_one SERVER N PAIR
run_one() {
    local server=$1 n=$2 pair=$3 pid port path up0=0 up1=0 opened=na skips=na dropped=na
    bg_gate
    if [ "$server" = tvgate ]; then
        start_tvgate "$DIR" "$TPORT" "$BENCH_WORK/live-b4/tvgate.log"
        pid=$TVGATE_PID port=$TPORT path="/live/$LIVE_USER/$LIVE_PASS/$SID.ts"
        up0=$(upstream_total "$UPORT")
        sleep 0.5
    else
        pid=$NGINX_WORKER port=$NPORT path=/big.bin
    fi
    local rss0 hwm rss1 out t0 t1 win=$((VDUR - 4)) busyf="$BENCH_WORK/busy.$$" bgf="$BENCH_WORK/bg.$$" sock
    rss0=$(rss_kb "$pid"); reset_hwm "$pid"
    local cmd="taskset -c $LOAD_CPU $VIEWERS_BIN $port $path $n $RATE $VDUR"
    $cmd >"$BENCH_WORK/viewers.out" 2>&1 &
    local vpid=$!
    STARTED_PIDS+=("$vpid")
    sleep 2
    t0=$(cpu_ticks "$pid")
    machine_busy "$win" >"$busyf" &
    local bpid=$!
    bg_measure "$win" >"$bgf" &
    local gpid=$!
    sleep $((win / 2)); sock=$(sockmem_kb)
    wait "$bpid" "$gpid"
    t1=$(cpu_ticks "$pid")
    wait "$vpid"; forget_pid "$vpid"
    out=$(cat "$BENCH_WORK/viewers.out")
    hwm=$(hwm_kb "$pid")
    sleep 2
    rss1=$(rss_kb "$pid")
    if [ "$server" = tvgate ]; then
        up1=$(upstream_total "$UPORT")
        opened=$(metric "$TPORT" '^tvgate_upstreams_opened_total' | awk '{s+=$1} END {print s+0}')
        skips=$(metric "$TPORT" '^tvgate_viewer_lag_skips_total' | awk '{s+=$1} END {print s+0}')
        dropped=$(metric "$TPORT" '^tvgate_viewers_dropped_lagging_total' | awk '{s+=$1} END {print s+0}')
        stop_pid "$pid"
    fi
    local v busy bg
    v=$(parse_viewers "$(grep '^viewers' <<<"$out")")
    busy=$(sed 's/^busy=\([0-9.]*\).*/\1/' "$busyf")
    bg=$(sed -e 's/^bg=\([0-9.]*\)cores.*/\1/' "$bgf")
    local line
    line=$(awk -v label="$server:n$n:pair$pair" -v v="$v" -v dt=$((t1 - t0)) -v clk="$CLK_TCK" -v win="$win" \
        -v busy="$busy" -v bg="$bg" -v rss0="$rss0" -v hwm="$hwm" -v rss1="$rss1" -v sock="$sock" \
        -v up=$((up1 - up0)) -v opened="$opened" -v skips="$skips" -v dropped="$dropped" 'BEGIN {
        n = split(v, kvs, " "); for (i = 1; i <= n; i++) { split(kvs[i], p, "="); r[p[1]] = p[2] }
        cpu = dt / clk / win; gbs = r["agg_MBps"] / 1000
        printf "%s below95=%d agg_MBps=%.1f min_MBps=%.3f p50_MBps=%.3f closed=%d busy=%.2f net_busy=%.2f bg=%.2f server_cores=%.3f cores_per_GBps=%.3f rss0_MiB=%.1f rss_peak_MiB=%.1f rss_after_MiB=%.1f tcp_mem_MiB=%.0f client_cpu_s=%s upstream_conns=%s upstreams_opened=%s lag_skips=%s dropped_lagging=%s",
            label, r["below95"], r["agg_MBps"], r["min"], r["p50"], r["closed"], busy, busy - bg, bg, cpu,
            (gbs > 0 ? cpu / gbs : 0), rss0 / 1024, hwm / 1024, rss1 / 1024, sock / 1024, r["client_cpu"],
            (label ~ /^tvgate/ ? up : "na"), opened, skips, dropped }')
    printf '%s\n' "$line" >>"$RESULTS"
    printf '%s\n' "$line"
    printf '  cmd: %s   (%s)\n' "$cmd" "$(cut -d' ' -f2- "$busyf" | sed 's/ raw=.*//')"
    rm -f "$busyf" "$bgf"
}

for n in $NS; do
    for pair in $(seq 1 "$PAIRS"); do
        if [ $((pair % 2)) = 1 ]; then order="tvgate nginx"; else order="nginx tvgate"; fi
        for s in $order; do run_one "$s" "$n" "$pair"; done
    done
done

echo "== summary (median of per-pair ratios tvgate/nginx); results in $RESULTS"
python3 "$BENCH_DIR/live_summary.py" "$RESULTS" below95 busy net_busy cores_per_GBps agg_MBps rss_peak_MiB
python3 - "$RESULTS" <<'EOF'
import sys, statistics
from collections import defaultdict
d = defaultdict(list)
for line in open(sys.argv[1]):
    if not line.startswith("tvgate:"):
        continue
    kv = dict(p.split("=", 1) for p in line.split()[1:])
    d[line.split(":")[1]].append(kv)
for n, rs in d.items():
    print(f"tvgate {n}: below95 {[int(r['below95']) for r in rs]}, upstream connections per run "
          f"{[r['upstream_conns'] for r in rs]} (opened metric {[r['upstreams_opened'] for r in rs]}), "
          f"RSS before/peak/after MiB {[(r['rss0_MiB'], r['rss_peak_MiB'], r['rss_after_MiB']) for r in rs]}, "
          f"lag skips {[r['lag_skips'] for r in rs]}, dropped {[r['dropped_lagging'] for r in rs]}")
EOF
