#!/usr/bin/env bash
# A throwaway PostgreSQL 15 server for the tests (no Docker): a fresh cluster in a temporary
# directory, listening on a free loopback port and a socket in that directory, trust
# authentication, fsync off. initdb refuses to run as root, so as root the server runs as the
# `postgres` user (runuser); as anyone else it runs as that user.
#
#   postgres_test_server.sh start STATE_FILE   starts it; writes the data directory and the URI
#                                             (postgresql://postgres@127.0.0.1:PORT/postgres) to
#                                             STATE_FILE and prints the URI
#   postgres_test_server.sh stop STATE_FILE    stops it and removes its directory
#   postgres_test_server.sh restart STATE_FILE restarts it on the same port (fast shutdown:
#                                             open connections are cut)
#   postgres_test_server.sh kill STATE_FILE    stops it at once (immediate shutdown), keeps the data
#   postgres_test_server.sh up STATE_FILE      starts a stopped server again on the same port
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
[ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL 15 server not found in $PG_BIN (apt-get install postgresql-15)" >&2; exit 1; }

as_server_user() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# The state file's two lines: the temporary directory, the URI.
read_state() {
  [ -f "$1" ] || { echo "no server state in $1" >&2; exit 1; }
  DIR="$(sed -n 1p "$1")"
  URI="$(sed -n 2p "$1")"
  PORT="${URI##*:}"
  PORT="${PORT%%/*}"
}

start_on_port() { # DIR PORT
  as_server_user "$PG_BIN/pg_ctl" -D "$1/data" -l "$1/log" -w -t 30 \
    -o "-k $1 -p $2 -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
}

case "${1:-}" in
  start)
    state="${2:?state file}"
    DIR="$(mktemp -d /tmp/taskpipe-pg.XXXXXX)"
    chmod 700 "$DIR"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
    as_server_user "$PG_BIN/initdb" -D "$DIR/data" -U postgres --auth=trust --no-locale -E UTF8 \
      >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
    # A free port: try a few random ones above the ephemeral-looking range until one binds.
    for _ in $(seq 20); do
      PORT=$((20000 + RANDOM % 30000))
      if start_on_port "$DIR" "$PORT" 2>/dev/null; then
        URI="postgresql://postgres@127.0.0.1:$PORT/postgres"
        mkdir -p "$(dirname "$state")"
        printf '%s\n%s\n' "$DIR" "$URI" >"$state"
        echo "$URI"
        exit 0
      fi
    done
    echo "could not start PostgreSQL on a free port:" >&2
    cat "$DIR/log" >&2 || true
    rm -rf "$DIR"
    exit 1
    ;;
  stop)
    read_state "${2:?state file}"
    as_server_user "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$DIR"
    rm -f "$2"
    ;;
  restart)
    read_state "${2:?state file}"
    as_server_user "$PG_BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
    start_on_port "$DIR" "$PORT"
    ;;
  kill)
    read_state "${2:?state file}"
    as_server_user "$PG_BIN/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null
    ;;
  up)
    read_state "${2:?state file}"
    start_on_port "$DIR" "$PORT"
    ;;
  *)
    echo "usage: $0 start|stop|restart|kill|up STATE_FILE" >&2
    exit 2
    ;;
esac
