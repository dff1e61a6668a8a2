#!/usr/bin/env bash
# The dashboard in a real browser: Debian's chromium, driven by playwright-core, against real
# `taskpipe serve` processes (browser_test.js). Runs in a network namespace of its own with only
# loopback up, where the system allows one, so neither the browser nor the node reaches anything.
# Environment: TOOLS (install_tools.sh's directory), TASKPIPE (the binary), OUT (where the
# screenshot goes).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${TOOLS:?}" "${TASKPIPE:?}" "${OUT:?}"
if [ ! -d "$TOOLS/node_modules/playwright-core" ]; then
  echo "FAILED: no playwright-core in $TOOLS: run bash tests/dashboard/install_tools.sh $TOOLS" >&2
  echo "(scripts/test.sh does)" >&2
  exit 1
fi
if [ ! -x /usr/bin/chromium ]; then
  echo "FAILED: /usr/bin/chromium is missing: apt-get install chromium (scripts/common.sh lists it)" >&2
  exit 1
fi
mkdir -p "$OUT"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
if unshare -n true 2>/dev/null && command -v ip >/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec node "$0"' "$here/browser_test.js"
fi
echo "note: no network namespace available here; running with the machine's network"
exec node "$here/browser_test.js"
