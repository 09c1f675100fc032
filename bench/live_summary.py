#!/usr/bin/env python3
"""Summarises the records of the live benchmarks (b4_fanout.sh, b4f_join.sh).

Records are lines "LABEL key=value ..." where LABEL is "server:nN:pairP" (server = tvgate|nginx).
For every N: the per-pair tvgate/nginx ratios of the given metrics, their median, and the median
of the absolute figures of each server. Pairs with bg > 0.25 core are flagged and, when that
changes the answer, also summarised without them.

usage: live_summary.py RESULTS METRIC [METRIC...]
"""
import statistics
import sys
from collections import defaultdict


def load(path):
    recs = []
    for line in open(path):
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        label = parts[0].split(":")
        if len(label) != 3:
            continue
        kv = {}
        for p in parts[1:]:
            if "=" in p:
                k, v = p.split("=", 1)
                try:
                    kv[k] = float(v)
                except ValueError:
                    kv[k] = v
        recs.append((label[0], label[1], label[2], kv))
    return recs


def main():
    path, metrics = sys.argv[1], sys.argv[2:]
    recs = load(path)
    by = defaultdict(dict)
    for server, n, pair, kv in recs:
        by[n].setdefault(pair, {})[server] = kv
    for n in sorted(by, key=lambda s: int(s.lstrip("n")) if s.lstrip("n").isdigit() else 0):
        pairs = by[n]
        print(f"== {n}")
        for m in metrics:
            rows, clean = [], []
            for pair in sorted(pairs):
                p = pairs[pair]
                if "tvgate" not in p or "nginx" not in p:
                    continue
                a, b = p["tvgate"].get(m), p["nginx"].get(m)
                if not isinstance(a, float) or not isinstance(b, float):
                    continue
                bg = max(p["tvgate"].get("bg", 0), p["nginx"].get("bg", 0))
                r = a / b if b else float("nan")
                rows.append((pair, a, b, r, bg))
                if bg <= 0.25:
                    clean.append(r)
            if not rows:
                continue
            ratios = [r for _, _, _, r, _ in rows]
            detail = " ".join(f"{pair}:{a:.4g}/{b:.4g}={r:.2f}{'(bg%.2f!)' % bg if bg > 0.25 else ''}"
                              for pair, a, b, r, bg in rows)
            line = (f"  {m}: tvgate median {statistics.median([a for _, a, _, _, _ in rows]):.4g}, "
                    f"nginx median {statistics.median([b for _, _, b, _, _ in rows]):.4g}, "
                    f"ratio median {statistics.median(ratios):.2f} [{detail}]")
            if clean and len(clean) != len(ratios):
                line += f"; without bg>0.25 pairs: {statistics.median(clean):.2f} ({len(clean)} pairs)"
            elif not clean:
                line += "; every pair had bg > 0.25 core (noisy)"
            print(line)


if __name__ == "__main__":
    main()
