#!/usr/bin/env bash
# A stage host killed and restarted on its port is taken back into use by the front node (no
# restart of the front): after the other replica dies too, the restarted one finishes the batch.
source "$(dirname "$0")/lib.sh"
N=5000
start_node A --stages=validate,audit,update,notify --listen=127.0.0.1:0 --db="$WORK/shared.db" --seed-tasks=$N --latency=1000
start_node B --stages=validate,audit,update,notify --listen=127.0.0.1:0 --db="$WORK/shared.db" --latency=1000
hosts="127.0.0.1:$A_PORT,127.0.0.1:$B_PORT"
first_a="$A_PID"
(
  sleep 0.5
  kill -9 "$first_a"
  sleep 0.5
  "$TASKPIPE" node --stages=validate,audit,update,notify --listen=127.0.0.1:$A_PORT \
    --db="$WORK/shared.db" --latency=1000 >"$WORK/A2.out" 2>"$WORK/A2.err" &
  echo $! >"$WORK/A2.pid"
  sleep 2
  kill -9 "$B_PID"
) &
killer=$!
out="$(timeout 60 "$TASKPIPE" run --tasks=$N --store=memory \
  --remote=validate@$hosts --remote=audit@$hosts --remote=update@$hosts --remote=notify@$hosts --json --report-file="$WORK/run.json")"
wait "$killer"
PIDS+=("$(cat "$WORK/A2.pid")")
grep -q "node listening on" "$WORK/A2.out" || fail "the restarted node did not start"
expect_accounted "$out" $N
check_run_invariant $N "$WORK/shared.db"
[ "$(json_number "$out" succeeded)" = $N ] || fail "the restarted node was not used: $out"
[ "$(sql 'SELECT max(version) FROM tasks')" = 2 ] || fail "a task was applied twice"
echo "PASS remote_restart"
