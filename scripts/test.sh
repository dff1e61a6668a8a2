#!/usr/bin/env bash
# Installs what is missing, then builds and runs every test twice: a warnings-as-errors build,
# and an AddressSanitizer + UndefinedBehaviorSanitizer build; between the two it builds the .deb
# from the first tree, installs it on this machine, runs the installed binary and purges it; then
# fuzzes the HTTP batch decoder and the whole HTTP request path for 55 s each. Exits non-zero on
# any failure.
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_packages "${TASKPIPE_PACKAGES[@]}"
ensure_npm

jobs="$(nproc)"
echo "== OpenAPI checkers (npm ci from tests/api/package-lock.json, registry packages only)"
bash "$TASKPIPE_ROOT/tests/api/install_tools.sh" "$TASKPIPE_ROOT/build-api-tools"
echo "== the dashboard's browser driver (npm ci from tests/dashboard/package-lock.json; the browser is Debian's chromium)"
bash "$TASKPIPE_ROOT/tests/dashboard/install_tools.sh" "$TASKPIPE_ROOT/build-dashboard-tools"
echo "== build (warnings are errors)"
build_tree "$TASKPIPE_ROOT/build-test" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTASKPIPE_WARNINGS_AS_ERRORS=ON
echo "== tests"
(cd "$TASKPIPE_ROOT/build-test" && ctest -j "$jobs" --output-on-failure --timeout 300)

echo "== Debian package: build (CPack, from build-test), install, run the installed binary"
deb="$(bash "$TASKPIPE_ROOT/scripts/package.sh" "$TASKPIPE_ROOT/build-test" | tail -1)"
dpkg-deb --field "$deb" Package Version Depends
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$deb" >/dev/null
/usr/bin/taskpipe --version
/usr/bin/taskpipe run --tasks=1000 --latency=zero --store=memory
/usr/bin/taskpipe serve --config-file=/etc/taskpipe/taskpipe.conf --check-config
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq taskpipe >/dev/null

echo "== build (AddressSanitizer + UndefinedBehaviorSanitizer)"
build_tree "$TASKPIPE_ROOT/build-asan" -DCMAKE_BUILD_TYPE=Debug -DTASKPIPE_WARNINGS_AS_ERRORS=ON \
  -DTASKPIPE_SANITIZE=address,undefined
echo "== tests under ASan + UBSan"
(cd "$TASKPIPE_ROOT/build-asan" &&
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  LSAN_OPTIONS="suppressions=$TASKPIPE_ROOT/tests/lsan.supp:print_suppressions=0" \
  ctest -j "$jobs" --output-on-failure --timeout 600)

# Two targets, 55 s each: fuzzing stays under 2 minutes in CI.
echo "== fuzzing the HTTP batch decoder and the whole request path (libFuzzer, 2 x 55 s)"
bash "$TASKPIPE_ROOT/scripts/fuzz.sh" 55 decoder request
echo "== all tests passed"
