"""pyxtream 0.8.0 reading a catalog tvgate imported from an upstream Xtream account.

argv: RESELLER USERNAME PASSWORD CACHE_DIR EXPECTED_JSON
RESELLER is a second tvgate whose only source is the demo's line as an Xtream
account (`tvgate source add xtream`); EXPECTED_JSON is what the demo itself
lists ({"channels": [names], "movies": [names], "series": [names]}), read with
curl. pyxtream must find the same names through the reseller, the series'
episodes, and a live URL it builds must start with MPEG-TS sync bytes.

Work-around: pyxtream 0.8.0 crashes on `exp_date: null` (a line that never
expires: `int(user_info["exp_date"])` raises TypeError at login), so the reseller's line
is given an expiry date by run.sh. That is pyxtream's bug, not tvgate's: real
panels send null for unlimited lines too.
Prints a JSON summary on success; on failure the last line of stderr is the reason.
"""
import json
import sys
import traceback
import urllib.request

import pyxtream.pyxtream as px


def fail(msg):
    raise AssertionError(msg)


def main():
    server, user, password, cache, expected = sys.argv[1:6]
    want = json.loads(expected)
    x = px.XTream("reseller", user, password, server, cache_path=cache,
                  reload_time_sec=-1, validate_json=False)
    if not x.state["authenticated"]:
        fail("not authenticated at the reseller")
    if not x.load_iptv():
        fail("load_iptv() returned False")
    got = {
        "channels": sorted(c.name for c in x.channels),
        "movies": sorted(m.name for m in x.movies),
        "series": sorted(s.name for s in x.series),
    }
    for key in ("channels", "movies", "series"):
        if got[key] != sorted(want[key]):
            fail(f"{key}: the reseller lists {got[key]}, the provider {sorted(want[key])}")
    episodes = 0
    for serie in x.series:
        x.get_series_info_by_id(serie)
        episodes += sum(len(s.episodes) for s in serie.seasons.values())
    if episodes == 0:
        fail("no episodes through the reseller")
    # A live channel through the reseller, which relays it from the provider.
    ch = next((c for c in x.channels if c.url.startswith(server)), None)
    if ch is None:
        fail(f"no channel URL on the reseller ({server})")
    with urllib.request.urlopen(ch.url, timeout=20) as r:
        head = r.read(188 * 3)
    if len(head) < 188 * 3 or head[0] != 0x47 or head[188] != 0x47:
        fail(f"{ch.name!r} ({ch.url}) does not start with TS packets: {head[:16].hex()}")
    print(json.dumps({**{k: len(v) for k, v in got.items()}, "episodes": episodes, "played": ch.name}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # the last stderr line is the check's reason
        traceback.print_exc()
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
