#!/usr/bin/env bash
# Kodi (Debian's) with pvr.iptvsimple, headless under Xvfb, driven over its
# JSON-RPC on 127.0.0.1: loads the M3U and the XMLTV from their URLs, waits
# for the channels and the guide's "now" of the first channel, then tunes
# the first channel and waits until Kodi reports its video codec.
#
#   kodi_iptvsimple.sh M3U_URL XMLTV_URL
#
# Prints what it saw and, last, one JSON line; exit 0 when channels loaded,
# the guide gave a programme and the channel played. Kodi fetches every URL
# in the playlist (logos too): give it loopback-only playlists. Its home
# directory, X display and processes are its own and removed at the end.
set -uo pipefail
M3U=$1 XMLTV=$2
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
RPCPORT=$(free_port)
DISP=:$((90 + RANDOM % 400))
KH=$(mktemp -d "${TMPDIR:-/tmp}/kodi-compat.XXXXXX")
U=$KH/.kodi/userdata
mkdir -p "$U/addon_data/pvr.iptvsimple"
cat >"$U/guisettings.xml" <<EOF
<settings version="2">
  <setting id="services.webserver">true</setting>
  <setting id="services.webserverport">$RPCPORT</setting>
  <setting id="services.webserverauthentication">false</setting>
  <setting id="services.esenabled">false</setting>
  <setting id="services.zeroconf">false</setting>
  <setting id="services.upnp">false</setting>
  <setting id="general.addonupdates">2</setting>
  <setting id="general.addonnotifications">false</setting>
</settings>
EOF
xml() { sed -e 's/&/\&amp;/g' <<<"$1"; }
cat >"$U/addon_data/pvr.iptvsimple/settings.xml" <<EOF
<settings version="2">
  <setting id="m3uPathType">1</setting><setting id="m3uUrl">$(xml "$M3U")</setting>
  <setting id="epgPathType">1</setting><setting id="epgUrl">$(xml "$XMLTV")</setting>
</settings>
EOF
XPID= KPID=
cleanup() {
  [ -n "$KPID" ] && { kill -TERM -- "-$KPID" 2>/dev/null; for _ in $(seq 1 30); do kill -0 "$KPID" 2>/dev/null || break; sleep 0.1; done; kill -KILL -- "-$KPID" 2>/dev/null; wait "$KPID" 2>/dev/null; }
  [ -n "$XPID" ] && { kill -TERM -- "-$XPID" 2>/dev/null; wait "$XPID" 2>/dev/null; }
  rm -rf "$KH"
}
trap cleanup EXIT
# Kodi dumps a large core file when it is stopped: none.
ulimit -c 0
cd "$KH" || exit 1
setsid Xvfb "$DISP" -screen 0 1280x720x24 -nolisten tcp >/dev/null 2>&1 &
XPID=$!
sleep 1
HOME=$KH DISPLAY=$DISP setsid kodi --standalone >"$KH/kodi.out" 2>&1 &
KPID=$!
rpc() { curl -s -m 10 -H 'Content-Type: application/json' -d "$1" "http://127.0.0.1:$RPCPORT/jsonrpc"; }
for _ in $(seq 1 60); do rpc '{"jsonrpc":"2.0","id":0,"method":"JSONRPC.Ping"}' | grep -q pong && break; sleep 1; done
rpc '{"jsonrpc":"2.0","id":0,"method":"JSONRPC.Ping"}' | grep -q pong || { echo "Kodi's JSON-RPC did not answer"; tail -n 5 "$KH/kodi.out"; exit 1; }
rpc '{"jsonrpc":"2.0","id":1,"method":"Addons.SetAddonEnabled","params":{"addonid":"inputstream.ffmpegdirect","enabled":true}}' >/dev/null
rpc '{"jsonrpc":"2.0","id":2,"method":"Addons.SetAddonEnabled","params":{"addonid":"pvr.iptvsimple","enabled":true}}' >/dev/null
channels() { rpc '{"jsonrpc":"2.0","id":3,"method":"PVR.GetChannels","params":{"channelgroupid":"alltv","properties":["channelnumber","broadcastnow"]}}'; }
N=0 CH=
for _ in $(seq 1 40); do
  CH=$(channels); N=$(jq -r '.result.limits.total // 0' <<<"$CH" 2>/dev/null || echo 0)
  [ "${N:-0}" -gt 0 ] && break; sleep 1
done
NOW=
for _ in $(seq 1 20); do
  CH=$(channels); NOW=$(jq -r '.result.channels[0].broadcastnow.title // ""' <<<"$CH" 2>/dev/null)
  [ -n "$NOW" ] && break; sleep 1
done
GROUPS_=$(rpc '{"jsonrpc":"2.0","id":4,"method":"PVR.GetChannelGroups","params":{"channeltype":"tv"}}' | jq '.result.channelgroups | length')
CID=$(jq -r '.result.channels[0].channelid // empty' <<<"$CH" 2>/dev/null)
LABEL=$(jq -r '.result.channels[0].label // ""' <<<"$CH" 2>/dev/null)
VCODEC=
if [ -n "$CID" ]; then
  rpc "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"Player.Open\",\"params\":{\"item\":{\"channelid\":$CID}}}" >/dev/null
  for _ in $(seq 1 20); do
    VCODEC=$(rpc '{"jsonrpc":"2.0","id":6,"method":"Player.GetProperties","params":{"playerid":1,"properties":["currentvideostream"]}}' | jq -r '.result.currentvideostream.codec // ""')
    [ -n "$VCODEC" ] && break; sleep 1
  done
  rpc '{"jsonrpc":"2.0","id":7,"method":"Player.Stop","params":{"playerid":1}}' >/dev/null
fi
[ -n "$VCODEC" ] || grep -iE 'error|fail' "$KH/.kodi/temp/kodi.log" 2>/dev/null | tail -n 8
jq -nc --argjson n "${N:-0}" --argjson g "${GROUPS_:-0}" --arg now "$NOW" --arg ch "$LABEL" --arg v "$VCODEC" \
  '{channels: $n, groups: $g, first_channel: $ch, now_playing: $now, video_codec: $v}'
[ "${N:-0}" -gt 0 ] || { echo "Kodi loaded no channel from the M3U"; exit 1; }
[ -n "$NOW" ] || { echo "Kodi's guide has no programme now for $LABEL (XMLTV not loaded)"; exit 1; }
[ -n "$VCODEC" ] || { echo "Kodi did not play $LABEL"; exit 1; }
