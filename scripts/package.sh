#!/usr/bin/env bash
# Builds the Debian package with CPack: PACKAGE_DIR/taskpipe_VERSION_ARCH.deb, whose Depends
# come from the shared libraries (dpkg-shlibdeps). Prints the .deb's path as the last line.
#
#   scripts/package.sh [BUILD_DIR]     default build/ (configured as Release when new)
#
# An existing build tree is reused as it is configured (CI passes build-test); CPack strips the
# binary. Install it with `apt-get install ./build/package/taskpipe_*.deb`.
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_packages "${TASKPIPE_PACKAGES[@]}"
dir="${1:-$TASKPIPE_ROOT/build}"
if [ -f "$dir/CMakeCache.txt" ]; then
  cmake --build "$dir" -j "$(nproc)" >&2
else
  build_tree "$dir" -DCMAKE_BUILD_TYPE=Release >&2
fi
rm -f "$dir"/package/taskpipe_*.deb
(cd "$dir" && cpack -G DEB >&2)
ls "$dir"/package/taskpipe_*.deb
