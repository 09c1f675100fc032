#!/usr/bin/env bash
# The project's test command (README): the Rust tests of every workspace crate,
# then the third-party client suite (tests/compat/run.sh), once on one node and
# once against a node of three sharing PostgreSQL and Redis (--cluster), and the browser tests
# (tests/browser/run.sh) against the tvgate
# binary that this same `cargo test` build produced (dev profile; the suite
# runs in about half a minute with it, so no separate release build). All
# always run; the exit status is non-zero if any failed. The output ends
# with cargo's own test summaries, then the compat lines (twice) and the browser
# lines, each with their `N passed, N failed`.
#
# Both suites need the clients from tests/compat/install.sh (run first, below);
# the tests on PostgreSQL and Redis need the machine's servers
# (tests/services.sh starts them).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The third-party clients, Debian's chromium and playwright: installed when
# missing, so this one command passes on a fresh machine (install.sh is
# idempotent and takes well under a second when everything is there). It
# needs root for apt; without root it uses sudo when sudo asks no password,
# and otherwise says so and the two suites report what is missing.
if [ "$(id -u)" -eq 0 ]; then
  bash tests/compat/install.sh || echo "run-all: tests/compat/install.sh failed; the compat and browser suites will say what is missing" >&2
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  sudo -n bash tests/compat/install.sh || echo "run-all: tests/compat/install.sh failed" >&2
else
  echo "run-all: not root and no password-less sudo: run 'sudo bash tests/compat/install.sh' once for the compat and browser suites" >&2
fi

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

# The same suite against one node of three sharing PostgreSQL and Redis
# (tests/compat/run.sh --cluster: about a minute and a half).
if [ -n "$bin" ] && [ -x "$bin" ]; then
  bash tests/compat/run.sh --cluster --bin "$bin"
else
  bash tests/compat/run.sh --cluster
fi
cluster_rc=$?

# The web pages in headless chromium (tests/browser/run.sh).
if [ -n "$bin" ] && [ -x "$bin" ]; then
  bash tests/browser/run.sh --bin "$bin"
else
  bash tests/browser/run.sh
fi
browser_rc=$?

if [ "$cargo_rc" != 0 ] || [ "$compat_rc" != 0 ] || [ "$cluster_rc" != 0 ] || [ "$browser_rc" != 0 ]; then
  echo "run-all: FAILED (cargo test exit $cargo_rc, compat exit $compat_rc, cluster compat exit $cluster_rc, browser exit $browser_rc)" >&2
  exit 1
fi
