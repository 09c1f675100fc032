#!/usr/bin/env python3
"""Paced player probe for bench/swap.sh: logins and playlist first bytes, until SIGTERM.

usage: swap_probe.py HOST PORT LOGIN_PATH PLAYLIST_PATH [LOGINS_PER_S [PLAYLISTS_PER_S]]
Each login is a whole request on a new connection (latency to the last byte of the small
answer); each playlist request is timed to the first byte of its body, then the connection is
dropped (TTFB, as a player sees the list start). Prints on SIGTERM:
  login_n=.. login_p50_ms=.. login_p99_ms=.. login_max_ms=.. playlist_n=.. ttfb_p50_ms=.. ttfb_p99_ms=.. ttfb_max_ms=.. errors=..
"""
import signal, socket, sys, threading, time

host, port, login_path, playlist_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
login_rate = float(sys.argv[5]) if len(sys.argv) > 5 else 50
playlist_rate = float(sys.argv[6]) if len(sys.argv) > 6 else 2
stop = threading.Event()
logins, ttfbs, errors = [], [], [0]


def request(path):
    s = socket.create_connection((host, port), timeout=30)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    return s


def login_once():
    t = time.perf_counter()
    s = request(login_path)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    if not data.startswith(b"HTTP/1.1 200") or b'"auth":1' not in data:
        errors[0] += 1
    return time.perf_counter() - t


def ttfb_once():
    t = time.perf_counter()
    s = request(playlist_path)
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) == 0:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    took = time.perf_counter() - t
    s.close()
    if not data.startswith(b"HTTP/1.1 200"):
        errors[0] += 1
    return took


def paced(rate, fn, out):
    period, next_at = 1 / rate, time.perf_counter()
    while not stop.is_set():
        try:
            out.append(fn())
        except OSError:
            errors[0] += 1
        next_at += period
        delay = next_at - time.perf_counter()
        if delay > 0:
            stop.wait(delay)
        else:
            next_at = time.perf_counter()


def pct(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] * 1000


signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
threads = [threading.Thread(target=paced, args=(login_rate, login_once, logins)),
           threading.Thread(target=paced, args=(playlist_rate, ttfb_once, ttfbs))]
for t in threads:
    t.start()
while not stop.is_set():
    stop.wait(0.2)
for t in threads:
    t.join()
print(f"login_n={len(logins)} login_p50_ms={pct(logins, .5):.2f} login_p99_ms={pct(logins, .99):.2f} "
      f"login_max_ms={pct(logins, 1):.2f} playlist_n={len(ttfbs)} ttfb_p50_ms={pct(ttfbs, .5):.2f} "
      f"ttfb_p99_ms={pct(ttfbs, .99):.2f} ttfb_max_ms={pct(ttfbs, 1):.2f} errors={errors[0]}")
