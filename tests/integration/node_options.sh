#!/usr/bin/env bash
# `taskpipe node` refuses bad command lines with exit status 2 and a message naming the problem.
source "$(dirname "$0")/lib.sh"
expect_refused() {
  local pattern="$1"
  shift
  local err status=0
  err="$("$TASKPIPE" "$@" 2>&1 >/dev/null)" || status=$?
  [ "$status" = 2 ] || fail "'$*' exited $status, expected 2"
  grep -q -- "$pattern" <<<"$err" || fail "'$*' said: $err"
}
expect_refused "--stages is required" node
expect_refused "'validat' is not a stage" node --stages=validat
expect_refused "out of pipeline order" node --stages=audit,validate
expect_refused "needs --insecure" node --stages=audit --listen=0.0.0.0:0
expect_refused "all three of --tls-cert" node --stages=audit --tls-cert=x.pem
expect_refused "expected STAGE@HOST:PORT" run --remote=nowhere
expect_refused "port 0 cannot be dialled" run --remote=audit@127.0.0.1:0
expect_refused "given twice" run --remote=audit@127.0.0.1:1 --remote=audit@127.0.0.1:2
# Binding a non-loopback address with --insecure warns, then serves.
start_node A --stages=audit --listen=0.0.0.0:0 --insecure --store=memory
grep -q WARNING "$WORK/A.err" || fail "no warning for an insecure non-loopback bind"
echo "PASS node_options"
