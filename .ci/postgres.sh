#!/usr/bin/env bash
# Starts a private PostgreSQL 15 cluster on loopback for the tests and prints its URL (no database
# name). Usage: eval "$(.ci/postgres.sh start DIR PORT)"; .ci/postgres.sh stop DIR
set -euo pipefail
bin=/usr/lib/postgresql/15/bin
cmd=$1 dir=$2
case "$cmd" in
  start)
    port=$3
    rm -rf "$dir"; mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; run=(runuser -u postgres --); else run=(); fi
    "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=400" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "export QUAYSIDE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:$port"
    ;;
  stop)
    if [ "$(id -u)" = 0 ]; then run=(runuser -u postgres --); else run=(); fi
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    ;;
esac
