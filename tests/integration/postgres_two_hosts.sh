#!/usr/bin/env bash
# Issue 11, multi-process: a front (`serve`) and two stage hosts (`node`, replicas of every stage)
# on one PostgreSQL database. A batch spreads across both hosts; host A is killed with SIGKILL in
# the middle of it. Every task is reported exactly once (the survivor replays A's tasks), no row is
# doubled in any table, and GET /v1/tasks/{id} on the front shows the updates the hosts applied.
source "$(dirname "$0")/lib.sh"
start_postgres
N=4000
start_node A --stages=validate,audit,update,notify --listen=127.0.0.1:0 --store=postgres \
  --db="$PG_URI" --seed-tasks=$N --latency=seed
start_node B --stages=validate,audit,update,notify --listen=127.0.0.1:0 --store=postgres \
  --db="$PG_URI" --latency=seed
hosts="127.0.0.1:$A_PORT,127.0.0.1:$B_PORT"
start_serve front --store=postgres --db="$PG_URI" --remote=validate@$hosts --remote=audit@$hosts \
  --remote=update@$hosts --remote=notify@$hosts

# A first batch across both hosts, nothing killed: the front reads what the hosts wrote.
tasks_json 1 100 >"$WORK/first.json"
curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/first.json" \
  "$front_URL/v1/batches" >"$WORK/first_report.json" || fail "first POST failed"
grep -q '"succeeded":100' "$WORK/first_report.json" || fail "$(cat "$WORK/first_report.json")"
check_invariant "$PG_URI" "$WORK/first.json" "$WORK/first_report.json"
[ "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'taskpipe'")" -ge 3 ] ||
  fail "the front and both hosts should each hold a connection"
task="$(curl -fsS "$front_URL/v1/tasks/17")" || fail "GET /v1/tasks/17"
grep -q '"version":2' <<<"$task" && grep -q '"summary":"Updated 17"' <<<"$task" ||
  fail "the front does not show the hosts' update: $task"

# The big batch; A dies in the middle of it.
tasks_json 1 $N >"$WORK/request.json"
(sleep 1; kill -9 "$A_PID") &
killer=$!
curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/request.json" \
  "$front_URL/v1/batches" >"$WORK/report.json" || fail "POST failed"
wait "$killer"
kill -0 "$A_PID" 2>/dev/null && fail "host A was not killed during the batch"
grep -q "\"total\":$N" "$WORK/report.json" || fail "$(head -c 2000 "$WORK/report.json")"
check_invariant "$PG_URI" "$WORK/request.json" "$WORK/report.json"
grep -q "\"succeeded\":$N" "$WORK/report.json" ||
  fail "tasks lost with a replica left: $(head -c 2000 "$WORK/report.json")"
batch="$(sed -E 's/.*"batch_id":"([^"]+)".*/\1/' "$WORK/report.json")"
for table in audit applied_updates outbox; do
  [ "$(pg_sql "SELECT count(*), count(DISTINCT task_id) FROM $table WHERE batch_id = '$batch'")" = "$N|$N" ] ||
    fail "$table: rows of the batch: $(pg_sql "SELECT count(*) FROM $table WHERE batch_id = '$batch'")"
done
[ "$(pg_sql 'SELECT min(version), max(version) FROM tasks WHERE id <= 100')" = "3|3" ] ||
  fail "tasks of both batches: $(pg_sql 'SELECT min(version), max(version) FROM tasks WHERE id <= 100')"
[ "$(pg_sql 'SELECT min(version), max(version) FROM tasks WHERE id > 100')" = "2|2" ] ||
  fail "a task was applied twice or not at all"
task="$(curl -fsS "$front_URL/v1/tasks/$N")" || fail "GET /v1/tasks/$N"
grep -q '"version":2' <<<"$task" && grep -q "\"summary\":\"Updated $N\"" <<<"$task" ||
  fail "the front does not show the hosts' update: $task"
stop_serve front
echo "ok: front and two stage hosts on one PostgreSQL database, a host killed mid-batch"
