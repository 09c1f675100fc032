#!/usr/bin/env python3
"""B8's HLS viewers: N players of one live HLS channel, each on its own
keep-alive connection, polling the media playlist and fetching every new
segment once, as hls.js and Apple's player do (they start three segments
from the live edge and reload the playlist every target duration).

  live   --port P --paths FILE --viewers N --seconds S [--record DIR]
         FILE: one playlist path per line (a line each); viewer i takes line
         i mod count. --record DIR keeps one copy of every segment seen
         (DIR/seg/SEQ.ts), the time it first appeared (DIR/schedule.txt) and
         one playlist (DIR/live.m3u8), for the replay.
  replay --port P --dir DIR --viewers N --seconds S
         The same load on a static server (nginx) serving DIR: every viewer
         polls DIR/live.m3u8 as often and fetches DIR/seg/SEQ.ts when the
         live run saw segment SEQ appear.

Counts, after the first WARMUP seconds (every viewer started): bytes,
requests, segments, and viewers that fell behind the live window (a
segment they wanted was answered 404, or had left the playlist before they
got to it). Prints one JSON line. Only loopback.
"""

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time

WARMUP = 8.0


class Stats:
    def __init__(self):
        self.bytes = self.requests = self.segments = self.errors = 0
        self.behind = set()
        self.counting = False

    def add(self, n, segment=False):
        if self.counting:
            self.bytes += n
            self.requests += 1
            self.segments += int(segment)


class Conn:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1:port."""

    def __init__(self, port, ua):
        self.port, self.ua = port, ua
        self.r = self.w = None

    async def get(self, path):
        for attempt in (0, 1):
            try:
                if self.w is None:
                    self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)
                self.w.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
                             f"User-Agent: {self.ua}\r\nConnection: keep-alive\r\n\r\n".encode())
                head = await self.r.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if not m:
                    raise ConnectionError("no Content-Length")
                body = await self.r.readexactly(int(m.group(1)))
                return status, body, len(head) + len(body)
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                self.close()
                if attempt:
                    raise
        raise ConnectionError("unreachable")

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None


def parse(text):
    """(target, media sequence, [(seq, uri path)])"""
    target, seq, out = 4, 0, []
    for line in text.splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = int(line.split(":")[1])
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            seq = int(line.split(":")[1])
        elif line and not line.startswith("#"):
            path = re.sub(r"^https?://[^/]+", "", line)
            out.append((seq + len(out), path))
    return target, seq, out


async def live_viewer(i, args, path, stats, record, stop):
    conn = Conn(args.port, f"b8-viewer/{i}")
    await asyncio.sleep(random.random() * 4)
    last = None
    try:
        while time.monotonic() < stop:
            status, body, n = await conn.get(path)
            stats.add(n)
            if status != 200:
                stats.errors += 1
                await asyncio.sleep(1)
                continue
            target, first, entries = parse(body.decode())
            if record is not None and not record.get("playlist"):
                record["playlist"] = body
            if last is not None and last + 1 < first:
                stats.behind.add(i)  # what it wanted next has left the playlist
            start = last + 1 if last is not None else max(first, first + len(entries) - 3)
            for seq, seg in entries:
                if seq < start:
                    continue
                status, data, n = await conn.get(seg)
                stats.add(n, segment=True)
                if status == 404:
                    stats.behind.add(i)
                elif status != 200:
                    stats.errors += 1
                elif record is not None and seq not in record["seen"]:
                    record["seen"][seq] = time.monotonic()
                    with open(os.path.join(record["dir"], "seg", f"{seq}.ts"), "wb") as f:
                        f.write(data)
                last = seq
            await asyncio.sleep(target)
    finally:
        conn.close()


async def replay_viewer(i, args, schedule, t0, stats, stop, target):
    conn = Conn(args.port, f"b8-viewer/{i}")
    await asyncio.sleep(random.random() * 4)
    # Where a player joining now starts: three segments from the edge.
    now = time.monotonic() - t0
    available = [s for s, at in schedule if at <= now] or [schedule[0][0]]
    nxt = available[max(0, len(available) - 3)]
    try:
        while time.monotonic() < stop:
            status, _, n = await conn.get("/b8/live.m3u8")
            stats.add(n)
            now = time.monotonic() - t0
            for seq, at in schedule:
                if seq < nxt or at > now:
                    continue
                status, _, n = await conn.get(f"/b8/seg/{seq}.ts")
                stats.add(n, segment=True)
                if status != 200:
                    stats.errors += 1
                nxt = seq + 1
            await asyncio.sleep(target)
    finally:
        conn.close()


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["live", "replay"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--paths")
    ap.add_argument("--dir")
    ap.add_argument("--record")
    ap.add_argument("--viewers", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=40)
    args = ap.parse_args()
    random.seed(8)
    stats = Stats()
    t0 = time.monotonic()
    stop = t0 + WARMUP + args.seconds
    if args.mode == "live":
        paths = [p.strip() for p in open(args.paths) if p.strip()]
        record = None
        if args.record:
            os.makedirs(os.path.join(args.record, "seg"), exist_ok=True)
            record = {"dir": args.record, "seen": {}}
        tasks = [live_viewer(i, args, paths[i % len(paths)], stats, record, stop)
                 for i in range(args.viewers)]
    else:
        schedule = []
        for line in open(os.path.join(args.dir, "schedule.txt")):
            seq, at = line.split()
            schedule.append((int(seq), float(at)))
        target, _, _ = parse(open(os.path.join(args.dir, "live.m3u8")).read())
        tasks = [replay_viewer(i, args, schedule, t0, stats, stop, target)
                 for i in range(args.viewers)]

    async def count_after_warmup():
        await asyncio.sleep(WARMUP)
        stats.counting = True
        print(f"counting from now ({args.viewers} viewers)", file=sys.stderr, flush=True)

    results = await asyncio.gather(count_after_warmup(), *tasks, return_exceptions=True)
    failed = [r for r in results if isinstance(r, Exception)]
    if args.mode == "live" and record is not None:
        seen = sorted(record["seen"].items())
        with open(os.path.join(args.record, "schedule.txt"), "w") as f:
            for seq, at in seen:
                f.write(f"{seq} {at - t0:.3f}\n")
        with open(os.path.join(args.record, "live.m3u8"), "wb") as f:
            f.write(record.get("playlist", b""))
    print(json.dumps({
        "mode": args.mode, "viewers": args.viewers, "seconds": args.seconds,
        "bytes": stats.bytes, "requests": stats.requests, "segments": stats.segments,
        "behind": len(stats.behind), "errors": stats.errors, "failed_viewers": len(failed),
        "first_failure": repr(failed[0]) if failed else "",
    }))


if __name__ == "__main__":
    import resource
    # As many descriptors as the hard limit allows (raising it needs privileges some shells lack).
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(65536, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    asyncio.run(main())
