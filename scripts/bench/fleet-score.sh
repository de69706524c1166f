#!/bin/bash
# Fleet scoring throughput (issue 14): the sample (18 337 lookups) shipped as
# lookups to a 4-partition topic, then scored by one scorer and by two in one
# group, then collected. Needs `eval "$(scripts/fleet-servers.sh start)"`, a
# database $BENCH_PG (e.g. .../sentineldns_bench_score) and B=path/to/sentineldns.
# Rates: read the info logs (assignment time to the idle detection minus
# the 5 s idle), not the summary's lookups/s, which includes the group join
# and the idle wait.
set -u
T=$SENTINELDNS_TANSU; B=${B:-target/release/sentineldns}; K=$SENTINELDNS_TEST_KAFKA
S=$(dirname "$0")/../../simulations/sample.jsonl
p=bn$$
for t in $p.lookups $p.windows $p.incidents $p.lookups.floors; do $T topic create --partitions 4 --broker tcp://$K $t >/dev/null 2>&1; done
printf '[outputs.kafka]\nbrokers = "%s"\n[outputs.kafka.topics]\nwindows = "%s.windows"\nincidents = "%s.incidents"\nlookups = "%s.lookups"\n' $K $p $p $p > $p.toml
$B --config $p.toml replay --db $p.db --format none --quiet --no-model --kafka $K --ship lookups --sensor-name s1 $S
echo "== one scorer"
SENTINELDNS_LOG=info $B --config $p.toml score --kafka $K --group ${p}one --idle-exit 5s --commit-every 1s 2>&1 | grep -E "assignment changed|no record for the idle|score:" | cut -c1-220
echo "== two scorers"
(SENTINELDNS_LOG=info $B --config $p.toml score --kafka $K --group ${p}two --idle-exit 5s --commit-every 1s > $p.a 2>&1 &)
SENTINELDNS_LOG=info $B --config $p.toml score --kafka $K --group ${p}two --idle-exit 5s --commit-every 1s > $p.b 2>&1
sleep 3
grep -hE "assignment changed|no record for the idle|score:" $p.a $p.b | cut -c1-220
echo "== collect"
$B collect --kafka $K --postgres "$BENCH_PG" --group ${p}col --windows-topic $p.windows --incidents-topic $p.incidents --idle-exit 8s 2>&1 | tail -1
