#!/usr/bin/env bash
# Browser test of the embedded dashboard (`sentineldns serve`): replays
# simulations/sample.jsonl plus tests/fixtures/dashboard-hostile.jsonl (a host
# whose lookups carry `<script>`, `<img onerror>` and `=formula` names and a
# DGA burst, so they reach the flagged windows and the dashboard's tables),
# serves it twice on free loopback ports (without a token, and with one), and
# runs tests/browser/dashboard.test.mjs in Debian's chromium with
# playwright-core (pinned in tests/browser/package-lock.json, installed with
# `npm ci`).
#
#   scripts/browser-test.sh                     # builds the debug binary
#   SENTINELDNS_BIN=target/release/sentineldns scripts/browser-test.sh
#
# Needs chromium, node (>= 20) and npm (Debian: apt-get install chromium
# nodejs npm) and the npm registry the first time. A missing browser, node or
# module is a failure (exit 1), never a skip.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "browser-test: FAIL: $*" >&2; exit 1; }

CHROMIUM=${CHROMIUM:-}
if [ -z "$CHROMIUM" ]; then
    for c in /usr/lib/chromium/chromium /usr/bin/chromium; do
        [ -x "$c" ] && { CHROMIUM=$c; break; }
    done
fi
[ -n "$CHROMIUM" ] && [ -x "$CHROMIUM" ] || fail "no chromium binary (apt-get install chromium)"
command -v node >/dev/null || fail "node is missing (apt-get install nodejs)"
command -v npm >/dev/null || fail "npm is missing (apt-get install npm)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "node $(node --version) is too old: playwright-core needs node 20 or newer"
echo "browser-test: $("$CHROMIUM" --version 2>/dev/null | head -n 1), node $(node --version), npm $(npm --version)"

# The pinned modules, from the lockfile (reused while the lockfile is unchanged).
stamp=tests/browser/node_modules/.lock-stamp
if ! cmp -s tests/browser/package-lock.json "$stamp" 2>/dev/null; then
    (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci in tests/browser failed"
    cp tests/browser/package-lock.json "$stamp"
fi
[ -f tests/browser/node_modules/playwright-core/package.json ] || fail "playwright-core is not installed in tests/browser/node_modules"

if [ -z "${SENTINELDNS_BIN:-}" ]; then
    cargo build --quiet
    SENTINELDNS_BIN=${CARGO_TARGET_DIR:-target}/debug/sentineldns
fi
[ -x "$SENTINELDNS_BIN" ] || fail "no binary at $SENTINELDNS_BIN"

work=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    rm -rf "$work"
}
trap cleanup EXIT

"$SENTINELDNS_BIN" replay simulations/sample.jsonl tests/fixtures/dashboard-hostile.jsonl \
    --db "$work/s.db" --format none

# Triage results as a sensor with triage on stores them (issue 16): the
# hostile host's incident gets a verdict whose text carries markup, the
# others "breaker_open" (why there is none). python3's sqlite3: no CLI needed.
python3 - "$work/s.db" <<'EOF' || fail "storing the triage fixtures"
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
verdict = {
    "category": "c2",
    "threat_score": 87,
    "confidence": "high",
    "summary": "Beacon <img src=x onerror=alert(3)> to a DGA domain",
    "recommended_actions": ["<script>alert(4)</script> isolate the host", "block the domain"],
}
n = db.execute("UPDATE incidents SET triage_status = 'ok', triage = ? WHERE host = '10.99.0.1'", (json.dumps(verdict),)).rowcount
m = db.execute("UPDATE incidents SET triage_status = 'breaker_open' WHERE host <> '10.99.0.1'").rowcount
db.commit()
if n < 1 or m < 1:
    sys.exit(f"expected incidents of the hostile host and others, got {n} and {m}")
EOF

# serve LOG ARGS...: start `serve` on a free loopback port; sets $base.
serve() {
    local log=$1; shift
    "$SENTINELDNS_BIN" serve --db "$work/s.db" --listen 127.0.0.1:0 "$@" 2>"$log" &
    local pid=$!
    pids+=("$pid")
    for _ in $(seq 100); do
        grep -q '^serving http://' "$log" && break
        kill -0 "$pid" 2>/dev/null || { cat "$log"; fail "serve exited"; }
        sleep 0.1
    done
    base=$(sed -n 's|^serving \(http://[^/]*\)/.*|\1|p' "$log" | head -n 1)
    [ -n "$base" ] || { cat "$log"; fail "serve did not start"; }
}

serve "$work/serve.log"
open_base=$base
token="browser-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$token" > "$work/token"
serve "$work/serve-token.log" --token-file "$work/token"
token_base=$base
echo "browser-test: serving $open_base and, with a token, $token_base"

out=${OUT:-target/browser-test}
mkdir -p "$out"
status=0
BASE=$open_base TOKEN_BASE=$token_base TOKEN=$token HOSTILE_HOST=10.99.0.1 \
    CHROMIUM=$CHROMIUM OUT=$(cd "$out" && pwd) \
    node tests/browser/dashboard.test.mjs || status=$?
echo "browser-test: exit $status (downloads and screenshots in $out)"
exit "$status"
