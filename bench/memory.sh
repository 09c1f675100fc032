#!/usr/bin/env bash
# Memory (perf.md §5 memory targets), server started as in the benchmarks
# (taskset -c 0, TVGATE_WORKER_THREADS=1):
#   idle RSS with an empty data dir                     target <= 15 MiB
#   RSS per catalog entry, 100k and 200k entries (gen.py m3u_plus)   target <= 300 B/entry
#   RSS per line, 100k lines                            target <= 400 B/line
# RSS is VmRSS 2 s after /healthz answers ("ready"), and again after a short workload
# (logins for lines; one m3u_plus and one get_live_streams download for catalogs).
# Per-item figures are (RSS - idle RSS) / items.
# Env: CATALOGS ("100000 200000") LINES (100000) BENCH_WORK
source "$(dirname "$0")/lib.sh"
CATALOGS=${CATALOGS:-100000 200000}
LINES=${LINES:-100000}
need_tools; ensure_binary; bench_lock
results_file memory

snapshot() { # PID -> "rss=KiB anon=KiB file=KiB hwm=KiB threads=N"
    awk '/^VmRSS:/ {r=$2} /^RssAnon:/ {a=$2} /^RssFile:/ {f=$2} /^VmHWM:/ {h=$2} /^Threads:/ {t=$2}
         END {printf "rss=%d anon=%d file=%d hwm=%d threads=%d", r, a, f, h, t}' "/proc/$1/status"
}
start_measured() { # DIR LABEL -> sets TVGATE_PID PORT STARTUP_S
    local t0; t0=$(date +%s.%N)
    PORT=$(free_port); start_tvgate "$1" "$PORT" "$BENCH_WORK/tvgate-mem-$2.log"
    STARTUP_S=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.2f", b - a}')
    sleep 2
}
per_item() { # RSS_KB IDLE_KB N -> bytes per item
    awk -v r="$1" -v i="$2" -v n="$3" 'BEGIN {printf "%.0f", (r - i) * 1024 / n}'
}

echo "# memory: $(date -Is); $(bin_info); bg $(bg_measure 2)" | tee -a "$RESULTS"

# idle
EMPTY="$BENCH_WORK/empty"; rm -rf "$EMPTY"; mkdir -p "$EMPTY"
start_measured "$EMPTY" idle
s=$(snapshot "$TVGATE_PID"); IDLE=$(kv rss "$s")
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$PORT/player_api.php?username=x&password=y"; done
echo "idle: ready in ${STARTUP_S}s; $s; after 200 requests $(snapshot "$TVGATE_PID")  (target rss <= 15360 KiB)" | tee -a "$RESULTS"
stop_pid "$TVGATE_PID"

# lines
LDIR="$BENCH_WORK/lines$LINES"; prepare_lines_dir "$LINES" "$LDIR"
start_measured "$LDIR" lines
s=$(snapshot "$TVGATE_PID")
echo "lines $LINES: ready in ${STARTUP_S}s; $s; $(per_item "$(kv rss "$s")" "$IDLE" "$LINES") B/line over idle (target <= 400)" | tee -a "$RESULTS"
P="$BENCH_WORK/login_good_10000.txt"; LOGIN_ROTATE=10000 login_paths "$P" good
DURATION=3 run_wrk 64 "http://127.0.0.1:$PORT/" "$BENCH_DIR/lua/rotate.lua" "$P" >/dev/null
s=$(snapshot "$TVGATE_PID")
echo "lines $LINES: after 3 s of logins over 10k lines: $s; $(per_item "$(kv rss "$s")" "$IDLE" "$LINES") B/line over idle" | tee -a "$RESULTS"
stop_pid "$TVGATE_PID"

# catalogs
for n in $CATALOGS; do
    CDIR="$BENCH_WORK/cat$n"; prepare_catalog_dir "$n" "$CDIR"
    start_measured "$CDIR" "cat$n"
    s=$(snapshot "$TVGATE_PID")
    echo "catalog $n: ready in ${STARTUP_S}s; $s; $(per_item "$(kv rss "$s")" "$IDLE" "$n") B/entry over idle (target <= 300)" | tee -a "$RESULTS"
    curl -s -o /dev/null "http://127.0.0.1:$PORT/get.php?username=bench&password=bench-pass&type=m3u_plus&output=ts"
    curl -s -o /dev/null "http://127.0.0.1:$PORT/player_api.php?username=bench&password=bench-pass&action=get_live_streams"
    sleep 1
    s=$(snapshot "$TVGATE_PID")
    echo "catalog $n: after one m3u_plus + one get_live_streams: $s; $(per_item "$(kv rss "$s")" "$IDLE" "$n") B/entry over idle" | tee -a "$RESULTS"
    stop_pid "$TVGATE_PID"
done
echo "# database sizes: $(for d in "$EMPTY" "$LDIR" $(for n in $CATALOGS; do echo "$BENCH_WORK/cat$n"; done); do printf '%s=%s ' "$(basename "$d")" "$(du -sk "$d" | cut -f1)KiB"; done)" | tee -a "$RESULTS"
