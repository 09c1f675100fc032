"""m3u-ipytv 1.0.2 parses the saved get.php (type=m3u_plus) answer; its result is
compared with iptv-playlist-parser's (JSON from m3u_playlist_parser.mjs) and with the
attributes as written on each #EXTINF line.

argv: M3U_FILE NODE_JSON_FILE XMLTV_FILE EXPECTED_ENTRIES
"""
import json
import re
import sys
import traceback
import xml.etree.ElementTree as ET

from ipytv import playlist

ATTRS = ("tvg-id", "tvg-name", "tvg-logo", "group-title")


def fail(msg):
    raise AssertionError(msg)


def main():
    m3u_file, node_file, xmltv_file, want = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with open(m3u_file, encoding="utf-8") as f:
        text = f.read()
    with open(node_file, encoding="utf-8") as f:
        node = json.load(f)

    # What is literally on each #EXTINF line (M3U has no escaping: name="value").
    # The attribute list runs from after the duration to the comma before the title.
    raw = []
    attr = re.compile(r'\s+([A-Za-z0-9_-]+)="([^"]*)"')
    for line in text.splitlines():
        if line.startswith("#EXTINF:"):
            m = re.match(r"#EXTINF:-?\d+(?:\.\d+)?", line)
            pos, found = (m.end() if m else len(line)), {}
            while (a := attr.match(line, pos)):
                found[a.group(1)] = a.group(2)
                pos = a.end()
            if not line[pos:].startswith(","):
                fail(f"#EXTINF line not of the form '#EXTINF:-1 k=\"v\" ...,title': {line!r}")
            raw.append(found)

    pl = playlist.loadf(m3u_file)
    py = [{"name": c.name, "url": c.url, **{a: c.attributes.get(a) for a in ATTRS}} for c in pl.get_channels()]

    counts = {"#EXTINF lines": len(raw), "m3u-ipytv": len(py), "iptv-playlist-parser": len(node["items"])}
    if set(counts.values()) != {want}:
        fail(f"entry counts {counts}, want {want} each")

    for i, (r, p, n) in enumerate(zip(raw, py, node["items"])):
        for a in ATTRS:
            if a not in r:
                fail(f"entry {i} ({p['name']!r}) has no {a} attribute: {json.dumps(r)}")
            if not (r[a] == p[a] == n[a]):
                fail(f"entry {i} {a}: line {r[a]!r}, m3u-ipytv {p[a]!r}, iptv-playlist-parser {n[a]!r}")
        if p["name"] != n["name"] or p["url"] != n["url"]:
            fail(f"entry {i}: m3u-ipytv ({p['name']!r}, {p['url']!r}) != "
                 f"iptv-playlist-parser ({n['name']!r}, {n['url']!r})")
        if not p["name"] or not r["tvg-name"] or not r["group-title"]:
            fail(f"entry {i}: empty name/tvg-name/group-title: {json.dumps(r)}")
        if not re.match(r"^https?://", p["url"] or ""):
            fail(f"entry {i}: URL {p['url']!r} is not http(s)")

    # Header: x-tvg-url, seen the same by both parsers.
    head_py = pl.get_attributes()
    tvg_url = head_py.get("x-tvg-url")
    if not tvg_url or "xmltv.php" not in tvg_url:
        fail(f"#EXTM3U header lacks an x-tvg-url to xmltv.php: m3u-ipytv header {json.dumps(head_py)}")
    if node["header"].get("x-tvg-url") != tvg_url:
        fail(f"x-tvg-url: m3u-ipytv {tvg_url!r}, iptv-playlist-parser {node['header'].get('x-tvg-url')!r}")

    # Live entries' tvg-id must name a <channel id> of the guide.
    guide_ids = {c.get("id") for c in ET.parse(xmltv_file).getroot().iter("channel")}
    live = [p for p in py if "/live/" in p["url"]]
    if len(live) != 4:
        fail(f"{len(live)} /live/ entries, want 4")
    orphans = [p["tvg-id"] for p in live if p["tvg-id"] not in guide_ids]
    if orphans:
        fail(f"live tvg-id(s) {orphans} are not channel ids of xmltv.php ({sorted(guide_ids)})")
    print(json.dumps({"entries": len(py), "x-tvg-url": tvg_url, "first": py[0]}))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        traceback.print_exc()
        print(f"{type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
