# Per-pair ratios (A/B) and their medians from a results file written by bench/lib.sh measure().
# usage: pairs.py RESULTS LABEL_A LABEL_B   (records are labelled LABEL:pairN)
import sys, statistics
path, A, B = sys.argv[1], sys.argv[2], sys.argv[3]
rec = {}
for line in open(path):
    f = line.split()
    if not f or ":pair" not in f[0]: continue
    label, pair = f[0].split(":pair")
    rec.setdefault(pair, {})[label] = dict(x.split("=", 1) for x in f[1:] if "=" in x)
metrics = [("rps", "req/s"), ("bps", "bytes/s"), ("cpu_us_per_req", "CPU/req"), ("p99_ms", "p99")]
ratios = {m: [] for m, _ in metrics}
clean = {m: [] for m, _ in metrics}
print(f"pair  {'metric':8} {A:>14} {B:>14}  ratio   bg({A}/{B})")
for pair in sorted(rec, key=int):
    a, b = rec[pair].get(A), rec[pair].get(B)
    if not a or not b: continue
    flag = max(float(a["bg"]), float(b["bg"])) > 0.25
    for m, name in metrics:
        x, y = float(a[m]), float(b[m])
        r = x / y if y else float("nan")
        ratios[m].append(r)
        if not flag: clean[m].append(r)
        print(f"{pair:>4}  {name:8} {x:14.2f} {y:14.2f}  {r:5.2f}   {a['bg']}/{b['bg']}{'  (bg>0.25: flagged)' if flag else ''}")
print(f"median of per-pair ratios {A}/{B} over {len(ratios['rps'])} pairs:")
for m, name in metrics:
    v = ratios[m]
    c = clean[m]
    print(f"  {name:8} {statistics.median(v):.2f}  (range {min(v):.2f}-{max(v):.2f})" +
          (f"; over {len(c)} unflagged pairs {statistics.median(c):.2f}" if c and len(c) != len(v) else "") if v else f"  {name}: n/a")
for L in (A, B):
    rows = [rec[p][L] for p in rec if L in rec[p]]
    if rows:
        med = lambda k: statistics.median(float(r[k]) for r in rows)
        print(f"  {L}: median rps {med('rps'):.0f}, bytes/s {med('bps')/1e6:.1f} MB/s, CPU/req {med('cpu_us_per_req'):.2f} us, "
              f"busy {med('busy'):.2f} core, p99 {med('p99_ms'):.2f} ms, bg {med('bg'):.2f}")
