# Background CPU: cores used by processes that are NOT the benchmark.
# Like ../shared/bench/bg.py, but the benchmark is identified by process ancestry
# (every descendant of ROOT_PID, i.e. the bench script, its servers and clients)
# instead of by name, so a concurrent `cargo test` running another tvgate still counts.
# usage: bgload.py SECONDS ROOT_PID   -> "bg=X.XXcores (top: comm:cores, ...)"
import os, sys, time
CLK = os.sysconf("SC_CLK_TCK")
ME = os.getpid()
def snap():
    d, parent = {}, {}
    for p in os.listdir("/proc"):
        if not p.isdigit(): continue
        try:
            s = open(f"/proc/{p}/stat").read()
            comm = s[s.index("(") + 1:s.rindex(")")]
            f = s[s.rindex(")") + 2:].split()
            parent[int(p)] = int(f[1])
            d[int(p)] = (comm, int(f[11]) + int(f[12]))
        except Exception:
            pass
    return d, parent
def ours(pid, parent, root):
    for _ in range(64):
        if pid in (root, ME): return True
        pid = parent.get(pid, 0)
        if pid <= 1: return False
    return False
sec, root = float(sys.argv[1]), int(sys.argv[2])
a, _ = snap(); time.sleep(sec); b, parent = snap()
tot, per = 0, {}
for p, (c, t) in b.items():
    if ours(p, parent, root): continue
    dt = t - a[p][1] if p in a else t
    if dt > 0:
        tot += dt; per[c] = per.get(c, 0) + dt
top = sorted(per.items(), key=lambda x: -x[1])[:4]
print(f"bg={tot / CLK / sec:.2f}cores ({', '.join(f'{c}:{t / CLK / sec:.2f}' for c, t in top)})")
