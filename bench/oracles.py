"""Times unknown-user and wrong-password answers face by face (bench/oracles.sh).

Usage: oracles.py HOST:PORT N REVOKED_TOKEN. One kept-alive connection, the two kinds
interleaved in a shuffled (seeded) order, each request timed with perf_counter_ns."""
import http.client
import json
import random
import statistics
import sys
import time
import urllib.parse

host, n, revoked = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(17)
conn = http.client.HTTPConnection(host, timeout=30)


def send(method, path, body=None, headers=None):
    h = {"Host": host}
    h.update(headers or {})
    if body is not None:
        h["Content-Type"] = "application/x-www-form-urlencoded"
    t0 = time.perf_counter_ns()
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    return time.perf_counter_ns() - t0, r, data


def stalker_token():
    _, _, data = send("GET", "/stalker_portal/server/load.php?type=stb&action=handshake&token=&JsHttpRequest=1-xml",
                      headers={"Cookie": "mac=00:1A:79:00:00:01"})
    return json.loads(data)["js"]["token"]


def portal_form():
    _, r, data = send("GET", "/portal/")
    cookie = r.getheader("set-cookie").split(";")[0]
    token = data.decode().split('name="csrf" value="')[1].split('"')[0]
    return cookie, token


q = urllib.parse.quote
faces = {}
# The reference: both kinds send the very same request (a wrong password), so any
# difference here is the measurement's own.
faces["control (A/A)"] = lambda u, p: ("GET", "/player_api.php?username=real-user&password=wrong-pw-1", None, {})
faces["player_api.php"] = lambda u, p: ("GET", f"/player_api.php?username={q(u)}&password={q(p)}", None, {})
faces["get.php"] = lambda u, p: ("GET", f"/get.php?username={q(u)}&password={q(p)}&type=m3u_plus", None, {})
cookie, csrf = portal_form()
faces["portal login"] = lambda u, p: ("POST", "/portal/login",
                                      urllib.parse.urlencode({"username": u, "password": p, "csrf": csrf}),
                                      {"Cookie": cookie})
faces["console login"] = lambda u, p: ("POST", "/admin/login",
                                       urllib.parse.urlencode({"name": "olga" if u == "real-user" else "olgx",
                                                               "password": p}), {})
stb = stalker_token()
faces["stalker do_auth"] = lambda u, p: (
    "GET", f"/stalker_portal/server/load.php?type=stb&action=do_auth&login={q(u)}&password={q(p)}&JsHttpRequest=1-xml",
    None, {"Cookie": "mac=00:1A:79:00:00:01", "Authorization": f"Bearer {stb}"})
unknown_token = revoked[:-4] + ("AAAA" if revoked[-4:] != "AAAA" else "BBBB")
faces["API token"] = lambda u, p: ("GET", "/api/v1/lines", None,
                                   {"Authorization": "Bearer " + (unknown_token if u == "real-usex" else revoked)})

print(f"{'face':<18} {'unknown µs':>11} {'wrong µs':>9} {'diff µs':>8} {'noise µs':>9}  verdict  (same bytes)")
for name, make in faces.items():
    kinds = ["unknown"] * n + ["wrong"] * n
    rng.shuffle(kinds)
    times = {"unknown": [], "wrong": []}
    bodies = {}
    for i in range(50):  # warm-up, not counted
        send(*make("real-user", "wrong-pw-1"))
    for k in kinds:
        # Same lengths, same password: only whether the user exists differs.
        user, pw = ("real-usex", "wrong-pw-1") if k == "unknown" else ("real-user", "wrong-pw-1")
        ns, r, data = send(*make(user, pw))
        times[k].append(ns / 1000)
        bodies.setdefault(k, (r.status, data))
    med = {k: statistics.median(v) for k, v in times.items()}
    diff = med["unknown"] - med["wrong"]
    noise = 0.0
    for k, v in times.items():
        for _ in range(20):
            s = v[:]
            rng.shuffle(s)
            half = len(s) // 2
            noise = max(noise, abs(statistics.median(s[:half]) - statistics.median(s[half:])))
    verdict = "same" if abs(diff) <= noise else "DIFFERS"
    same = bodies["unknown"] == bodies["wrong"]
    print(f"{name:<18} {med['unknown']:>11.1f} {med['wrong']:>9.1f} {diff:>+8.1f} {noise:>9.1f}  {verdict:<7}  {same} ({bodies['wrong'][0]})")
