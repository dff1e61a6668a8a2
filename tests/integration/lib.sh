# Shared by the multi-process tests: start stage hosts on loopback, run batches, check results.
# Every process started here is killed on exit, whatever happens.
set -euo pipefail

TASKPIPE="${TASKPIPE:?set TASKPIPE to the taskpipe binary}"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill -CONT "$pid" 2>/dev/null || true
    kill -9 "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAILED: $*" >&2
  exit 1
}

# start_node NAME ARGS...: starts `taskpipe node ARGS` and waits for its port; sets NAME_PID and
# NAME_PORT.
start_node() {
  local name="$1"
  shift
  "$TASKPIPE" node "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 100); do
    grep -q "node listening on" "$WORK/$name.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || fail "node $name exited: $(cat "$WORK/$name.err")"
    sleep 0.05
  done
  grep -q "node listening on" "$WORK/$name.out" || fail "node $name did not start"
  printf -v "${name}_PID" '%s' "$pid"
  printf -v "${name}_PORT" '%s' "$(sed -E 's/.*:([0-9]+)$/\1/' "$WORK/$name.out")"
}

# json_number JSON FIELD
json_number() { sed -E "s/.*\"$2\":([0-9.]+).*/\1/" <<<"$1"; }

# expect_accounted JSON N: every one of N tasks has exactly one outcome.
expect_accounted() {
  local ok failed
  ok="$(json_number "$1" succeeded)"
  failed="$(json_number "$1" failed)"
  [ "$(json_number "$1" tasks)" = "$2" ] || fail "expected $2 tasks: $1"
  [ $((ok + failed)) -eq "$2" ] || fail "tasks without an outcome: $1"
}

sql() { sqlite3 -cmd ".timeout 5000" "$WORK/shared.db" "$1"; }
