#!/usr/bin/env bash
# B3 (perf.md §5): per-line playlists from a 100,000-entry catalog (gen.py m3u_plus):
#   m3u   /get.php?username=U&password=P&type=m3u_plus&output=ts
#   live  /player_api.php?username=U&password=P&action=get_live_streams
# wrk -t1 -c8 vs nginx sendfile of a byte-identical file (tvgate's own output, saved once),
# interleaved A/B pairs. Reports bytes/s ratio, server CPU ms per playlist (target <= 10 ms for m3u),
# TTFB of a single request (curl, target <= 10 ms), and peak RSS growth while 8 clients download
# a 200,000-entry playlist at once (target < 16 MiB; fast clients, then slow 4 MB/s clients).
# Env: PAIRS (3) DURATION (10) CONNS (8) ENTRIES (100000) BIG_ENTRIES (200000) ENDPOINTS ("m3u live")
#      SKIP_RSS=1 skips the 200k part.
source "$(dirname "$0")/lib.sh"
CONNS=${CONNS:-8}
ENTRIES=${ENTRIES:-100000}
BIG_ENTRIES=${BIG_ENTRIES:-200000}
ENDPOINTS=${ENDPOINTS:-m3u live}
need_tools; ensure_binary; bench_lock
results_file b3_playlist

CRED="username=bench&password=bench-pass"
declare -A TPATH=([m3u]="/get.php?$CRED&type=m3u_plus&output=ts" [live]="/player_api.php?$CRED&action=get_live_streams")
declare -A NFILE=([m3u]="get_$ENTRIES.m3u" [live]="live_$ENTRIES.json")

DATA="$BENCH_WORK/cat$ENTRIES"
prepare_catalog_dir "$ENTRIES" "$DATA"
TPORT=$(free_port); start_tvgate "$DATA" "$TPORT" "$BENCH_WORK/tvgate-b3.log"
WWW="$BENCH_WORK/www"; mkdir -p "$WWW"
declare -A SIZE
for e in $ENDPOINTS; do
    curl -s -D "$BENCH_WORK/hdr_$e.txt" -o "$WWW/${NFILE[$e]}" "http://127.0.0.1:$TPORT${TPATH[$e]}"
    SIZE[$e]=$(stat -c %s "$WWW/${NFILE[$e]}")
done
[ -n "${SIZE[m3u]:-}" ] && { n=$(grep -c '^#EXTINF' "$WWW/${NFILE[m3u]}"); [ "$n" = "$ENTRIES" ] || die "m3u has $n entries, not $ENTRIES"; }
NPORT=$(free_port); start_nginx "$WWW" "$NPORT"
for e in $ENDPOINTS; do
    cmp -s <(curl -s "http://127.0.0.1:$NPORT/${NFILE[$e]}") "$WWW/${NFILE[$e]}" || die "nginx bytes differ for $e"
    cmp -s <(curl -s "http://127.0.0.1:$TPORT${TPATH[$e]}") "$WWW/${NFILE[$e]}" || die "tvgate output is not stable for $e"
done
{
echo "# B3 playlists: $(date -Is); $(bin_info); catalog $ENTRIES entries (tvgate_catalog_entries $(metric "$TPORT" tvgate_catalog_entries))"
for e in $ENDPOINTS; do echo "# $e: ${SIZE[$e]} bytes; tvgate headers: $(grep -iE '^(content-type|content-length|transfer-encoding)' "$BENCH_WORK/hdr_$e.txt" | tr -d '\r' | paste -sd';')"; done
echo "# wrk -t1 -c$CONNS -d${DURATION}s; tvgate pid $TVGATE_PID RSS $(rss_kb "$TVGATE_PID") KiB; nginx worker $NGINX_WORKER"
} | tee -a "$RESULTS"

# --- TTFB and serial CPU per playlist (single client, idle server) --------------------------
ttfb() { # PID URL REPS -> "ttfb_ms=median total_ms=median cpu_ms=per request"
    local pid=$1 url=$2 reps=$3 t0 t1 f="$BENCH_WORK/ttfb.$$"
    : >"$f"
    t0=$(cpu_ticks "$pid")
    for _ in $(seq "$reps"); do
        taskset -c "$LOAD_CPU" curl -s -o /dev/null -w '%{time_starttransfer} %{time_total}\n' "$url" >>"$f"
    done
    t1=$(cpu_ticks "$pid")
    printf 'ttfb_ms=%s total_ms=%s cpu_ms=%s' \
        "$(awk '{print $1 * 1000}' "$f" | median)" "$(awk '{print $2 * 1000}' "$f" | median)" \
        "$(awk -v d=$((t1 - t0)) -v c="$CLK_TCK" -v r="$reps" 'BEGIN {printf "%.2f", d / c * 1000 / r}')"
    rm -f "$f"
}
REPS=${REPS:-20}
for e in $ENDPOINTS; do
    ttfb "$TVGATE_PID" "http://127.0.0.1:$TPORT${TPATH[$e]}" 2 >/dev/null  # warm-up
    echo "single:$e tvgate $(ttfb "$TVGATE_PID" "http://127.0.0.1:$TPORT${TPATH[$e]}" "$REPS") nginx $(ttfb "$NGINX_WORKER" "http://127.0.0.1:$NPORT/${NFILE[$e]}" "$REPS") (median of $REPS sequential curls; bg $(bg_measure 2))" | tee -a "$RESULTS"
done

# --- throughput pairs ------------------------------------------------------------------------
for e in $ENDPOINTS; do
    DURATION=2 run_wrk "$CONNS" "http://127.0.0.1:$TPORT${TPATH[$e]}" >/dev/null
    DURATION=2 run_wrk "$CONNS" "http://127.0.0.1:$NPORT/${NFILE[$e]}" >/dev/null
    for i in $(seq "$PAIRS"); do
        if [ $((i % 2)) = 1 ]; then
            measure "$TVGATE_PID" "tvgate-$e:pair$i" "$CONNS" "http://127.0.0.1:$TPORT${TPATH[$e]}"
            measure "$NGINX_WORKER" "nginx-$e:pair$i" "$CONNS" "http://127.0.0.1:$NPORT/${NFILE[$e]}"
        else
            measure "$NGINX_WORKER" "nginx-$e:pair$i" "$CONNS" "http://127.0.0.1:$NPORT/${NFILE[$e]}"
            measure "$TVGATE_PID" "tvgate-$e:pair$i" "$CONNS" "http://127.0.0.1:$TPORT${TPATH[$e]}"
        fi
    done
done
{
for e in $ENDPOINTS; do
    echo "## $e (${SIZE[$e]} bytes)"
    summarize_pairs "tvgate-$e" "nginx-$e"
    # CPU per playlist from bytes actually transferred (counts partial downloads at the end of a run too)
    awk -v e="$e" -v size="${SIZE[$e]}" '$1 ~ ":pair" { split($1, l, ":"); r = ""
        for (i = 2; i <= NF; i++) { split($i, p, "="); v[p[1]] = p[2] }
        if (l[1] == "tvgate-" e || l[1] == "nginx-" e) printf "  %-14s %s  CPU per playlist %.2f ms, %.2f GB/s, busy %.2f\n", l[1], l[2], v["cpu_s"] * 1000 / (v["bytes"] / size), v["bps"] / 1e9, v["busy"] }' "$RESULTS"
done
echo "# targets: bytes/s ratio >= 0.6; CPU per 100k m3u playlist <= 10 ms (<= 5x nginx); TTFB <= 10 ms"
echo "# RSS after throughput runs: tvgate $(rss_kb "$TVGATE_PID") KiB"
} | tee -a "$RESULTS"
stop_pid "$TVGATE_PID"

# --- peak RSS growth: 8 concurrent downloads of a 200k playlist ----------------------------
if [ "${SKIP_RSS:-0}" != 1 ]; then
    BDATA="$BENCH_WORK/cat$BIG_ENTRIES"
    prepare_catalog_dir "$BIG_ENTRIES" "$BDATA"
    TPORT=$(free_port); start_tvgate "$BDATA" "$TPORT" "$BENCH_WORK/tvgate-b3-rss.log"
    curl -s -o /dev/null "http://127.0.0.1:$TPORT${TPATH[m3u]}"    # first download (lazy caches)
    sleep 1
    rss_run() { # LABEL URL CURL_OPTS...
        local label=$1 url=$2; shift 2
        local before pids=() spid out
        before=$(rss_kb "$TVGATE_PID"); reset_hwm "$TVGATE_PID"
        rm -f "$BENCH_WORK/rss.$$.ready"
        python3 "$BENCH_DIR/rsspeak.py" "$TVGATE_PID" 5 "$BENCH_WORK/rss.$$.ready" >"$BENCH_WORK/rss.$$" &
        spid=$!
        for _ in $(seq 100); do [ -f "$BENCH_WORK/rss.$$.ready" ] && break; sleep 0.05; done
        for _ in 1 2 3 4 5 6 7 8; do
            taskset -c "$LOAD_CPU" curl -s -o /dev/null -w '%{size_download} %{time_total}\n' "$@" "$url" >>"$BENCH_WORK/dl.$$" &
            pids+=($!)
        done
        for p in "${pids[@]}"; do wait "$p" || true; done
        kill -TERM "$spid"; wait "$spid" || true
        out=$(cat "$BENCH_WORK/rss.$$")
        local hi; hi=$(kv rss_max_kb "$out")
        local hwm; hwm=$(hwm_kb "$TVGATE_PID")
        [ -n "$hi" ] && [ "$hi" -ge "$hwm" ] || hi=$hwm   # VmHWM (reset before) catches what sampling missed
        echo "rss:$label before=${before}KiB peak=${hi}KiB growth=$(( (hi - before) ))KiB ($(awk -v g=$((hi - before)) 'BEGIN {printf "%.1f", g / 1024}') MiB) VmHWM=$(hwm_kb "$TVGATE_PID")KiB after=$(rss_kb "$TVGATE_PID")KiB downloads: $(awk '{printf "%d B/%.2fs ", $1, $2}' "$BENCH_WORK/dl.$$")"
        rm -f "$BENCH_WORK/rss.$$" "$BENCH_WORK/rss.$$.ready" "$BENCH_WORK/dl.$$"
    }
    {
    echo "# peak RSS, $BIG_ENTRIES-entry catalog, 8 concurrent get.php m3u_plus downloads (target growth < 16 MiB)"
    rss_run "8fast-m3u" "http://127.0.0.1:$TPORT${TPATH[m3u]}"
    rss_run "8slow4MBps-m3u" "http://127.0.0.1:$TPORT${TPATH[m3u]}" --limit-rate 4M --max-time 6
    rss_run "8fast-live" "http://127.0.0.1:$TPORT${TPATH[live]}"
    } | tee -a "$RESULTS"
    stop_pid "$TVGATE_PID"
fi
