#!/usr/bin/env bash
# B2 deterministically (issue 14 item 4): user-space instructions per new stream session, counted
# by callgrind, where bench/b2_sessions.sh measures sessions/s against nginx on a noisy box.
#
# One release server runs under `valgrind --tool=callgrind` (one worker thread, instrumentation off at
# start). A relayed channel (the 8 Mbit/s ts_upstream.py clip, as in B2) is opened by a warm-up
# session; a viewer then freezes the upstream AFTER bytes past a keyframe (SIGSTOP, cg_freeze.py; the
# server's upstream stall timeout is raised so it does not fail over), so the join burst is the
# same for every session and no pump work falls into the measured window. Instrumentation is switched
# on (`callgrind_control -i on`), N sessions run one after the other (a new TCP connection,
# GET /live/U/P/ID.ts with Connection: close, read the head and BODY bytes of body, close), the
# server is given SETTLE seconds to finish each connection's teardown, collection is switched off
# and the server stopped. The same run with N=0 is the baseline (timers, the idle runtime):
#
#     instructions per session = (Ir(N) - Ir(0)) / N
#
#   bench/callgrind_sessions.sh                 # N=200, prints Ir per session and the top functions
#   N=100 BODY=65536 bench/callgrind_sessions.sh
#   TVGATE_BIN=/path/to/tvgate bench/callgrind_sessions.sh   # another binary (a "before" copy)
#
# Output: $BENCH_WORK/callgrind/sessions-N.out (callgrind_annotate it for the whole profile) and
# one summary line appended to $BENCH_WORK/results/callgrind_sessions-<timestamp>.txt.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$BENCH_DIR/live_lib.sh"

N=${N:-200}
BODY=${BODY:-65536}
SETTLE=${SETTLE:-3}
AFTER=${AFTER:-1000000}  # bytes of GOP in the join burst (upstream frozen that far past a keyframe)
TOP=${TOP:-40}

command -v valgrind >/dev/null || die "valgrind not found"
command -v callgrind_control >/dev/null || die "callgrind_control not found"
[ -f "$SHARED_BENCH/upstream/ts_upstream.py" ] || die "no ts_upstream.py under $SHARED_BENCH/upstream"
[ -s "$CLIP" ] || bash "$SHARED_BENCH/upstream/make_clip.sh" "$CLIP" "$BITRATE" >&2 || die "make_clip failed"
ensure_binary
bench_lock
results_file callgrind_sessions
CG="$BENCH_WORK/callgrind"
mkdir -p "$CG"

UPORT=$(free_port)
start_upstream "$UPORT"
DIR="$CG/data"
SID=$(prepare_live_dir "$DIR" "http://127.0.0.1:$UPORT/live/1.ts" 0) || die "prepare failed"
LIVE="/live/$LIVE_USER/$LIVE_PASS/$SID.ts"

# N sequential sessions; prints "sessions=N ok=.. body_bytes=.. ts_first=.." (ok: 200 and BODY bytes).
client() { # PORT N
    taskset -c "$LOAD_CPU" python3 - "$1" "$2" "$LIVE" "$BODY" <<'EOF'
import socket, sys
port, n, path, want = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
ok = total = ts = 0
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: cg/{i}\r\nConnection: close\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        d = s.recv(65536)
        if not d:
            break
        buf += d
    head, _, body = buf.partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head else b""
    got = len(body)
    first = body[:8]
    while got < want:
        d = s.recv(min(65536, want - got + 64))
        if not d:
            break
        got += len(d)
    s.close()
    total += got
    if status == b"200" and got >= want:
        ok += 1
    # chunked: the first line is the chunk size, then the data begins with 0x47
    if b"\r\n" in first and first.split(b"\r\n", 1)[1][:1] == b"\x47":
        ts += 1
print(f"sessions={n} ok={ok} body_bytes={total} ts_first={ts}")
EOF
}

run() { # N -> prints the total Ir of the window
    local n=$1 port out logf="$CG/tvgate-$1.log"
    out="$CG/sessions-$n.out"
    rm -f "$out" "$out".*
    port=$(free_port)
    kill -CONT "$UP_PID" 2>/dev/null
    env TVGATE_WORKER_THREADS=1 TVGATE_UPSTREAM_STALL_MS=3600000 TVGATE_RELAY_LINGER_SECS=3600 $(steady_env) \
        taskset -c "$SERVER_CPU" valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
        "$TVGATE_BIN" serve --listen "127.0.0.1:$port" --data-dir "$DIR" >"$logf" 2>&1 &
    local vpid=$!
    STARTED_PIDS+=("$vpid")
    wait_http "http://127.0.0.1:$port/healthz" 300 || { tail -5 "$logf" >&2; die "tvgate did not start under valgrind"; }
    # Warm-up: opens the upstream; then one viewer reads the stream and freezes the upstream
    # AFTER bytes past a keyframe (bench/cg_freeze.py), so the join burst is the same in every run.
    client "$port" 1 >/dev/null
    sleep 1
    taskset -c "$LOAD_CPU" timeout 60 python3 "$BENCH_DIR/cg_freeze.py" "$port" "$LIVE" "$AFTER" "$UP_PID" >&2 \
        || die "could not freeze the upstream after a keyframe"
    sleep 1
    local vb0 vb1
    vb0=$(metric "$port" '^tvgate_viewer_bytes_total' | awk '{s+=$1} END {print s+0}')
    local wc0 wc1
    wc0=$(awk '/^wchar:/ {print $2}' "/proc/$vpid/io")
    callgrind_control -i on "$vpid" >/dev/null || die "callgrind_control failed"
    local res=""
    [ "$n" -gt 0 ] && res=$(client "$port" "$n")
    sleep "$SETTLE"
    callgrind_control -i off "$vpid" >/dev/null
    callgrind_control -d "$vpid" >/dev/null
    wc1=$(awk '/^wchar:/ {print $2}' "/proc/$vpid/io")
    vb1=$(metric "$port" '^tvgate_viewer_bytes_total' | awk '{s+=$1} END {print s+0}')
    # handed to hyper (the body's chunks) and written to sockets (wchar: write/writev/sendmsg bytes)
    [ "$n" -gt 0 ] && res="$res handed_to_hyper_per_session=$(( (vb1 - vb0) / n )) written_per_session=$(( (wc1 - wc0) / n ))"
    stop_pid "$vpid"
    kill -CONT "$UP_PID"
    local ir
    # the explicit dump (out.1) holds the window; the one at exit holds nothing more (collection off)
    ir=$(for f in "$out" "$out".*; do [ -f "$f" ] && awk '/^totals:/ {print $2; exit}' "$f"; done | sort -n | tail -1)
    [ -f "$out.1" ] && cp "$out.1" "$out"
    log "N=$n Ir=$ir $res"
    echo "$ir $res"
}

log "$(bin_info)"
base=$(run 0)
meas=$(run "$N")
ir0=${base%% *}
irn=${meas%% *}
per=$(( (irn - ir0) / N ))
line="callgrind_sessions N=$N BODY=$BODY Ir_window_N=$irn Ir_window_0=$ir0 Ir_per_session=$per client: ${meas#* } $(bin_info)"
echo "$line" | tee -a "$RESULTS"
echo "== top $TOP functions (inclusive of nothing: self cost) of the N=$N window; full: callgrind_annotate $CG/sessions-$N.out"
callgrind_annotate --threshold=100 "$CG/sessions-$N.out" 2>/dev/null | sed -n '1,/^Ir/d; p' | head -"$TOP"
