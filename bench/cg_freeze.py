"""Freezes the B2 upstream at a fixed point of a GOP (bench/callgrind_sessions.sh).

usage: cg_freeze.py PORT PATH AFTER UPSTREAM_PID
Reads the live stream from tvgate (chunked), finds a video keyframe (a packet of pid 0x100, the
clip's video, with payload_unit_start and random_access_indicator) and SIGSTOPs the upstream once
AFTER bytes past it have arrived: the hub's join burst is then that keyframe's GOP of about AFTER
bytes (within one upstream chunk) in every run.
"""
import os
import signal
import socket
import sys

port, path, after, up = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
s = socket.create_connection(("127.0.0.1", port))
s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: cg/freeze\r\n"
          "Connection: close\r\n\r\n".encode())
raw = b""
while b"\r\n\r\n" not in raw:
    d = s.recv(65536)
    if not d:
        sys.exit("no answer")
    raw += d
raw = raw.split(b"\r\n\r\n", 1)[1]
ts = b""
done = 0  # de-chunked bytes scanned
key_at = None
while True:
    while b"\r\n" in raw:
        size_line, rest = raw.split(b"\r\n", 1)
        n = int(size_line, 16)
        if len(rest) < n + 2:
            break
        ts += rest[:n]
        raw = rest[n + 2:]
    whole = len(ts) // 188 * 188
    if key_at is None:
        for i in range(0, whole, 188):
            p = ts[i:i + 188]
            pid = ((p[1] & 0x1F) << 8) | p[2]
            if (p[0] == 0x47 and pid == 0x100 and p[1] & 0x40 and (p[3] >> 4) & 2
                    and p[4] > 0 and p[5] & 0x40):
                key_at = done + i
                break
    done += whole
    ts = ts[whole:]
    if key_at is not None and done - key_at >= after:
        os.kill(up, signal.SIGSTOP)
        s.close()
        print(f"frozen {done - key_at} bytes after a keyframe")
        sys.exit(0)
    d = s.recv(262144)
    if not d:
        sys.exit("stream ended")
    raw += d
