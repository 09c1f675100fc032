#!/usr/bin/env bash
# B1 (perf.md §5): player_api.php login for 10,000 distinct lines (wrk Lua rotation),
# 100,000 lines loaded, keep-alive, wrk -t1 -c64, vs nginx answering the same JSON bytes
# from memory (`return 200 '...'`, the lean reference; NGINX_FILE=1: from a file with sendfile,
# the anchor before 2026-12-05). Interleaved A/B pairs; prints per-pair and median ratios.
# Targets: >= 0.8x nginx req/s, <= 1.5x nginx CPU/req, p99 <= 2x nginx.
# UPGRADE=1: server at the default argon2 cost, so each line's first login queues a full-cost
# re-hash (background, same core): the "everyone reconnects after a bulk import" case.
# STORE=postgres: a third server beside them, on the same lines in PostgreSQL (BENCH_POSTGRES_URL's
# server, default the machine's; the database is kept for later runs), measured in the same pairs,
# for B1's "a PostgreSQL-backed node within 10 % of the SQLite-backed one" (logins stay in memory:
# the PostgreSQL server's own CPU during those runs is reported too).
# Env: PAIRS (3) DURATION (10) CONNS (64) LOGIN_USERS (100000) LOGIN_ROTATE (10000) BENCH_WORK BENCH_BUILD=1
#      STORE (sqlite | postgres) BENCH_POSTGRES_URL NGINX_FILE (0 | 1)
source "$(dirname "$0")/lib.sh"
CONNS=${CONNS:-64}
STORE=${STORE:-sqlite}
case $STORE in
    sqlite|postgres) ;;
    *) die "STORE=$STORE: use sqlite or postgres" ;;
esac
[ "$STORE" = postgres ] && [ "${UPGRADE:-0}" = 1 ] && die "UPGRADE=1 runs on SQLite only"
need_tools; ensure_binary; bench_lock
results_file b1_login

DATA="$BENCH_WORK/lines$LOGIN_USERS"
prepare_lines_dir "$LOGIN_USERS" "$DATA"
if [ "$STORE" = postgres ]; then
    PG_DATA="$BENCH_WORK/pg-lines$LOGIN_USERS"
    prepare_lines_pg "$LOGIN_USERS" "$PG_DATA"
fi
if [ "${UPGRADE:-0}" = 1 ]; then
    # The server re-hashes every line it sees at the default argon2 cost: work on a copy.
    rm -rf "$BENCH_WORK/upgrade-copy"; cp -a "$DATA" "$BENCH_WORK/upgrade-copy"; DATA="$BENCH_WORK/upgrade-copy"
fi
PATHS="$BENCH_WORK/login_good_$LOGIN_ROTATE.txt"
login_paths "$PATHS" good

TPORT=$(free_port); start_tvgate "$DATA" "$TPORT" "$BENCH_WORK/tvgate-b1.log"
# The anchor serves tvgate's own answer for one of the rotated lines.
WWW="$BENCH_WORK/www"; mkdir -p "$WWW"
curl -s "http://127.0.0.1:$TPORT$(head -1 "$PATHS")" -o "$WWW/player_api.json"
grep -q '"auth":1' "$WWW/player_api.json" || die "login failed: $(head -c 300 "$WWW/player_api.json")"
for p in $(shuf -n 5 --random-source=<(yes) "$PATHS"); do
    curl -s "http://127.0.0.1:$TPORT$p" | grep -q '"auth":1' || die "login failed for $p"
done
if [ "$STORE" = postgres ]; then
    SQLITE_PID=$TVGATE_PID
    PPORT=$(free_port); start_tvgate "$PG_DATA" "$PPORT" "$BENCH_WORK/tvgate-b1-pg.log" TVGATE_STORE_URL="$PG_STORE_URL"
    PG_PID=$TVGATE_PID TVGATE_PID=$SQLITE_PID
    for p in $(shuf -n 5 --random-source=<(yes) "$PATHS"); do
        curl -s "http://127.0.0.1:$PPORT$p" | grep -q '"auth":1' || die "login on the PostgreSQL-backed server failed for $p"
    done
fi
NPORT=$(free_port); start_nginx "$WWW" "$NPORT" "$WWW/player_api.json"
cmp -s <(curl -s "http://127.0.0.1:$NPORT/player_api.php?x=1") "$WWW/player_api.json" || die "nginx answer differs"

{
echo "# B1 login: $(date -Is) $(uname -r); $(bin_info)"
echo "# lines loaded: $(metric "$TPORT" tvgate_lines); rotating over $LOGIN_ROTATE; body $(stat -c %s "$WWW/player_api.json") bytes; wrk -t1 -c$CONNS -d${DURATION}s"
echo "# nginx answers /player_api.php: $NGINX_LOGIN"
echo "# tvgate pid $TVGATE_PID (taskset -c $SERVER_CPU, TVGATE_WORKER_THREADS=1), nginx worker $NGINX_WORKER; RSS tvgate $(rss_kb "$TVGATE_PID") KiB, nginx worker $(rss_kb "$NGINX_WORKER") KiB"
} | tee -a "$RESULTS"

TURL="http://127.0.0.1:$TPORT/"; NURL="http://127.0.0.1:$NPORT/"
LUA="$BENCH_DIR/lua/rotate.lua"
# label pid url of each server measured; each pair takes them in another (rotated) order
TARGETS=("tvgate $TVGATE_PID $TURL" "nginx $NGINX_WORKER $NURL")
if [ "$STORE" = postgres ]; then
    PURL="http://127.0.0.1:$PPORT/"
    TARGETS+=("tvgate_pg $PG_PID $PURL")
    echo "# tvgate_pg: the same lines in PostgreSQL ($(metric "$PPORT" tvgate_lines) loaded), pid $PG_PID, RSS $(rss_kb "$PG_PID") KiB" | tee -a "$RESULTS"
fi
# warm-up (not recorded)
for t in "${TARGETS[@]}"; do
    read -r _ _ url <<<"$t"
    DURATION=2 run_wrk "$CONNS" "$url" "$LUA" "$PATHS" >/dev/null
done
ok0=$(metric "$TPORT" tvgate_logins_total)
PG_CPU=0
for i in $(seq "$PAIRS"); do
    n=${#TARGETS[@]}
    for k in $(seq 0 $((n - 1))); do
        read -r label pid url <<<"${TARGETS[$(( (k + i - 1) % n ))]}"
        [ "$label" = tvgate_pg ] && pg0=$(postgres_cpu_s)
        measure "$pid" "$label:pair$i" "$CONNS" "$url" "$LUA" "$PATHS"
        [ "$label" = tvgate_pg ] && PG_CPU=$(awk -v a="$PG_CPU" -v b="$pg0" -v c="$(postgres_cpu_s)" 'BEGIN { printf "%.2f", a + c - b }')
    done
done
ok1=$(metric "$TPORT" tvgate_logins_total)
reqs=$(awk '/^tvgate:pair/ { for (i = 2; i <= NF; i++) if ($i ~ /^requests=/) { sub("requests=", "", $i); s += $i } } END {print s}' "$RESULTS")
{
echo "# check: tvgate_logins_total grew by $((ok1 - ok0)) for $reqs completed requests (denials: $(metric "$TPORT" 'tvgate_denials_total' | awk '{s+=$1} END {print s}'))"
echo "# RSS after: tvgate $(rss_kb "$TVGATE_PID") KiB$([ "${UPGRADE:-0}" = 1 ] && echo "; UPGRADE=1: server at default argon2 cost, lines re-hashed so far: $(sqlite3 "$DATA/tvgate.sqlite" "select count(*) from accounts where password_hash like '%m=19456%'" 2>/dev/null || echo '?')")"
summarize_pairs tvgate nginx
echo "# targets: req/s ratio >= 0.8, CPU/req ratio <= 1.5, p99 ratio <= 2.0"
if [ "$STORE" = postgres ]; then
    pg_reqs=$(awk '/^tvgate_pg:pair/ { for (i = 2; i <= NF; i++) if ($i ~ /^requests=/) { sub("requests=", "", $i); s += $i } } END {print s}' "$RESULTS")
    echo "# PostgreSQL server CPU during the tvgate_pg runs: $PG_CPU s for $pg_reqs logins (logins stay in memory: ~0 expected); RSS after: tvgate_pg $(rss_kb "$PG_PID") KiB"
    summarize_pairs tvgate_pg nginx
    summarize_pairs tvgate_pg tvgate
    echo "# target (issue 12, B1 on PostgreSQL): tvgate_pg/tvgate within 10 %: req/s ratio >= 0.9, CPU/req ratio <= 1.1"
fi
} | tee -a "$RESULTS"
