#!/usr/bin/env bash
# A front node with two stage hosts (replicas of every stage) sharing one SQLite file: a batch
# spreads across both and every task is accounted for and applied exactly once.
source "$(dirname "$0")/lib.sh"
N=20000
start_node A --stages=validate,audit,update,notify --listen=127.0.0.1:0 --db="$WORK/shared.db" --seed-tasks=$N
start_node B --stages=validate,audit,update,notify --listen=127.0.0.1:0 --db="$WORK/shared.db"
hosts="127.0.0.1:$A_PORT,127.0.0.1:$B_PORT"
out="$(timeout 60 "$TASKPIPE" run --tasks=$N --store=memory --latency=zero --invalid-every=100 \
  --remote=validate@$hosts --remote=audit@$hosts --remote=update@$hosts --remote=notify@$hosts --json --report-file="$WORK/run.json")"
expect_accounted "$out" $N
check_run_invariant $N "$WORK/shared.db"
[ "$(json_number "$out" failed)" = 200 ] || fail "expected 200 invalid_summary failures: $out"
grep -q '"failures_by_code":{"invalid_summary":200}' <<<"$out" || fail "$out"
[ "$(sql 'SELECT count(*) FROM applied_updates')" = 19800 ] || fail "applied rows"
[ "$(sql 'SELECT count(*) FROM outbox')" = 19800 ] || fail "outbox rows"
[ "$(sql 'SELECT max(version) FROM tasks')" = 2 ] || fail "a task was applied twice"
echo "PASS remote_two_hosts"
