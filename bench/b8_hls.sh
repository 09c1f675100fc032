#!/usr/bin/env bash
# B8, HLS fan-out (issue 16): VIEWERS HLS players (1000) of one MPEG-TS channel,
# each its own line, poll tvgate's live playlist (/live/U/P/ID.m3u8, cut by
# tvgate from the channel's one upstream) and fetch every new segment
# (bench/hls_viewers.py, on the generator's core). Then, in the same run,
# nginx serves the very segments that run recorded, from disk, to the same
# number of viewers at the same pace (hls_viewers.py replay: the playlist
# polled as often, each segment fetched when the live run saw it appear).
#
# Reports per server: bytes/s served, server CPU (cores) and CPU seconds per
# GB served, and the ratio tvgate/nginx (the issue's bar: <= 1.2); for
# tvgate also viewers that fell behind the live window (want 0) and the
# provider's live connections (want 1).
#
#   bench/b8_hls.sh                       # VIEWERS=1000 RUN_SECS=40 (~3 min)
#   VIEWERS=200 RUN_SECS=15 bench/b8_hls.sh
#
# Env: VIEWERS (1000), RUN_SECS (40), SEGMENT_SECS (4), TVGATE_BIN / CARGO_TARGET_DIR,
# SERVER_CPU / LOAD_CPU (lib.sh). The stand-in provider is tests/compat/upstream.py
# (assets/demo.ts looped at its own bitrate, 0.7 Mbit/s).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VIEWERS=${VIEWERS:-1000}
SECONDS_=${RUN_SECS:-40}
SEGMENT_SECS=${SEGMENT_SECS:-4}
for t in nginx curl python3 taskset flock ffprobe ffmpeg; do
    command -v "$t" >/dev/null || die "$t not found (apt-get install -y nginx curl)"
done
ensure_binary
bench_lock
results_file b8_hls
W="$BENCH_WORK/b8"
rm -rf "$W"; mkdir -p "$W/www/b8" "$W/data"

# The provider: one endless TS channel.
CLIP_SECONDS=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$REPO/assets/demo.ts")
mkdir -p "$W/provider"
# upstream.py serves a directory cut as the compat suite cuts it (its index.m3u8 and segments).
ffmpeg -nostdin -v error -i "$REPO/assets/demo.ts" -c copy -f hls -hls_time 2 -hls_list_size 0 \
    -hls_segment_filename "$W/provider/seg%03d.ts" "$W/provider/index.m3u8" ||
    die "ffmpeg could not cut the provider's files"
python3 "$REPO/tests/compat/upstream.py" --dir "$W/provider" --clip "$REPO/assets/demo.ts" --seconds "$CLIP_SECONDS" \
    >"$W/upstream.out" 2>"$W/upstream.log" &
STARTED_PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^port ' "$W/upstream.out" 2>/dev/null && break; sleep 0.1; done
UP_PORT=$(awk '/^port /{print $2; exit}' "$W/upstream.out")
[ -n "$UP_PORT" ] || die "upstream.py did not start: $(tail -n 2 "$W/upstream.log")"
printf '#EXTM3U\n#EXTINF:-1 group-title="Bench",B8\nhttp://127.0.0.1:%s/live/1.ts\n' "$UP_PORT" >"$W/source.m3u"
"$TVGATE_BIN" source add m3u "$W/source.m3u" --name b8 --data-dir "$W/data" >/dev/null || die "source add failed"
SID=$("$TVGATE_BIN" channel list --json --data-dir "$W/data" |
      python3 -c 'import json,sys; print(json.load(sys.stdin)["streams"][0]["stream_id"])')

# One line per viewer.
python3 - "$VIEWERS" "$W/lines.csv" "$W/paths.txt" "$SID" <<'EOF'
import sys
n, csv, paths, sid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with open(csv, "w") as c, open(paths, "w") as p:
    c.write("username,password,max_connections\n")
    for i in range(1, n + 1):
        c.write(f"v{i:05d},pw{i}-b8,1\n")
        p.write(f"/live/v{i:05d}/pw{i}-b8/{sid}.m3u8\n")
EOF
env $(kdf_env) "$TVGATE_BIN" user import "$W/lines.csv" --data-dir "$W/data" >/dev/null || die "user import failed"

PORT=$(free_port)
start_tvgate "$W/data" "$PORT" "$W/tvgate.log" TVGATE_HLS_SEGMENT_SECS="$SEGMENT_SECS"
echo "# b8_hls: $VIEWERS viewers, ${SECONDS_} s counted after 8 s of start, segments of ${SEGMENT_SECS} s; server on CPU$SERVER_CPU, viewers on CPU$LOAD_CPU; $(bin_info)" | tee -a "$RESULTS"

# run_load PID LABEL ARGS...: the viewers against the server PID, its CPU counted
# over the same window as the bytes (after the warm-up).
run_load() {
    local pid=$1 label=$2; shift 2
    local out="$W/$label.json" t0 t1 bg
    taskset -c "$LOAD_CPU" python3 "$BENCH_DIR/hls_viewers.py" "$@" --viewers "$VIEWERS" --seconds "$SECONDS_" \
        >"$out" 2>"$W/$label.err" &
    local lpid=$!
    STARTED_PIDS+=("$lpid")
    for _ in $(seq 1 300); do grep -q 'counting from now' "$W/$label.err" 2>/dev/null && break; sleep 0.1; done
    t0=$(cpu_ticks "$pid")
    bg=$(bg_measure "$SECONDS_")
    t1=$(cpu_ticks "$pid")
    wait "$lpid"; forget_pid "$lpid"
    [ -s "$out" ] || { tail -n 5 "$W/$label.err" >&2; die "$label: the viewers printed nothing"; }
    python3 - "$out" "$((t1 - t0))" "$CLK_TCK" "$SECONDS_" "$label" "$bg" <<'EOF' | tee -a "$RESULTS"
import json, sys
r = json.load(open(sys.argv[1]))
ticks, clk, secs, label, bg = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), sys.argv[5], sys.argv[6]
cpu = ticks / clk
bps = r["bytes"] / secs
print(f"{label} bytes_per_s={bps:.0f} mbit_s={bps * 8 / 1e6:.1f} req_per_s={r['requests'] / secs:.0f} "
      f"segments={r['segments']} cpu_cores={cpu / secs:.3f} cpu_s_per_gb={cpu / (r['bytes'] / 1e9) if r['bytes'] else float('nan'):.2f} "
      f"behind={r['behind']} errors={r['errors']} failed_viewers={r['failed_viewers']} {bg}")
EOF
}

run_load "$TVGATE_PID" tvgate live --port "$PORT" --paths "$W/paths.txt" --record "$W/www/b8"
UPSTREAMS=$(curl -s --max-time 5 "http://127.0.0.1:$UP_PORT/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["connections"].get("live", 0))')
SEGMENTERS=$(metric "$PORT" '^tvgate_hls_segmenters_started_total$')
echo "tvgate provider_live_connections=$UPSTREAMS segmenters_started=$SEGMENTERS segments_recorded=$(ls "$W/www/b8/seg" | wc -l)" | tee -a "$RESULTS"
stop_pid "$TVGATE_PID"

NPORT=$(free_port)
start_nginx "$W/www" "$NPORT"
run_load "$NGINX_WORKER" nginx replay --port "$NPORT" --dir "$W/www/b8"
stop_pid "$NGINX_PID"

python3 - "$RESULTS" <<'EOF' | tee -a "$RESULTS"
import re, sys
rows = {}
for line in open(sys.argv[1]):
    m = re.match(r"(tvgate|nginx) bytes_per_s=", line)
    if m:
        rows[m.group(1)] = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
t, n = rows.get("tvgate"), rows.get("nginx")
if t and n:
    ratio = float(t["cpu_s_per_gb"]) / float(n["cpu_s_per_gb"])
    print(f"summary cpu_per_gb tvgate/nginx={ratio:.2f} (bar: <= 1.2) behind={t['behind']} (bar: 0)")
EOF
