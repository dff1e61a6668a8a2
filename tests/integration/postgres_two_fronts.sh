#!/usr/bin/env bash
# Issue 11: two fronts (`serve`) on one PostgreSQL database. Batch numbers come from the
# database's sequence: unique across both fronts, and in admission order, so that per-key order
# holds across them: of two batches updating the same tasks, the one admitted later wins even when
# the earlier one (on a slow front) reaches Update last.
source "$(dirname "$0")/lib.sh"
start_postgres
n=100
# body FIRST LAST SUMMARY: a batch setting the summary of tasks FIRST..LAST.
body() {
  local out='{"tasks":[' id
  for id in $(seq "$1" "$2"); do
    [ "$id" -gt "$1" ] && out+=','
    out+="{\"id\":$id,\"summary\":\"$3 $id\"}"
  done
  printf '%s]}' "$out"
}
batch_of() { printf '%s\n' "$(sed -E 's/.*"batch_id":"([^"]+)".*/\1/' "$1")"; }

start_serve slow --store=postgres --db="$PG_URI" --seed-tasks=$n --latency=400
start_serve fast --store=postgres --db="$PG_URI" --latency=zero

# The slow front admits first; the fast front admits later and finishes first.
body 1 $n "Slow" >"$WORK/slow.json"
body 1 $n "Fast" >"$WORK/fast.json"
curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/slow.json" \
  "$slow_URL/v1/batches?wait=false" >"$WORK/slow_answer.json" || fail "POST to the slow front"
slow_id="$(batch_of "$WORK/slow_answer.json")"
curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/fast.json" \
  "$fast_URL/v1/batches" >"$WORK/fast_report.json" || fail "POST to the fast front"
fast_id="$(batch_of "$WORK/fast_report.json")"
[[ "$fast_id" > "$slow_id" ]] || fail "the later batch $fast_id is not numbered after $slow_id"
grep -q "\"succeeded\":$n" "$WORK/fast_report.json" || fail "$(cat "$WORK/fast_report.json")"
[ "$(pg_sql "SELECT count(*) FROM applied_updates WHERE batch_id = '$slow_id'")" = 0 ] ||
  fail "the slow batch reached Update before the fast one finished: make its latency larger"
wait_final "$slow_URL" "$slow_id" "$WORK/slow_report.json"
grep -q "\"succeeded\":$n" "$WORK/slow_report.json" || fail "$(cat "$WORK/slow_report.json")"
check_invariant "$PG_URI" "$WORK/slow.json" "$WORK/slow_report.json"
check_invariant "$PG_URI" "$WORK/fast.json" "$WORK/fast_report.json"
[ "$(pg_sql "SELECT count(*) FROM tasks WHERE id <= $n AND summary = 'Fast ' || id AND version = 2")" = $n ] ||
  fail "the batch admitted later did not win: $(pg_sql "SELECT id, summary, version FROM tasks WHERE id <= 3")"
[ "$(pg_sql "SELECT count(*) FROM applied_updates WHERE batch_id = '$slow_id' AND superseded_by = '$fast_id'")" = $n ] ||
  fail "the slow batch's updates are not recorded as superseded"
echo "ok: $fast_id, admitted after $slow_id on another front, won on every task"

# Batches from both fronts at once: every number once.
pids=()
for i in $(seq 8); do
  url="$slow_URL"
  [ $((i % 2)) = 0 ] && url="$fast_URL"
  body $((i * 10)) $((i * 10 + 5)) "Round$i" >"$WORK/round$i.json"
  curl -fsS -H 'Content-Type: application/json' --data-binary @"$WORK/round$i.json" \
    "$url/v1/batches?wait=false" >"$WORK/round$i.answer" &
  pids+=("$!")
done
for pid in "${pids[@]}"; do wait "$pid" || fail "a concurrent POST failed"; done
ids="$(for i in $(seq 8); do batch_of "$WORK/round$i.answer"; done | sort)"
[ "$(uniq <<<"$ids" | wc -l)" = 8 ] || fail "batch numbers reused across the fronts: $ids"
for i in $(seq 8); do
  url="$slow_URL"
  [ $((i % 2)) = 0 ] && url="$fast_URL"
  wait_final "$url" "$(batch_of "$WORK/round$i.answer")" "$WORK/round$i.report"
  check_invariant "$PG_URI" "$WORK/round$i.json" "$WORK/round$i.report"
done
stop_serve slow
stop_serve fast
[ "$(pg_sql 'SELECT count(*), count(DISTINCT number) FROM batches')" = "10|10" ] ||
  fail "journal rows: $(pg_sql 'SELECT count(*), count(DISTINCT number) FROM batches')"
echo "ok: 8 batches admitted at once on two fronts, each with a number of its own"
