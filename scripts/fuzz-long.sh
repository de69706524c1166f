#!/usr/bin/env bash
# Long fuzzing runs for FUZZING.md: each named target (default: all) for
# SECONDS (default 3600) from the committed seeds plus a growing local corpus
# (fuzz/corpus-live/<target>, git-ignored), JOBS targets at a time (default 1).
# Logs and libFuzzer's final stats go to target/fuzz-long/<target>.log; a
# crash input lands in fuzz/artifacts/<target>/.
#   usage: scripts/fuzz-long.sh [SECONDS] [JOBS] [TARGET...]
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-3600}
jobs=${2:-1}
shift 2 2>/dev/null || shift $#
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
    mapfile -t targets < <(sed -n 's/^name = "\(.*\)"/\1/p' fuzz/Cargo.toml | grep -v '^sentineldns-fuzz$')
fi
mkdir -p target/fuzz-long
(cd fuzz && cargo +nightly fuzz build -O) || exit 1
run_one() {
    local t=$1
    mkdir -p "fuzz/corpus-live/$t"
    local start
    start=$(date -u +%FT%TZ)
    (cd fuzz && cargo +nightly fuzz run -O "$t" "corpus-live/$t" "corpus/$t" -- \
        -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 \
        > "../target/fuzz-long/$t.log" 2>&1)
    local rc=$?
    echo "$t start=$start end=$(date -u +%FT%TZ) exit=$rc $(grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' "target/fuzz-long/$t.log" | tr '\n' ' ')" \
        | tee -a target/fuzz-long/summary.txt
}
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n
        running=$((running - 1))
    fi
done
wait
