#!/usr/bin/env bash
# Browser tests of tvgate's web pages: starts `tvgate demo` on 127.0.0.1 (free
# port, temporary data directory, like tests/compat/run.sh) and drives the
# subscriber portal (tests/browser/portal.mjs), the operator console
# (tests/browser/console.mjs) and its dashboard and a line's timeline
# (tests/browser/dashboard.mjs) in headless chromium. Prints
# `ok - NAME` / `FAIL - NAME: REASON` lines and `N passed, N failed`.
# Screenshots go to $BROWSER_ARTIFACTS (default tests/browser/artifacts,
# ignored by git).
#
#   bash tests/browser/run.sh                 build the tvgate binary (cargo, dev profile)
#   bash tests/browser/run.sh --bin PATH      test an existing binary
#
# Needs chromium and playwright-core from tests/compat/install.sh.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PREFIX=${COMPAT_PREFIX:-/opt/tvgate-compat}
BIN=${COMPAT_TVGATE_BIN:-}
ARTIFACTS=${BROWSER_ARTIFACTS:-$HERE/artifacts}
while [ $# -gt 0 ]; do
  case $1 in
    --bin) BIN=${2:?--bin needs a path}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "browser/run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
setup_fail() { echo "FAIL - browser setup: $*"; echo "0 passed, 1 failed"; exit 1; }

for t in curl jq node chromium setsid; do
  command -v "$t" >/dev/null 2>&1 || setup_fail "$t not found; run tests/compat/install.sh"
done
[ -d "$PREFIX/browser/node_modules/playwright-core" ] || setup_fail "playwright-core missing; run tests/compat/install.sh"

if [ -z "$BIN" ]; then
  BIN=$(cd "$ROOT" && cargo build --bin tvgate --message-format=json-render-diagnostics |
        jq -r 'select(.reason == "compiler-artifact" and .target.name == "tvgate" and .executable != null) | .executable' |
        tail -n 1) || setup_fail "cargo build failed"
fi
[ -n "$BIN" ] && [ -x "$BIN" ] || setup_fail "tvgate binary '$BIN' not found"

CLEAN_ENV=(env)
for v in $(compgen -e); do [[ $v == TVGATE_* ]] && CLEAN_ENV+=(-u "$v"); done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tvgate-browser.XXXXXX")
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM -- "-$SERVER_PID" 2>/dev/null || kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setsid "${CLEAN_ENV[@]}" "$BIN" demo --listen 127.0.0.1:0 --data-dir "$TMP/data" --json \
  >"$TMP/server.json" 2>"$TMP/server.log" </dev/null &
SERVER_PID=$!
for _ in $(seq 1 600); do
  [ -s "$TMP/server.json" ] && head -n 1 "$TMP/server.json" | jq -e .server >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || setup_fail "tvgate demo exited: $(tail -n 3 "$TMP/server.log" | tr '\n' ' ')"
  sleep 0.1
done
LOGIN=$(head -n 1 "$TMP/server.json")
field() { jq -r --arg k "$1" '.[$k] // empty' <<<"$LOGIN"; }
SERVER=$(field server) XU=$(field username) XP=$(field password) STREAM_URL=$(field example_stream)
[ -n "$SERVER" ] && [ -n "$XU" ] && [ -n "$XP" ] && [ -n "$STREAM_URL" ] || setup_fail "demo JSON incomplete: $LOGIN"

# Bind the demo line to devices (the running server picks the change up),
# with one registered: the viewer presents it, and the portal resets it.
"${CLEAN_ENV[@]}" "$BIN" user set "$XU" --device-limit 2 --data-dir "$TMP/data" >"$TMP/cli.log" 2>&1 &&
  "${CLEAN_ENV[@]}" "$BIN" device add "$XU" --player-id living-room-tv --label "Living room TV" \
    --data-dir "$TMP/data" >>"$TMP/cli.log" 2>&1 || setup_fail "device setup: $(tail -n 2 "$TMP/cli.log" | tr '\n' ' ')"
export DEVICE_ID=living-room-tv DEVICE_LABEL="Living room TV"

# The operator: created from the command line (there is no default one).
"${CLEAN_ENV[@]}" "$BIN" admin add ops --data-dir "$TMP/data" >"$TMP/admin.out" 2>>"$TMP/cli.log" ||
  setup_fail "admin add: $(tail -n 2 "$TMP/cli.log" | tr '\n' ' ')"
OPS_PASSWORD=$(sed -n 2p "$TMP/admin.out")
[ -n "$OPS_PASSWORD" ] || setup_fail "admin add printed no password"

# A playlist the operator adds from the console: files added from the web
# must be in the data directory's sources/. Line 4 is not M3U.
cat >"$TMP/data/sources/browser.m3u" <<'M3U'
#EXTM3U
#EXTINF:-1 tvg-id="b1" group-title="Browser",Browser One
http://127.0.0.1:9/one.ts
this line is neither a directive nor a URL
#EXTINF:-1 tvg-id="b2" group-title="Browser",Browser Two
http://127.0.0.1:9/two.ts
M3U
export SOURCE_FILE="$TMP/data/sources/browser.m3u"

# ES modules ignore NODE_PATH: run the scripts beside a link to the modules.
mkdir -p "$TMP/js"
cp "$HERE/portal.mjs" "$HERE/console.mjs" "$HERE/dashboard.mjs" "$TMP/js/"
ln -s "$PREFIX/browser/node_modules" "$TMP/js/node_modules"
echo "# subscriber portal"
node "$TMP/js/portal.mjs" "$SERVER" "$XU" "$XP" "$STREAM_URL" "$ARTIFACTS"
portal_rc=$?
echo "# operator console"
node "$TMP/js/console.mjs" "$SERVER" ops "$OPS_PASSWORD" "$STREAM_URL" "$XU" "$XP" "$ARTIFACTS"
console_rc=$?
echo "# operator dashboard and a line's timeline"
node "$TMP/js/dashboard.mjs" "$SERVER" ops "$OPS_PASSWORD" "$STREAM_URL" "$XU" "$XP" "$ARTIFACTS"
dashboard_rc=$?
[ "$portal_rc" = 0 ] && [ "$console_rc" = 0 ] && [ "$dashboard_rc" = 0 ]
