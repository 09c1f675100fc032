#!/usr/bin/env bash
# The project's test command (README): the Rust tests of every workspace crate,
# then the third-party client suite (tests/compat/run.sh) against the tvgate
# binary that `cargo test` has just built (dev profile). Both always run; the
# exit status is non-zero if either failed. The output ends with cargo's own
# test summaries followed by the compat lines and their `N passed, N failed`.
#
# The compat suite needs the clients from tests/compat/install.sh (root).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo test --workspace
cargo_rc=$?

bash tests/compat/run.sh
compat_rc=$?

if [ "$cargo_rc" != 0 ] || [ "$compat_rc" != 0 ]; then
  echo "run-all: FAILED (cargo test exit $cargo_rc, compat exit $compat_rc)" >&2
  exit 1
fi
