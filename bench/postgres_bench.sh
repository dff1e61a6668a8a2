#!/usr/bin/env bash
# The PostgreSQL store's benchmark (issue 11), all figures measured in this run against a local
# throwaway PostgreSQL 15 server (scripts/postgres_test_server.sh: fsync off, synchronous_commit
# off, sharing this machine's cores with the client):
#   - `taskpipe run --store=postgres --latency=zero --tasks=N` (default 1,000,000): tasks/s;
#   - bench/postgres_baseline on the same N: the same statements from a bare libpq client, one
#     pipeline per 1,024-task chunk (see postgres_baseline.cpp); and taskpipe's ratio to it;
#   - the seed latency at min(N, 100,000) tasks: elapsed / the critical-path bound.
# Usage: [BENCH_BUILD=DIR] bench/postgres_bench.sh [TASKS]     Goals: >= 100,000 tasks/s, >= 0.7 x the baseline,
# seed <= 1.10 x the bound. Each program gets a fresh database.
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
ensure_packages "${TASKPIPE_PACKAGES[@]}"
# BENCH_BUILD=DIR uses an already built tree instead of building Release into build/.
tree="${BENCH_BUILD:-$TASKPIPE_ROOT/build}"
if [ -z "${BENCH_BUILD:-}" ]; then
  build_tree "$tree" -DCMAKE_BUILD_TYPE=Release >/dev/null
  TARGET=postgres_baseline build_tree "$tree" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
bin="$tree/taskpipe"
baseline="$tree/bench/postgres_baseline"
n="${1:-1000000}"
seed_n=$(( n < 100000 ? n : 100000 ))
work="$(mktemp -d)"
state="$work/postgres.state"
trap 'bash "$TASKPIPE_ROOT/scripts/postgres_test_server.sh" stop "$state" 2>/dev/null || true; rm -rf "$work"' EXIT
uri="$(bash "$TASKPIPE_ROOT/scripts/postgres_test_server.sh" start "$state")"
base="${uri%/postgres}"
for db in baseline taskpipe seed; do psql "$uri" -qc "CREATE DATABASE $db"; done

json_field() { sed -E "s/.*\"$2\":([0-9.]+).*/\1/" <<<"$1"; }

b="$("$baseline" "$base/baseline" "$n")"
t="$("$bin" run --json --store=postgres --db="$base/taskpipe" --latency=zero --tasks="$n")"
s="$("$bin" run --json --store=postgres --db="$base/seed" --latency=seed --tasks="$seed_n")"
b_tps="$(json_field "$b" tasks_per_s)"
t_tps="$(json_field "$t" tasks_per_s)"
printf '%-52s %12s  %s\n' "case" "figure" "goal"
printf '%-52s %12.0f  %s\n' "baseline (bare libpq, same statements), $n tasks/s" "$b_tps" "-"
printf '%-52s %12.0f  %s\n' "taskpipe run --store=postgres --latency=zero, tasks/s" "$t_tps" ">= 100,000"
printf '%-52s %12.3f  %s\n' "taskpipe / baseline" "$(awk "BEGIN{print $t_tps/$b_tps}")" ">= 0.7"
printf '%-52s %12.3f  %s\n' "seed latency, $seed_n tasks: elapsed / bound" \
  "$(awk "BEGIN{print $(json_field "$s" elapsed_ms)/$(json_field "$s" critical_path_ms)}")" "<= 1.10"
grep -q "\"succeeded\":$n," <<<"$t" || { echo "taskpipe run did not succeed whole: $t" >&2; exit 1; }
