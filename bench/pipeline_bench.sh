#!/usr/bin/env bash
# The standalone pipeline's benchmark table (issue 2). Builds Release, then runs each case once
# and prints elapsed time, the ratio to the critical-path bound, tasks/s and peak RSS, all measured
# in this run. Then the cost of the dashboard's per-worker stage counters: the same zero-latency
# memory run from this build and from one with the counters compiled out
# (-DTASKPIPE_STAGE_COUNTERS=OFF, build-nocounters/: only actors/stage.cpp differs), alternated
# COUNTER_RUNS times (default 5) with COUNTER_TASKS tasks (default 1,000,000); goal: the medians
# within 2 %. Then the batch journal's cost the same way: zero latency, SQLite, with and without
# --journal=off, alternated JOURNAL_RUNS times (default 3; 1,000,000 tasks, 100,000 with --quick);
# goal: the medians within 10 %.
# The zero-latency 1,000,000-task cases are followed by their bound (bench/store_bound.cpp: the
# store's own work for the same batch on one thread, no actors) and taskpipe's ratio to it.
# Usage: bench/pipeline_bench.sh [--quick] [--counters-only] [--journal-only]
#   --quick skips the 1,000,000-task cases; --counters-only and --journal-only run only that
#   comparison.
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
ensure_packages "${TASKPIPE_PACKAGES[@]}"
quick=0
counters_only=0
journal_only=0
journal_tasks=1000000
for arg in "$@"; do
  case "$arg" in
    --quick) quick=1; journal_tasks=100000 ;;
    --counters-only) counters_only=1 ;;
    --journal-only) journal_only=1 ;;
    *) echo "usage: bench/pipeline_bench.sh [--quick] [--counters-only] [--journal-only]" >&2; exit 2 ;;
  esac
done
# Only the binary is needed here; the second tree differs from the first in actors/stage.cpp.
TARGET=taskpipe build_tree "$TASKPIPE_ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
TARGET=store_bound build_tree "$TASKPIPE_ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
TARGET=taskpipe build_tree "$TASKPIPE_ROOT/build-nocounters" -DCMAKE_BUILD_TYPE=Release \
  -DTASKPIPE_STAGE_COUNTERS=OFF >/dev/null
bin="$TASKPIPE_ROOT/build/taskpipe"
bin_off="$TASKPIPE_ROOT/build-nocounters/taskpipe"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

json_field() { sed -E "s/.*\"$2\":([0-9.]+).*/\1/" <<<"$1"; }

median() { sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# compare_medians TITLE GOAL LABEL_A LABEL_B CMD_A CMD_B: runs the two `taskpipe run --json`
# commands alternately RUNS times (so that drift hits both alike), prints both medians and A/B.
compare_medians() {
  local title="$1" goal="$2" label_a="$3" label_b="$4" cmd_a="$5" cmd_b="$6" a=() b=() i
  for ((i = 0; i < runs; i++)); do
    a+=("$(json_field "$(eval "$cmd_a")" tasks_per_s)")
    b+=("$(json_field "$(eval "$cmd_b")" tasks_per_s)")
  done
  local med_a med_b
  med_a="$(printf '%s\n' "${a[@]}" | median)"
  med_b="$(printf '%s\n' "${b[@]}" | median)"
  echo "$title, $runs runs each (alternated):"
  printf '  %-28s %12.0f tasks/s (median; runs: %s)\n' "$label_a" "$med_a" "${a[*]}"
  printf '  %-28s %12.0f tasks/s (median; runs: %s)\n' "$label_b" "$med_b" "${b[*]}"
  awk -v a="$med_a" -v b="$med_b" -v g="$goal" \
    'BEGIN{r=a/b; printf "  ratio %.3f (goal >= %s): %s\n", r, g, (r >= g ? "met" : "NOT met")}'
}

# The dashboard's counters: tasks/s with and without them.
counter_cost() {
  local tasks="${COUNTER_TASKS:-1000000}" runs="${COUNTER_RUNS:-5}"
  compare_medians "dashboard counters, zero latency, memory, $tasks tasks" 0.98 \
    "with counters" "counters compiled out" \
    '"$bin" run --json --latency=zero --store=memory --tasks="$tasks"' \
    '"$bin_off" run --json --latency=zero --store=memory --tasks="$tasks"'
}

# The batch journal (issue 9: within 10 %): tasks/s with and without it, each run on a new file.
journal_cost() {
  local tasks="$1" runs="${JOURNAL_RUNS:-3}"
  compare_medians "batch journal, zero latency, sqlite, $tasks tasks" 0.90 \
    "journal on" "--journal=off" \
    'rm -f "$work"/journal.db*; "$bin" run --json --latency=zero --store=sqlite --db="$work/journal.db" --tasks="$tasks"' \
    'rm -f "$work"/journal.db*; "$bin" run --json --latency=zero --store=sqlite --db="$work/journal.db" --tasks="$tasks" --journal=off'
}
if [ "$counters_only" -eq 1 ]; then
  counter_cost
  exit 0
fi
if [ "$journal_only" -eq 1 ]; then
  journal_cost "$journal_tasks"
  exit 0
fi

printf '%-44s %10s %8s %12s %9s  %s\n' "case" "elapsed" "x bound" "tasks/s" "peak RSS" "goal"
run_case() {
  local label="$1" goal="$2"
  shift 2
  local out rss
  out="$(/usr/bin/time -f '%M' -o "$work/rss" "$bin" run --json "$@")"
  rss=$(( $(cat "$work/rss") / 1024 ))
  local elapsed bound tps ratio
  elapsed="$(json_field "$out" elapsed_ms)"
  bound="$(json_field "$out" critical_path_ms)"
  tps="$(json_field "$out" tasks_per_s)"
  ratio="-"
  if awk "BEGIN{exit !($bound > 0)}"; then ratio="$(awk "BEGIN{printf \"%.3f\", $elapsed/$bound}")"; fi
  printf '%-44s %8.1f ms %8s %12.0f %6d MB  %s\n' "$label" "$elapsed" "$ratio" "$tps" "$rss" "$goal"
  last_tps="$tps"
}

# The store's limit (bench/store_bound.cpp: the same store work on one thread, no actors), best of
# 1, 4 and 16 chunks per transaction, and the last run_case's tasks/s as a ratio to it.
bound_case() {
  local label="$1" goal="$2" run_tps="$last_tps" best=0 k out tps
  shift 2
  for k in 1 4 16; do
    out="$("$TASKPIPE_ROOT/build/bench/store_bound" "$@" --chunks-per-group=$k)"
    tps="$(json_field "$out" tasks_per_s)"
    if awk "BEGIN{exit !($tps > $best)}"; then best="$tps"; fi
  done
  printf '%-44s %11s %8s %12.0f %9s  %s\n' "$label" "-" "-" "$best" "-" \
    "taskpipe above = $(awk "BEGIN{printf \"%.3f\", $run_tps/$best}") x this; goal $goal"
}

run_case "seed, memory, 1,000" "<= 1.02 x bound" --latency=seed --store=memory --tasks=1000
run_case "seed, memory, 100,000" "<= 1.05 x bound, <= 150 MB" --latency=seed --store=memory --tasks=100000
if [ "$quick" -eq 0 ]; then
  run_case "seed, memory, 1,000,000" "<= 1.25 x bound, <= 600 MB" --latency=seed --store=memory --tasks=1000000
  run_case "zero, memory, 1,000,000" ">= 1,500,000 tasks/s" --latency=zero --store=memory --tasks=1000000
  bound_case "  bound: memory store on one thread" ">= 0.5 x" --store=memory --tasks=1000000
  run_case "zero, sqlite, 1,000,000" ">= 250,000 tasks/s" --latency=zero --store=sqlite --db="$work/bench.db" --tasks=1000000
  bound_case "  bound: sqlite store on one thread" ">= 0.9 x" --store=sqlite --db="$work/bound.db" --tasks=1000000
  # --durability: full (the default, an fsync per group commit) against normal, same run.
  run_case "zero, sqlite, 1,000,000, durability normal" "(the cost of full)" --latency=zero --store=sqlite --durability=normal --db="$work/bench-normal.db" --tasks=1000000
  # Durable: another process reads every row back from the WAL-mode file.
  echo "  sqlite rows read back by sqlite3: tasks at version 2: $(sqlite3 "$work/bench.db" 'SELECT count(*) FROM tasks WHERE version = 2'), audit: $(sqlite3 "$work/bench.db" 'SELECT count(*) FROM audit'), outbox: $(sqlite3 "$work/bench.db" 'SELECT count(*) FROM outbox') (journal_mode $(sqlite3 "$work/bench.db" 'PRAGMA journal_mode'))"
fi
run_case "seed, sqlite, 100,000" "<= 1.10 x bound" --latency=seed --store=sqlite --db="$work/bench-seed.db" --tasks=100000
run_case "seed, sqlite, 100,000, durability normal" "(the cost of full)" --latency=seed --store=sqlite --durability=normal --db="$work/bench-seed-normal.db" --tasks=100000
echo
journal_cost "$journal_tasks"
echo
counter_cost
