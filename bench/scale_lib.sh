# Helpers of the scale benchmarks of issue 13 (b5_xmltv.sh, b6_m3u.sh, swap.sh), sourced after
# lib.sh. The data is made by gen_scale.py at bench time (never committed) and kept in
# $BENCH_WORK/scale (delete it to rebuild): a 1M-entry playlist in two variants (v2 renames every
# tenth entry) and a 1 GB (uncompressed) gzip guide of 2000 channels x 1100 programmes.
SCALE_DIR=$BENCH_WORK/scale
SCALE_ENTRIES=${SCALE_ENTRIES:-1000000}
GUIDE_CHANNELS=${GUIDE_CHANNELS:-2000}
GUIDE_PROGRAMMES=${GUIDE_PROGRAMMES:-1100}
THROUGHPUT_BIN=${THROUGHPUT_BIN:-$CARGO_TARGET_DIR/release/examples/throughput}
mkdir -p "$SCALE_DIR"

scale_m3u() { # VARIANT -> path (made when missing)
    local f="$SCALE_DIR/m3u_${SCALE_ENTRIES}_v$1.m3u"
    [ -f "$f" ] || { log "generating $f ..."; python3 "$BENCH_DIR/gen_scale.py" m3u "$SCALE_ENTRIES" "$f" "$1" >/dev/null || die "gen_scale m3u"; }
    echo "$f"
}

scale_guide() { # -> path of the .xml.gz (made when missing)
    local f="$SCALE_DIR/guide_${GUIDE_CHANNELS}x${GUIDE_PROGRAMMES}.xml.gz"
    [ -f "$f" ] || { log "generating $f (about 3 minutes) ..."; python3 "$BENCH_DIR/gen_scale.py" xmltv "$GUIDE_CHANNELS" "$GUIDE_PROGRAMMES" "$f" >/dev/null || die "gen_scale xmltv"; }
    echo "$f"
}

ensure_throughput() {
    if [ ! -x "$THROUGHPUT_BIN" ] || [ "${BENCH_BUILD:-0}" = 1 ]; then
        log "building the reference scanner (formats example throughput) ..."
        (cd "$REPO" && cargo build --release -p tvgate-formats --example throughput) >&2 || die "build failed"
    fi
}

# rusage CMD... -> "wall_s=.. user_s=.. sys_s=.. cpu_s=.. maxrss_kb=.." of the command and its
# children (GNU time), on LOAD_CPU's neighbour SERVER_CPU like a server; the command's own output
# goes to $BENCH_WORK/rusage.out.
rusage() {
    /usr/bin/time -f 'wall_s=%e user_s=%U sys_s=%S maxrss_kb=%M' -o "$BENCH_WORK/rusage.txt" \
        taskset -c "$SERVER_CPU" "$@" >"$BENCH_WORK/rusage.out" 2>&1 || { cat "$BENCH_WORK/rusage.out" >&2; die "$* failed"; }
    awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }
         END { printf "wall_s=%s user_s=%s sys_s=%s cpu_s=%.2f maxrss_kb=%s", v["wall_s"], v["user_s"], v["sys_s"], v["user_s"] + v["sys_s"], v["maxrss_kb"] }' \
        "$BENCH_WORK/rusage.txt"
}
kv() { # KEY "k=v k=v ..." -> v
    tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k { print $2 }'
}
