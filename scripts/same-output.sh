#!/usr/bin/env bash
# Behaviour check for refactors (issue 11): run two sentineldns binaries on the
# same inputs and compare, byte for byte, what a user sees:
#   * the quick start (replay of simulations/sample.jsonl: stdout, then `alerts`
#     and `windows --format json` from its database);
#   * the four mixed-network evaluation simulations of BENCHMARKS.md
#     ("Mixed networks": seeds 901-904), written by each binary's `simulate`;
#   * `evaluate` on them (table and JSON: the evaluation figures);
#   * the NDJSON output of replaying each of them (windows and lookups).
# Prints one line per artefact with both sha256 sums and exits non-zero when any
# differs.
#   usage: scripts/same-output.sh OLD_BINARY NEW_BINARY [WORKDIR]
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2")
work=${3:-$(mktemp -d)}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work/old" "$work/new"
# Masked: the two work directories' paths (inputs and databases are named in
# the summary and in evaluate's JSON) and the run summary's elapsed time and
# rate. Nothing else in these outputs depends on the run.
mask() { sed -E "s#$work/(old|new)/#<WORK>/#g; s/ in [0-9.]+s \([0-9]+ (packets|lines)\/s\)/ in <T>/"; }
run_side() {
    local bin=$1 d=$2
    cd "$repo"   # the quick start runs from the checkout (models/default.bin)
    "$bin" replay simulations/sample.jsonl --db "$d/quick.db" --progress never > "$d/quick.out" 2> "$d/quick.err"
    "$bin" alerts --db "$d/quick.db" > "$d/alerts.out"
    "$bin" windows --db "$d/quick.db" --format json > "$d/windows.json"
    for i in 1 2 3 4; do h=$((10 + i*8))
        "$bin" simulate --out "$d/ev$i.jsonl" --hosts $h --hours 8 --seed $((900+i)) --incident-hosts $((h/3)) > /dev/null 2>&1
        "$bin" replay "$d/ev$i.jsonl" --db "$d/ev$i.db" --format none --progress never --ndjson "$d/ev$i.ndjson" --ndjson-lookups > /dev/null 2>&1
    done
    "$bin" evaluate "$d/ev1.jsonl" "$d/ev2.jsonl" "$d/ev3.jsonl" "$d/ev4.jsonl" > "$d/eval.txt" 2> /dev/null
    "$bin" evaluate "$d/ev1.jsonl" "$d/ev2.jsonl" "$d/ev3.jsonl" "$d/ev4.jsonl" --format json > "$d/eval.json" 2> /dev/null
}
(run_side "$old" "$work/old") & (run_side "$new" "$work/new") & wait
status=0
for f in quick.out quick.err alerts.out windows.json ev1.jsonl ev2.jsonl ev3.jsonl ev4.jsonl \
         ev1.ndjson ev2.ndjson ev3.ndjson ev4.ndjson eval.txt eval.json; do
    a=$(mask < "$work/old/$f" | sha256sum | cut -c1-16)
    b=$(mask < "$work/new/$f" | sha256sum | cut -c1-16)
    if [ "$a" = "$b" ]; then echo "same     $f $a ($(wc -c < "$work/new/$f") bytes)"
    else echo "DIFFERS  $f old $a new $b"; status=1
        diff <(mask < "$work/old/$f") <(mask < "$work/new/$f") | head -5
    fi
done
exit $status
