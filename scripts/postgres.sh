#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and for trying leanrt-server on PostgreSQL,
# from Debian's `postgresql` package (or any PostgreSQL whose initdb and pg_ctl are
# on PATH or under /usr/lib/postgresql/*/bin).
#
#   scripts/postgres.sh start DIR    # initdb DIR, start on a free 127.0.0.1 port,
#                                    # print postgres://leanrt@127.0.0.1:PORT
#   scripts/postgres.sh stop DIR     # fast shutdown
#   scripts/postgres.sh crash DIR    # immediate shutdown (as a crash: recovery at restart)
#   scripts/postgres.sh resume DIR   # start DIR's server again, on the same port
#   scripts/postgres.sh version      # the server version it would start
#
# Trust authentication on 127.0.0.1 only; fsync stays on, so that a killed server
# loses nothing it acknowledged. Run as root, the server runs as the `postgres` user
# (initdb refuses root), so DIR's parents must let that user through: for example
# `mktemp -d /tmp/leanrt-pg.XXXXXX`.
set -euo pipefail

cmd=${1:?usage: postgres.sh start|stop DIR | version}

bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local found
  found=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -1)
  [ -n "$found" ] || { echo "postgres.sh: $1 not found (apt-get install postgresql)" >&2; exit 1; }
  echo "$found"
}

as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case "$cmd" in
  version)
    "$(bin postgres)" --version
    exit 0
    ;;
esac
dir=${2:?usage: postgres.sh start|stop DIR}

serve() {
  as_owner "$(bin pg_ctl)" -D "$1/data" -l "$1/run/postgres.log" -w -t 60 \
    -o "-p $2 -k $1/run -c listen_addresses=127.0.0.1 -c max_connections=400" start >/dev/null
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then
      chmod 755 "$dir"
      install -d -o postgres "$dir/data" "$dir/run"
    else
      mkdir -p "$dir/data" "$dir/run"
    fi
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    echo "$port" >"$dir/port"
    as_owner "$(bin initdb)" -D "$dir/data" -U leanrt --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    serve "$dir" "$port"
    echo "postgres://leanrt@127.0.0.1:$port"
    ;;
  resume)
    serve "$dir" "$(cat "$dir/port")"
    ;;
  stop)
    as_owner "$(bin pg_ctl)" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
  crash)
    as_owner "$(bin pg_ctl)" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
  *)
    echo "usage: postgres.sh start|stop DIR" >&2
    exit 2
    ;;
esac
