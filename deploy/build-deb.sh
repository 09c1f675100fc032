#!/bin/sh
# Builds the Debian package of tvgate (a release build: several minutes)
# and shows what is in it. Needs cargo-deb: `cargo install cargo-deb`.
# Extra arguments go to `cargo deb` (e.g. --deb-revision 2, --maintainer).
#
# Install the result with `apt install ./target/debian/tvgate_*.deb`
# (docs/deploy.md).
set -eu
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
	echo "cargo-deb is missing: cargo install cargo-deb" >&2
	exit 1
fi

# cargo deb prints the paths of what it wrote: the package, and the
# -dbgsym one with the debug symbols.
deb=$(cargo deb "$@" | grep '\.deb$' | grep -v -- '-dbgsym' | tail -n 1)
if [ ! -f "$deb" ]; then
	echo "cargo deb did not say where the package is (got: $deb)" >&2
	exit 1
fi

dpkg-deb --info "$deb"
dpkg-deb --contents "$deb"
echo
echo "built $deb"
ls "$(dirname "$deb")"/*dbgsym* 2>/dev/null || true
