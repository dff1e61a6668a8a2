#!/usr/bin/env bash
# Issue 8, cases 3 and 4: a batch is cancelled while its tasks are in Notify on two stage hosts,
# then one host is killed. Only what that host held is dealt with again: the survivor's tasks
# finish and succeed (no replay of them fails them `cancelled` at Validate while they are being
# applied), and the lost host's tasks of the cancelled batch fail node_lost saying that they may
# have been applied there. The report agrees with the store, and nothing is applied twice.
source "$(dirname "$0")/lib.sh"
N=3000  # three chunks of at most 1,024: both hosts get some
start_node A --stages=validate,audit,update,notify --listen=127.0.0.1:0 --db="$WORK/shared.db" --seed-tasks=$N --latency=400
start_node B --stages=validate,audit,update,notify --listen=127.0.0.1:0 --db="$WORK/shared.db" --latency=400
hosts="127.0.0.1:$A_PORT,127.0.0.1:$B_PORT"
start_serve front --store=memory \
  --remote=validate@$hosts --remote=audit@$hosts --remote=update@$hosts --remote=notify@$hosts
tasks_json 1 $N >"$WORK/request.json"
answer="$(curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/request.json" \
  "$front_URL/v1/batches?wait=false")" || fail "POST failed"
id="$(sed -E 's/.*"batch_id":"([^"]+)".*/\1/' <<<"$answer")"
# Each stage takes 0.4 s. Once every update is applied, all tasks are in Notify's 0.4 s: cancel,
# then kill A, in that window.
for _ in $(seq 400); do
  [ "$(sql 'SELECT count(*) FROM applied_updates')" = $N ] && break
  sleep 0.01
done
[ "$(sql 'SELECT count(*) FROM applied_updates')" = $N ] || fail "the updates were not applied"
curl -fsS -X DELETE "$front_URL/v1/batches/$id" >/dev/null || fail "DELETE failed"
sleep 0.05
kill -9 "$A_PID"
wait_final "$front_URL" "$id" "$WORK/report.json"
stop_serve front
kill -TERM "$B_PID"
wait "$B_PID" 2>/dev/null || true
check_invariant "$WORK/shared.db" "$WORK/request.json" "$WORK/report.json"
report="$(cat "$WORK/report.json")"
expect_accounted "${report/\"total\"/\"tasks\"}" $N
ok="$(json_number "$report" succeeded)"
[ "$ok" -gt 0 ] || fail "no task of the surviving host succeeded: ${report:0:400}"
if grep -q '"code":"cancelled"' <<<"$report"; then
  fail "a task in Notify was reported cancelled: ${report:0:400}"
fi
[ "$(sql 'SELECT max(version) FROM tasks')" = 2 ] || fail "a task was applied twice"
echo "ok: cancel then host lost: $ok succeeded, the rest node_lost (may have been applied)"
