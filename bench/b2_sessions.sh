#!/usr/bin/env bash
# B2 stream sessions (perf.md §5): new stream sessions per second. Each session = new TCP
# connection, GET /live/bench/bench-pass/ID.ts (a relayed 8 Mbit/s channel, line with
# max_connections 0), read the first 64 KiB of body, close; 64 in flight (bench/sessions.c,
# pinned to the load core). Anchor: nginx serving a 64 KiB file, Connection: close, with the
# SAME generator, interleaved A/B, PAIRS pairs of DURATION s.
# Then the exactness check: a line with max_connections K (default 4), 64 sessions in flight
# that each hold their slot HOLD ms after their 64 KiB; the generator records the most 200
# answers open at once (a slot is freed only after the client closed, so an exact limit can
# never let this exceed K) while player_api.php active_cons is polled every 20 ms; once with
# TVGATE_ADMISSION_WAIT_MS=0 (refused at once) and once with the default wait (3000 ms:
# newcomers wait for a slot being freed).
#
#   bench/b2_sessions.sh              # ~2.5 min
#   PAIRS=5 DURATION=10 K=2 bench/b2_sessions.sh
#
# Target: >= 0.7x nginx sessions/s; never more than K admitted at once.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/live_lib.sh"

CONC=${CONC:-64}
BODY=${BODY:-65536}
K=${K:-4}
HOLD=${HOLD:-100}
EXACT_SECS=${EXACT_SECS:-10}

need_live_tools
ensure_binary
bench_lock
results_file b2_sessions
log "$(bin_info)"
echo "# b2_sessions: CONC=$CONC BODY=$BODY PAIRS=$PAIRS DURATION=$DURATION K=$K HOLD=$HOLD $(bin_info)" >>"$RESULTS"

UPORT=$(free_port)
start_upstream "$UPORT"
mkdir -p "$BENCH_WORK/live-b2"
DIR="$BENCH_WORK/live-b2/data"
SID=$(prepare_live_dir "$DIR" "http://127.0.0.1:$UPORT/live/1.ts" 0) || die "prepare failed"
env $(kdf_env) "$TVGATE_BIN" user add limited --password limited-pass --max-connections "$K" \
    --data-dir "$DIR" >/dev/null || die "user add failed"
WWW="$BENCH_WORK/www"
mkdir -p "$WWW"
[ -s "$WWW/64k.bin" ] || head -c "$BODY" /dev/urandom >"$WWW/64k.bin"
NPORT=$(free_port)
start_nginx "$WWW" "$NPORT"
TPORT=$(free_port)
start_tvgate "$DIR" "$TPORT" "$BENCH_WORK/live-b2/tvgate.log" TVGATE_STREAM_DENIALS=status
LIVE="/live/$LIVE_USER/$LIVE_PASS/$SID.ts"

run_one() { # SERVER PAIR
    local server=$1 pair=$2 pid port path
    bg_gate
    if [ "$server" = tvgate ]; then
        pid=$TVGATE_PID port=$TPORT path=$LIVE
        taskset -c "$LOAD_CPU" "$SESSIONS_BIN" -p "$port" -d 1 -c 4 -b "$BODY" "$path" >/dev/null # warm: upstream open
    else
        pid=$NGINX_WORKER port=$NPORT path=/64k.bin
    fi
    local cmd="taskset -c $LOAD_CPU $SESSIONS_BIN -p $port -d $DURATION -c $CONC -b $BODY $path"
    local t0 t1 out busyf="$BENCH_WORK/busy.$$" bgf="$BENCH_WORK/bg.$$"
    machine_busy "$DURATION" >"$busyf" &
    local bpid=$!
    bg_measure "$DURATION" >"$bgf" &
    local gpid=$!
    t0=$(cpu_ticks "$pid")
    out=$($cmd)
    t1=$(cpu_ticks "$pid")
    wait "$bpid" "$gpid"
    local busy bg
    busy=$(sed 's/^busy=\([0-9.]*\).*/\1/' "$busyf")
    bg=$(sed -e 's/^bg=\([0-9.]*\)cores.*/\1/' "$bgf")
    local line
    line=$(awk -v out="$out" -v dt=$((t1 - t0)) -v clk="$CLK_TCK" -v label="$server:b2:pair$pair" -v busy="$busy" -v bg="$bg" 'BEGIN {
        n = split(out, kvs, " "); for (i = 1; i <= n; i++) { split(kvs[i], p, "="); r[p[1]] = p[2] }
        cpu = dt / clk
        printf "%s per_s=%.0f ok=%d st200=%d short=%d errors=%d lat_p50_ms=%.2f lat_p99_ms=%.2f ttfb_p50_ms=%.2f server_cpu_us_per_session=%.1f server_cores=%.3f busy=%s bg=%s",
            label, r["per_s"], r["ok"], r["st200"], r["short"], r["errors"], r["lat_p50_ms"], r["lat_p99_ms"], r["ttfb_p50_ms"],
            (r["ok"] > 0 ? cpu * 1e6 / r["ok"] : 0), cpu / r["secs"], busy, bg }')
    printf '%s\n' "$line" >>"$RESULTS"
    printf '%s\n  cmd: %s\n  raw: %s\n' "$line" "$cmd" "$out"
    rm -f "$busyf" "$bgf"
}

for pair in $(seq 1 "$PAIRS"); do
    if [ $((pair % 2)) = 1 ]; then order="tvgate nginx"; else order="nginx tvgate"; fi
    for s in $order; do run_one "$s" "$pair"; done
done
echo "== summary (median of per-pair ratios tvgate/nginx); results in $RESULTS"
python3 "$BENCH_DIR/live_summary.py" "$RESULTS" per_s server_cpu_us_per_session busy lat_p50_ms lat_p99_ms
echo "tvgate metrics after the throughput runs: upstreams opened $(metric "$TPORT" '^tvgate_upstreams_opened_total' | awk '{s+=$1} END {print s+0}'), viewer bytes handed on $(metric "$TPORT" '^tvgate_viewer_bytes_total' | awk '{s+=$1} END {print s+0}') (all sessions incl. warm-ups), RSS $(( $(rss_kb "$TVGATE_PID") / 1024 )) MiB; 'replaced' log lines (must be 0: distinct players) $(grep -c replaced "$BENCH_WORK/live-b2/tvgate.log")"
stop_pid "$TVGATE_PID"

# --- exactness: a line with max_connections K under 64 concurrent sessions -----------------
exact_run() { # ADMISSION_WAIT_MS
    local wait_ms=$1
    start_tvgate "$DIR" "$TPORT" "$BENCH_WORK/live-b2/tvgate-exact.log" TVGATE_STREAM_DENIALS=status \
        TVGATE_ADMISSION_WAIT_MS="$wait_ms"
    local path="/live/limited/limited-pass/$SID.ts"
    local api="http://127.0.0.1:$TPORT/player_api.php?username=limited&password=limited-pass"
    # poll active_cons every 20 ms (one python process, keep-alive free: a new connection each time)
    python3 - "$api" "$((EXACT_SECS + 1))" >"$BENCH_WORK/activecons.out" <<'EOF' &
import json, sys, time, urllib.request
url, secs = sys.argv[1], float(sys.argv[2])
end = time.time() + secs; mx = 0; n = 0; seen = {}
while time.time() < end:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            v = int(json.load(r)["user_info"].get("active_cons", 0))
            mx = max(mx, v); n += 1; seen[v] = seen.get(v, 0) + 1
    except Exception as e:
        pass
    time.sleep(0.02)
print(f"active_cons_max={mx} polls={n} histogram={dict(sorted(seen.items()))}")
EOF
    local ppid=$!
    STARTED_PIDS+=("$ppid")
    local cmd="taskset -c $LOAD_CPU $SESSIONS_BIN -p $TPORT -d $EXACT_SECS -c $CONC -b $BODY -H $HOLD $path"
    local out
    out=$($cmd)
    wait "$ppid"; forget_pid "$ppid"
    local line
    line="exact:wait${wait_ms}ms K=$K $(tr ' ' '\n' <<<"$out" | grep -E '^(st[0-9]+|short|errors|max_admitted|started)=' | tr '\n' ' ')$(cat "$BENCH_WORK/activecons.out")"
    printf '%s\n' "$line" | tee -a "$RESULTS"
    printf '  cmd: TVGATE_ADMISSION_WAIT_MS=%s ... %s\n' "$wait_ms" "$cmd"
    local ma; ma=$(kv max_admitted "$out")
    if [ "${ma:-99}" -le "$K" ]; then echo "  exact: yes (at most $ma of $K admitted at once)"; else echo "  exact: NO ($ma > $K admitted at once)"; fi
    stop_pid "$TVGATE_PID"
}
exact_run 0
exact_run 3000
