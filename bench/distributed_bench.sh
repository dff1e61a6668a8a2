#!/usr/bin/env bash
# Distribution benchmark (issue 4): a front node plus two stage hosts on loopback, each host
# serving all four stages from its own memory store seeded with the same ids. Measures, in the
# same run: the in-process figure, the distributed figure and their ratio, then a distributed run
# during which one of the two replicas is killed with -9 (0 tasks may be lost or doubled).
# Then the three-segment case (issue 14): Validate on the front, Audit+Update on two replicas and
# Notify on a third host, each host in a network namespace of its own behind a veth pair (set up
# here as root, removed on exit), so the traffic crosses real interfaces (plain CAF links:
# --insecure, as a bench on one machine; TLS costs more); it reports tasks/s and the bytes each
# segment carried per task (the kernel's counters of the front's veth ends).
# Usage: bench/distributed_bench.sh [TASKS]   (default 1,000,000)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
ensure_packages "${TASKPIPE_PACKAGES[@]}"
build_tree "$TASKPIPE_ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
bin="$TASKPIPE_ROOT/build/taskpipe"
n="${1:-1000000}"
work="$(mktemp -d)"
pids=()
netns=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for ns in "${netns[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

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

# -- three network segments ---------------------------------------------------------------------
# segment K: the front's end tpfK (10.77.K.1) <-> tpsK (10.77.K.2) in namespace taskpipe-hK.
if ! ip netns add taskpipe-probe 2>/dev/null; then
  echo "three segments: skipped (needs root and network namespaces)"
  exit 0
fi
ip netns del taskpipe-probe
for k in 1 2 3; do
  ns="taskpipe-h$k"
  ip netns del "$ns" 2>/dev/null || true # left by a run that was killed
  ip link del "tpf$k" 2>/dev/null || true
  ip netns add "$ns"
  netns+=("$ns")
  ip link add "tpf$k" type veth peer name "tps$k"
  ip link set "tps$k" netns "$ns"
  ip addr add "10.77.$k.1/24" dev "tpf$k"
  ip link set "tpf$k" up
  ip -n "$ns" addr add "10.77.$k.2/24" dev "tps$k"
  ip -n "$ns" link set "tps$k" up
  ip -n "$ns" link set lo up
done
start_segment_host() { # NAME K STAGES
  ip netns exec "taskpipe-h$2" "$bin" node --stages="$3" --listen="10.77.$2.2:0" --insecure --store=memory \
    --seed-tasks="$n" >"$work/$1.out" 2>"$work/$1.err" &
  pids+=($!)
  until grep -q "node listening" "$work/$1.out" 2>/dev/null; do sleep 0.1; done
  eval "$1_port=$(sed -E 's/.*:([0-9]+)$/\1/' "$work/$1.out")"
}
start_segment_host r1 1 audit,update
start_segment_host r2 2 audit,update
start_segment_host nt 3 notify
replicas="10.77.1.2:${r1_port},10.77.2.2:${r2_port}"
wire_bytes() { # K: bytes both ways on segment K so far
  echo $(( $(cat /sys/class/net/tpf$1/statistics/tx_bytes) + $(cat /sys/class/net/tpf$1/statistics/rx_bytes) ))
}
before=("$(wire_bytes 1)" "$(wire_bytes 2)" "$(wire_bytes 3)")
seg_out="$("$bin" run --tasks="$n" --store=memory --latency=zero --remote=audit@$replicas \
  --remote=update@$replicas --remote=notify@10.77.3.2:${nt_port} --json)"
seg_tps="$(json_field "$seg_out" tasks_per_s)"
[ "$(json_field "$seg_out" succeeded)" = "$n" ] || echo "  not every task succeeded: $seg_out"
printf '%-40s %14.0f  (%.2f x in-process; goal >= 500,000)\n' \
  "front+Validate, 2 x Audit+Update, Notify" "$seg_tps" "$(awk "BEGIN{print $seg_tps/$local_tps}")"
for k in 1 2 3; do
  bytes=$(( $(wire_bytes $k) - before[k - 1] ))
  label=("" "front <-> replica 1 (Audit+Update)" "front <-> replica 2 (Audit+Update)" "front <-> Notify host")
  printf '  %-38s %14d bytes, %.1f bytes per task of the batch\n' "${label[$k]}" "$bytes" \
    "$(awk "BEGIN{print $bytes/$n}")"
done
