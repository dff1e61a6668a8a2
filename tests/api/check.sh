#!/usr/bin/env bash
# The OpenAPI checks, with the tools of install_tools.sh and without any network (in a network
# namespace of their own where the system allows one):
#   bash check.sh lint       redocly lint (recommended-strict rules) of api/openapi.json
#   bash check.sh responses  every recorded HTTP response against the document's schemas
# Environment: TOOLS (install_tools.sh's directory), DOC (api/openapi.json), RECORDS.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${TOOLS:?}" "${DOC:?}"
if [ ! -x "$TOOLS/node_modules/.bin/redocly" ]; then
  echo "FAILED: no OpenAPI checkers in $TOOLS: run bash tests/api/install_tools.sh $TOOLS" >&2
  echo "(scripts/test.sh does)" >&2
  exit 1
fi
isolate=()
if unshare -n true 2>/dev/null; then
  isolate=(unshare -n)
else
  echo "note: no network namespace available here; running with the machine's network"
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
case "$1" in
  lint)
    exec "${isolate[@]}" "$TOOLS/node_modules/.bin/redocly" lint --config "$here/redocly.yaml" "$DOC" ;;
  responses)
    exec "${isolate[@]}" node "$here/validate_responses.js" "$TOOLS" "$DOC" "${RECORDS:?}" ;;
  *)
    echo "usage: check.sh lint|responses" >&2
    exit 2 ;;
esac
