#!/usr/bin/env python3
"""HLS slot release timing (stdlib only, loopback only): a line with max_connections=1 watches a
proxied HLS channel; the viewer simply stops asking (an HLS viewer has no socket to watch), and a
new viewer (another player: its own User-Agent) tries the playlist every --interval s until it is
admitted. The release time is measured from the last request of the old viewer to the admission
of the new one; it should be the configured idle window (TVGATE_HLS_IDLE_WINDOW_SECS) plus at
most the polling interval and the admission wait.

Each cycle: the holder fetches the playlist and its first segment --plays times, --gap s apart
(renewing its lease), then stops; a probe made right away must be refused; then the next player
polls. The admitted player becomes the next cycle's holder.

usage: release_hls.py --base http://127.0.0.1:PORT --path /live/U/P/ID.m3u8 --window S [--reps N]
"""
import argparse
import json
import statistics
import time
import urllib.error
import urllib.request
from urllib.parse import urljoin


def get(url, agent, timeout=10.0):
    req = urllib.request.Request(url, headers={"User-Agent": agent})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def play(base, path, agent, plays, gap):
    """Reload the playlist and fetch its first segment PLAYS times; time of the last request."""
    last = None
    for i in range(plays):
        st, body = get(base + path, agent)
        if st != 200:
            raise SystemExit(f"holder {agent} got {st} on playlist reload {i}")
        uris = [l for l in body.decode("utf-8", "replace").splitlines() if l and not l.startswith("#")]
        if uris:
            sst, seg = get(urljoin(base + path, uris[0]), agent)
            if sst != 200 or not seg or seg[0] != 0x47:
                raise SystemExit(f"holder {agent}: segment answer {sst}, first byte {seg[:1]!r}")
        last = time.monotonic()
        if i + 1 < plays:
            time.sleep(gap)
    return last


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True)
    ap.add_argument("--path", required=True)
    ap.add_argument("--window", type=float, required=True)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--interval", type=float, default=0.1)
    ap.add_argument("--plays", type=int, default=3)
    ap.add_argument("--gap", type=float, default=0.5)
    ap.add_argument("--max-wait", type=float, default=60)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    # the first holder
    agent = "hls-player-0"
    st, _ = get(a.base + a.path, agent)
    if st != 200:
        raise SystemExit(f"first viewer refused: {st}")
    releases, refused_during = [], []
    for rep in range(a.reps):
        t_last = play(a.base, a.path, agent, a.plays, a.gap)
        nxt = f"hls-player-{rep + 1}"
        st, _ = get(a.base + a.path, nxt)
        refused_during.append(st)
        if st == 200:
            print(f"cycle {rep}: second player admitted while the first was live (status 200)")
            releases.append(0.0)
            agent = nxt
            continue
        while True:
            st, _ = get(a.base + a.path, nxt)
            now = time.monotonic()
            if st == 200:
                releases.append(now - t_last)
                break
            if now - t_last > a.max_wait:
                raise SystemExit(f"cycle {rep}: not admitted within {a.max_wait} s (last {st})")
            time.sleep(a.interval)
        print(f"cycle {rep}: refused while live with {refused_during[-1]}, released after {releases[-1]:.3f} s")
        agent = nxt
    s = sorted(releases)
    p99 = s[min(len(s) - 1, int(round(0.99 * (len(s) - 1))))]
    out = {"window_s": a.window, "reps": a.reps, "release_s": [round(x, 3) for x in releases],
           "median_s": round(statistics.median(s), 3), "min_s": round(s[0], 3), "max_s": round(s[-1], 3),
           "p99_s": round(p99, 3), "refused_while_live": refused_during,
           "within_window_plus_1s": all(x <= a.window + 1.0 for x in releases),
           "not_before_window_minus_1s": all(x >= a.window - 1.0 for x in releases)}  # lease times are whole seconds
    print(json.dumps(out))
    if a.json:
        json.dump(out, open(a.json, "w"))


if __name__ == "__main__":
    main()
