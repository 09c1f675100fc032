# Shared helpers for tvgate's benchmark scripts (sourced, not run).
# Protocol: /work/shared/perf.md §5 (server on CPU0 with one worker thread,
# generator on CPU1, nginx anchor interleaved in the same session).
# Everything listens on 127.0.0.1 only, on ports picked free at run time.
# Every process started here is recorded and stopped by PID on exit.

set -u -o pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$BENCH_DIR/.." && pwd)
SHARED_BENCH=${SHARED_BENCH:-$REPO/../shared/bench}
BENCH_WORK=${BENCH_WORK:-/tmp/tvgate-benchwork}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target-bench}
TVGATE_BIN=${TVGATE_BIN:-$CARGO_TARGET_DIR/release/tvgate}
# Never passed on: tvgate reads every TVGATE_* variable as a setting and
# refuses unknown ones, so a caller's `TVGATE_BIN=... bench/bX.sh` would stop
# every server and CLI command started below.
export -n TVGATE_BIN 2>/dev/null || true
PAIRS=${PAIRS:-3}            # interleaved A/B pairs
DURATION=${DURATION:-10}     # seconds per wrk run
SERVER_CPU=${SERVER_CPU:-0}  # core of the server (tvgate and nginx)
LOAD_CPU=${LOAD_CPU:-1}      # core of the generator (wrk, curl)
CLK_TCK=$(getconf CLK_TCK)
PAGE_KB=$(( $(getconf PAGESIZE) / 1024 ))

mkdir -p "$BENCH_WORK"
STARTED_PIDS=()

log() { printf '%s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

# --- cleanup ---------------------------------------------------------------
cleanup() {
    local pid
    for pid in "${STARTED_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${STARTED_PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    STARTED_PIDS=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

forget_pid() { # remove a PID that was stopped already
    local p keep=()
    for p in "${STARTED_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
    STARTED_PIDS=("${keep[@]}")
}

stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    forget_pid "$pid"
}

# Only one benchmark at a time on this box (they would measure each other).
bench_lock() {
    exec 9>"$BENCH_WORK/.lock"
    flock -w 600 9 || die "another benchmark holds $BENCH_WORK/.lock"
}

# --- tools -----------------------------------------------------------------
need_tools() {
    local t
    for t in wrk nginx curl python3 taskset flock; do
        command -v "$t" >/dev/null || die "$t not found (apt-get install -y nginx wrk curl)"
    done
    [ -f "$SHARED_BENCH/gen.py" ] || die "reference tools not found at $SHARED_BENCH (set SHARED_BENCH)"
}

ensure_binary() {
    if [ "${BENCH_BUILD:-0}" = 1 ] || [ ! -x "$TVGATE_BIN" ]; then
        log "building release binary into $CARGO_TARGET_DIR ..."
        (cd "$REPO" && cargo build --release --bin tvgate) >&2 || die "build failed"
    fi
    [ -x "$TVGATE_BIN" ] || die "no binary at $TVGATE_BIN"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_http() { # URL TIMEOUT_S
    local url=$1 t=${2:-60} i
    for i in $(seq $((t * 10))); do
        curl -s -o /dev/null --max-time 1 "$url" && return 0
        sleep 0.1
    done
    return 1
}

# --- /proc readers -----------------------------------------------------------
cpu_ticks() { # utime+stime of all threads of PID (and its reaped children)
    awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kb() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
reset_hwm() { echo 5 > "/proc/$1/clear_refs" 2>/dev/null || true; }

# Background CPU (cores) of every process that is NOT this script or one of its
# descendants, over SECONDS. Prints "bg=X.XXcores (top users)".
bg_measure() { # SECONDS
    python3 "$BENCH_DIR/bgload.py" "$1" "$$"
}

# --- data -------------------------------------------------------------------
# Users CSV: u000001..uN, password "pw<i>-bench"; the login paths rotate over the first 10,000.
make_users_csv() { # N FILE
    python3 - "$1" "$2" <<'EOF'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
with open(path, "w") as f:
    f.write("username,password,max_connections\n")
    for i in range(1, n + 1):
        f.write(f"u{i:06d},pw{i}-bench,4\n")
EOF
}

# argon2 cost used for the benchmark's imports (m=64 KiB, t=1), set both as the regular
# and (when the binary has it) the import cost.
kdf_env() {
    printf '%s\n' TVGATE_KDF_MEMORY_KIB=64 TVGATE_KDF_ITERATIONS=1
    if grep -q import_kdf_memory_kib "$TVGATE_BIN" 2>/dev/null; then
        printf '%s\n' TVGATE_IMPORT_KDF_MEMORY_KIB=64 TVGATE_IMPORT_KDF_ITERATIONS=1
    fi
    egress_env
}
# The benchmarks' upstreams (nginx, the stand-in providers) listen on loopback, which the
# server's SSRF guard refuses unless listed, and their load generators open more connections
# from one address than the per-address cap allows (docs/security.md).
egress_env() {
    if grep -q allowed_source_networks "$TVGATE_BIN" 2>/dev/null; then
        printf '%s\n' TVGATE_ALLOWED_SOURCE_NETWORKS=127.0.0.0/8 TVGATE_MAX_CONNECTIONS_PER_ADDRESS=0
    fi
}
# The servers of B1/B1b/memory run with the same cost as the import, so every line's hash is
# "current": the steady state after the background re-hash of imported lines has finished
# (login cost does not depend on the argon2 cost: it checks the keyed verifier).
# UPGRADE=1 runs them at the default cost instead, so the first login of each line queues
# a full-cost re-hash on the same core (the "mass reconnect after a bulk import" case).
steady_env() { if [ "${UPGRADE:-0}" = 1 ]; then egress_env; else kdf_env; fi; }

# A data dir with N lines (cheap KDF for the import; logins use the verifier).
prepare_lines_dir() { # N DIR
    local n=$1 dir=$2
    [ -f "$dir/.ready" ] && return 0
    rm -rf "$dir"; mkdir -p "$dir"
    make_users_csv "$n" "$BENCH_WORK/users_$n.csv"
    log "importing $n lines into $dir ..."
    env $(kdf_env) "$TVGATE_BIN" user import "$BENCH_WORK/users_$n.csv" --data-dir "$dir" >/dev/null \
        || die "user import failed"
    touch "$dir/.ready"
}

# The same N lines in a PostgreSQL database of their own, tvgate_bench_lines_N on the server of
# BENCH_POSTGRES_URL (default: the machine's, postgres://postgres@127.0.0.1:5432/postgres), with
# DIR holding the verifier key the import made. Kept for later runs, as DIR is (delete DIR to
# rebuild both). Sets PG_STORE_URL.
BENCH_POSTGRES_URL=${BENCH_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/postgres}
prepare_lines_pg() { # N DIR
    local n=$1 dir=$2 db=tvgate_bench_lines_$1 base query
    command -v psql >/dev/null || die "psql not found (apt-get install -y postgresql-client)"
    base=${BENCH_POSTGRES_URL%%\?*}
    query=${BENCH_POSTGRES_URL#"$base"}
    PG_STORE_URL="${base%/*}/$db$query"
    if [ -f "$dir/.ready" ] &&
        [ "$(psql "$BENCH_POSTGRES_URL" -qAtc "SELECT 1 FROM pg_database WHERE datname = '$db'" 2>/dev/null)" = 1 ]; then
        return 0
    fi
    rm -rf "$dir"; mkdir -p "$dir"
    psql "$BENCH_POSTGRES_URL" -qAtc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null &&
        psql "$BENCH_POSTGRES_URL" -qAtc "CREATE DATABASE $db" >/dev/null ||
        die "cannot create the database $db (is PostgreSQL running? bash tests/services.sh)"
    make_users_csv "$n" "$BENCH_WORK/users_$n.csv"
    log "importing $n lines into PostgreSQL ($db) ..."
    env $(kdf_env) TVGATE_STORE_URL="$PG_STORE_URL" "$TVGATE_BIN" user import "$BENCH_WORK/users_$n.csv" \
        --data-dir "$dir" >/dev/null || die "user import into PostgreSQL failed"
    touch "$dir/.ready"
}

# CPU seconds (user + system) of every PostgreSQL server process so far.
postgres_cpu_s() {
    local pid t=0
    for pid in $(pgrep -x postgres); do
        t=$(( t + $(cpu_ticks "$pid" 2>/dev/null || echo 0) ))
    done
    awk -v t="$t" -v clk="$CLK_TCK" 'BEGIN { printf "%.2f", t / clk }'
}

# gen.py's m3u_plus playlist with N entries (seeded, deterministic).
make_m3u() { # N FILE
    [ -f "$2" ] && return 0
    python3 -c "import sys; sys.path.insert(0, sys.argv[1]); import gen; gen.m3u(int(sys.argv[2]), sys.argv[3])" \
        "$SHARED_BENCH" "$1" "$2.tmp" && mv "$2.tmp" "$2"
}

# A data dir with an N-entry catalog and one line (bench / bench-pass).
prepare_catalog_dir() { # N DIR
    local n=$1 dir=$2
    [ -f "$dir/.ready" ] && return 0
    rm -rf "$dir"; mkdir -p "$dir"
    make_m3u "$n" "$BENCH_WORK/m3u_$n.m3u"
    log "importing $n-entry catalog into $dir ..."
    "$TVGATE_BIN" source add m3u "$BENCH_WORK/m3u_$n.m3u" --name bench --data-dir "$dir" >/dev/null \
        || die "source add failed"
    printf 'username,password,max_connections\nbench,bench-pass,100\n' > "$BENCH_WORK/one_user.csv"
    env $(kdf_env) "$TVGATE_BIN" user import "$BENCH_WORK/one_user.csv" --data-dir "$dir" >/dev/null \
        || die "user import failed"
    touch "$dir/.ready"
}

# --- servers ----------------------------------------------------------------
# start_tvgate DATA_DIR PORT LOGFILE [ENV=VALUE ...]; sets TVGATE_PID.
start_tvgate() {
    local dir=$1 port=$2 logf=$3; shift 3
    env TVGATE_WORKER_THREADS=${TVGATE_WORKER_THREADS:-1} $(steady_env) "$@" \
        taskset -c "$SERVER_CPU" "$TVGATE_BIN" serve --listen "127.0.0.1:$port" --data-dir "$dir" \
        >"$logf" 2>&1 &
    TVGATE_PID=$!
    STARTED_PIDS+=("$TVGATE_PID")
    wait_http "http://127.0.0.1:$port/healthz" 120 || { tail -5 "$logf" >&2; die "tvgate did not start"; }
}

# start_nginx ROOT PORT [LOGIN_JSON]; sets NGINX_PID (master), NGINX_WORKER and NGINX_LOGIN.
# Config: bench/nginx.conf (the lean reference, audited in bench/README.md) with absolute
# paths, our port and the server core (bench/nginx_conf.py fills it in). With LOGIN_JSON
# (B1, B1b), /player_api.php answers those bytes from memory (`return 200 '...'`,
# default_type application/json): the lean way to serve a fixed answer. NGINX_FILE=1 (or no
# LOGIN_JSON) serves ROOT/player_api.json as a file (sendfile, open_file_cache), the anchor
# the figures before 2026-12-05 used.
NGINX_FILE=${NGINX_FILE:-0}
start_nginx() {
    local root=$1 port=$2 login=${3:-} nd="$BENCH_WORK/nginx"
    mkdir -p "$nd/tmp"
    [ "$NGINX_FILE" = 1 ] && login=
    python3 "$BENCH_DIR/nginx_conf.py" "$BENCH_DIR/nginx.conf" "$nd" "$root" "$port" \
        "$(printf '%x' $((1 << SERVER_CPU)))" ${login:+"$login"} >"$nd/nginx.conf" || die "cannot write the nginx config"
    nginx -p "$nd" -c "$nd/nginx.conf" -g 'daemon off;' >"$nd/stdout.log" 2>&1 &
    NGINX_PID=$!
    STARTED_PIDS+=("$NGINX_PID")
    wait_http "http://127.0.0.1:$port/ret200" 20 || { cat "$nd/error.log" "$nd/stdout.log" >&2; die "nginx did not start"; }
    NGINX_WORKER=$(pgrep -P "$NGINX_PID" | head -1)
    [ -n "$NGINX_WORKER" ] || die "no nginx worker"
    if [ -n "$login" ]; then NGINX_LOGIN="return 200 from memory"; else NGINX_LOGIN="file (NGINX_FILE=1)"; fi
}

# --- wrk ----------------------------------------------------------------------
# run_wrk CONNS URL [LUA_SCRIPT [LUA ARGS...]] -> prints one line of key=value:
# requests bytes dur_us p50_us p99_us max_us errors non2xx
run_wrk() {
    local c=$1 url=$2; shift 2
    local script=${1:-$BENCH_DIR/lua/report.lua}; [ $# -gt 0 ] && shift
    local out
    out=$(taskset -c "$LOAD_CPU" wrk -t1 -c"$c" -d"${DURATION}s" --timeout 30s --latency \
          -s "$script" "$url" -- "$@" 2>&1) || { log "$out"; die "wrk failed"; }
    local non2xx
    non2xx=$(printf '%s\n' "$out" | awk '/Non-2xx/ {print $NF}')
    printf '%s non2xx=%s\n' "$(printf '%s\n' "$out" | grep '^RESULT' | sed 's/^RESULT //')" "${non2xx:-0}"
}

kv() { # KEY "k=v k=v ..." -> value
    printf '%s\n' "$2" | tr ' ' '\n' | awk -F= -v k="$1" '$1 == k {print $2}'
}

# Median of numbers on stdin.
median() { sort -g | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

# --- one measured run ------------------------------------------------------------
# measure PID LABEL CONNS URL [LUA ARGS...] -> appends a record to $RESULTS and prints it.
# Record: label rps bps cpu_us_per_req busy p50_ms p99_ms bg requests non2xx errors
measure() {
    local pid=$1 label=$2; shift 2
    local bgf="$BENCH_WORK/bg.$$" t0 t1 res
    bg_measure "$DURATION" >"$bgf" &
    local bgpid=$!
    t0=$(cpu_ticks "$pid")
    res=$(run_wrk "$@")
    t1=$(cpu_ticks "$pid")
    wait "$bgpid"
    local bg; bg=$(sed -e 's/^bg=\([0-9.]*\)cores.*/\1/' "$bgf")
    local bgtop; bgtop=$(sed -e 's/^bg=[0-9.]*cores //' "$bgf" | tr -d ' ')
    local line
    line=$(awk -v res="$res" -v dt=$((t1 - t0)) -v clk="$CLK_TCK" -v label="$label" -v bg="$bg" -v bgtop="$bgtop" 'BEGIN {
        n = split(res, kvs, " "); for (i = 1; i <= n; i++) { split(kvs[i], p, "="); r[p[1]] = p[2] }
        secs = r["dur_us"] / 1e6; cpu = dt / clk
        printf "%s rps=%.0f bps=%.0f cpu_us_per_req=%.2f busy=%.2f p50_ms=%.2f p99_ms=%.2f bg=%s requests=%d bytes=%d non2xx=%d errors=%d cpu_s=%.2f bgtop=%s",
            label, r["requests"] / secs, r["bytes"] / secs, (r["requests"] > 0 ? cpu * 1e6 / r["requests"] : 0),
            cpu / secs, r["p50_us"] / 1000, r["p99_us"] / 1000, bg, r["requests"], r["bytes"], r["non2xx"], r["errors"], cpu, bgtop }')
    rm -f "$bgf"
    printf '%s\n' "$line" >>"$RESULTS"
    printf '%s\n' "$line"
}

# Summarises $RESULTS: per pair tvgate/nginx ratios of the given metrics and their medians.
summarize_pairs() { # PREFIX_A PREFIX_B  (labels look like PREFIX:pairN)
    python3 "$BENCH_DIR/pairs.py" "$RESULTS" "$1" "$2"
}

results_file() { # NAME
    mkdir -p "$BENCH_WORK/results"
    RESULTS="$BENCH_WORK/results/$1-$(date +%Y%m%d-%H%M%S).txt"
    : >"$RESULTS"
    log "results: $RESULTS"
}

# --- login workloads (B1, B1b) -------------------------------------------------------
LOGIN_USERS=${LOGIN_USERS:-100000}   # lines loaded
LOGIN_ROTATE=${LOGIN_ROTATE:-10000}  # distinct lines the wrk script rotates over

# login_paths FILE good|bad -> player_api.php paths for lines u000001..u0<ROTATE>, shuffled (seeded)
login_paths() {
    python3 - "$1" "$2" "$LOGIN_ROTATE" <<'EOF2'
import sys, random
path, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
idx = list(range(1, n + 1)); random.Random(7).shuffle(idx)
with open(path, "w") as f:
    for i in idx:
        pw = f"pw{i}-bench" if kind == "good" else f"wrong{i}-bench"
        f.write(f"/player_api.php?username=u{i:06d}&password={pw}\n")
EOF2
}

metric() { # PORT NAME_REGEX -> value
    curl -s --max-time 5 "http://127.0.0.1:$1/metrics" | awk -v re="$2" '$0 !~ /^#/ && $1 ~ re {print $2}'
}

# What was measured: the binary's build time and the tree's commit (the binary may predate HEAD).
bin_info() {
    printf 'binary %s built %s; HEAD %s%s' "$TVGATE_BIN" "$(date -r "$TVGATE_BIN" -Is)" \
        "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)" "$(git -C "$REPO" diff --quiet -- crates src Cargo.toml Cargo.lock 2>/dev/null || echo ' +uncommitted changes in crates/src')"
}
