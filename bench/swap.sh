#!/usr/bin/env bash
# Swap (issue 13): while a 1,000,000-entry refresh runs inside the server (started through the
# admin API, as the console and the schedule start it), login p99 and playlist TTFB stay within
# 2x of their idle figures.
#   server:  tvgate serve on a data dir holding the 1M-entry playlist (v1) and one line;
#            TVGATE_WORKER_THREADS=1; pinned to SERVER_CPU unless SWAP_PIN=none (then both cores,
#            as a deployment runs: the import's parser and store threads are not the request
#            worker)
#   probe:   swap_probe.py on LOAD_CPU, paced: 50 logins/s (player_api.php, whole answer) and
#            2 playlists/s (get.php m3u_plus, time to the first body byte; 1M entries each)
#   idle:    the probe for IDLE seconds (10); refresh: the playlist file is replaced by v2 (every
#            tenth entry renamed), POST /api/v1/sources/1/refresh, the probe runs until the job
#            ends. Figures: p50/p99/max of both, ratios refresh/idle, the job's duration and the
#            server's CPU during it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scale_lib.sh"
IDLE=${IDLE:-10}
SWAP_PIN=${SWAP_PIN:-cpu}
ensure_binary; bench_lock
results_file swap
V1=$(scale_m3u 1); V2=$(scale_m3u 2)
DIR="$BENCH_WORK/swap-data"
if [ ! -f "$DIR/.ready" ]; then
    rm -rf "$DIR"; mkdir -p "$DIR"
    cp "$V1" "$DIR/source.m3u"
    log "importing the 1M-entry playlist ..."
    "$TVGATE_BIN" source add m3u "$DIR/source.m3u" --name swap --data-dir "$DIR" >/dev/null || die "source add"
    printf 'username,password,max_connections\nbench,bench-pass,100\n' > "$BENCH_WORK/one_user.csv"
    env $(kdf_env) "$TVGATE_BIN" line import "$BENCH_WORK/one_user.csv" --data-dir "$DIR" >/dev/null || die "line import"
    "$TVGATE_BIN" admin add bench --data-dir "$DIR" >/dev/null || die "admin add"
    touch "$DIR/.ready"
fi
cp "$V1" "$DIR/source.m3u"
TOKEN=$("$TVGATE_BIN" admin token bench --label swap --data-dir "$DIR" | grep -oE '[A-Za-z0-9_-]{32,}' | tail -1)
[ -n "$TOKEN" ] || die "no API token"
PORT=$(free_port)
if [ "$SWAP_PIN" = none ]; then
    env TVGATE_WORKER_THREADS=1 TVGATE_SOURCE_REFRESH_HOURS=0 $(steady_env) \
        "$TVGATE_BIN" serve --listen "127.0.0.1:$PORT" --data-dir "$DIR" >"$BENCH_WORK/swap-serve.log" 2>&1 &
    TVGATE_PID=$!; STARTED_PIDS+=("$TVGATE_PID")
    wait_http "http://127.0.0.1:$PORT/healthz" 120 || die "tvgate did not start"
else
    start_tvgate "$DIR" "$PORT" "$BENCH_WORK/swap-serve.log" TVGATE_SOURCE_REFRESH_HOURS=0
fi
LOGIN="/player_api.php?username=bench&password=bench-pass"
LIST="/get.php?username=bench&password=bench-pass&type=m3u_plus&output=ts"
probe() { taskset -c "$LOAD_CPU" python3 "$BENCH_DIR/swap_probe.py" 127.0.0.1 "$PORT" "$LOGIN" "$LIST" > "$1" & PROBE=$!; STARTED_PIDS+=("$PROBE"); }
{
echo "# swap: $(date -Is); $(bin_info); $SCALE_ENTRIES entries; server pinned: $SWAP_PIN; RSS $(rss_kb "$TVGATE_PID") KiB; bg $(bg_measure 3)"
curl -s -o /dev/null "http://127.0.0.1:$PORT$LIST"   # warm-up
probe "$BENCH_WORK/swap-idle.txt"; sleep "$IDLE"; kill -TERM "$PROBE"; wait "$PROBE"; forget_pid "$PROBE"
IDLE_FIG=$(cat "$BENCH_WORK/swap-idle.txt"); echo "idle:    $IDLE_FIG"
cp "$V2" "$DIR/source.m3u"
C0=$(cpu_ticks "$TVGATE_PID"); T0=$(date +%s.%N)
probe "$BENCH_WORK/swap-refresh.txt"
curl -s -X POST -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/sources/1/refresh" >/dev/null
while :; do
    STATE=$(curl -s -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/sources/1/refresh")
    grep -qE '"phase":"(done|failed)"' <<<"$STATE" && break
    sleep 0.2
done
T1=$(date +%s.%N); C1=$(cpu_ticks "$TVGATE_PID")
kill -TERM "$PROBE"; wait "$PROBE"; forget_pid "$PROBE"
REF_FIG=$(cat "$BENCH_WORK/swap-refresh.txt"); echo "refresh: $REF_FIG"
echo "job: $(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); print(s["phase"], s.get("entries"), "entries;", s.get("summary") or s.get("error"))' "$STATE")"
awk -v t0="$T0" -v t1="$T1" -v c="$((C1 - C0))" -v clk="$CLK_TCK" 'BEGIN { printf "refresh took %.1f s, server CPU %.1f s during it\n", t1 - t0, c / clk }'
python3 - "$IDLE_FIG" "$REF_FIG" <<'PY'
import sys
a = dict(kv.split("=") for kv in sys.argv[1].split()); b = dict(kv.split("=") for kv in sys.argv[2].split())
for k in ("login_p50_ms", "login_p99_ms", "ttfb_p50_ms", "ttfb_p99_ms"):
    print(f"ratio {k}: {float(b[k]) / max(float(a[k]), 1e-9):.2f}x (idle {a[k]}, refresh {b[k]}; target <= 2x for p99)")
PY
echo "after: RSS $(rss_kb "$TVGATE_PID") KiB; catalog entries $(metric "$PORT" tvgate_catalog_entries)"
} | tee -a "$RESULTS"
