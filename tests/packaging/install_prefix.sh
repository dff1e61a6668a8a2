#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then the installed files and the installed binary:
# --version, a run, --check-config of the installed config file, the unit's paths, the man page.
#   BUILD=build-dir HAVE_MAN=ON|OFF bash install_prefix.sh
set -euo pipefail
BUILD="${BUILD:?set BUILD to the build tree}"
P="$(mktemp -d)"
trap 'rm -rf "$P"' EXIT
fail() { echo "FAILED: $*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$P/usr-local" >"$P/install.log" || fail "cmake --install: $(cat "$P/install.log")"
R="$P/usr-local"
for f in bin/taskpipe etc/taskpipe/taskpipe.conf lib/systemd/system/taskpipe.service \
         share/doc/taskpipe/README.md share/doc/taskpipe/openapi.json; do
  [ -f "$R/$f" ] || fail "not installed: $f"
done
[ -x "$R/bin/taskpipe" ] || fail "bin/taskpipe is not executable"

"$R/bin/taskpipe" --version | grep -Eq '^taskpipe [0-9]+\.[0-9]+\.[0-9]+ ' || fail "--version"
out="$("$R/bin/taskpipe" run --tasks=200 --latency=zero --store=memory --json)"
grep -q '"succeeded":200,"failed":0' <<<"$out" || fail "run: $out"
"$R/bin/taskpipe" serve --config-file="$R/etc/taskpipe/taskpipe.conf" --check-config \
  | grep -q "configuration OK" || fail "the installed config does not check"

# The unit points at this prefix's binary and config.
unit="$R/lib/systemd/system/taskpipe.service"
grep -qx "ExecStart=$R/bin/taskpipe serve --config-file=$R/etc/taskpipe/taskpipe.conf" "$unit" \
  || fail "ExecStart: $(grep ExecStart "$unit")"
grep -qx "Type=notify" "$unit" || fail "Type=notify"
grep -Eq "@[A-Z_]+@" "$unit" && fail "unfilled @VARIABLE@ in the unit: $(grep -E "@[A-Z_]+@" "$unit")"

if [ "${HAVE_MAN:-OFF}" = ON ]; then
  man="$R/share/man/man1/taskpipe.1"
  [ -f "$man" ] || fail "no man page"
  grep -q '^\.TH TASKPIPE "1"' "$man" || fail "man page header"
  for section in "COMMAND SERVE" "COMMAND SUBMIT" "FILES"; do
    grep -Eq "^\.SH \"?$section\"?$" "$man" || fail "man page section $section"
  done
  grep -q 'listen=HOST:PORT' "$man" || fail "man page lacks serve's --listen"
  if command -v man >/dev/null; then
    MANWIDTH=100 man -l "$man" 2>/dev/null | grep -q -- "--max-batch-tasks=N" || fail "man -l does not render the options"
  fi
else
  echo "no man page in this build (help2man missing, or a sanitizer build): not checked"
fi
echo "installed into a temporary prefix: files, --version, run, --check-config, unit paths OK"
