#!/usr/bin/env bash
# B4f fast readers and joins (perf.md §5).
#
# (a) c100 viewers reading as fast as they can (viewers.c with rate 0), 10 s.
#     * On the 8 Mbit/s live channel a relay can only hand out what the channel carries
#       (1 MB/s per viewer plus the join burst), so the comparison with nginx sending a file as
#       fast as possible is meaningless there; it is run once to show that (live8m).
#     * What is meaningful is the most the hub can fan out: the same c100 against channels of
#       64 / 128 / 256 / 512 Mbit/s (8 / 16 / 32 / 64 MB/s per viewer, 0.8 / 1.6 / 3.2 / 6.4 GB/s of
#       demand; one
#       ts_upstream.py per channel, one upstream connection each), interleaved with nginx c100 on
#       a 1 GiB file: delivered bytes/s, lag skips and drops (a viewer more than 4 MiB behind
#       jumps to the live edge, the 3rd jump in 30 s drops it), tvgate CPU per GB/s.
# (b) 200 joins/s to the 8 Mbit/s channel for 10 s (bench/sessions.c open loop, a distinct
#     player per join; each reads 100 TS packets then closes), a keeper viewer keeping the channel
#     up: time from connect to the first body byte (target <= 50 ms), and that the body starts on
#     a TS packet (0x47) with the PAT first and bytes 188/376 are 0x47. Plus one cold join (no
#     viewer yet: includes opening the upstream).
#
#   bench/b4f_join.sh                 # ~2.5 min
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/live_lib.sh"

FAST_BITRATES=${FAST_BITRATES:-"64000000 128000000 256000000 512000000"}
FDUR=${FDUR:-10}
JOIN_RATE=${JOIN_RATE:-200}
JOIN_SECS=${JOIN_SECS:-10}
BIG_MB=${BIG_MB:-1024}   # c100 at ~27 MB/s each reads > 256 MiB in 10 s: the anchor file must be bigger

need_live_tools
ensure_binary
bench_lock
results_file b4f_join
log "$(bin_info)"
echo "# b4f_join: FAST_BITRATES='$FAST_BITRATES' FDUR=$FDUR JOIN_RATE=$JOIN_RATE $(bin_info)" >>"$RESULTS"

mkdir -p "$BENCH_WORK/live-b4f"
DIR="$BENCH_WORK/live-b4f/data"
rm -rf "$DIR"; mkdir -p "$DIR"
M3U="$BENCH_WORK/live-b4f/channels.m3u"
printf '#EXTM3U\n' >"$M3U"
declare -A UPORTS
for br in 8000000 $FAST_BITRATES; do
    p=$(free_port)
    BITRATE=$br start_upstream "$p"
    UPORTS[$br]=$p
    printf '#EXTINF:-1 tvg-id="b%s" group-title="Bench",rate%s\nhttp://127.0.0.1:%s/live/1.ts\n' "$br" "$br" "$p" >>"$M3U"
done
"$TVGATE_BIN" source add m3u "$M3U" --name bench --data-dir "$DIR" >/dev/null || die "source add failed"
env $(kdf_env) "$TVGATE_BIN" user add "$LIVE_USER" --password "$LIVE_PASS" --max-connections 0 --data-dir "$DIR" >/dev/null \
    || die "user add failed"
declare -A SIDS
while read -r name sid; do SIDS[${name#rate}]=$sid; done < <("$TVGATE_BIN" channel list --json --data-dir "$DIR" |
    python3 -c 'import json,sys; [print(s["name"], s["stream_id"]) for s in json.load(sys.stdin)["streams"]]')
WWW="$BENCH_WORK/www"
make_big_file "$WWW" big1g.bin "$BIG_MB"
NPORT=$(free_port)
start_nginx "$WWW" "$NPORT"
TPORT=$(free_port)

fast_run() { # LABEL SERVER [BITRATE]
    local label=$1 server=$2 br=${3:-} pid port path
    bg_gate
    if [ "$server" = tvgate ]; then
        start_tvgate "$DIR" "$TPORT" "$BENCH_WORK/live-b4f/tvgate.log"
        pid=$TVGATE_PID port=$TPORT path="/live/$LIVE_USER/$LIVE_PASS/${SIDS[$br]}.ts"
    else
        pid=$NGINX_WORKER port=$NPORT path=/big1g.bin
    fi
    local cmd="taskset -c $LOAD_CPU $VIEWERS_BIN $port $path 100 0 $FDUR" win=$((FDUR - 3)) out t0 t1
    $cmd >"$BENCH_WORK/viewers.out" 2>&1 &
    local vpid=$!; STARTED_PIDS+=("$vpid")
    sleep 2
    t0=$(cpu_ticks "$pid")
    machine_busy "$win" >"$BENCH_WORK/busy.$$" &
    local bpid=$!
    bg_measure "$win" >"$BENCH_WORK/bg.$$" &
    local gpid=$!
    wait "$bpid" "$gpid"
    t1=$(cpu_ticks "$pid")
    wait "$vpid"; forget_pid "$vpid"
    out=$(grep '^viewers' "$BENCH_WORK/viewers.out")
    local extra="" v
    v=$(parse_viewers "$out")
    if [ "$server" = tvgate ]; then
        extra="lag_skips=$(metric "$TPORT" '^tvgate_viewer_lag_skips_total' | awk '{s+=$1} END {print s+0}') dropped_lagging=$(metric "$TPORT" '^tvgate_viewers_dropped_lagging_total' | awk '{s+=$1} END {print s+0}') upstreams_opened=$(metric "$TPORT" '^tvgate_upstreams_opened_total' | awk '{s+=$1} END {print s+0}') rss_MiB=$(( $(rss_kb "$pid") / 1024 ))"
        stop_pid "$pid"
    fi
    local line
    line=$(awk -v label="$label" -v v="$v" -v dt=$((t1 - t0)) -v clk="$CLK_TCK" -v win="$win" -v busy="$(sed 's/^busy=\([0-9.]*\).*/\1/' "$BENCH_WORK/busy.$$")" \
        -v bg="$(sed -e 's/^bg=\([0-9.]*\)cores.*/\1/' "$BENCH_WORK/bg.$$")" -v extra="$extra" 'BEGIN {
        n = split(v, kvs, " "); for (i = 1; i <= n; i++) { split(kvs[i], p, "="); r[p[1]] = p[2] }
        cpu = dt / clk / win; gbs = r["agg_MBps"] / 1000
        printf "%s agg_MBps=%.1f min_MBps=%.2f p50_MBps=%.2f max_MBps=%.2f closed=%d server_cores=%.3f cores_per_GBps=%.3f busy=%s bg=%s %s",
            label, r["agg_MBps"], r["min"], r["p50"], r["max"], r["closed"], cpu, (gbs > 0 ? cpu / gbs : 0), busy, bg, extra }')
    printf '%s\n' "$line" | tee -a "$RESULTS"
    printf '  cmd: %s\n' "$cmd"
    rm -f "$BENCH_WORK/busy.$$" "$BENCH_WORK/bg.$$"
}

echo "== (a) c100 fast readers"
fast_run "tvgate:live8m:once" tvgate 8000000
i=0
for br in $FAST_BITRATES; do
    i=$((i + 1))
    if [ $((i % 2)) = 1 ]; then
        fast_run "tvgate:fast:pair$i" tvgate "$br"; fast_run "nginx:fast:pair$i" nginx
    else
        fast_run "nginx:fast:pair$i" nginx; fast_run "tvgate:fast:pair$i" tvgate "$br"
    fi
done
python3 "$BENCH_DIR/live_summary.py" "$RESULTS" agg_MBps cores_per_GBps busy
echo "  (pair i of tvgate is the i-th bitrate of '$FAST_BITRATES' bit/s: the ratio is delivered bytes/s vs nginx's c100)"

echo "== (b) joins"
bg_gate
start_tvgate "$DIR" "$TPORT" "$BENCH_WORK/live-b4f/tvgate-join.log"
JPATH="/live/$LIVE_USER/$LIVE_PASS/${SIDS[8000000]}.ts"
cold=$(taskset -c "$LOAD_CPU" "$SESSIONS_BIN" -p "$TPORT" -d 1.5 -r 0.5 -b 18800 -A cold "$JPATH")
echo "cold:join $(tr ' ' '\n' <<<"$cold" | grep -E '^(ok|ttfb_p50_ms|ts_first_0x47|pat_first|aligned)=' | tr '\n' ' ')" | tee -a "$RESULTS"
VIEWERS_UA=keeper taskset -c "$LOAD_CPU" "$VIEWERS_BIN" "$TPORT" "$JPATH" 1 1000000 $((JOIN_SECS + 4)) >/dev/null 2>&1 &
KP=$!; STARTED_PIDS+=("$KP")
sleep 2
cmd="taskset -c $LOAD_CPU $SESSIONS_BIN -p $TPORT -d $JOIN_SECS -r $JOIN_RATE -b 18800 -A join $JPATH"
bg_measure "$JOIN_SECS" >"$BENCH_WORK/bg.$$" &
gpid=$!
out=$($cmd)
wait "$gpid"
echo "join:${JOIN_RATE}per_s $out $(cat "$BENCH_WORK/bg.$$")" | tee -a "$RESULTS"
echo "  cmd: $cmd"
wait "$KP"; forget_pid "$KP"
echo "  upstreams opened during the joins: $(metric "$TPORT" '^tvgate_upstreams_opened_total' | awk '{s+=$1} END {print s+0}') (cold join + keeper + joins share one)"
stop_pid "$TVGATE_PID"
rm -f "$BENCH_WORK/bg.$$"
echo "results in $RESULTS"
