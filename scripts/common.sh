# Shared by run.sh and test.sh: installs missing Debian packages, configures and builds.
# Source it; do not run it.

TASKPIPE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Everything the build, the tests and the benchmarks need, from Debian 12's archive (prometheus
# for promtool, which lints /metrics in the HTTP tests; chromium for the dashboard's browser test;
# postgresql-15 for the throwaway server the PostgreSQL store's tests start,
# scripts/postgres_test_server.sh).
TASKPIPE_PACKAGES=(
  cmake make g++ pkg-config
  libcaf-dev libfmt-dev catch2 libsqlite3-dev libpq-dev
  libboost-dev nlohmann-json3-dev libsimdjson-dev libssl-dev
  clang-14 libclang-rt-14-dev
  sqlite3 openssl time wrk curl
  prometheus
  postgresql-15 postgresql-client-15
  help2man dpkg-dev file nodejs
  chromium
)

# ensure_packages PKG...: apt-get installs those not yet installed (as root, or with sudo).
ensure_packages() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing: ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; return 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ensure_npm: npm for the OpenAPI checks (tests/api). A nodejs from elsewhere may bring its own
# npm (and conflict with Debian's npm package): only install Debian's when there is none.
ensure_npm() {
  command -v npm >/dev/null && return 0
  ensure_packages npm
}

# build_tree DIR [CMAKE_ARGS...]: configures and builds DIR with every core; set TARGET to build
# one target only.
build_tree() {
  local dir="$1"
  shift
  cmake -S "$TASKPIPE_ROOT" -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j "$(nproc)" ${TARGET:+--target "$TARGET"}
}
