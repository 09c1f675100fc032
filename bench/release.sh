#!/usr/bin/env bash
# Slot release timing (issue 3, "Release"): a line with max_connections=1
# watches a built-in live channel; the viewer's process is ended (kill -9 by
# default, MODE=close|stop for the others) and a new viewer retries every
# 0.1 s until admitted. Uses ../shared/bench/release_test.py; prints its JSON
# summary (release times per cycle, median, p99).
#
#   bench/release.sh                 # 100 kill cycles
#   MODE=close REPS=20 bench/release.sh
#   MODE=stop bench/release.sh       # the frozen-viewer figure: SIGSTOP, 10 cycles
#
# MODE=stop freezes the viewer (SIGSTOP): its socket stays open and is never
# read again, so the slot is freed by the frozen-viewer watchdog after
# VIEWER_STALL_SECS (5, the default setting) plus the time the stopped
# reader's receive buffer takes to fill at the demo channel's 0.7 Mbit/s.
# Each cycle takes that long, hence 10 cycles by default.
#
# Env: MODE (kill), REPS (100; 10 for stop), ADMISSION_WAIT_MS (200; 0 measures the bare release),
# VIEWER_STALL_SECS (5), TVGATE_BIN, SHARED_BENCH.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
MODE=${MODE:-kill}
case "$MODE" in
  kill|close) REPS=${REPS:-100} ;;
  stop) REPS=${REPS:-10} ;;
  *) echo "MODE must be kill, close or stop" >&2; exit 2 ;;
esac
export TVGATE_VIEWER_STALL_SECS=${VIEWER_STALL_SECS:-5}
SHARED_BENCH=${SHARED_BENCH:-../shared/bench}
BIN=${TVGATE_BIN:-${CARGO_TARGET_DIR:-target-bench}/release/tvgate}
[ -x "$BIN" ] || { echo "build first: CARGO_TARGET_DIR=target-bench cargo build --release" >&2; exit 1; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/tvgate-release.XXXX")
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
# A short admission wait, so the probe made while the first viewer is live is
# refused quickly instead of waiting out the default 3 s.
export TVGATE_ADMISSION_WAIT_MS=${ADMISSION_WAIT_MS:-200}
env TVGATE_KDF_MEMORY_KIB=64 TVGATE_KDF_ITERATIONS=1 "$BIN" user add limited --password limited --max-connections 1 --data-dir "$WORK/data" >/dev/null
"$BIN" demo --listen 127.0.0.1:0 --json --data-dir "$WORK/data" >"$WORK/demo.json" 2>"$WORK/server.log" &
SERVER=$!
for _ in $(seq 1 100); do [ -s "$WORK/demo.json" ] && break; sleep 0.1; done
BASE=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["server"])' "$WORK/demo.json")
echo "# release: mode=$MODE reps=$REPS viewer_stall_secs=$TVGATE_VIEWER_STALL_SECS server=$BASE binary=$BIN"
python3 "$SHARED_BENCH/release_test.py" --url "$BASE/live/limited/limited/1.ts" --mode "$MODE" --reps "$REPS" \
  --ready-bytes 100000 --admit-bytes 18800 --settle 0.2 --hold-during 0.5 --hold-after 0.5 --max-wait 60 --json "$WORK/out.json"
