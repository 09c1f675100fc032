# Helpers for the live relay benchmarks (B2, B4, B4s, B4f); sourced after lib.sh.
# The upstream is ../shared/bench/upstream/ts_upstream.py (an endless MPEG-TS at --bitrate,
# the looped clip of make_clip.sh), tvgate relays it through its per-channel hub, and
# ../shared/bench/viewers.c reads it. Everything on 127.0.0.1, ports picked at run time.

CLIP=${CLIP:-/tmp/tvgate-bench/clip8m.ts}
BITRATE=${BITRATE:-8000000}
VIEWERS_BIN="$BENCH_WORK/bin/viewers"
SESSIONS_BIN="$BENCH_WORK/bin/sessions"
LIVE_USER=bench
LIVE_PASS=bench-pass
# tvgate rejects unknown TVGATE_* variables: keep the binary's path out of its environment.
export -n TVGATE_BIN 2>/dev/null || true

# ulimit -n is capped at 20000 here (perf.md §6); the servers and clients inherit this.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 19000 ] 2>/dev/null && ulimit -n 19000

need_live_tools() {
    need_tools
    command -v gcc >/dev/null || die "gcc not found"
    [ -f "$SHARED_BENCH/upstream/ts_upstream.py" ] || die "no ts_upstream.py under $SHARED_BENCH/upstream"
    if [ ! -s "$CLIP" ]; then
        command -v ffmpeg >/dev/null || die "ffmpeg not found (needed once for the clip)"
        log "making the 8 Mbit/s clip $CLIP (about a minute) ..."
        bash "$SHARED_BENCH/upstream/make_clip.sh" "$CLIP" 8000000 >&2 || die "make_clip failed"
    fi
    mkdir -p "$BENCH_WORK/bin"
    # bench/viewers.c: ../shared/bench/viewers.c with one User-Agent per connection (see its head).
    if [ ! -x "$VIEWERS_BIN" ] || [ "$BENCH_DIR/viewers.c" -nt "$VIEWERS_BIN" ]; then
        gcc -O2 -o "$VIEWERS_BIN" "$BENCH_DIR/viewers.c" || die "cannot build viewers.c"
    fi
    if [ ! -x "$SESSIONS_BIN" ] || [ "$BENCH_DIR/sessions.c" -nt "$SESSIONS_BIN" ]; then
        gcc -O2 -o "$SESSIONS_BIN" "$BENCH_DIR/sessions.c" || die "cannot build sessions.c"
    fi
}

# start_upstream PORT [ts_upstream args...]; sets UP_PID. Pinned with the load (it is the provider).
start_upstream() {
    local port=$1; shift
    taskset -c "$LOAD_CPU" python3 "$SHARED_BENCH/upstream/ts_upstream.py" --port "$port" \
        --clip "$CLIP" --bitrate "$BITRATE" "$@" >"$BENCH_WORK/upstream.$port.log" 2>&1 &
    UP_PID=$!
    STARTED_PIDS+=("$UP_PID")
    wait_http "http://127.0.0.1:$port/stats" 20 || { cat "$BENCH_WORK/upstream.$port.log" >&2; die "upstream did not start"; }
}

upstream_total() { # PORT -> total live connections the upstream has seen
    curl -s --max-time 5 "http://127.0.0.1:$1/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total_connections"])'
}

# prepare_live_dir DIR UPSTREAM_URL [MAXCONN]: fresh data dir, one line bench/bench-pass
# (max_connections MAXCONN, default 0 = unlimited), one m3u source whose only channel is
# UPSTREAM_URL. Prints the channel's stream id.
prepare_live_dir() {
    local dir=$1 url=$2 maxc=${3:-0}
    rm -rf "$dir"; mkdir -p "$dir"
    printf '#EXTM3U\n#EXTINF:-1 tvg-id="bench" group-title="Bench",Bench %s\n%s\n' "$BITRATE" "$url" >"$dir/../$(basename "$dir").m3u"
    "$TVGATE_BIN" source add m3u "$dir/../$(basename "$dir").m3u" --name bench --data-dir "$dir" >/dev/null \
        || die "source add failed"
    env $(kdf_env) "$TVGATE_BIN" user add "$LIVE_USER" --password "$LIVE_PASS" --max-connections "$maxc" \
        --data-dir "$dir" >/dev/null || die "user add failed"
    "$TVGATE_BIN" channel list --json --data-dir "$dir" | python3 -c '
import json, sys
d = json.load(sys.stdin)
rows = d if isinstance(d, list) else next(v for v in d.values() if isinstance(v, list))
for r in rows:
    sid = r.get("stream_id", r.get("id"))
    if sid is not None:
        print(sid); break
else:
    sys.exit("no channel listed")'
}

# Machine-wide CPU over SECONDS from ../shared/bench/cpustat.py; prints
# "busy=<cores> cpu0=<%> cpu1=<%> steal=<%> raw=<cpustat line>" (busy = usr+sys+softirq).
machine_busy() { # SECONDS
    local line
    line=$(python3 "$SHARED_BENCH/cpustat.py" "$1")
    python3 - "$line" <<'EOF'
import re, sys
line = sys.argv[1]
busy, parts, steal = 0.0, [], 0.0
for chunk in line.split(" | "):
    m = re.match(r"(cpu\d+): usr (\d+)% sys (\d+)% softirq (\d+)% steal (\d+)% idle (\d+)%", chunk.strip())
    if not m:
        continue
    b = int(m.group(2)) + int(m.group(3)) + int(m.group(4))
    busy += b / 100; steal += int(m.group(5)); parts.append(f"{m.group(1)}={b}%")
print(f"busy={busy:.2f} {' '.join(parts)} steal={steal:.0f}% raw=[{line}]")
EOF
}

# Parses one viewers.c output line into key=value pairs.
parse_viewers() { # LINE
    python3 - "$1" <<'EOF'
import re, sys
s = sys.argv[1]
pats = [("n", r"n=(\d+)"), ("agg_MBps", r"agg=([\d.]+) MB/s"), ("min", r"min=([\d.]+)"),
        ("p50", r"p50=([\d.]+)"), ("max", r"max=([\d.]+)"), ("below95", r"below95%=(\d+)"),
        ("closed", r"closed=(\d+)"), ("client_cpu", r"client_cpu=([\d.]+)s")]
out = []
for k, p in pats:
    m = re.search(p, s)
    out.append(f"{k}={m.group(1) if m else -1}")
print(" ".join(out))
EOF
}

sockmem_kb() { # kernel TCP memory in use (all sockets), KiB
    awk -v pg="$PAGE_KB" '/^TCP:/ { for (i = 1; i < NF; i++) if ($i == "mem") print $(i+1) * pg }' /proc/net/sockstat
}

# A file of SIZE_MB random bytes under DIR (nginx's anchor); kept between runs.
make_big_file() { # DIR NAME SIZE_MB
    mkdir -p "$1"
    [ -s "$1/$2" ] && [ "$(stat -c %s "$1/$2")" = $(( $3 * 1048576 )) ] && return 0
    head -c $(( $3 * 1048576 )) /dev/urandom >"$1/$2.tmp" && mv "$1/$2.tmp" "$1/$2"
    cat "$1/$2" >/dev/null
}

# Waits (at most BG_WAIT s, default 90) until the background load (processes that are not this
# script's) is below BG_MAX cores (default 0.25) over 2 s; logs what it saw. Runs go ahead anyway
# after the wait, and their records carry bg, so noisy runs stay visible.
bg_gate() {
    local max=${BG_MAX:-0.25} wait_s=${BG_WAIT:-90} t0=$SECONDS b
    while :; do
        b=$(bg_measure 2 | sed -e 's/^bg=\([0-9.]*\)cores.*/\1/')
        if awk -v b="$b" -v m="$max" 'BEGIN { exit !(b <= m) }'; then
            [ $((SECONDS - t0)) -gt 3 ] && log "bg gate: ${b} cores after $((SECONDS - t0)) s"
            return 0
        fi
        if [ $((SECONDS - t0)) -ge "$wait_s" ]; then
            log "bg gate: still ${b} cores after ${wait_s} s, running anyway (flagged by bg)"
            return 0
        fi
    done
}
