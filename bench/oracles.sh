#!/usr/bin/env bash
# Oracles (issue 17, item 7): is an unknown username told apart from a wrong password by
# timing? On every face that checks a password (player_api.php, get.php, the portal's and the
# console's login, Stalker's do_auth) and the API's token check (an unknown token against a
# revoked one), N requests of each kind (default 10,000) are sent interleaved in a shuffled
# order over one kept-alive connection, each timed by the client; the script prints the
# median of each kind, their difference, and the noise floor: the largest difference of
# medians between two random halves of the same kind (what the difference would be if the
# two kinds were one). "indistinguishable" when |difference| <= noise floor.
#
# The reference in the same run is that noise floor. Both kinds cost the same work by design
# (docs/security.md); this measures that they do. Usage:
#   bench/oracles.sh                   N=10000, the release binary (BENCH_BUILD=1 builds it)
#   TVGATE_BIN=target/debug/tvgate N=2000 bench/oracles.sh
# Figures from a machine others use at the same time are indicative only.
source "$(dirname "$0")/lib.sh"
N=${N:-10000}
command -v python3 >/dev/null && command -v curl >/dev/null || die "python3 and curl are needed"
ensure_binary
results_file oracles
DIR="$BENCH_WORK/oracles-data"
rm -rf "$DIR"; mkdir -p "$DIR"
# Failures are the workload: a budget that never runs out. The kdf is the benchmarks' cheap
# one so 20,000 console logins take seconds; the unknown operator's dummy hash runs at the
# same configured cost.
BUDGET=(TVGATE_LOGIN_FAILURES_PER_IP=4000000000 TVGATE_LOGIN_FAILURES_PER_USERNAME=4000000000
        TVGATE_STALKER_LOGIN_REQUIRED=true)
env $(kdf_env) "$TVGATE_BIN" line add real-user --password real-pw-1 --data-dir "$DIR" >/dev/null \
    || die "line add failed"
env $(kdf_env) "$TVGATE_BIN" admin add olga --data-dir "$DIR" >/dev/null || die "admin add failed"
REVOKED=$(env $(kdf_env) "$TVGATE_BIN" admin token olga --label old --data-dir "$DIR" 2>/dev/null \
    | grep -o 'tvg_[A-Za-z0-9_-]*' | head -1)
[ -n "$REVOKED" ] || die "no token printed"
TOKEN_ID=$(env $(kdf_env) "$TVGATE_BIN" admin list --data-dir "$DIR" 2>/dev/null | awk '$1 == "token" && $3 == "old" {print $2}')
env $(kdf_env) "$TVGATE_BIN" admin revoke "$TOKEN_ID" --data-dir "$DIR" >/dev/null || die "revoke failed"
PORT=$(free_port)
start_tvgate "$DIR" "$PORT" "$BENCH_WORK/oracles-server.log" "${BUDGET[@]}"
{
    echo "# oracles: N=$N per kind, $(bin_info)"
    echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
    python3 "$BENCH_DIR/oracles.py" "127.0.0.1:$PORT" "$N" "$REVOKED"
} | tee -a "$RESULTS"
