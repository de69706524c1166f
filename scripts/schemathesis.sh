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
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$SENTINELDNS_BIN" replay simulations/sample.jsonl --db "$work/s.db" --format none
"$SENTINELDNS_BIN" serve --db "$work/s.db" --listen 127.0.0.1:0 --predict 2>"$work/serve.log" &
pid=$!
for _ in $(seq 100); do
    grep -q '^serving http://' "$work/serve.log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$work/serve.log"; exit 1; }
    sleep 0.1
done
base=$(sed -n 's|^serving \(http://[^/]*\)/.*|\1|p' "$work/serve.log" | head -n 1)
[ -n "$base" ] || { echo "serve did not start"; cat "$work/serve.log"; exit 1; }
echo "serving $base"

# One worker: CPython 3.11 can fail hypothesis' source inspection
# ("AST constructor recursion depth mismatch") when two threads parse at once.
status=0
"$VENV/bin/schemathesis" --config-file scripts/schemathesis.toml run "$base/api/v1/openapi.json" \
    --checks all --max-time "$MAX_TIME" --seed "$SEED" --workers 1 --no-color || status=$?
# The server must still be up and healthy after the run.
if ! kill -0 "$pid" 2>/dev/null; then
    echo "serve died during the run:"; cat "$work/serve.log"; status=1
fi
exit "$status"
