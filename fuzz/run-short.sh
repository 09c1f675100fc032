#!/usr/bin/env bash
# A short fuzzing run of every target: 30 s each (FUZZ_SECS to change it),
# for a person to run after touching a parser. Not part of CI or of
# tests/run-all.sh. Prints, per target, the inputs run, the coverage, the
# peak memory and the result; exits 1 if any target found a crash, a hang
# or a leak (the input is then in fuzz/artifacts/<target>/).
#
#   fuzz/run-short.sh                 # every target, 30 s each
#   fuzz/run-short.sh m3u_read        # some of them
#   FUZZ_SECS=600 fuzz/run-short.sh   # the long runs of docs/security.md
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). With a nightly toolchain
# the targets run under AddressSanitizer; without one they are built on
# stable with RUSTC_BOOTSTRAP=1 and no sanitizer (FUZZ_SANITIZER=none).
# New inputs go to fuzz/work/<target>/ (ignored by git); the committed
# seeds in fuzz/corpus/<target>/ are only read.
set -u
cd "$(dirname "$0")"

SECS=${FUZZ_SECS:-30}
ALL="m3u_read xmltv_read hls_playlist ts_align xtream_json stalker_params form_params lines_csv doctor_input"
TARGETS=${*:-$ALL}

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    CARGO=(cargo +nightly)
    SANITIZER=${FUZZ_SANITIZER:-address}
else
    export RUSTC_BOOTSTRAP=1
    CARGO=(cargo)
    SANITIZER=${FUZZ_SANITIZER:-none}
fi
BUILD=(-O --debug-assertions --sanitizer "$SANITIZER")

"${CARGO[@]}" fuzz build "${BUILD[@]}" || exit 2

failed=0
printf '%-15s %12s %8s %8s %9s  %s\n' target execs cov ft peak_rss result
for t in $TARGETS; do
    mkdir -p "work/$t"
    log="work/$t.log"
    "${CARGO[@]}" fuzz run "${BUILD[@]}" "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    execs=$(grep -o 'stat::number_of_executed_units:[[:space:]]*[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    rss=$(grep -o 'stat::peak_rss_mb:[[:space:]]*[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
    if [ "$rc" -eq 0 ]; then
        result=ok
    else
        failed=1
        result="FAILED (exit $rc; see fuzz/$log, fuzz/artifacts/$t/)"
    fi
    printf '%-15s %12s %8s %8s %8sM  %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "${rss:-?}" "$result"
done
exit $failed
