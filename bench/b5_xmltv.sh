#!/usr/bin/env bash
# B5 (issue 13): XMLTV ingest of a 1 GB (uncompressed) gzip guide (gen_scale.py, 2000 channels x
# 1100 programmes).
#   reference: quick-xml's bare event loop counting events over the uncompressed file in memory
#              (examples/throughput xml-scan, best of 2, CPU time: perf.md A17), tvgate's XMLTV
#              reader alone the same way, and gunzip (zcat) of the file
#   import:    `tvgate source add xmltv FILE.gz` into a data dir that holds nothing else (gunzip,
#              parse, plan, store in SQLite, build the catalog), CPU time and peak RSS
#   store:     the peak RSS of `tvgate source list` on the imported dir (the store's own)
# Target: >= 230 MB/s of uncompressed XML per core into the store, >= 0.6x the scan; peak RSS
# <= 64 MiB above the store's own.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/scale_lib.sh"
ensure_binary; ensure_throughput; bench_lock
results_file b5_xmltv
GZ=$(scale_guide)
XML="$SCALE_DIR/guide.xml"
[ -f "$XML" ] || { zcat "$GZ" > "$XML.tmp" && mv "$XML.tmp" "$XML"; }
BYTES=$(stat -c %s "$XML")
{
echo "# B5 XMLTV ingest: $(date -Is); $(bin_info); $GZ ($(stat -c %s "$GZ") bytes gzip, $BYTES uncompressed); bg $(bg_measure 3)"
SCAN=$(taskset -c "$SERVER_CPU" "$THROUGHPUT_BIN" xml-scan "$XML" 2)
echo "reference (quick-xml count-only scan): $SCAN"
SCAN_MBS=$(sed -n 's/.*= \([0-9]*\) MB\/s per core.*/\1/p' <<<"$SCAN")
echo "reader alone: $(taskset -c "$SERVER_CPU" "$THROUGHPUT_BIN" xmltv "$XML" 2)"
Z=$(rusage zcat "$GZ")
echo "gunzip: $Z; $(awk -v b="$BYTES" -v c="$(kv cpu_s "$Z")" 'BEGIN { printf "%.0f MB/s per core", b / 1e6 / c }')"
DIR="$BENCH_WORK/b5-data"; rm -rf "$DIR"; mkdir -p "$DIR"
R=$(rusage "$TVGATE_BIN" source add xmltv "$GZ" --name b5 --data-dir "$DIR")
echo "import: $R; $(tail -1 "$BENCH_WORK/rusage.out")"
S=$(rusage "$TVGATE_BIN" source list --data-dir "$DIR")
echo "store alone (source list): $S"
awk -v b="$BYTES" -v c="$(kv cpu_s "$R")" -v r="$SCAN_MBS" -v m="$(kv maxrss_kb "$R")" -v s="$(kv maxrss_kb "$S")" \
    'BEGIN { mbs = b / 1e6 / c; printf "ingest: %.0f MB/s of XML per core, %.2fx the scan (%s MB/s; targets >= 230 MB/s, >= 0.6x); peak RSS %.0f MiB, %.0f MiB above the store alone (target <= 64)\n", mbs, mbs / r, r, m / 1024, (m - s) / 1024 }'
} | tee -a "$RESULTS"
