# Shared by the multi-process tests: start stage hosts on loopback, run batches, check results.
# Every process started here is killed on exit, whatever happens.
set -euo pipefail

TASKPIPE="${TASKPIPE:?set TASKPIPE to the taskpipe binary}"
WORK="$(mktemp -d)"
PIDS=()
PG_STATE=""

cleanup() {
  if [ -n "$PG_STATE" ]; then
    bash "$(dirname "${BASH_SOURCE[0]}")/../../scripts/postgres_test_server.sh" stop "$PG_STATE" || true
  fi
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

# sql_db SQL: a query on "$db" (the test's own SQLite file).
sql_db() { sqlite3 -cmd ".timeout 5000" "$db" "$1"; }

# start_serve NAME ARGS...: starts `taskpipe serve ARGS` on a free loopback port and waits until it
# listens; sets NAME_PID and NAME_URL.
start_serve() {
  local name="$1"
  shift
  "$TASKPIPE" serve --listen=127.0.0.1:0 "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
  local pid=$!
  PIDS+=("$pid")
  for _ in $(seq 200); do
    grep -q "^listening on" "$WORK/$name.out" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || fail "serve $name exited: $(cat "$WORK/$name.err")"
    sleep 0.05
  done
  grep -q "^listening on" "$WORK/$name.out" || fail "serve $name did not start"
  printf -v "${name}_PID" '%s' "$pid"
  printf -v "${name}_URL" 'http://%s' "$(sed -E 's/^listening on //' "$WORK/$name.out")"
}

# hold_write_lock DB SECONDS: a second connection takes SQLite's write lock (BEGIN IMMEDIATE) and
# keeps it for SECONDS, in the background, as a slow or stuck writer would.
hold_write_lock() {
  (printf 'BEGIN IMMEDIATE;\n'; sleep "$2"; printf 'COMMIT;\n') | sqlite3 "$1" &
  PIDS+=("$!")
}

# tasks_json FIRST LAST [EXTRA]: a batch body updating ids FIRST..LAST.
tasks_json() {
  local body='{"tasks":[' id
  for id in $(seq "$1" "$2"); do
    [ "$id" -gt "$1" ] && body+=','
    body+="{\"id\":$id,\"type\":\"Epic\",\"summary\":\"Updated $id\"}"
  done
  printf '%s]%s}' "$body" "${3:-}"
}

# wait_final URL BATCH_ID OUT: polls the batch's status until nothing is pending; writes it to OUT.
wait_final() {
  for _ in $(seq 600); do
    curl -fsS "$1/v1/batches/$2" >"$3" || fail "GET /v1/batches/$2 failed"
    grep -q '"pending":0' "$3" && return 0
    sleep 0.05
  done
  fail "batch $2 did not finish: $(cat "$3")"
}

# stop_serve NAME: SIGTERM, then waits for the exit (the drain finishes every write first), so that
# what the store holds afterwards is final.
stop_serve() {
  local pid_var="${1}_PID"
  kill -TERM "${!pid_var}"
  wait "${!pid_var}" || fail "serve $1 exited with status $?: $(cat "$WORK/$1.err")"
}

# check_invariant DB REQUEST_FILE REPORT_FILE: the truthful-report invariant (tests/support).
check_invariant() {
  "${INVARIANT_CHECK:?set INVARIANT_CHECK to the invariant_check binary}" "$@" ||
    fail "the report disagrees with the store: $(cat "$3")"
}

# check_run_invariant N DB: the invariant for the batch a `run --tasks=N --report-file="$WORK/run.json"`
# wrote (its tasks are ids 1..N: the values do not matter to the checker).
check_run_invariant() {
  tasks_json 1 "$1" >"$WORK/run_request.json"
  check_invariant "$2" "$WORK/run_request.json" "$WORK/run.json"
}

# start_postgres: a throwaway PostgreSQL 15 server for this test (scripts/postgres_test_server.sh,
# stopped on exit); sets PG_URI. restart_postgres: restarts it (open connections are cut).
PG_SERVER="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../scripts" && pwd)/postgres_test_server.sh"
start_postgres() {
  PG_STATE="$WORK/postgres.state"
  PG_URI="$(bash "$PG_SERVER" start "$PG_STATE")" || fail "cannot start PostgreSQL"
}
restart_postgres() { bash "$PG_SERVER" restart "$PG_STATE" || fail "cannot restart PostgreSQL"; }

# pg_sql SQL: one value from the test server's database.
pg_sql() { psql "$PG_URI" -Atqc "$1"; }
