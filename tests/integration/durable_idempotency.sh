#!/usr/bin/env bash
# Issue 9: Idempotency-Key. The same key with the same body answers the existing batch (while it
# runs and once it is done, and after a kill -9 and a restart); another body is 422; an invalid
# key is 400. No retry applies a task twice. `durable_idempotency.sh postgres`: the same on
# PostgreSQL (the restart is a new front on the same database).
source "$(dirname "$0")/lib.sh"
if [ "${1:-}" = postgres ]; then
  start_postgres
  store=(--store=postgres --db="$PG_URI")
  query() { pg_sql "$1"; }
else
  db="$WORK/t.db"
  store=(--db="$db")
  query() { sql_db "$1"; }
fi
body='{"tasks":[{"id":1,"type":"Epic"},{"id":2,"summary":"again"},{"id":3,"type":"Story"}]}'
post() { # post URL KEY BODY QUERY: prints the body, then the status on a line of its own
  curl -sS -w '\n%{http_code}' -H "Idempotency-Key: $2" -H 'Content-Type: application/json' \
    --data-binary "$3" "$1/v1/batches$4"
}
status_of() { tail -n 1 <<<"$1"; }
id_of() { head -n 1 <<<"$1" | sed -E 's/.*"batch_id":"([^"]+)".*/\1/'; }

start_serve first "${store[@]}" --seed-tasks=10 --latency=1000
a="$(post "$first_URL" key-1 "$body" '?wait=false')"
[ "$(status_of "$a")" = 202 ] || fail "first POST: $a"
id="$(id_of "$a")"
b="$(post "$first_URL" key-1 "$body" '?wait=false')"
[ "$(status_of "$b")" = 202 ] && [ "$(id_of "$b")" = "$id" ] || fail "retry while running: $b"
# wait=true on the running batch waits like the original request for its report.
c="$(post "$first_URL" key-1 "$body" '')"
[ "$(status_of "$c")" = 200 ] && [ "$(id_of "$c")" = "$id" ] || fail "wait=true retry: $c"
grep -q '"state":"done"' <<<"$c" || fail "wait=true retry did not wait for the report: $c"
d="$(post "$first_URL" key-1 "$body" '')"
[ "$(status_of "$d")" = 200 ] && [ "$(id_of "$d")" = "$id" ] || fail "retry when done: $d"
e="$(post "$first_URL" key-1 '{"tasks":[{"id":1,"type":"Epic"}]}' '')"
[ "$(status_of "$e")" = 422 ] && grep -q '"error":"idempotency_key_reused"' <<<"$e" ||
  fail "another body: $e"
f="$(post "$first_URL" "$(printf 'bad\001key')" "$body" '')"
[ "$(status_of "$f")" = 400 ] && grep -q '"error":"bad_request"' <<<"$f" || fail "invalid key: $f"
g="$(post "$first_URL" "$(head -c 256 /dev/zero | tr '\0' k)" "$body" '')"
[ "$(status_of "$g")" = 400 ] || fail "a 256-byte key: $g"

# A batch still running when the node is killed: the retry after the restart finds it.
h="$(post "$first_URL" key-2 "$body" '?wait=false')"
[ "$(status_of "$h")" = 202 ] || fail "key-2: $h"
id2="$(id_of "$h")"
kill -9 "$first_PID"
wait "$first_PID" 2>/dev/null || true
start_serve second "${store[@]}" --latency=1000
i="$(post "$second_URL" key-2 "$body" '')"
[ "$(status_of "$i")" = 200 ] && [ "$(id_of "$i")" = "$id2" ] || fail "key-2 after restart: $i"
grep -q '"succeeded":3' <<<"$i" || fail "key-2 after restart: $i"
j="$(post "$second_URL" key-1 "$body" '')"
[ "$(status_of "$j")" = 200 ] && [ "$(id_of "$j")" = "$id" ] || fail "key-1 after restart: $j"
k="$(post "$second_URL" key-1 "$body" '?wait=false')"
[ "$(status_of "$k")" = 202 ] && [ "$(id_of "$k")" = "$id" ] || fail "key-1 wait=false after restart: $k"
l="$(post "$second_URL" key-2 '{"tasks":[]}' '')"
[ "$(status_of "$l")" = 422 ] || fail "key-2 with another body after restart: $l"
stop_serve second
# Both reports (as answered after the restart) agree with the store.
printf '%s' "$body" >"$WORK/request.json"
head -n 1 <<<"$i" >"$WORK/report2.json"
head -n 1 <<<"$j" >"$WORK/report1.json"
check_invariant "${PG_URI:-${db:-}}" "$WORK/request.json" "$WORK/report1.json"
check_invariant "${PG_URI:-${db:-}}" "$WORK/request.json" "$WORK/report2.json"
[ "$(query 'SELECT count(*) FROM batches')" = 2 ] || fail "a retry was admitted as a new batch"
[ "$(query 'SELECT count(*) FROM tasks WHERE id <= 3 AND version = 3')" = 3 ] ||
  fail "versions: $(query 'SELECT id, version FROM tasks WHERE id <= 3') (each batch applies once)"
echo "ok: Idempotency-Key retries answer the existing batch, before and after a restart"
