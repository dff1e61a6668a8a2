#!/usr/bin/env bash
# Issue 9: an accepted batch survives the node. `kill -9` of serve mid-batch (wait=false, 100,000
# tasks, seed latency, SQLite), then a restart on the same file: the batch completes, its report
# matches the store (the invariant checker), no task is applied twice and none is lost. Then the
# same with the kill during the admission write: while the journal write waits for the write
# lock (nothing of the batch may exist), and as its journal row is committed (it completes after
# the restart).
source "$(dirname "$0")/lib.sh"
db="$WORK/t.db"
n=100000
awk -v n=$n 'BEGIN { printf "{\"tasks\":["; for (i = 1; i <= n; i++) printf "%s{\"id\":%d,\"type\":\"Epic\",\"summary\":\"Updated %d\"}", (i > 1 ? "," : ""), i, i; printf "]}" }' >"$WORK/request.json"

start_serve first --db="$db" --seed-tasks=$((n + 1000)) --latency=seed
answer="$(curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/request.json" \
  "$first_URL/v1/batches?wait=false")" || fail "POST failed"
id="$(sed -E 's/.*"batch_id":"([^"]+)".*/\1/' <<<"$answer")"
[ "$(sql_db "SELECT count(*) FROM batches WHERE batch_id = '$id'")" = 1 ] ||
  fail "202 answered before the batch was journaled"
sleep 1.2
kill -9 "$first_PID"
wait "$first_PID" 2>/dev/null || true
outbox_at_kill="$(sql_db "SELECT count(*) FROM outbox WHERE batch_id = '$id'")"
[ "$outbox_at_kill" -lt "$n" ] || fail "the batch had finished before the kill: nothing to resume"

start_serve second --db="$db" --latency=seed
wait_final "$second_URL" "$id" "$WORK/report.json"
grep -q '"state":"done"' "$WORK/report.json" || fail "not done: $(head -c 300 "$WORK/report.json")"
grep -q "\"succeeded\":$n" "$WORK/report.json" || fail "not every task succeeded: $(head -c 300 "$WORK/report.json")"
stop_serve second
check_invariant "$db" "$WORK/request.json" "$WORK/report.json"
[ "$(sql_db "SELECT count(*) FROM tasks WHERE id <= $n AND version != 2")" = 0 ] ||
  fail "some task was applied twice or not at all"
[ "$(sql_db "SELECT count(*) FROM applied_updates WHERE batch_id = '$id'")" = "$n" ] ||
  fail "applied_updates rows missing"
echo "ok: killed with $outbox_at_kill of $n tasks notified; resumed and completed, report matches the store"

# The report after yet another restart is the same (read back from the store).
start_serve third --db="$db"
curl -fsS "$third_URL/v1/batches/$id" >"$WORK/again.json" || fail "GET after restart failed"
cmp -s "$WORK/report.json" "$WORK/again.json" || fail "the report changed across a restart"
stop_serve third

# Kill during the admission write, twice. First while the journal write waits for SQLite's write
# lock (a second connection holds it): nothing was committed, so nothing of the batch may exist
# after the kill, and the client got no 202.
db="$WORK/t2.db"
start_serve fourth --db="$db" --seed-tasks=$n --latency=seed
hold_write_lock "$db" 4
sleep 0.3
curl -sS -o "$WORK/cut.json" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @"$WORK/request.json" "$fourth_URL/v1/batches?wait=false" >"$WORK/cut.code" 2>/dev/null &
cut_pid=$!
PIDS+=("$cut_pid")
sleep 1.5
kill -9 "$fourth_PID"
wait "$fourth_PID" 2>/dev/null || true
wait "$cut_pid" 2>/dev/null || true
[ "$(cat "$WORK/cut.code")" != 202 ] || fail "202 answered while the journal write waited for the lock"
sleep 3 # the lock holder commits (nothing) and leaves
[ "$(sql_db "SELECT count(*) FROM batches") $(sql_db "SELECT count(*) FROM audit") $(sql_db "SELECT count(*) FROM applied_updates")" = "0 0 0" ] ||
  fail "a batch killed during its journal write left rows behind"
echo "ok: killed while the journal write waited for the lock: nothing of the batch exists"

# Then the moment its journal row is committed (polled from a second connection), before or just
# as the 202 goes out: the batch is accepted, so it completes after the restart.
start_serve fifth --db="$db" --latency=seed
curl -sS -o /dev/null -H 'Content-Type: application/json' --data-binary @"$WORK/request.json" \
  "$fifth_URL/v1/batches?wait=false" 2>/dev/null &
PIDS+=("$!")
for _ in $(seq 400); do
  [ "$(sql_db "SELECT count(*) FROM batches")" = 1 ] && break
  sleep 0.01
done
kill -9 "$fifth_PID"
wait "$fifth_PID" 2>/dev/null || true
[ "$(sql_db "SELECT count(*) FROM batches")" = 1 ] || fail "the batch was never journaled"
id="$(sql_db "SELECT batch_id FROM batches")"
[ "$(sql_db "SELECT count(*) FROM outbox WHERE batch_id = '$id'")" -lt "$n" ] ||
  fail "the batch had finished before the kill"
start_serve sixth --db="$db" --latency=seed
wait_final "$sixth_URL" "$id" "$WORK/report2.json"
stop_serve sixth
grep -q "\"succeeded\":$n" "$WORK/report2.json" || fail "not every task succeeded: $(head -c 300 "$WORK/report2.json")"
check_invariant "$db" "$WORK/request.json" "$WORK/report2.json"
echo "ok: killed as its journal row was committed: the batch completed after the restart"
