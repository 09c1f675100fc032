# Samples VmRSS of PID every INTERVAL_MS until SIGTERM/SIGINT (or the process exits),
# then prints "rss_min_kb=.. rss_max_kb=.. samples=..".
# usage: rsspeak.py PID [INTERVAL_MS [READY_FILE]]  (READY_FILE is created once sampling runs)
import signal, sys, time
pid = int(sys.argv[1]); iv = (float(sys.argv[2]) if len(sys.argv) > 2 else 10) / 1000
lo, hi, n = None, 0, 0
stop = False
def on_sig(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_sig); signal.signal(signal.SIGINT, on_sig)
if len(sys.argv) > 3:
    open(sys.argv[3], "w").close()
while not stop:
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                v = int(line.split()[1]); hi = max(hi, v); lo = v if lo is None else min(lo, v); n += 1
                break
    except OSError:
        break
    time.sleep(iv)
print(f"rss_min_kb={lo} rss_max_kb={hi} samples={n}", flush=True)
