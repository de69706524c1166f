#!/usr/bin/env bash
# Property-based API tests of `sentineldns serve` with schemathesis (PyPI):
# replay simulations/sample.jsonl into a fresh database, serve it on a free
# loopback port with predict on, and run every schemathesis check against the
# OpenAPI document the server generates (/api/v1/openapi.json). Any finding
# (a 5xx, a response that does not match the document, a schema-valid request
# refused, an invalid one accepted, a wrong content type, a method that should
# be 405 ...) makes the script exit non-zero.
#
#   scripts/schemathesis.sh            # builds the debug binary if needed
#   SENTINELDNS_BIN=target/release/sentineldns MAX_TIME=300 scripts/schemathesis.sh
#
# Needs python3 with venv (Debian: python3-venv) and network access to PyPI
# the first time (the venv is kept under target/, reused afterwards).
set -euo pipefail
cd "$(dirname "$0")/.."

SCHEMATHESIS_VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
VENV=${VENV:-target/schemathesis-venv}
MAX_TIME=${MAX_TIME:-120}
SEED=${SEED:-1}

if [ -z "${SENTINELDNS_BIN:-}" ]; then
    cargo build --quiet
    SENTINELDNS_BIN=target/debug/sentineldns
fi

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi
"$VENV/bin/schemathesis" --version

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

"$SENTINELDNS_BIN" replay simulations/sample.jsonl --db "$work/s.db" --format none

# serve LOG ARGS...: start `serve` on a free loopback port; sets $base and $pid.
serve() {
    local log=$1; shift
    "$SENTINELDNS_BIN" serve --db "$work/s.db" --listen 127.0.0.1:0 "$@" 2>"$log" &
    pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        grep -q '^serving http://' "$log" && break
        kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
        sleep 0.1
    done
    base=$(sed -n 's|^serving \(http://[^/]*\)/.*|\1|p' "$log" | head -n 1)
    [ -n "$base" ] || { echo "serve did not start"; cat "$log"; exit 1; }
    echo "serving $base $*"
}

# One worker: CPython 3.11 can fail hypothesis' source inspection
# ("AST constructor recursion depth mismatch") when two threads parse at once.
run_checks() {
    "$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "$base/api/v1/openapi.json" \
        --checks all --seed "$SEED" --workers 1 --no-color "$@"
}

status=0
# 1. Loopback without a token, predict on: every operation, MAX_TIME seconds.
serve "$work/serve.log" --predict
run_checks --max-time "$MAX_TIME" || status=$?
kill -0 "$pid" 2>/dev/null || { echo "serve died during the run:"; cat "$work/serve.log"; status=1; }

# 2. With a bearer token (the document then declares it): a shorter pass in
#    which `ignored_auth` checks that every /api operation refuses requests
#    without the token or with a wrong one.
token="schemathesis-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$token" > "$work/token"
serve "$work/serve-token.log" --predict --token-file "$work/token"
run_checks --max-time $(( (MAX_TIME + 3) / 4 )) -H "Authorization: Bearer $token" || status=$?
kill -0 "$pid" 2>/dev/null || { echo "serve died during the run:"; cat "$work/serve-token.log"; status=1; }
exit "$status"
