#!/usr/bin/env bash
# The standalone pipeline's benchmark table (issue 2). Builds Release, then runs each case once
# and prints elapsed time, the ratio to the critical-path bound, tasks/s and peak RSS, all measured
# in this run. Usage: bench/pipeline_bench.sh [--quick]   (--quick skips the 1,000,000-task cases)
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
ensure_packages "${TASKPIPE_PACKAGES[@]}"
build_tree "$TASKPIPE_ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
bin="$TASKPIPE_ROOT/build/taskpipe"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

json_field() { sed -E "s/.*\"$2\":([0-9.]+).*/\1/" <<<"$1"; }

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
}

run_case "seed, memory, 1,000" "<= 1.02 x bound" --latency=seed --store=memory --tasks=1000
run_case "seed, memory, 100,000" "<= 1.05 x bound, <= 150 MB" --latency=seed --store=memory --tasks=100000
if [ "$quick" -eq 0 ]; then
  run_case "seed, memory, 1,000,000" "<= 1.25 x bound, <= 600 MB" --latency=seed --store=memory --tasks=1000000
  run_case "zero, memory, 1,000,000" ">= 1,500,000 tasks/s" --latency=zero --store=memory --tasks=1000000
  run_case "zero, sqlite, 1,000,000" ">= 250,000 tasks/s" --latency=zero --store=sqlite --db="$work/bench.db" --tasks=1000000
  # The batch journal's cost, measured in the same run (issue 9: within 10 %).
  run_case "zero, sqlite, 1,000,000, --journal=off" "journal on within 10 % of this" --latency=zero --store=sqlite --db="$work/bench-nojournal.db" --tasks=1000000 --journal=off
  # Durable: another process reads every row back from the WAL-mode file.
  echo "  sqlite rows read back by sqlite3: tasks at version 2: $(sqlite3 "$work/bench.db" 'SELECT count(*) FROM tasks WHERE version = 2'), audit: $(sqlite3 "$work/bench.db" 'SELECT count(*) FROM audit'), outbox: $(sqlite3 "$work/bench.db" 'SELECT count(*) FROM outbox') (journal_mode $(sqlite3 "$work/bench.db" 'PRAGMA journal_mode'))"
fi
run_case "seed, sqlite, 100,000" "<= 1.10 x bound" --latency=seed --store=sqlite --db="$work/bench-seed.db" --tasks=100000
if [ "$quick" -eq 1 ]; then
  # The batch journal's cost at a size --quick affords, both in this run.
  run_case "zero, sqlite, 100,000" "" --latency=zero --store=sqlite --db="$work/bench-q.db" --tasks=100000
  run_case "zero, sqlite, 100,000, --journal=off" "journal on within 10 % of this" --latency=zero --store=sqlite --db="$work/bench-q-nojournal.db" --tasks=100000 --journal=off
fi
