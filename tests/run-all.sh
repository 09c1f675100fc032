#!/usr/bin/env bash
# The project's test command (README): the Rust tests of every workspace crate,
# then the third-party client suite (tests/compat/run.sh) and the browser tests
# (tests/browser/run.sh) against the tvgate
# binary that this same `cargo test` build produced (dev profile; the suite
# runs in about half a minute with it, so no separate release build). All
# always run; the exit status is non-zero if any failed. The output ends
# with cargo's own test summaries, then the compat lines and the browser lines,
# each with their `N passed, N failed`.
#
# Both suites need the clients from tests/compat/install.sh (root); the
# tests on PostgreSQL need the machine's server (tests/services.sh starts it).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# PostgreSQL and Redis, started when they are not answering (the store's
# tests on PostgreSQL fail, saying so, without them).
bash tests/services.sh

# Build the tests once and learn where the tvgate executable is (the integration
# tests build it too). Building it again with `cargo build` would recompile
# much of the dependency tree, because dev-dependencies change feature sets.
bin=$(cargo test --workspace --no-run --message-format=json-render-diagnostics |
  jq -r 'select(.reason == "compiler-artifact" and .target.name == "tvgate" and .profile.test == false
                and (.target.kind | index("bin")) and .executable != null) | .executable' 2>/dev/null |
  tail -n 1)

cargo test --workspace --no-fail-fast
cargo_rc=$?

if [ -n "$bin" ] && [ -x "$bin" ]; then
  bash tests/compat/run.sh --bin "$bin"
else
  bash tests/compat/run.sh     # builds the binary itself
fi
compat_rc=$?

# The web pages in headless chromium (tests/browser/run.sh).
if [ -n "$bin" ] && [ -x "$bin" ]; then
  bash tests/browser/run.sh --bin "$bin"
else
  bash tests/browser/run.sh
fi
browser_rc=$?

if [ "$cargo_rc" != 0 ] || [ "$compat_rc" != 0 ] || [ "$browser_rc" != 0 ]; then
  echo "run-all: FAILED (cargo test exit $cargo_rc, compat exit $compat_rc, browser exit $browser_rc)" >&2
  exit 1
fi
