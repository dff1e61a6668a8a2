#!/usr/bin/env bash
# Installs the OpenAPI checkers pinned by tests/api/package-lock.json (@redocly/cli, ajv,
# ajv-formats) into TOOLS_DIR (see scripts/install_npm_tools.sh).
#   bash tests/api/install_tools.sh TOOLS_DIR
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../scripts/install_npm_tools.sh" "$here" "${1:?usage: install_tools.sh TOOLS_DIR}" \
  "OpenAPI checkers"
