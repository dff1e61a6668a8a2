#!/usr/bin/env bash
# Issue 9: --retention and GET /v1/batches/{id}/failures. Pages return every failure exactly once,
# in the report's order, with next null at the end; the same after a restart (read from the
# store); bad parameters are 400. A finished batch answers until --retention has passed, then 404
# (its rows are purged, its Idempotency-Key admits a new batch); the memory store alike.
source "$(dirname "$0")/lib.sh"
db="$WORK/t.db"

# A batch of 10 known tasks (1..10), 2,990 unknown ones (11..3000: not_found) and id 20 twice more
# (duplicate_in_batch next to its own outcome): 2,992 failures.
{
  printf '{"tasks":['
  for id in $(seq 1 3000) 20 20; do
    [ "$id" = 1 ] || printf ','
    printf '{"id":%s,"type":"Epic"}' "$id"
  done
  printf ']}'
} >"$WORK/big.json"

post_file() { # post_file URL FILE [KEY]: the report of a wait=true POST
  curl -fsS -H 'Content-Type: application/json' ${3:+-H "Idempotency-Key: $3"} \
    --data-binary "@$2" "$1/v1/batches"
}
code_of() { curl -sS -o /dev/null -w '%{http_code}' "$1"; }
failures_text() { sed -E 's/.*"failures":\[(.*)\][^]]*$/\1/' <<<"$1"; }
id_of() { sed -E 's/.*"batch_id":"([^"]+)".*/\1/' <<<"$1"; }

# all_pages URL ID LIMIT: every page's failures joined with commas, as the report lists them.
all_pages() {
  local after=0 out="" page next pages=0
  while :; do
    page="$(curl -fsS "$1/v1/batches/$2/failures?after=$after&limit=$3")" ||
      fail "page after $after"
    grep -q "^{\"batch_id\":\"$2\",\"failures\":\[" <<<"$page" || fail "page shape: ${page:0:200}"
    next="$(sed -E 's/.*"next":([0-9]+|null)\}$/\1/' <<<"$page")"
    local text
    text="$(sed -E 's/.*"failures":\[(.*)\],"next":.*/\1/' <<<"$page")"
    [ -n "$text" ] && out+="${out:+,}$text"
    pages=$((pages + 1))
    [ "$pages" -lt 1000 ] || fail "pages do not end"
    [ "$next" = null ] && break
    [ "$next" -gt "$after" ] || fail "next $next does not move past $after"
    after="$next"
  done
  printf '%s' "$out"
}

start_serve first --db="$db" --seed-tasks=10 --retention=1h
report="$(post_file "$first_URL" "$WORK/big.json")"
id="$(id_of "$report")"
grep -q '"failed":2992' <<<"$report" || fail "report: ${report:0:300}"
expected="$(failures_text "$report")"
[ "$(all_pages "$first_URL" "$id" 250)" = "$expected" ] || fail "pages (limit 250) differ from the report"
[ "$(all_pages "$first_URL" "$id" 10000)" = "$expected" ] || fail "one page differs from the report"
# id 20 has three failures (not_found, then two duplicates): no page splits them.
page="$(curl -fsS "$first_URL/v1/batches/$id/failures?after=18&limit=2")"
[ "$(grep -o '{"id":20,' <<<"$page" | wc -l)" = 3 ] || fail "id 20 split across pages: $page"
grep -q '"next":20}$' <<<"$page" || fail "next after id 20: $page"
for bad in 'limit=0' 'limit=10001' 'after=-1' 'after=x' 'limit=' 'after=1&after=2' 'page=2'; do
  [ "$(code_of "$first_URL/v1/batches/$id/failures?$bad")" = 400 ] || fail "?$bad is not 400"
done
[ "$(code_of "$first_URL/v1/batches/b-00000000000000ff/failures")" = 404 ] || fail "unknown batch"
[ "$(code_of "$first_URL/v1/batches/nonsense/failures")" = 404 ] || fail "malformed batch id"
status="$(curl -fsS "$first_URL/v1/batches/$id")"
stop_serve first

# After a restart the pages come from the store, the same as before.
start_serve second --db="$db" --retention=1h
[ "$(all_pages "$second_URL" "$id" 333)" = "$expected" ] || fail "pages after a restart differ"
[ "$(curl -fsS "$second_URL/v1/batches/$id")" = "$status" ] || fail "status after a restart"
stop_serve second

# A node with a short retention: the old batch expired; a new one answers, then expires too.
sleep 2
start_serve third --db="$db" --retention=2s
[ "$(code_of "$third_URL/v1/batches/$id")" = 404 ] || fail "the expired batch still answers"
[ "$(code_of "$third_URL/v1/batches/$id/failures")" = 404 ] || fail "its failures still answer"
printf '{"tasks":[{"id":1,"type":"Story"},{"id":99,"type":"Story"}]}' >"$WORK/small.json"
small="$(post_file "$third_URL" "$WORK/small.json" key-1)"
small_id="$(id_of "$small")"
[ "$(code_of "$third_URL/v1/batches/$small_id")" = 200 ] || fail "a new batch does not answer"
[ "$(code_of "$third_URL/v1/batches/$small_id/failures")" = 200 ] || fail "its failures"
again="$(post_file "$third_URL" "$WORK/small.json" key-1)"
[ "$(id_of "$again")" = "$small_id" ] || fail "the key within the retention: $again"
sleep 2.5
[ "$(code_of "$third_URL/v1/batches/$small_id")" = 404 ] || fail "the new batch outlived --retention"
[ "$(code_of "$third_URL/v1/batches/$small_id/failures")" = 404 ] || fail "its failures outlived it"
# The key lives as long as the report: now it admits a new batch.
later="$(post_file "$third_URL" "$WORK/small.json" key-1)"
[ "$(id_of "$later")" != "$small_id" ] || fail "an expired batch's key answered the old batch"
# The purge (every second with --retention=2s) removes the expired rows, nothing of the contract.
for _ in $(seq 60); do
  [ "$(sql_db "SELECT count(*) FROM batches WHERE batch_id IN ('$id', '$small_id')")" = 0 ] && break
  sleep 0.1
done
[ "$(sql_db "SELECT count(*) FROM batches WHERE batch_id IN ('$id', '$small_id')")" = 0 ] ||
  fail "expired batches were not purged"
[ "$(sql_db "SELECT count(*) FROM batch_failures WHERE batch_id = '$id'")" = 0 ] ||
  fail "the expired batch's failures were not purged"
[ "$(sql_db "SELECT count(*) FROM outbox WHERE batch_id = '$id'")" = 10 ] ||
  fail "the purge touched the outbox"
stop_serve third

# The memory store keeps the same records in the process, for the same retention.
start_serve memory --store=memory --seed-tasks=10 --retention=2s
report="$(post_file "$memory_URL" "$WORK/big.json")"
id="$(id_of "$report")"
[ "$(all_pages "$memory_URL" "$id" 1000)" = "$(failures_text "$report")" ] || fail "memory pages"
sleep 2.5
[ "$(code_of "$memory_URL/v1/batches/$id")" = 404 ] || fail "memory: the batch outlived --retention"
[ "$(code_of "$memory_URL/v1/batches/$id/failures")" = 404 ] || fail "memory: its failures"
stop_serve memory
echo "ok: failure pages (also after a restart), --retention expiry and purge, memory store"
