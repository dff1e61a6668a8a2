#!/usr/bin/env bash
# Issue 8, case 2: the batch deadline passes while its tasks are inside Update's store call (the
# store held by another connection's write lock), and the update commits after the deadline.
# The report must say what the store holds: applied tasks are never reported "not applied".
source "$(dirname "$0")/lib.sh"
db="$WORK/t.db"
start_serve front --store=sqlite --db="$db" --seed-tasks=20 --latency=1000 --workers=2
tasks_json 1 20 ',"timeout_ms":3500' >"$WORK/request.json"
answer="$(curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/request.json" \
  "$front_URL/v1/batches?wait=false")" || fail "POST failed"
id="$(sed -E 's/.*"batch_id":"([^"]+)".*/\1/' <<<"$answer")"
# Audit writes at ~2.0 s, Update at ~3.0 s: take the lock in between and keep it past the
# deadline (3.5 s) and its old 1 s grace, releasing it before SQLite's 5 s busy timeout.
sleep 2.5
hold_write_lock "$db" 3.5
wait_final "$front_URL" "$id" "$WORK/report.json"
stop_serve front  # every write the node will make is made
check_invariant "$db" "$WORK/request.json" "$WORK/report.json"
grep -q '"code":"timeout"' "$WORK/report.json" || fail "no task timed out: $(cat "$WORK/report.json")"
echo "ok: deadline during Update's store call: the report matches the store"
