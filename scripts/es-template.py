#!/usr/bin/env python3
"""Write packaging/elasticsearch/sentineldns-index-template.json: a composable
Elasticsearch index template for the sensor's NDJSON records.

ECS fields take their type from the pinned ECS definitions
(tests/fixtures/ecs/ecs_flat-*.json); `sentineldns.*` fields take theirs from
the values seen in the NDJSON files given (integers long, other numbers
double, RFC 3339 strings date, other strings keyword, booleans boolean).
tests/integration/ecs.rs checks that the template maps every field the
sensor emits, with ECS's type; when it fails after a new field, regenerate:

    sentineldns replay --ndjson /tmp/all.ndjson --ndjson-lookups \\
        $(find ../shared/data/pcap -name '*.pcap*') simulations/sample.jsonl --db /tmp/t.db
    scripts/es-template.py /tmp/all.ndjson
"""
import glob
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def leaves(path, v, out):
    if isinstance(v, dict):
        for k, x in v.items():
            leaves(f"{path}.{k}" if path else k, x, out)
    elif isinstance(v, list):
        for x in v:
            leaves(path, x, out)
    elif v is not None:
        out.setdefault(path, set()).add(kind(v))


def kind(v):
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "long"
    if isinstance(v, float):
        return "double"
    if isinstance(v, str) and DATE.match(v):
        return "date"
    return "keyword"


def main(files):
    ecs_file = sorted(glob.glob(os.path.join(ROOT, "tests/fixtures/ecs/ecs_flat-*.json")))[-1]
    ecs = json.load(open(ecs_file))
    seen = {}
    for f in files:
        for line in open(f):
            if line.strip():
                leaves("", json.loads(line), seen)
    props = {}
    for path in sorted(seen):
        if path.startswith("sentineldns."):
            kinds = seen[path]
            if kinds <= {"long", "double"}:
                t = "double" if "double" in kinds else "long"
            elif len(kinds) == 1:
                t = kinds.pop()
            else:
                t = "keyword"
        else:
            t = ecs[path]["type"]
        node = props
        parts = path.split(".")
        for i, p in enumerate(parts[:-1]):
            prefix = ".".join(parts[: i + 1])
            entry = node.setdefault(p, {})
            if prefix in ecs and ecs[prefix]["type"] in ("object", "nested"):
                entry.setdefault("type", ecs[prefix]["type"])
            node = entry.setdefault("properties", {})
        node[parts[-1]] = {"type": t}
    version = re.search(r"ecs_flat-(\d+\.\d+)", ecs_file).group(1) + ".0"
    template = {
        "index_patterns": ["sentineldns-*", "logs-sentineldns*"],
        "priority": 200,
        "_meta": {
            "description": "sentineldns NDJSON records (lookup, window, incident lines): ECS fields "
            "typed as ECS " + version + " defines them, sentineldns.* as the sensor writes them",
            "ecs_version": version,
            "generated_by": "scripts/es-template.py",
        },
        "template": {
            "settings": {"index": {"mapping": {"total_fields": {"limit": 2000}}}},
            "mappings": {"date_detection": False, "properties": props},
        },
    }
    out = os.path.join(ROOT, "packaging/elasticsearch/sentineldns-index-template.json")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as fh:
        json.dump(template, fh, indent=2, sort_keys=True)
        fh.write("\n")
    print(f"wrote {out}: {len(seen)} fields")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
