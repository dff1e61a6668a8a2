#!/usr/bin/env bash
# Installs the npm packages pinned by PACKAGE_DIR/package-lock.json into TOOLS_DIR with `npm ci`,
# from the npm registry and nothing else: the lockfile has no "resolved" entry (none but registry
# packages; npm writes it with --omit-lockfile-registry-resolved) and install scripts are not
# run. Does nothing when that lockfile is installed there already. The test tools' own
# install_tools.sh scripts call it; scripts/test.sh runs those before the tests.
#   bash scripts/install_npm_tools.sh PACKAGE_DIR TOOLS_DIR WHAT
set -euo pipefail
here="${1:?usage: install_npm_tools.sh PACKAGE_DIR TOOLS_DIR WHAT}"
tools="${2:?usage: install_npm_tools.sh PACKAGE_DIR TOOLS_DIR WHAT}"
what="${3:?usage: install_npm_tools.sh PACKAGE_DIR TOOLS_DIR WHAT}"
command -v npm >/dev/null || { echo "install_npm_tools.sh: npm is not installed" >&2; exit 1; }
if grep -q '"resolved"' "$here/package-lock.json"; then
  echo "install_npm_tools.sh: $here/package-lock.json names a source other than the registry:" >&2
  grep '"resolved"' "$here/package-lock.json" >&2
  exit 1
fi
if [ -d "$tools/node_modules" ] && cmp -s "$here/package-lock.json" "$tools/installed.lock"; then
  echo "$what already installed in $tools"
  exit 0
fi
mkdir -p "$tools"
cp "$here/package.json" "$here/package-lock.json" "$tools/"
(cd "$tools" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
cp "$here/package-lock.json" "$tools/installed.lock"
echo "$what installed in $tools"
