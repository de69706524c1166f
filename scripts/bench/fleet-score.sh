#!/bin/bash
# Fleet scoring throughput (issue 18, item 3): a stream of lookups shipped
# to a 4-partition topic, scored by one `sentineldns score`, then by two in
# one consumer group (two partitions each), then collected into PostgreSQL.
#
#   eval "$(scripts/fleet-servers.sh start)"
#   cargo build --release --all-features
#   BENCH_PG=$SENTINELDNS_TEST_POSTGRES scripts/bench/fleet-score.sh [LOOKUPS.jsonl]
#
# Input: a JSONL simulation (default: `simulate --hosts 200 --hours 5 --seed 7`,
# about half a million lookups, generated into $WORK when missing). B= picks the binary.
# Each scorer prints its rate over the time from its first record to its
# last (`… lookups/s over the …s from the first record to the last`), which
# leaves out the group join (~5 s on tansu) and the idle wait before exit.
# The idle exit is 30 s: tansu's in-memory engine has paused fetches for
# more than 5 s on multi-million-record topics, and a scorer that took that
# pause for the end of the stream left records unread. The script checks
# that every shipped lookup was scored.
# With two scorers the fleet rate is all lookups over the longer of the two
# spans (they start at the same rebalance).
set -euo pipefail
cd "$(dirname "$0")/../.."
T=$SENTINELDNS_TANSU; K=$SENTINELDNS_TEST_KAFKA
B=${B:-target/release/sentineldns}
WORK=${WORK:-/tmp/sentineldns-fleet-bench}
mkdir -p "$WORK"
S=${1:-$WORK/sim.jsonl}
if [ ! -s "$S" ]; then
    $B simulate --hosts 200 --hours 5 --seed 7 --out "$S" >/dev/null
fi
p=bn$$
cfg=$WORK/$p.toml
for t in $p.lookups $p.windows $p.incidents $p.lookups.floors; do
    $T topic create --partitions 4 --broker tcp://$K $t >/dev/null 2>&1
done
# A queue that holds the whole stream: shipping a file runs faster than the
# broker takes records, and a full queue drops (and counts) records.
printf '[outputs.kafka]\nbrokers = "%s"\nqueue = 2000000\n[outputs.kafka.topics]\nwindows = "%s.windows"\nincidents = "%s.incidents"\nlookups = "%s.lookups"\n' $K $p $p $p > "$cfg"
n=$(wc -l < "$S")
echo "== ship $n lookups"
/usr/bin/time -f "ship: %e s wall, %U s user" $B --config "$cfg" replay --db "$WORK/$p.db" --format none --progress never --no-model --kafka $K --ship lookups --sensor-name s1 "$S" 2>&1 | grep -E "^  kafka:|^run"
score() { $B --config "$cfg" score --kafka $K --group "$1" --idle-exit 30s --commit-every 1s --state-dir "$WORK/$p.state-$2" 2>&1 | grep "^score:"; }
echo "== one scorer, 4 partitions"
score ${p}one a | tee "$WORK/$p.a"
echo "== two scorers, 2 partitions each"
score ${p}two b > "$WORK/$p.b" &
score ${p}two c > "$WORK/$p.c"
wait
cat "$WORK/$p.b" "$WORK/$p.c"
awk '{for (i = 1; i <= NF; i++) { if ($(i+1) == "lookups" && $(i+2) == "scored,") n += $i; if ($i == "over" && $(i+1) == "the") { s = substr($(i+2), 1, length($(i+2)) - 1) + 0; if (s > m) m = s } } }
     END { if (m > 0) printf "fleet: %d lookups in %.2fs: %.0f lookups/s\n", n, m, n / m }' "$WORK/$p.b" "$WORK/$p.c"
for f in a b c; do
    awk '{for (i = 1; i <= NF; i++) if ($(i+1) == "lookups" && $(i+2) == "scored,") print $i}' "$WORK/$p.$f"
done | awk -v n="$n" '{s[NR] = $1} END { if (s[1] != n || s[2] + s[3] != n) { printf "fleet-score: %d lookups shipped, one scorer scored %d, two scored %d\n", n, s[1], s[2] + s[3]; exit 1 } }' 
if [ -n "${BENCH_PG:-}" ]; then
    echo "== collect"
    $B collect --kafka $K --postgres "$BENCH_PG" --group ${p}col --windows-topic $p.windows --incidents-topic $p.incidents --idle-exit 8s 2>&1 | tail -1
fi
