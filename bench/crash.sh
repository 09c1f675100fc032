#!/usr/bin/env bash
# Crash consistency, the long run (issue 17, item 3): tests/it/crash_consistency.rs with
# CRASH_LONG=1 kills the real `tvgate serve` with SIGKILL 25 times per scenario (a
# 100,000-line CSV import, a refresh from catalog A to catalog B, API edits on SQLite and on
# PostgreSQL) and prints a tally per scenario; the tallies go to a results file too.
# PostgreSQL and Redis must run (tests/services.sh). The CI runs the same test with 3 kills.
# Usage:
#   bench/crash.sh                 a new seed (printed; CRASH_SEED=N replays its kill points)
#   CRASH_SEED=17 bench/crash.sh   the run recorded in docs/security.md
# About 13 minutes on the shared 2-core build machine (debug build).
source "$(dirname "$0")/lib.sh"
cd "$REPO"
results_file crash
SEED=${CRASH_SEED:-$(date +%s)}
log "seed $SEED"
CRASH_LONG=1 CRASH_SEED=$SEED cargo test --test it crash_consistency -- --nocapture --test-threads 1 \
    2>&1 | tee "$RESULTS.log" | grep -o 'crash_consistency [A-Za-z() ]*: .*\|test result.*' | tee "$RESULTS"
