#!/usr/bin/env bash
# Start or stop the servers the fleet tests (issue 14) talk to, and print the
# environment they read:
#
#   eval "$(scripts/fleet-servers.sh start)"   # prints: export SENTINELDNS_TEST_POSTGRES=...
#   cargo test --all-features --test integration fleet
#   scripts/fleet-servers.sh stop
#
# PostgreSQL: Debian's server binaries (apt-get install postgresql), a
# private cluster in $FLEET_DIR (default /tmp/sentineldns-fleet) on
# 127.0.0.1:$FLEET_PG_PORT (default 55432), trust authentication on loopback
# only, owned by the unprivileged `postgres` user when run as root (initdb
# refuses root). Nothing of the system's own cluster is touched.
#
# The Kafka-protocol broker of the issue (tansu) is not started yet: the
# Kafka output is not built (issue 14, part 2).
set -euo pipefail

dir=${FLEET_DIR:-/tmp/sentineldns-fleet}
port=${FLEET_PG_PORT:-55432}
pgdata=$dir/pg

pg_bin() {
    local v
    for v in $(ls /usr/lib/postgresql 2>/dev/null | sort -rn); do
        if [ -x "/usr/lib/postgresql/$v/bin/initdb" ]; then
            echo "/usr/lib/postgresql/$v/bin"
            return
        fi
    done
    echo "fleet-servers.sh: no PostgreSQL server binaries under /usr/lib/postgresql; apt-get install postgresql" >&2
    exit 1
}

# Run a command as the cluster's owner (root cannot run initdb or postgres).
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        "$@"
    fi
}

start() {
    local bin
    bin=$(pg_bin)
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || { echo "fleet-servers.sh: no postgres user (apt-get install postgresql)" >&2; exit 1; }
        chown postgres:postgres "$dir"
    fi
    if [ ! -f "$pgdata/PG_VERSION" ]; then
        as_owner "$bin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
            || { cat "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! as_owner "$bin/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then
        as_owner "$bin/pg_ctl" -D "$pgdata" -l "$dir/postgres.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
            || { tail -n 30 "$dir/postgres.log" >&2; exit 1; }
    fi
    echo "export SENTINELDNS_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres"
}

stop() {
    local bin
    bin=$(pg_bin)
    if [ -f "$pgdata/PG_VERSION" ]; then
        as_owner "$bin/pg_ctl" -D "$pgdata" -m fast -w stop >/dev/null 2>&1 || true
    fi
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
