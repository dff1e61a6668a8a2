#!/usr/bin/env bash
# SIGSTOP of a stage host (frozen, its socket still open) is detected by the heartbeat within the
# connection timeout, and its tasks are replayed on the other replica. Each host has its own
# memory store: a host frozen inside a transaction on a shared SQLite file would hold its write
# lock and stall the other (see README), which is not what this test is about.
source "$(dirname "$0")/lib.sh"
N=20000
start_node A --stages=validate,audit,update,notify --listen=127.0.0.1:0 --store=memory --seed-tasks=$N --latency=seed
start_node B --stages=validate,audit,update,notify --listen=127.0.0.1:0 --store=memory --seed-tasks=$N --latency=seed
hosts="127.0.0.1:$A_PORT,127.0.0.1:$B_PORT"
(sleep 1; kill -STOP "$A_PID") &
killer=$!
start=$(date +%s%N)
out="$(timeout 30 "$TASKPIPE" run --tasks=$N --store=memory \
  --remote=validate@$hosts --remote=audit@$hosts --remote=update@$hosts --remote=notify@$hosts --json)"
wait "$killer"
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q '^State:.*stopped' "/proc/$A_PID/status" || fail "replica A was not frozen during the batch"
expect_accounted "$out" $N
[ "$(json_number "$out" succeeded)" = $N ] || fail "$out"
# Frozen at 1 s, noticed within the 2 s connection timeout, replayed (2 s): well under 10 s.
[ "$elapsed_ms" -lt 10000 ] || fail "took $elapsed_ms ms: the frozen node was noticed late"
# Chunks are spread over both replicas, so the frozen one held tasks that had to be replayed.
[ "$elapsed_ms" -gt 3000 ] || fail "took only $elapsed_ms ms: the frozen replica held no tasks"
echo "PASS remote_frozen ($elapsed_ms ms)"
