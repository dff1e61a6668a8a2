#!/usr/bin/env bash
# systemd-analyze verify on the unit as installed into a temporary prefix. Skipped (exit 77) when
# systemd-analyze is not installed.
#   BUILD=build-dir bash systemd_verify.sh
set -euo pipefail
BUILD="${BUILD:?set BUILD to the build tree}"
if ! command -v systemd-analyze >/dev/null; then
  echo "SKIPPED: systemd-analyze is not installed (apt-get install systemd to run this check)"
  exit 77
fi
P="$(mktemp -d)"
trap 'rm -rf "$P"' EXIT
cmake --install "$BUILD" --prefix "$P/usr-local" >/dev/null
unit="$P/usr-local/lib/systemd/system/taskpipe.service"
# --man=no: the man page it names need not be installed on this machine.
if ! out="$(systemd-analyze verify --man=no "$unit" 2>&1)"; then
  echo "FAILED: systemd-analyze verify: $out" >&2
  exit 1
fi
# verify also prints warnings without failing; any line about our unit is a problem.
if grep -i "taskpipe.service" <<<"$out"; then
  echo "FAILED: systemd-analyze verify complains about the unit" >&2
  exit 1
fi
echo "systemd-analyze verify: the unit is valid"
if sec="$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | tail -1)"; then
  echo "systemd-analyze security: $sec"
fi
