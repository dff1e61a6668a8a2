#!/usr/bin/env bash
# Issues 9 and 11: an accepted batch survives its front on PostgreSQL. `kill -9` of
# `serve --store=postgres` mid-batch (wait=false), then a new front on the same database (as it
# would start on another machine): the batch completes, its report matches the database (the
# invariant checker), no task is applied twice and none is lost, and the report reads the same
# from yet another front. Batch numbers come from the database's sequence: the new front's next
# batch numbers on after the resumed one.
source "$(dirname "$0")/lib.sh"
start_postgres
n=50000
tasks_json 1 $n >"$WORK/request.json"

start_serve first --store=postgres --db="$PG_URI" --seed-tasks=$((n + 100)) --latency=seed
answer="$(curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/request.json" \
  "$first_URL/v1/batches?wait=false")" || fail "POST failed"
id="$(sed -E 's/.*"batch_id":"([^"]+)".*/\1/' <<<"$answer")"
[ "$(pg_sql "SELECT count(*) FROM batches WHERE batch_id = '$id' AND finished_ms IS NULL")" = 1 ] ||
  fail "202 answered before the batch was journaled"
# Kill once some tasks are through (seed latency keeps the batch busy for seconds).
for _ in $(seq 200); do
  done_so_far="$(pg_sql "SELECT count(*) FROM outbox WHERE batch_id = '$id'")"
  [ "$done_so_far" -gt 0 ] && break
  sleep 0.05
done
kill -9 "$first_PID"
wait "$first_PID" 2>/dev/null || true
outbox_at_kill="$(pg_sql "SELECT count(*) FROM outbox WHERE batch_id = '$id'")"
[ "$outbox_at_kill" -lt "$n" ] || fail "the batch had finished before the kill: nothing to resume"
[ "$(pg_sql "SELECT count(*) FROM batches WHERE finished_ms IS NULL")" = 1 ] ||
  fail "the journal does not hold the unfinished batch"
# The killed front's sessions end once the server notices (its front lock with them).
for _ in $(seq 100); do
  [ "$(pg_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'taskpipe'")" = 0 ] && break
  sleep 0.05
done

start_serve second --store=postgres --db="$PG_URI" --latency=seed
grep -q "resumed 1 unfinished batch" "$WORK/second.err" "$WORK/second.out" ||
  fail "the new front did not say it resumed the batch: $(cat "$WORK/second.err")"
wait_final "$second_URL" "$id" "$WORK/report.json"
grep -q '"state":"done"' "$WORK/report.json" || fail "not done: $(head -c 300 "$WORK/report.json")"
grep -q "\"succeeded\":$n" "$WORK/report.json" ||
  fail "not every task succeeded: $(head -c 300 "$WORK/report.json")"
# The next batch gets a number after the resumed one.
tasks_json $((n + 1)) $((n + 100)) >"$WORK/next.json"
curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/next.json" \
  "$second_URL/v1/batches" >"$WORK/next_report.json" || fail "POST on the new front failed"
next="$(sed -E 's/.*"batch_id":"([^"]+)".*/\1/' "$WORK/next_report.json")"
[[ "$next" > "$id" ]] || fail "the new front numbered its batch $next, not after $id"
grep -q '"succeeded":100' "$WORK/next_report.json" || fail "$(cat "$WORK/next_report.json")"
stop_serve second
check_invariant "$PG_URI" "$WORK/request.json" "$WORK/report.json"
check_invariant "$PG_URI" "$WORK/next.json" "$WORK/next_report.json"
[ "$(pg_sql "SELECT count(*) FROM tasks WHERE id <= $((n + 100)) AND version != 2")" = 0 ] ||
  fail "some task was applied twice or not at all"
for table in audit applied_updates outbox; do
  [ "$(pg_sql "SELECT count(*), count(DISTINCT task_id) FROM $table WHERE batch_id = '$id'")" = "$n|$n" ] ||
    fail "$table: rows of the batch: $(pg_sql "SELECT count(*) FROM $table WHERE batch_id = '$id'")"
done
[ "$(pg_sql "SELECT count(*) FROM batches WHERE finished_ms IS NULL")" = 0 ] ||
  fail "a batch is still unfinished in the journal"
echo "ok: killed with $outbox_at_kill of $n tasks notified; resumed by a new front and completed"

# Another front reads the report back from the database.
start_serve third --store=postgres --db="$PG_URI"
curl -fsS "$third_URL/v1/batches/$id" >"$WORK/again.json" || fail "GET from another front failed"
cmp -s "$WORK/report.json" "$WORK/again.json" ||
  fail "the report changed: $(head -c 300 "$WORK/again.json")"
stop_serve third
echo "ok: the report reads the same from another front"
