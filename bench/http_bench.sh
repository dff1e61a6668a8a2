#!/usr/bin/env bash
# The HTTP API's benchmark table (issue 3): wrk against `taskpipe serve` on 127.0.0.1, a
# 1,000-task JSON body per request, every run bounded in time, server and load generator on this
# machine. Prints req/s (= batches/s), task updates/s, p50/p99 latency and the server's peak RSS.
#
#   bench/http_bench.sh [SECONDS]     default 20 s per case
#
# Environment: TASKPIPE_BIN=path skips the Release build and uses that binary; CASES="1 2 3 4 5"
# picks cases (4: sqlite with the journal off, to compare with 2 in the same run; 5: RSS growth
# per 10,000 finished one-task batches; 6: RSS after ten batches of FAIL_TASKS failures each;
# 7: RSS before and after READERS slow concurrent GETs of one FAIL_TASKS-failure report; 8: cases
# 2 and 4 alternated JOURNAL_RUNS times, default 3, and their medians' ratio);
# WRK_THREADS (default 2); RSS_BATCHES (default 40000) one-task batches for case 5;
# FAIL_TASKS (default 100000), FAIL_BATCHES (default 10), READERS (default 40) for 6 and 7.
set -euo pipefail
source "$(dirname "$0")/../scripts/common.sh"
here="$(cd "$(dirname "$0")" && pwd)"
duration="${1:-20}"
cases="${CASES:-1 2 4 3 5 6 7 8}"
threads="${WRK_THREADS:-2}"

ensure_packages "${TASKPIPE_PACKAGES[@]}" wrk
if [ -z "${TASKPIPE_BIN:-}" ]; then
  build_tree "$TASKPIPE_ROOT/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  TASKPIPE_BIN="$TASKPIPE_ROOT/build/taskpipe"
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -KILL "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# The body: ids 1..1000, types cycling Epic, Story, SubTask, TechTask.
body="$work/body.json"
types=(Epic Story SubTask TechTask)
{
  printf '{"tasks":['
  for id in $(seq 1 1000); do
    [ "$id" -gt 1 ] && printf ','
    printf '{"id":%d,"type":"%s","summary":"Bench update of task %d"}' "$id" "${types[$(( (id - 1) % 4 ))]}" "$id"
  done
  printf ']}'
} > "$body"

# start_server ARGS...: starts taskpipe serve on a free port; sets server_pid and port.
start_server() {
  "$TASKPIPE_BIN" serve --listen=127.0.0.1:0 --seed-tasks=1000 "$@" > "$work/server.out" 2> "$work/server.err" &
  server_pid=$!
  for _ in $(seq 1 200); do
    grep -q '^listening on ' "$work/server.out" 2>/dev/null && break
    sleep 0.05
  done
  port="$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/server.out")"
  if [ -z "$port" ]; then
    echo "taskpipe serve did not start:" >&2
    cat "$work/server.err" >&2
    exit 1
  fi
}

# stop_server: SIGTERM (drain), waits at most 60 s; sets exit_status.
exit_status=""
stop_server() {
  kill -TERM "$server_pid"
  local status=0
  for _ in $(seq 1 600); do
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "server did not exit after SIGTERM; killing it" >&2
    kill -KILL "$server_pid"
  fi
  wait "$server_pid" || status=$?
  server_pid=""
  exit_status="$status"
}

peak_rss_mb() {
  awk '/^VmHWM:/ { printf "%d", $2 / 1024 }' "/proc/$server_pid/status"
}

field() { sed -E "s/.* $1=([0-9.]+).*/\1/" <<<"$2"; }

printf '\n%-48s %9s %13s %9s %9s %9s %6s  %s\n' "case" "req/s" "tasks/s" "p50" "p99" "peak RSS" "errors" "goal"
run_case() {
  local label="$1" goal="$2" conns="$3"
  shift 3
  start_server "$@"
  local out
  out="$(BODY_FILE="$body" wrk -t"$threads" -c"$conns" -d"${duration}s" --timeout 30s \
    -s "$here/http_bench.lua" "http://127.0.0.1:$port/v1/batches" 2>&1)"
  local result
  result="$(grep '^RESULT' <<<"$out" || true)"
  if [ -z "$result" ]; then
    echo "$out" >&2
    exit 1
  fi
  local rss requests secs p50 p99 errors
  rss="$(peak_rss_mb)"
  requests="$(field requests "$result")"
  secs="$(field duration_s "$result")"
  p50="$(field p50_ms "$result")"
  p99="$(field p99_ms "$result")"
  errors=$(( $(field status_errors "$result") + $(field connect_errors "$result") + $(field read_errors "$result") + $(field write_errors "$result") + $(field timeouts "$result") ))
  stop_server
  printf '%-48s %9.1f %13.0f %7.1fms %7.1fms %6d MB %6d  %s\n' "$label" \
    "$(awk "BEGIN{print $requests / $secs}")" "$(awk "BEGIN{print 1000 * $requests / $secs}")" \
    "$p50" "$p99" "$rss" "$errors" "$goal"
  last_tasks_per_s="$(awk "BEGIN{print 1000 * $requests / $secs}")"
  [ "$exit_status" = "0" ] || echo "  (server exit status after SIGTERM: $exit_status)"
  echo "  wrk -t$threads -c$conns -d${duration}s; taskpipe serve $*" >&2
}

# rss_growth LABEL N ARGS...: the server's RSS before and after N finished one-task batches (16
# clients at a time, wait=true), as MB per 10,000 batches.
rss_growth() {
  local label="$1" n="$2"
  shift 2
  start_server "$@"
  local before after
  before="$(awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status")"
  seq 1 "$n" | xargs -P 16 -n 100 sh -c 'for i; do curl -fsS -o /dev/null -H "Content-Type: application/json" -d "{\"tasks\":[{\"id\":$(( i % 1000 + 1 )),\"summary\":\"rss $i\"}]}" "$0/v1/batches"; done' "http://127.0.0.1:$port"
  after="$(awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status")"
  stop_server
  printf '%-48s %s one-task batches: RSS %d -> %d MB, %.1f MB per 10,000 batches\n' "$label" "$n" \
    $(( before / 1024 )) $(( after / 1024 )) "$(awk "BEGIN{print ($after - $before) / 1024 * 10000 / $n}")"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status"; }
hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$server_pid/status"; }

# A batch of FAIL_TASKS unknown ids (1000001...): every task fails not_found.
fail_body="$work/failures.json"
fail_tasks="${FAIL_TASKS:-100000}"
{
  printf '{"tasks":['
  seq 1000001 $((1000000 + fail_tasks)) | sed 's/.*/{"id":&,"type":"Epic"}/' | paste -sd, -
  printf ']}'
} > "$fail_body"

post_failing() { # post_failing: one FAIL_TASKS-failure batch, wait=true; prints its id
  curl -fsS -H 'Content-Type: application/json' --data-binary "@$fail_body" \
    "http://127.0.0.1:$port/v1/batches" | sed -E 's/^\{"batch_id":"([^"]+)".*/\1/'
}

# large_reports LABEL N ARGS...: the server's RSS after N finished FAIL_TASKS-failure batches.
large_reports() {
  local label="$1" n="$2"
  shift 2
  start_server "$@"
  local before after
  before="$(rss_kb)"
  for _ in $(seq 1 "$n"); do post_failing >/dev/null; done
  after="$(rss_kb)"
  printf '%-48s %s batches of %s failures: RSS %d -> %d MB (peak %d MB)\n' "$label" "$n" \
    "$fail_tasks" $((before / 1024)) $((after / 1024)) $(($(hwm_kb) / 1024))
  stop_server
}

# slow_readers LABEL READERS ARGS...: RSS before, while and after READERS concurrent GETs of one
# FAIL_TASKS-failure report, each reading at 2 MB/s (the report is rendered once and shared).
slow_readers() {
  local label="$1" readers="$2"
  shift 2
  start_server "$@"
  local id before during after peak_before
  id="$(post_failing)"
  before="$(rss_kb)"
  peak_before="$(hwm_kb)"
  local pids=()
  for _ in $(seq 1 "$readers"); do
    curl -fsS --limit-rate 2M -o /dev/null "http://127.0.0.1:$port/v1/batches/$id" &
    pids+=("$!")
  done
  sleep 1
  during="$(rss_kb)"
  wait "${pids[@]}" || echo "  (a reader failed)" >&2
  after="$(rss_kb)"
  printf '%-48s %s readers of one %s-failure report: RSS %d -> %d (while reading) -> %d MB, peak %d -> %d MB\n' \
    "$label" "$readers" "$fail_tasks" $((before / 1024)) $((during / 1024)) $((after / 1024)) \
    $((peak_before / 1024)) $(($(hwm_kb) / 1024))
  stop_server
}

median() { sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# journal_cost RUNS: cases 2 and 4 alternated RUNS times, each on a new file, and the medians'
# ratio (issue 9: the journal within 10 %). One run each is not enough at this noise.
journal_cost() {
  local runs="$1" on=() off=() i
  for ((i = 0; i < runs; i++)); do
    rm -f "$work"/journal.db*
    run_case "zero, sqlite, 8 connections, journal on" "" 8 --latency=zero --store=sqlite --db="$work/journal.db"
    on+=("$last_tasks_per_s")
    rm -f "$work"/journal.db*
    run_case "zero, sqlite, 8 connections, --journal=off" "" 8 --latency=zero --store=sqlite --db="$work/journal.db" --journal=off
    off+=("$last_tasks_per_s")
  done
  local med_on med_off
  med_on="$(printf '%s\n' "${on[@]}" | median)"
  med_off="$(printf '%s\n' "${off[@]}" | median)"
  awk -v a="$med_on" -v b="$med_off" -v n="$runs" 'BEGIN{r=a/b; printf "  journal on %.0f, off %.0f tasks/s (medians of %d alternated runs): ratio %.3f (goal >= 0.90): %s\n", a, b, n, r, (r >= 0.9 ? "met" : "NOT met")}'
}

for c in $cases; do
  case "$c" in
    1) run_case "zero, memory, 8 connections" ">= 1,000 req/s" 8 --latency=zero --store=memory ;;
    2)
      db="$work/bench.db"
      run_case "zero, sqlite, 8 connections" ">= 350 req/s, durable" 8 --latency=zero --store=sqlite --db="$db"
      # The same store's `taskpipe run` throughput (zero latency, 1,000,000 tasks), this run.
      local_run="$("$TASKPIPE_BIN" run --json --latency=zero --store=sqlite --db="$work/bench-run.db" --tasks=1000000)"
      run_tps="$(sed -E 's/.*"tasks_per_s":([0-9.]+).*/\1/' <<<"$local_run")"
      printf '  taskpipe run, same store, 1,000,000 tasks: %.0f tasks/s; HTTP = %.3f x that (goal >= 0.9)\n' \
        "$run_tps" "$(awk "BEGIN{print $last_tasks_per_s / $run_tps}")"
      # Durable: another process reads the rows back from the WAL-mode file after the drain.
      echo "  sqlite rows read back by sqlite3 after exit: audit $(sqlite3 "$db" 'SELECT count(*) FROM audit'), applied updates $(sqlite3 "$db" 'SELECT count(*) FROM applied_updates'), outbox $(sqlite3 "$db" 'SELECT count(*) FROM outbox'), sum(version - 1) $(sqlite3 "$db" 'SELECT sum(version - 1) FROM tasks') (journal_mode $(sqlite3 "$db" 'PRAGMA journal_mode'))"
      ;;
    3) run_case "seed, memory, 1,000 connections" "p99 <= 2.5 s, RSS <= 1.5 GB" 1000 --latency=seed --store=memory ;;
    4) run_case "zero, sqlite, 8 connections, --journal=off" "journal on (case 2) within 10 %" 8 --latency=zero --store=sqlite --db="$work/bench-nojournal.db" --journal=off ;;
    5) rss_growth "zero, sqlite, RSS growth" "${RSS_BATCHES:-40000}" --latency=zero --store=sqlite --db="$work/bench-rss.db" ;;
    6) large_reports "zero, sqlite, large reports" "${FAIL_BATCHES:-10}" --latency=zero --store=sqlite --db="$work/bench-large.db" --max-in-flight=2000000 ;;
    7) slow_readers "zero, sqlite, slow readers" "${READERS:-40}" --latency=zero --store=sqlite --db="$work/bench-readers.db" ;;
    8) journal_cost "${JOURNAL_RUNS:-3}" ;;
  esac
done
