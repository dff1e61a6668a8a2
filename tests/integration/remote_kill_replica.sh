#!/usr/bin/env bash
# kill -9 of one of two replicas mid-batch: its tasks are replayed on the survivor. Nothing is
# lost, nothing is applied twice.
source "$(dirname "$0")/lib.sh"
N=20000
start_node A --stages=validate,audit,update,notify --listen=127.0.0.1:0 --db="$WORK/shared.db" --seed-tasks=$N --latency=seed
start_node B --stages=validate,audit,update,notify --listen=127.0.0.1:0 --db="$WORK/shared.db" --latency=seed
hosts="127.0.0.1:$A_PORT,127.0.0.1:$B_PORT"
(sleep 1; kill -9 "$A_PID") &
killer=$!
out="$(timeout 60 "$TASKPIPE" run --tasks=$N --store=memory \
  --remote=validate@$hosts --remote=audit@$hosts --remote=update@$hosts --remote=notify@$hosts --json --report-file="$WORK/run.json")"
wait "$killer"
kill -0 "$A_PID" 2>/dev/null && fail "replica A was not killed during the batch"
expect_accounted "$out" $N
check_run_invariant $N "$WORK/shared.db"
[ "$(json_number "$out" succeeded)" = $N ] || fail "tasks lost with a replica left: $out"
[ "$(sql 'SELECT count(*) FROM applied_updates')" = $N ] || fail "applied rows"
[ "$(sql 'SELECT count(*) FROM audit')" = $N ] || fail "audit rows"
[ "$(sql 'SELECT count(*) FROM outbox')" = $N ] || fail "outbox rows"
[ "$(sql 'SELECT max(version) FROM tasks')" = 2 ] || fail "a task was applied twice"
echo "PASS remote_kill_replica"
