# Attributes `perf script` samples (recorded with --call-graph dwarf) to the nearest
# frame of tvgate's own crates, so library and kernel time is charged to the tvgate
# function that caused it. usage: perf script -i FILE | python3 perf_attrib.py [TOP]
import sys, re, collections
top = int(sys.argv[1]) if len(sys.argv) > 1 else 25
OWN = re.compile(r"\btvgate(_\w+)?::")
by_own, by_pair, total = collections.Counter(), collections.Counter(), 0
def flush(frames):
    global total
    if not frames: return
    total += 1
    leaf = frames[0]
    own = next((f for f in frames if OWN.search(f)), "(no tvgate frame: runtime/hyper/kernel)")
    by_own[own] += 1
    by_pair[(own, leaf)] += 1
frames = []
for line in sys.stdin:
    s = line.strip()
    if not s:
        flush(frames); frames = []; continue
    if line[0] not in " \t":  # sample header
        flush(frames); frames = []; continue
    parts = s.split(None, 1)
    if len(parts) == 2:
        sym = re.sub(r"\+0x[0-9a-f]+$", "", parts[1].split(" (")[0])
        frames.append(sym)
flush(frames)
short = lambda s: (s[:150] + "...") if len(s) > 150 else s
print(f"{total} samples; by nearest tvgate frame:")
for k, v in by_own.most_common(top):
    print(f"  {100 * v / total:5.1f}%  {short(k)}")
print("by (nearest tvgate frame, leaf):")
for (o, l), v in by_pair.most_common(top):
    print(f"  {100 * v / total:5.1f}%  {short(o)}  <-  {short(l)}")
