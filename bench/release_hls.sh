#!/usr/bin/env bash
# HLS slot release (issue 3, "Release"): a line with max_connections=1 watches a proxied HLS
# channel (the stand-in provider of tests/compat: upstream.py serving assets/demo.ts cut into 2 s
# segments by ffmpeg, as tests/compat/run.sh does); the viewer stops asking, and the next player
# is admitted once the lease's idle window (TVGATE_HLS_IDLE_WINDOW_SECS) has passed.
# bench/release_hls.py does the cycles and prints release times (median, p99) and whether each
# release came within window + 1 s and not before the window.
#
#   bench/release_hls.sh                    # WINDOW=3, REPS=10 (~45 s)
#   WINDOW=6 REPS=5 bench/release_hls.sh
#
# Env: WINDOW (3), REPS (10), ADMISSION_WAIT_MS (200), TVGATE_BIN / CARGO_TARGET_DIR.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
WINDOW=${WINDOW:-3}
REPS=${REPS:-10}
export -n TVGATE_BIN 2>/dev/null || true
command -v ffmpeg >/dev/null || die "ffmpeg not found"
ensure_binary
bench_lock
results_file release_hls
W="$BENCH_WORK/release-hls"
rm -rf "$W"; mkdir -p "$W/provider"
ffmpeg -nostdin -v error -i "$REPO/assets/demo.ts" -c copy -f hls -hls_time 2 -hls_list_size 0 \
    -hls_segment_filename "$W/provider/seg%03d.ts" "$W/provider/index.m3u8" || die "ffmpeg failed"
CLIP_SECONDS=$(ffprobe -v error -show_entries format=duration -of csv=p=0 "$REPO/assets/demo.ts")
python3 "$REPO/tests/compat/upstream.py" --dir "$W/provider" --clip "$REPO/assets/demo.ts" --seconds "$CLIP_SECONDS" \
    >"$W/upstream.out" 2>"$W/upstream.log" &
STARTED_PIDS+=($!)
for _ in $(seq 1 100); do grep -q '^port ' "$W/upstream.out" 2>/dev/null && break; sleep 0.1; done
UP_PORT=$(awk '/^port /{print $2; exit}' "$W/upstream.out")
[ -n "$UP_PORT" ] || die "upstream.py did not start"
printf '#EXTM3U\n#EXTINF:-1 tvg-id="relay.hls" group-title="Relay",Relay HLS\nhttp://127.0.0.1:%s/hls/live.m3u8\n' "$UP_PORT" >"$W/source.m3u"
"$TVGATE_BIN" source add m3u "$W/source.m3u" --name hls --data-dir "$W/data" >/dev/null || die "source add failed"
env $(kdf_env) "$TVGATE_BIN" user add limited --password limited --max-connections 1 --data-dir "$W/data" >/dev/null \
    || die "user add failed"
SID=$("$TVGATE_BIN" channel list --json --data-dir "$W/data" | python3 -c 'import json,sys; print(json.load(sys.stdin)["streams"][0]["stream_id"])')
PORT=$(free_port)
start_tvgate "$W/data" "$PORT" "$W/tvgate.log" TVGATE_HLS_IDLE_WINDOW_SECS="$WINDOW" \
    TVGATE_ADMISSION_WAIT_MS="${ADMISSION_WAIT_MS:-200}"
cmd="python3 $BENCH_DIR/release_hls.py --base http://127.0.0.1:$PORT --path /live/limited/limited/$SID.m3u8 --window $WINDOW --reps $REPS"
echo "# release_hls: window=${WINDOW}s admission_wait=${ADMISSION_WAIT_MS:-200}ms $(bin_info)" | tee -a "$RESULTS"
echo "# cmd: TVGATE_HLS_IDLE_WINDOW_SECS=$WINDOW ... $cmd"
$cmd --json "$W/out.json" | tee -a "$RESULTS"
