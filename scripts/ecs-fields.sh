#!/usr/bin/env bash
# Regenerate tests/fixtures/ecs/ecs_flat-<major.minor>.json: the published
# Elastic Common Schema field definitions the NDJSON records are validated
# against (tests/integration/ecs.rs). Source: the npm package @elastic/ecs,
# whose generated/ecs_flat.js is Elastic's ecs_flat.yml of that release as
# JavaScript (Apache-2.0). Kept per field: type, normalize, required,
# object_type and allowed values with their expected event types.
# Needs npm and node.  Usage: scripts/ecs-fields.sh [VERSION]   (default 8.11.5)
set -euo pipefail
version="${1:-8.11.5}"
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@elastic/ecs@$version" >/dev/null && tar xzf elastic-ecs-*.tgz)
short="$(echo "$version" | cut -d. -f1,2)"
out="tests/fixtures/ecs/ecs_flat-$short.json"
node -e '
const f = require(process.argv[1]).EcsFlat; const out = {};
for (const [k, v] of Object.entries(f)) {
  const o = { type: v.type };
  if (v.normalize && v.normalize.length) o.normalize = v.normalize;
  if (v.allowed_values) o.allowed_values = v.allowed_values.map(a => {
    const r = { name: a.name };
    if (a.expected_event_types) r.expected_event_types = a.expected_event_types;
    return r; });
  if (v.required) o.required = true;
  if (v.object_type) o.object_type = v.object_type;
  out[k] = o;
}
require("fs").writeFileSync(process.argv[2], JSON.stringify(out, null, 0).replace(/\},"/g, "},\n\"") + "\n");
' "$work/package/generated/ecs_flat.js" "$out"
echo "wrote $out ($(grep -c . "$out") fields)"
