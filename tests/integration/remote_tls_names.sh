#!/usr/bin/env bash
# --tls-peer-names on a `taskpipe serve` front and its stage host: certificates of the cluster CA
# with the expected names link; a certificate of the same CA that names someone else is refused
# by the side that checks it, both ways (the front refusing a host, the host refusing a front).
source "$(dirname "$0")/lib.sh"
cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
  -subj "/CN=taskpipe test CA" 2>/dev/null
# cert FILE CN [SAN]: a key and a certificate signed by ca.pem.
cert() {
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  local ext=()
  if [ -n "${3:-}" ]; then
    printf 'subjectAltName=%s\n' "$3" >"$1.ext"
    ext=(-extfile "$1.ext")
  fi
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 2 \
    "${ext[@]}" 2>/dev/null
}
cert node_a node-a DNS:node-a,DNS:node-a.internal  # names in the SAN
cert node_b node-a DNS:node-b                      # another host: its CN does not count beside a SAN
cert front front                                   # no SAN: the CN counts
cert intruder intruder DNS:intruder
cert cn_only_wrong front-x
tls() { echo "--tls-cert=$1.pem" "--tls-key=$1.key" --tls-ca=ca.pem; }

# start_front NAME ARGS...: `taskpipe serve ARGS`; sets NAME_PORT.
start_front() {
  local name="$1"
  shift
  "$TASKPIPE" serve --listen=127.0.0.1:0 --store=memory --seed-tasks=10 "$@" \
    >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=("$!")
  for _ in $(seq 100); do
    grep -q "^listening on" "$WORK/$name.out" 2>/dev/null && break
    sleep 0.05
  done
  grep -q "^listening on" "$WORK/$name.out" || fail "front $name did not start: $(cat "$WORK/$name.err")"
  printf -v "${name}_PORT" '%s' "$(sed -E 's/.*:([0-9]+)$/\1/' "$WORK/$name.out")"
}
# submit PORT: posts 10 tasks (ids 1..10, all seeded on the host) and prints the report.
submit() {
  local body='{"tasks":[' id
  for id in $(seq 10); do body+="{\"id\":$id,\"type\":\"Epic\"},"; done
  body="${body%,}]}"
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'POST /v1/batches HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s' \
    "${#body}" "$body" >&3
  timeout 60 cat <&3
  exec 3<&-
}
expect_served() { grep -q '"succeeded":10' <<<"$2" || fail "$1: not served: $2"; }
expect_refused() { grep -q '"failed":10' <<<"$2" && grep -q '"code":"node_lost"' <<<"$2" || fail "$1: served: $2"; }

start_node A --stages=validate --listen=127.0.0.1:0 --store=memory --seed-tasks=10 \
  $(tls node_a) --tls-peer-names=front
start_node B --stages=validate --listen=127.0.0.1:0 --store=memory --seed-tasks=10 \
  $(tls node_b) --tls-peer-names=front

# The expected names on both sides: served.
start_front ok --remote=validate@127.0.0.1:$A_PORT $(tls front) --tls-peer-names=node-a,node-x
expect_served "names that match" "$(submit "$ok_PORT")"
# The front dials a host whose certificate (same CA) names node-b: the front refuses it.
start_front wrong_host --remote=validate@127.0.0.1:$B_PORT $(tls front) --tls-peer-names=node-a
expect_refused "a host of another name" "$(submit "$wrong_host_PORT")"
# Fronts whose certificates (same CA) name someone else: the host refuses them.
start_front intruder --remote=validate@127.0.0.1:$A_PORT $(tls intruder) --tls-peer-names=node-a
expect_refused "a front named intruder (SAN)" "$(submit "$intruder_PORT")"
start_front wrong_cn --remote=validate@127.0.0.1:$A_PORT $(tls cn_only_wrong) --tls-peer-names=node-a
expect_refused "a front named front-x (CN)" "$(submit "$wrong_cn_PORT")"
# Without --tls-peer-names only the CA is checked (as before).
start_front any --remote=validate@127.0.0.1:$B_PORT $(tls front)
expect_served "the CA alone" "$(submit "$any_PORT")"
kill -0 "$A_PID" && kill -0 "$B_PID" || fail "a node died"

# Bad command lines.
out="$("$TASKPIPE" serve --tls-peer-names=front 2>&1)" && fail "names without TLS accepted"
grep -q -- "--tls-peer-names needs TLS" <<<"$out" || fail "unclear: $out"
out="$("$TASKPIPE" node --stages=validate $(tls node_a) --tls-peer-names=a,,b 2>&1)" && fail "an empty name accepted"
grep -q -- "--tls-peer-names=a,,b" <<<"$out" || fail "unclear: $out"
echo "PASS remote_tls_names"
