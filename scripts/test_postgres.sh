#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL cluster for the tests.
#   test_postgres.sh start DIR   -> cluster in DIR on a free port; writes the
#                                   connection URL to DIR/url
#   test_postgres.sh stop DIR    -> stops it and removes DIR
# Runs initdb as the postgres user when started as root (initdb refuses root).
set -euo pipefail
cmd=${1:?start|stop}
dir=${2:?directory}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found (apt-get install postgresql)" >&2; exit 1; }

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  if [ -f "$dir/url" ] && as_pg "$PGBIN/pg_ctl" -D "$dir/db" status >/dev/null 2>&1; then
    exit 0  # already running (idempotent for reruns)
  fi
  rm -rf "$dir"; mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir" && chmod 755 "$dir"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  as_pg "$PGBIN/initdb" -D "$dir/db" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1
  as_pg "$PGBIN/pg_ctl" -D "$dir/db" -l "$dir/log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
  echo "postgresql://postgres@127.0.0.1:$port/postgres" >"$dir/url"
  echo "PostgreSQL running: $(cat "$dir/url")"
  ;;
stop)
  if [ -d "$dir/db" ]; then as_pg "$PGBIN/pg_ctl" -D "$dir/db" -m fast -w stop >/dev/null 2>&1 || true; fi
  rm -rf "$dir"
  ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
