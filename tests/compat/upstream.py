#!/usr/bin/env python3
"""A stand-in IPTV provider for the compatibility suite (stdlib only, loopback only).

tvgate proxies real sources; the players in run.sh must see that work, so this
plays the provider behind tvgate:

  GET /live/<n>.ts        endless MPEG-TS: the clip looped, paced at its own bitrate
  GET /hls/live.m3u8      a live HLS window (6 segments) sliding over the clip's
                          segments by the wall clock, with DISCONTINUITY at loop points
  GET /hls/<segment>.ts   one segment
  GET /movie/<n>.mp4      the clip as MP4, with HEAD and byte ranges (206 / 416)
  GET /stats              JSON: connections per path kind, live streams open now

Usage: upstream.py --dir DIR --clip CLIP.ts --seconds S [--port 0]
DIR holds seg000.ts... (cut by ffmpeg's hls muxer) and movie.mp4. The chosen
port is printed on stdout as the first line (`port N`).
"""
import argparse
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TS = 188
STATS = {"connections": {}, "live_open": 0}
LOCK = threading.Lock()


def count(kind, delta_open=0):
    with LOCK:
        STATS["connections"][kind] = STATS["connections"].get(kind, 0) + 1
        STATS["live_open"] += delta_open


class Provider(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    cfg = None  # set in main

    def log_message(self, fmt, *args):  # quiet: run.sh keeps its own logs
        pass

    def send_plain(self, code, text, extra=None):
        body = (text + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path == "/stats":
            count("stats")
            with LOCK:
                body = json.dumps(STATS)
            return self.send_plain(200, body)
        if re.fullmatch(r"/live/\d+\.ts", path):
            return self.live_ts()
        if path == "/hls/live.m3u8":
            count("hls_playlist")
            return self.hls_playlist()
        m = re.fullmatch(r"/hls/(seg\d+\.ts)", path)
        if m:
            count("hls_segment")
            return self.file(os.path.join(self.cfg.dir, m.group(1)), "video/mp2t")
        if re.fullmatch(r"/movie/\d+\.mp4", path):
            count("movie_" + self.command.lower())
            return self.file(os.path.join(self.cfg.dir, "movie.mp4"), "video/mp4")
        self.send_plain(404, "no such path")

    def live_ts(self):
        count("live", 1)
        try:
            self.send_response(200)
            self.send_header("Content-Type", "video/mp2t")
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command == "HEAD":
                return
            clip = self.cfg.clip_bytes
            rate = len(clip) / self.cfg.seconds  # bytes per second
            tick = 0.05
            per_tick = max(TS, int(rate * tick) // TS * TS)
            pos, started, sent = 0, time.monotonic(), 0
            while True:
                # Send what the wall clock says is due, in whole packets.
                due = int((time.monotonic() - started) * rate) + per_tick
                while sent < due:
                    piece = clip[pos:pos + per_tick]
                    self.wfile.write(piece)
                    sent += len(piece)
                    pos = (pos + len(piece)) % len(clip)
                time.sleep(tick)
        except (BrokenPipeError, ConnectionResetError, OSError):
            pass
        finally:
            count("live_closed", -1)
            self.close_connection = True

    def hls_playlist(self):
        segs, durs = self.cfg.segments, self.cfg.durations
        total = sum(durs)
        now = time.time()
        loops, into = divmod(now, total)
        # Index of the segment being "recorded" now; the window ends before it.
        acc, cur = 0.0, 0
        for i, d in enumerate(durs):
            if acc + d > into:
                cur = i
                break
            acc += d
        absolute = int(loops) * len(segs) + cur
        window = 6
        first = max(0, absolute - window)
        target = int(max(durs) + 0.999)
        lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}",
                 f"#EXT-X-MEDIA-SEQUENCE:{first}"]
        for n in range(first, absolute):
            i = n % len(segs)
            if i == 0 and n != first:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f"#EXTINF:{durs[i]:.3f},")
            lines.append(segs[i])
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.apple.mpegurl")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def file(self, path, ctype):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            return self.send_plain(404, "missing file")
        size = len(data)
        start, end, code = 0, size - 1, 200
        rng = self.headers.get("Range")
        if rng:
            m = re.fullmatch(r"bytes=(\d*)-(\d*)", rng.strip())
            if not m or (m.group(1) == "" and m.group(2) == ""):
                return self.send_plain(416, "bad range", {"Content-Range": f"bytes */{size}"})
            if m.group(1) == "":
                start = max(0, size - int(m.group(2)))
            else:
                start = int(m.group(1))
                if m.group(2):
                    end = min(end, int(m.group(2)))
            if start >= size or start > end:
                return self.send_plain(416, "range not satisfiable", {"Content-Range": f"bytes */{size}"})
            code = 206
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if code == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(data[start:end + 1])
            except (BrokenPipeError, ConnectionResetError):
                pass


def segment_table(directory):
    """(names, durations) from the VOD playlist ffmpeg wrote next to the segments."""
    names, durs = [], []
    with open(os.path.join(directory, "index.m3u8")) as f:
        dur = None
        for line in f:
            line = line.strip()
            if line.startswith("#EXTINF:"):
                dur = float(line[8:].split(",")[0])
            elif line and not line.startswith("#") and dur is not None:
                names.append(line)
                durs.append(dur)
                dur = None
    if not names:
        sys.exit("upstream.py: no segments in index.m3u8")
    return names, durs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--clip", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--port", type=int, default=0)
    cfg = ap.parse_args()
    with open(cfg.clip, "rb") as f:
        cfg.clip_bytes = f.read()
    cfg.segments, cfg.durations = segment_table(cfg.dir)
    Provider.cfg = cfg
    server = ThreadingHTTPServer(("127.0.0.1", cfg.port), Provider)
    server.daemon_threads = True
    print(f"port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
