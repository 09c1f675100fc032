#!/usr/bin/env bash
# B1b (perf.md §5): wrong passwords for 10,000 rotating lines (100,000 loaded), wrk -t1 -c64,
# server CPU per request vs nginx answering the login JSON from memory (`return 200`; NGINX_FILE=1:
# from a file, A6). Target <= 1.0x nginx CPU/req.
# Variants (all running at once on different ports, measured interleaved with nginx in every pair):
#   default  rate limiter at its defaults (after 20 failures from 127.0.0.1 every answer is 429 unheard)
#   raw      limiter out of reach (TVGATE_LOGIN_FAILURES_PER_IP/_PER_USERNAME=1e9): every request checks
#            the keyed verifier, records the failure and logs the denial
#   nolog    raw + TVGATE_LOG=warn (shows the cost of the per-denial log line)
# Env: VARIANTS ("default raw nolog") PAIRS (3) DURATION (10) CONNS (64) BENCH_WORK NGINX_FILE (0 | 1)
source "$(dirname "$0")/lib.sh"
CONNS=${CONNS:-64}
VARIANTS=${VARIANTS:-default raw nolog}
need_tools; ensure_binary; bench_lock
results_file b1b_badpass

DATA="$BENCH_WORK/lines$LOGIN_USERS"
prepare_lines_dir "$LOGIN_USERS" "$DATA"
GOOD="$BENCH_WORK/login_good_$LOGIN_ROTATE.txt"; login_paths "$GOOD" good
BAD="$BENCH_WORK/login_bad_$LOGIN_ROTATE.txt"; login_paths "$BAD" bad

declare -A PID PORT
BIG=1000000000
for v in $VARIANTS; do
    PORT[$v]=$(free_port)
    case $v in
        default) start_tvgate "$DATA" "${PORT[$v]}" "$BENCH_WORK/tvgate-b1b-$v.log" ;;
        raw)     start_tvgate "$DATA" "${PORT[$v]}" "$BENCH_WORK/tvgate-b1b-$v.log" \
                     TVGATE_LOGIN_FAILURES_PER_IP=$BIG TVGATE_LOGIN_FAILURES_PER_USERNAME=$BIG ;;
        nolog)   start_tvgate "$DATA" "${PORT[$v]}" "$BENCH_WORK/tvgate-b1b-$v.log" \
                     TVGATE_LOGIN_FAILURES_PER_IP=$BIG TVGATE_LOGIN_FAILURES_PER_USERNAME=$BIG TVGATE_LOG=warn ;;
        *) die "unknown variant $v" ;;
    esac
    PID[$v]=$TVGATE_PID
done
first=${VARIANTS%% *}
WWW="$BENCH_WORK/www"; mkdir -p "$WWW"
curl -s "http://127.0.0.1:${PORT[$first]}$(head -1 "$GOOD")" -o "$WWW/player_api.json"
grep -q '"auth":1' "$WWW/player_api.json" || die "good login failed"
curl -s -o "$BENCH_WORK/bad.json" -w '%{http_code}' "http://127.0.0.1:${PORT[$first]}$(sed -n 2p "$BAD")" | grep -q 200 \
    || die "unexpected status for a wrong password"
NPORT=$(free_port); start_nginx "$WWW" "$NPORT" "$WWW/player_api.json"

{
echo "# B1b wrong passwords: $(date -Is); $(bin_info)"
echo "# wrong-password answer: $(cat "$BENCH_WORK/bad.json"); nginx anchor: the $(stat -c %s "$WWW/player_api.json")-byte login JSON, $NGINX_LOGIN"
echo "# variants: $VARIANTS; wrk -t1 -c$CONNS -d${DURATION}s, rotating over $LOGIN_ROTATE lines (tvgate_lines $(metric "${PORT[$first]}" tvgate_lines))"
} | tee -a "$RESULTS"

LUA="$BENCH_DIR/lua/rotate.lua"
NURL="http://127.0.0.1:$NPORT/"
DURATION=2 run_wrk "$CONNS" "$NURL" "$LUA" "$BAD" >/dev/null
for v in $VARIANTS; do DURATION=2 run_wrk "$CONNS" "http://127.0.0.1:${PORT[$v]}/" "$LUA" "$BAD" >/dev/null; done
for i in $(seq "$PAIRS"); do
    order="nginx $VARIANTS"; [ $((i % 2)) = 0 ] && order="$VARIANTS nginx"
    for s in $order; do
        if [ "$s" = nginx ]; then
            measure "$NGINX_WORKER" "nginx:pair$i" "$CONNS" "$NURL" "$LUA" "$BAD"
        else
            measure "${PID[$s]}" "$s:pair$i" "$CONNS" "http://127.0.0.1:${PORT[$s]}/" "$LUA" "$BAD"
        fi
    done
done
{
for v in $VARIANTS; do
    echo "## $v: denials $(curl -s "http://127.0.0.1:${PORT[$v]}/metrics" | awk '/^tvgate_denials_total/ && $2 > 0 {printf "%s ", $0}'); log $(stat -c %s "$BENCH_WORK/tvgate-b1b-$v.log") bytes; RSS $(rss_kb "${PID[$v]}") KiB"
    summarize_pairs "$v" nginx
done
echo "# target: CPU/req ratio <= 1.0 (tvgate's non2xx are 429 rate_limited answers in the default variant)"
} | tee -a "$RESULTS"
