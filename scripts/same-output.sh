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
# differs. Run-specific values (wall-clock times, temp paths) are not compared:
# the only ones in these outputs are masked below, and the script says which.
#   usage: scripts/same-output.sh OLD_BINARY NEW_BINARY [WORKDIR]
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2")
work=${3:-$(mktemp -d)}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$work/old" "$work/new"
mask() { sed -E 's#/[^ "]*/(old|new)/#<WORK>/#g; s/"(started_at|finished_at|generated_at|created_at)": ?"[^"]*"/"\1":"<TIME>"/g'; }
run_side() {
    local bin=$1 dir=$2
    cd "$dir"
    "$bin" replay "$repo/simulations/sample.jsonl" --db quick.db --progress never > quick.out 2> quick.err
    "$bin" alerts --db quick.db > alerts.out
    "$bin" windows --db quick.db --format json > windows.json
    for i in 1 2 3 4; do h=$((10 + i*8))
        "$bin" simulate --out ev$i.jsonl --hosts $h --hours 8 --seed $((900+i)) --incident-hosts $((h/3)) > /dev/null 2>&1
        "$bin" replay ev$i.jsonl --db ev$i.db --format none --progress never --ndjson ev$i.ndjson --ndjson-lookups > /dev/null 2>&1
    done
    "$bin" evaluate ev1.jsonl ev2.jsonl ev3.jsonl ev4.jsonl > eval.txt 2> /dev/null
    "$bin" evaluate ev1.jsonl ev2.jsonl ev3.jsonl ev4.jsonl --format json > eval.json 2> /dev/null
}
(run_side "$old" "$work/old") & (run_side "$new" "$work/new") & wait
status=0
for f in quick.out alerts.out windows.json ev1.jsonl ev2.jsonl ev3.jsonl ev4.jsonl \
         ev1.ndjson ev2.ndjson ev3.ndjson ev4.ndjson eval.txt eval.json; do
    a=$(mask < "$work/old/$f" | sha256sum | cut -c1-16)
    b=$(mask < "$work/new/$f" | sha256sum | cut -c1-16)
    if [ "$a" = "$b" ]; then echo "same     $f $a ($(wc -c < "$work/new/$f") bytes)"
    else echo "DIFFERS  $f old $a new $b"; status=1
        diff <(mask < "$work/old/$f") <(mask < "$work/new/$f") | head -5
    fi
done
exit $status
