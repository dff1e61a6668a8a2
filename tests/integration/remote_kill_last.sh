#!/usr/bin/env bash
# kill -9 of the only host of Audit and Update mid-batch: the tasks it held fail with node_lost,
# the others succeed, every task has exactly one outcome, and the front stays well.
source "$(dirname "$0")/lib.sh"
N=20000
start_node A --stages=audit,update --listen=127.0.0.1:0 --store=memory --seed-tasks=$N --latency=seed
(sleep 1; kill -9 "$A_PID") &
killer=$!
out="$(timeout 60 "$TASKPIPE" run --tasks=$N --store=memory \
  --remote=audit@127.0.0.1:$A_PORT --remote=update@127.0.0.1:$A_PORT --json)"
wait "$killer"
expect_accounted "$out" $N
# The fast tasks (400 ms) finished before the kill; the slow ones (id % 5 == 0) were lost.
[ "$(json_number "$out" succeeded)" = 16000 ] || fail "$out"
grep -q '"failures_by_code":{"node_lost":4000}' <<<"$out" || fail "$out"
echo "PASS remote_kill_last"
