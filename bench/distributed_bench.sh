#!/usr/bin/env bash
# Distribution benchmark (issue 4): a front node plus two stage hosts on loopback, each host
# serving all four stages from its own memory store seeded with the same ids. Measures, in the
# same run: the in-process figure, the distributed figure and their ratio, then a distributed run
# during which one of the two replicas is killed with -9 (0 tasks may be lost or doubled).
# Usage: bench/distributed_bench.sh [TASKS]   (default 1,000,000)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
ensure_packages "${TASKPIPE_PACKAGES[@]}"
build_tree "$TASKPIPE_ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
bin="$TASKPIPE_ROOT/build/taskpipe"
n="${1:-1000000}"
work="$(mktemp -d)"
pids=()
trap 'for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT

json_field() { sed -E "s/.*\"$2\":([0-9.]+).*/\1/" <<<"$1"; }

start_host() {
  "$bin" node --stages=validate,audit,update,notify --listen=127.0.0.1:0 --store=memory \
    --seed-tasks="$n" >"$work/$1.out" 2>"$work/$1.err" &
  pids+=($!)
  eval "$1_pid=$!"
  until grep -q "node listening" "$work/$1.out" 2>/dev/null; do sleep 0.1; done
  eval "$1_port=$(sed -E 's/.*:([0-9]+)$/\1/' "$work/$1.out")"
}

local_out="$("$bin" run --tasks="$n" --store=memory --latency=zero --json)"
local_tps="$(json_field "$local_out" tasks_per_s)"

start_host a
start_host b
hosts="127.0.0.1:${a_port},127.0.0.1:${b_port}"
remote=(--remote=validate@$hosts --remote=audit@$hosts --remote=update@$hosts --remote=notify@$hosts)
dist_out="$("$bin" run --tasks="$n" --store=memory --latency=zero "${remote[@]}" --json)"
dist_tps="$(json_field "$dist_out" tasks_per_s)"

printf '%-40s %14s\n' "case ($n tasks, latency zero, memory)" "tasks/s"
printf '%-40s %14.0f\n' "in-process" "$local_tps"
printf '%-40s %14.0f  (%.2f x in-process; goal >= 500,000)\n' "front + 2 stage hosts" "$dist_tps" \
  "$(awk "BEGIN{print $dist_tps/$local_tps}")"

# Kill -9 one replica 0.5 s into the run, while the batch is in flight (it takes over 1 s).
(sleep 0.5; kill -9 "$a_pid") &
killer=$!
kill_out="$("$bin" run --tasks="$n" --store=memory --latency=zero "${remote[@]}" --json)"
wait "$killer"
echo "kill -9 of one replica mid-run: $kill_out"
ok="$(json_field "$kill_out" succeeded)"
failed="$(json_field "$kill_out" failed)"
echo "  tasks $n, outcomes $((ok + failed)) (lost or doubled: $((n - ok - failed)))"
