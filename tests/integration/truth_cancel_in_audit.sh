#!/usr/bin/env bash
# Issue 8, case 1: DELETE while the batch's tasks are inside Audit's store call (the store held by
# another connection's write lock). None of them may be applied afterwards: they fail `cancelled`
# before Update's transaction, and the report agrees with the store.
source "$(dirname "$0")/lib.sh"
db="$WORK/t.db"
start_serve front --store=sqlite --db="$db" --seed-tasks=20 --latency=1000 --workers=2
tasks_json 1 20 >"$WORK/request.json"
answer="$(curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/request.json" \
  "$front_URL/v1/batches?wait=false")" || fail "POST failed"
id="$(sed -E 's/.*"batch_id":"([^"]+)".*/\1/' <<<"$answer")"
# Validate's store call runs at ~1.0 s, Audit's at ~2.0 s: take the lock in between, so Audit's
# writes wait for it; cancel while they wait; release it long before SQLite's busy timeout.
sleep 1.5
hold_write_lock "$db" 2.5
sleep 1.0
curl -fsS -X DELETE "$front_URL/v1/batches/$id" | grep -q '"state":"cancelled"' ||
  fail "DELETE did not answer state cancelled"
wait_final "$front_URL" "$id" "$WORK/report.json"
stop_serve front  # every write the node will make is made
grep -q '"succeeded":0' "$WORK/report.json" || fail "tasks succeeded after the cancel: $(cat "$WORK/report.json")"
check_invariant "$db" "$WORK/request.json" "$WORK/report.json"
[ "$(sqlite3 "$db" "SELECT count(*) FROM applied_updates")" = 0 ] || fail "updates applied after the cancel"
echo "ok: cancel during Audit's store call: 20 tasks cancelled, none applied"
