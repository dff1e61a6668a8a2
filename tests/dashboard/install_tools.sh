#!/usr/bin/env bash
# Installs playwright-core, pinned by tests/dashboard/package-lock.json, into TOOLS_DIR (see
# scripts/install_npm_tools.sh). It has no install script and downloads no browser: the test
# drives Debian's /usr/bin/chromium.
#   bash tests/dashboard/install_tools.sh TOOLS_DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../scripts/install_npm_tools.sh" "$here" "${1:?usage: install_tools.sh TOOLS_DIR}" \
  "playwright-core"
