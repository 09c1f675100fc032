#!/usr/bin/env bash
# Installs exactly what tests/compat/run.sh needs, idempotently:
#   - Debian packages: ffmpeg (ffprobe), mpv, streamlink, VLC (cvlc, with the user
#     iptvtest to run it: VLC refuses root), Kodi with pvr.iptvsimple and Xvfb, libxml2-utils (xmllint), xmltv-util
#     (the XMLTV DTD and tv_validate_file), jq, curl, python3 + venv, and
#     nodejs/npm when no npm is on PATH;
#   - a Python venv with the pinned PyPI clients of requirements.txt, and a second one
#     (venv-stalker) from the same file with a Python >= 3.12 for iptvpy, when one exists;
#   - the npm clients pinned by node/package-lock.json (installed with npm ci);
#   - Debian's chromium, and playwright-core and hls.js pinned by
#     ../browser/package-lock.json (for tests/browser/run.sh and the hls.js check).
# Runs as root on Debian 12. `apt-get update` runs only when a package is
# missing and the package lists are missing or older than a day. When
# everything is already there it only compares stamps (well under a second).
#
#   bash tests/compat/install.sh          (prefix: $COMPAT_PREFIX or /opt/tvgate-compat)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PREFIX=${COMPAT_PREFIX:-/opt/tvgate-compat}
export DEBIAN_FRONTEND=noninteractive
say() { printf 'compat-install: %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  echo "compat-install: must run as root (apt-get, $PREFIX)" >&2
  exit 1
fi

# ---------------------------------------------------------------- apt
APT_PKGS=(ffmpeg mpv streamlink vlc-bin vlc-plugin-base kodi kodi-pvr-iptvsimple kodi-inputstream-ffmpegdirect xvfb libxml2-utils xmltv-util jq curl ca-certificates python3 python3-venv chromium)
# Keep an npm that is already there (e.g. NodeSource's nodejs, which bundles
# npm and conflicts with Debian's npm package); otherwise take Debian's.
command -v npm >/dev/null 2>&1 && command -v node >/dev/null 2>&1 || APT_PKGS+=(nodejs npm)

installed=$(dpkg-query -W -f='${Package} ${Status}\n' "${APT_PKGS[@]}" 2>/dev/null || true)
missing=()
for p in "${APT_PKGS[@]}"; do
  grep -qx "$p install ok installed" <<<"$installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt: installing ${missing[*]}"
  fresh_lists=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)
  updated=0
  if [ -z "$fresh_lists" ]; then
    apt-get update -q
    updated=1
  fi
  if ! apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    # Lists less than a day old can still point at superseded .debs.
    [ "$updated" = 1 ] && exit 1
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi
# VLC will not run as root: the compat suite runs cvlc as this user.
id -u iptvtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin iptvtest
[ -r /usr/share/xmltv/xmltv.dtd ] || { echo "compat-install: /usr/share/xmltv/xmltv.dtd missing after installing xmltv-util" >&2; exit 1; }

stamp_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ---------------------------------------------------------------- Python
# Debian's interpreter, not whatever python3 comes first on PATH (pyenv shims
# and the like), so the venv does not depend on a per-user installation.
PY=/usr/bin/python3
VENV=$PREFIX/venv
want=$(stamp_of "$HERE/requirements.txt"; $PY -c 'import sys; print(sys.version)')
have=$(cat "$VENV/.tvgate-compat-stamp" 2>/dev/null || true)
if [ "$want" != "$have" ] || ! "$VENV/bin/python" -c '' 2>/dev/null; then
  say "pip: installing requirements.txt into $VENV"
  rm -rf "$VENV"
  mkdir -p "$PREFIX"
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$HERE/requirements.txt"
  "$VENV/bin/python" -c 'import pyxtream, xtream_api_client, ipytv'
  printf '%s' "$want" >"$VENV/.tvgate-compat-stamp"
fi

# iptvpy (the Stalker client) needs Python >= 3.12, which Debian 12 lacks:
# take one from PATH or pyenv when there is one, else note its absence (the
# Stalker check then reports itself skipped).
PY_NEW=
for c in python3.13 python3.12 /root/.pyenv/versions/3.1[2-9]*/bin/python; do
  if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
    PY_NEW=$(command -v "$c"); break
  fi
done
SVENV=$PREFIX/venv-stalker
if [ -z "$PY_NEW" ]; then
  say "no Python >= 3.12 found: the iptvpy Stalker check will be skipped"
  rm -rf "$SVENV"
else
  want=$(stamp_of "$HERE/requirements.txt"; "$PY_NEW" -c 'import sys; print(sys.version)')
  have=$(cat "$SVENV/.tvgate-compat-stamp" 2>/dev/null || true)
  if [ "$want" != "$have" ] || ! "$SVENV/bin/python" -c '' 2>/dev/null; then
    say "pip: installing requirements.txt into $SVENV ($PY_NEW)"
    rm -rf "$SVENV"
    "$PY_NEW" -m venv "$SVENV"
    "$SVENV/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$HERE/requirements.txt"
    "$SVENV/bin/python" -c 'from iptvpy import MacPortal'
    printf '%s' "$want" >"$SVENV/.tvgate-compat-stamp"
  fi
fi

# ---------------------------------------------------------------- npm
NODE_DIR=$PREFIX/node
want=$(stamp_of "$HERE/node/package.json" "$HERE/node/package-lock.json"; node --version)
have=$(cat "$NODE_DIR/.tvgate-compat-stamp" 2>/dev/null || true)
if [ "$want" != "$have" ] || [ ! -d "$NODE_DIR/node_modules/@iptv/xtream-api" ]; then
  say "npm: installing node/package-lock.json into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp "$HERE/node/package.json" "$HERE/node/package-lock.json" "$NODE_DIR/"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s' "$want" >"$NODE_DIR/.tvgate-compat-stamp"
fi

# ---------------------------------------------------------------- browser tests
BROWSER_DIR=$PREFIX/browser
BROWSER_SRC=$HERE/../browser
want=$(stamp_of "$BROWSER_SRC/package.json" "$BROWSER_SRC/package-lock.json"; node --version)
have=$(cat "$BROWSER_DIR/.tvgate-compat-stamp" 2>/dev/null || true)
if [ "$want" != "$have" ] || [ ! -d "$BROWSER_DIR/node_modules/playwright-core" ] || [ ! -d "$BROWSER_DIR/node_modules/hls.js" ]; then
  say "npm: installing browser/package-lock.json into $BROWSER_DIR"
  mkdir -p "$BROWSER_DIR"
  cp "$BROWSER_SRC/package.json" "$BROWSER_SRC/package-lock.json" "$BROWSER_DIR/"
  (cd "$BROWSER_DIR" && npm ci --no-audit --no-fund --loglevel=error)
  printf '%s' "$want" >"$BROWSER_DIR/.tvgate-compat-stamp"
fi

say "ready ($PREFIX)"
