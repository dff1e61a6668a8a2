#!/usr/bin/env bash
# The PostgreSQL store's benchmark (issue 11), all figures measured in this run against a local
# throwaway PostgreSQL 15 server (scripts/postgres_test_server.sh: fsync off, synchronous_commit
# off, sharing this machine's cores with the client). Its lines:
#   - "baseline, 1 connection": bench/postgres_baseline on the same N, the issue's "minimal libpq
#     program issuing the same statements": the store's statements from a bare libpq client, one
#     pipeline (one transaction) per 1,024-task chunk, on one connection (postgres_baseline.cpp);
#   - "baseline, 2 / 4 connections": the same program with --connections=2 and 4, each connection
#     a thread running its own share of the chunks: what this server does with these statements at
#     best, i.e. the ceiling for any client on this machine (taskpipe writes on several
#     connections too: Validate's and GET's reader, Audit and Notify, Update);
#   - `taskpipe run --store=postgres --latency=zero --tasks=N` (default 1,000,000): tasks/s;
#   - taskpipe / baseline: its ratio to the one-connection baseline (the issue's goal), and, for
#     information, to the best multi-connection one (the share of the server's ceiling it reaches);
#   - the seed latency at min(N, 100,000) tasks: elapsed / the critical-path bound.
# Usage: [BENCH_BUILD=DIR] bench/postgres_bench.sh [TASKS]     Goals: >= 100,000 tasks/s, >= 0.7 x
# the one-connection baseline, seed <= 1.10 x the bound. Each program gets a fresh database.
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
for db in baseline baseline2 baseline4 taskpipe seed; do psql "$uri" -qc "CREATE DATABASE $db"; done

json_field() { sed -E "s/.*\"$2\":([0-9.]+).*/\1/" <<<"$1"; }

b="$("$baseline" "$base/baseline" "$n")"
b2="$("$baseline" "$base/baseline2" "$n" --connections=2)"
b4="$("$baseline" "$base/baseline4" "$n" --connections=4)"
t="$("$bin" run --json --store=postgres --db="$base/taskpipe" --latency=zero --tasks="$n")"
s="$("$bin" run --json --store=postgres --db="$base/seed" --latency=seed --tasks="$seed_n")"
b_tps="$(json_field "$b" tasks_per_s)"
b2_tps="$(json_field "$b2" tasks_per_s)"
b4_tps="$(json_field "$b4" tasks_per_s)"
best_tps="$(awk "BEGIN{m=$b2_tps; if ($b4_tps > m) m=$b4_tps; print m}")"
t_tps="$(json_field "$t" tasks_per_s)"
printf '%-52s %12s  %s\n' "case" "figure" "goal"
printf '%-52s %12.0f  %s\n' "baseline (bare libpq, same statements), 1 connection" "$b_tps" "-"
printf '%-52s %12.0f  %s\n' "baseline, 2 connections (server ceiling)" "$b2_tps" "-"
printf '%-52s %12.0f  %s\n' "baseline, 4 connections (server ceiling)" "$b4_tps" "-"
printf '%-52s %12.0f  %s\n' "taskpipe run --store=postgres --latency=zero, tasks/s" "$t_tps" ">= 100,000"
printf '%-52s %12.3f  %s\n' "taskpipe / baseline (1 connection)" "$(awk "BEGIN{print $t_tps/$b_tps}")" ">= 0.7"
printf '%-52s %12.3f  %s\n' "taskpipe / best multi-connection baseline" "$(awk "BEGIN{print $t_tps/$best_tps}")" "-"
printf '%-52s %12.3f  %s\n' "seed latency, $seed_n tasks: elapsed / bound" \
  "$(awk "BEGIN{print $(json_field "$s" elapsed_ms)/$(json_field "$s" critical_path_ms)}")" "<= 1.10"
grep -q "\"succeeded\":$n," <<<"$t" || { echo "taskpipe run did not succeed whole: $t" >&2; exit 1; }
