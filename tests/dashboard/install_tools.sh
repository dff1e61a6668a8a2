#!/usr/bin/env bash
# Installs playwright-core, pinned by tests/dashboard/package-lock.json, into TOOLS_DIR with
# `npm ci`, from the npm registry and nothing else: the lockfile has no "resolved" entry and
# install scripts are not run (playwright-core has none and downloads no browser: the test drives
# Debian's /usr/bin/chromium). Does nothing when that lockfile is installed there already.
# scripts/test.sh runs it before the tests.
#   bash tests/dashboard/install_tools.sh TOOLS_DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
tools="${1:?usage: install_tools.sh TOOLS_DIR}"
command -v npm >/dev/null || { echo "install_tools.sh: npm is not installed" >&2; exit 1; }
if grep -q '"resolved"' "$here/package-lock.json"; then
  echo "install_tools.sh: package-lock.json names a source other than the registry:" >&2
  grep '"resolved"' "$here/package-lock.json" >&2
  exit 1
fi
if [ -d "$tools/node_modules" ] && cmp -s "$here/package-lock.json" "$tools/installed.lock"; then
  echo "playwright-core already installed in $tools"
  exit 0
fi
mkdir -p "$tools"
cp "$here/package.json" "$here/package-lock.json" "$tools/"
(cd "$tools" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
cp "$here/package-lock.json" "$tools/installed.lock"
echo "playwright-core installed in $tools"
