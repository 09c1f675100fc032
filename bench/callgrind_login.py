#!/usr/bin/env python3
"""Sends player_api.php logins over one kept-alive connection (bench/callgrind_login.sh).

usage: callgrind_login.py HOST:PORT FIRST COUNT good|bad [ROTATE]
Logs in lines u<FIRST>.. (rotating over ROTATE lines from FIRST, default COUNT) COUNT times and
checks every answer: good passwords must get "auth":1, wrong ones a 401-class refusal."""
import http.client
import sys

host, port = sys.argv[1].rsplit(":", 1)
first, count, kind = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rotate = int(sys.argv[5]) if len(sys.argv) > 5 else count
conn = http.client.HTTPConnection(host, int(port), timeout=600)
for k in range(count):
    i = first + k % rotate
    pw = f"pw{i}-bench" if kind == "good" else f"wrong{i}-bench"
    conn.request("GET", f"/player_api.php?username=u{i:06d}&password={pw}")
    resp = conn.getresponse()
    body = resp.read()
    if kind == "good" and (resp.status != 200 or b'"auth":1' not in body):
        sys.exit(f"login {i} failed: {resp.status} {body[:200]!r}")
    if kind == "bad" and resp.status == 200 and b'"auth":1' in body:
        sys.exit(f"wrong password {i} accepted")
conn.close()
