#!/usr/bin/env bash
# Issue 11, faults: the PostgreSQL server restarts in the middle of a batch. The node stays up,
# the tasks of the transactions that broke fail storage_error with the reason, the report matches
# what the database holds (the invariant checker reads PostgreSQL), and the next batch, on a new
# connection, succeeds whole.
source "$(dirname "$0")/lib.sh"
start_postgres
N=20000
start_serve front --store=postgres --db="$PG_URI" --seed-tasks=$N --latency=300 --workers=2
tasks_json 1 $N >"$WORK/request.json"
answer="$(curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/request.json" \
  "$front_URL/v1/batches?wait=false")" || fail "POST failed"
id="$(sed -E 's/.*"batch_id":"([^"]+)".*/\1/' <<<"$answer")"
# Restart the server once the batch has written some rows but not all (300 ms per stage keeps
# the batch in the store for a while however fast the machine is).
for _ in $(seq 200); do
  n="$(pg_sql 'SELECT count(*) FROM applied_updates')"
  [ "$n" -gt 0 ] && break
  sleep 0.05
done
[ "$n" -lt $N ] || fail "the batch finished before the restart; make it larger"
restart_postgres
wait_final "$front_URL" "$id" "$WORK/status.json"
curl -fsS "$front_URL/v1/batches/$id" >"$WORK/report.json" || fail "GET report"
curl -fsS "$front_URL/healthz" >/dev/null || fail "the node did not stay up"
grep -q '"code":"storage_error"' "$WORK/report.json" ||
  fail "no task failed storage_error: $(head -c 2000 "$WORK/report.json")"
grep -q 'commit failed: connection to PostgreSQL' "$WORK/report.json" ||
  grep -q 'cannot connect to PostgreSQL' "$WORK/report.json" ||
  fail "the failures do not say why: $(head -c 2000 "$WORK/report.json")"
grep -o '"reason":"[^"]*"' "$WORK/report.json" | sort | uniq -c | sort -rn | head -5
check_invariant "$PG_URI" "$WORK/request.json" "$WORK/report.json"
# The next batch runs on a re-established connection.
tasks_json 1 200 >"$WORK/again.json"
curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/again.json" \
  "$front_URL/v1/batches" >"$WORK/again_report.json" || fail "second POST failed"
grep -q '"succeeded":200' "$WORK/again_report.json" ||
  fail "the batch after the restart did not succeed: $(cat "$WORK/again_report.json")"
stop_serve front
[ "$(pg_sql 'SELECT count(*) FROM tasks WHERE version > 3')" = 0 ] || fail "a task was applied twice"
echo "ok: PostgreSQL restarted mid-batch: failures say why, the report matches the store"
