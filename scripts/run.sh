#!/usr/bin/env bash
# Quick start: installs what is missing, builds Release into build/, runs `taskpipe ARGS`
# (default: `run`, the 1,000-task seed demo).
set -euo pipefail
source "$(dirname "$0")/common.sh"
ensure_packages "${TASKPIPE_PACKAGES[@]}"
TARGET=taskpipe build_tree "$TASKPIPE_ROOT/build" -DCMAKE_BUILD_TYPE=Release >&2
[ $# -gt 0 ] || set -- run
exec "$TASKPIPE_ROOT/build/taskpipe" "$@"
