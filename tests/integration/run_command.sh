#!/usr/bin/env bash
# `taskpipe run` from the command line: the JSON line of the contract, exit statuses, errors.
source "$(dirname "$0")/lib.sh"
out="$("$TASKPIPE" run --tasks=1000 --latency=zero --invalid-every=10 --json)"
grep -Eq '^\{"tasks":1000,"succeeded":900,"failed":100,"elapsed_ms":[0-9]+\.[0-9],"tasks_per_s":[0-9]+\.[0-9],"critical_path_ms":0\.0,"failures_by_code":\{"invalid_summary":100\}\}$' <<<"$out" \
  || fail "unexpected JSON: $out"
[ "$(wc -l <<<"$out")" = 1 ] || fail "more than one line"
out="$("$TASKPIPE" run --tasks=0 --json)"
grep -q '"tasks":0,"succeeded":0,"failed":0' <<<"$out" || fail "empty batch: $out"
# Seed latency: a slow task's 4 x 500 ms is the bound, and the run is close to it.
out="$("$TASKPIPE" run --tasks=50 --store=memory --json)"
grep -q '"critical_path_ms":2000.0' <<<"$out" || fail "bound: $out"
# The SQLite store in a given file keeps every row, and --report-file writes the whole report
# (every failure listed), which agrees with the store.
"$TASKPIPE" run --tasks=300 --latency=zero --invalid-every=7 --db="$WORK/run.db" --json \
  --report-file="$WORK/run.json" >/dev/null
[ "$(sqlite3 "$WORK/run.db" 'SELECT count(*) FROM outbox')" = 258 ] || fail "outbox rows"
grep -q '"state":"done","total":300,"succeeded":258,"failed":42,"pending":0' "$WORK/run.json" \
  || fail "report file: $(head -c 300 "$WORK/run.json")"
check_run_invariant 300 "$WORK/run.db"
status=0; "$TASKPIPE" run --tasks=10 --latency=zero --report-file=/nonexistent/dir/r.json \
  >/dev/null 2>&1 || status=$?
[ "$status" = 1 ] || fail "an unwritable --report-file exited $status"
[ "$(sqlite3 "$WORK/run.db" 'PRAGMA journal_mode')" = wal ] || fail "not WAL"
# The human summary names the failures by stage and code.
"$TASKPIPE" run --tasks=100 --latency=zero --invalid-every=50 | grep -q "validate/invalid_summary *2" \
  || fail "summary without failures by stage and code"
"$TASKPIPE" run --help | grep -q -- "--invalid-every=K" || fail "help"
"$TASKPIPE" --help | grep -q "serve" || fail "top-level help"
status=0; "$TASKPIPE" run --tasks=-1 2>/dev/null || status=$?
[ "$status" = 2 ] || fail "bad --tasks exited $status"
status=0; "$TASKPIPE" frobnicate 2>/dev/null || status=$?
[ "$status" = 2 ] || fail "unknown command exited $status"
status=0; err="$("$TASKPIPE" run --db=/nonexistent/dir/x.db 2>&1)" || status=$?
[ "$status" = 1 ] && grep -q "/nonexistent/dir/x.db" <<<"$err" || fail "bad --db: $status $err"
echo "PASS run_command"
