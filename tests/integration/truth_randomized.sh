#!/usr/bin/env bash
# Issue 8: a bounded randomized test of the truthful-report invariant. Overlapping small batches
# with random deadlines and cancels, while another connection holds SQLite's write lock in random
# windows and (with --kill-host) a stage host is killed; after the run every batch's report is
# checked against the store, and so is per-key order (version and final value follow acceptance
# order). The seed is fixed per ctest entry and printed on failure: rerun with the same seed.
#   truth_randomized.sh SEED [--kill-host]
source "$(dirname "$0")/lib.sh"
SEED="${1:?seed}"
KILL_HOST="${2:-}"
RANDOM=$SEED
trap 'echo "truth_randomized: seed $SEED ${KILL_HOST}" >&2' ERR
db="$WORK/shared.db"
IDS=300
if [ -n "$KILL_HOST" ]; then
  start_node A --stages=validate,audit,update,notify --listen=127.0.0.1:0 --db="$db" --seed-tasks=$IDS --latency=seed
  start_node B --stages=validate,audit,update,notify --listen=127.0.0.1:0 --db="$db" --latency=seed
  hosts="127.0.0.1:$A_PORT,127.0.0.1:$B_PORT"
  start_serve front --store=memory --remote=validate@$hosts --remote=audit@$hosts \
    --remote=update@$hosts --remote=notify@$hosts
else
  start_serve front --store=sqlite --db="$db" --seed-tasks=$IDS --latency=seed
fi

# batch_json ROUND FIRST COUNT [TIMEOUT_MS]: COUNT tasks from id FIRST (wrapping at IDS), each
# summary naming its round so that the final value tells which batch it came from.
batch_json() {
  local body='{"tasks":[' i id
  for ((i = 0; i < $3; ++i)); do
    id=$(( ($2 + i - 1) % IDS + 1 ))
    [ "$i" -gt 0 ] && body+=','
    body+="{\"id\":$id,\"summary\":\"round $1 task $id\"}"
  done
  body+=']'
  [ -n "${4:-}" ] && body+=",\"timeout_ms\":$4"
  printf '%s}' "$body"
}

ROUNDS=14
ids=()
for round in $(seq $ROUNDS); do
  count=$((RANDOM % 120 + 1))
  first=$((RANDOM % IDS + 1))
  timeout=""
  (( RANDOM % 3 == 0 )) && timeout=$((RANDOM % 1500 + 100))
  batch_json "$round" "$first" "$count" "$timeout" >"$WORK/request.$round.json"
  answer="$(curl -fsS -H 'Content-Type: application/json' \
    --data-binary @"$WORK/request.$round.json" "$front_URL/v1/batches?wait=false")" ||
    fail "POST of round $round failed (seed $SEED)"
  id="$(sed -E 's/.*"batch_id":"([^"]+)".*/\1/' <<<"$answer")"
  ids+=("$id")
  case $((RANDOM % 5)) in
    0) (sleep "0.$((RANDOM % 10))"; curl -fsS -X DELETE "$front_URL/v1/batches/$id" >/dev/null) &
       PIDS+=("$!") ;;
    1) hold_write_lock "$db" "0.$((RANDOM % 10 + 1))" ;;
  esac
  if [ -n "$KILL_HOST" ] && [ "$round" = $((ROUNDS / 2)) ]; then
    sleep 0.3
    kill -9 "$A_PID"
  fi
  sleep "0.$((RANDOM % 4))"
done
for round in $(seq $ROUNDS); do
  wait_final "$front_URL" "${ids[round - 1]}" "$WORK/report.$round.json"
done
stop_serve front
if [ -n "$KILL_HOST" ]; then
  kill -TERM "$B_PID"
  wait "$B_PID" 2>/dev/null || true
fi
for round in $(seq $ROUNDS); do
  check_invariant "$db" "$WORK/request.$round.json" "$WORK/report.$round.json" >/dev/null ||
    fail "seed $SEED round $round"
done
# Per-key order: one version per applied (not superseded) write, a superseded write lost to a
# later batch, and each task holds the value of the newest batch applied to it.
[ "$(sql "SELECT count(*) FROM tasks t WHERE version <> 1 + (SELECT count(*) FROM applied_updates a
          WHERE a.task_id = t.id AND a.superseded_by IS NULL)")" = 0 ] ||
  fail "seed $SEED: a version does not count the applied writes"
[ "$(sql "SELECT count(*) FROM applied_updates WHERE superseded_by <= batch_id")" = 0 ] ||
  fail "seed $SEED: a write was superseded by an earlier batch"
[ "$(sql "SELECT count(*) FROM tasks t JOIN audit a ON a.task_id = t.id AND a.batch_id =
          (SELECT max(batch_id) FROM applied_updates u WHERE u.task_id = t.id)
          WHERE a.new_summary IS NOT t.summary")" = 0 ] ||
  fail "seed $SEED: a task does not hold its newest batch's value"
codes="$(cat "$WORK"/report.*.json | grep -o '"code":"[a-z_]*"' | sort | uniq -c | tr -s ' \n' ' ')"
echo "ok: seed $SEED ${KILL_HOST}: $ROUNDS batches, every report agrees with the store (failures:${codes:- none})"
