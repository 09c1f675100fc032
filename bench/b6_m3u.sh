#!/usr/bin/env bash
# B6 (issue 13): M3U ingest of a 1,000,000-entry playlist (gen_scale.py, ~217 MB).
#   reference: tvgate-formats' M3U reader alone over the file in memory (examples/throughput m3u,
#              best of 3, CPU time) and a naive memchr-level bound (perf.md A18: 1.3-2.3 GB/s)
#   import:    `tvgate source add m3u FILE` into an empty data dir (parse, plan, store in SQLite,
#              build the catalog), CPU time (user+sys) and peak RSS of the whole process
#   resident:  `tvgate serve` on the imported dir vs on an empty dir, RSS 3 s after ready,
#              divided by the entries
# Targets: >= 300 MB/s per core into the store; <= 300 bytes resident per entry.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scale_lib.sh"
ensure_binary; ensure_throughput; bench_lock
results_file b6_m3u
FILE=$(scale_m3u 1); BYTES=$(stat -c %s "$FILE")
{
echo "# B6 M3U ingest: $(date -Is); $(bin_info); $FILE ($BYTES bytes, $SCALE_ENTRIES entries); bg $(bg_measure 3)"
REF=$(taskset -c "$SERVER_CPU" "$THROUGHPUT_BIN" m3u "$FILE" 3)
echo "reference (reader only): $REF"
REF_MBS=$(sed -n 's/.*= \([0-9]*\) MB\/s per core.*/\1/p' <<<"$REF")
DIR="$BENCH_WORK/b6-data"; rm -rf "$DIR"; mkdir -p "$DIR"
R=$(rusage "$TVGATE_BIN" source add m3u "$FILE" --name b6 --data-dir "$DIR")
CPU=$(kv cpu_s "$R")
echo "import: $R; $(tail -1 "$BENCH_WORK/rusage.out")"
awk -v b="$BYTES" -v c="$CPU" -v r="$REF_MBS" -v n="$SCALE_ENTRIES" \
    'BEGIN { mbs = b / 1e6 / c; printf "ingest: %.0f MB/s per core (%.0f k entries/s per core); %.2fx the reader alone (%s MB/s); target >= 300 MB/s\n", mbs, n / c / 1000, mbs / r, r }'
EMPTY="$BENCH_WORK/b6-empty"; rm -rf "$EMPTY"; mkdir -p "$EMPTY"
declare -A RSS
for d in "$EMPTY" "$DIR"; do
    PORT=$(free_port); start_tvgate "$d" "$PORT" "$BENCH_WORK/b6-serve.log"
    sleep 3; RSS[$d]=$(rss_kb "$TVGATE_PID"); stop_pid "$TVGATE_PID"
done
awk -v e="${RSS[$EMPTY]}" -v f="${RSS[$DIR]}" -v n="$SCALE_ENTRIES" \
    'BEGIN { printf "resident: serve RSS %d KiB empty, %d KiB with the catalog: %.0f bytes per entry (target <= 300)\n", e, f, (f - e) * 1024 / n }'
} | tee -a "$RESULTS"
