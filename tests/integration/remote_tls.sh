#!/usr/bin/env bash
# Mutually authenticated TLS between nodes: a front with a certificate of the node's CA is served;
# one with a certificate of another CA, or without TLS, is refused (its tasks fail node_lost).
source "$(dirname "$0")/lib.sh"
cd "$WORK"
new_ca() { openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$1" 2>/dev/null; }
new_cert() {
  openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1" 2>/dev/null
  openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -out "$1.pem" -days 2 2>/dev/null
}
new_ca ca; new_ca other_ca
new_cert node ca; new_cert front ca; new_cert stranger other_ca
N=1000
start_node A --stages=validate,audit --listen=127.0.0.1:0 --store=memory --seed-tasks=$N \
  --tls-cert=node.pem --tls-key=node.key --tls-ca=ca.pem
remote="--remote=validate@127.0.0.1:$A_PORT --remote=audit@127.0.0.1:$A_PORT"
out="$(timeout 30 "$TASKPIPE" run --tasks=$N --store=memory --latency=zero $remote \
  --tls-cert=front.pem --tls-key=front.key --tls-ca=ca.pem --json)"
[ "$(json_number "$out" succeeded)" = $N ] || fail "TLS link refused: $out"
out="$(timeout 30 "$TASKPIPE" run --tasks=$N --store=memory --latency=zero $remote \
  --tls-cert=stranger.pem --tls-key=stranger.key --tls-ca=other_ca.pem --json)"
grep -q "\"node_lost\":$N" <<<"$out" || fail "a peer of another CA was served: $out"
out="$(timeout 30 "$TASKPIPE" run --tasks=$N --store=memory --latency=zero $remote --json)"
grep -q "\"node_lost\":$N" <<<"$out" || fail "a peer without TLS was served: $out"
kill -0 "$A_PID" || fail "the node died"
echo "PASS remote_tls"
