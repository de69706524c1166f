#!/usr/bin/env bash
# Peer comparison (issue 18): `sentineldns replay` (read, decode, pair,
# enrich, windows, scoring with the shipped model, incidents, SQLite) against
# what Debian's DNS tools do with the same file, in the same hyperfine run,
# then instruction counts under callgrind, and the ratios.
#
#   scripts/bench/peers.sh            # all three captures below
#   CAPTURES="low" scripts/bench/peers.sh
#
# Captures (generated when missing, deterministic):
#   low       /tmp/bench1200k.pcap  gen_bench_pcap … 600000 (1.2 M packets, 500 clients)
#             callgrind on /tmp/bench200k.pcap (gen_bench_pcap … 100000)
#   highcard  /tmp/highcard.pcap    gen_bench_pcap … 500000 1750 3600 20000
#             (1 M packets, 1,750 clients over an hour, 22,750 windows)
#   lab       tests/fixtures/real/run-h2.pcap.gz, unpacked: real unbound, NSD,
#             dig, iodine and dnsperf traffic from the real-traffic lab
#
# Peers: dnstop -l 3 (counts queries per source and name), tshark -T fields
# (dns.qry.name, dns.flags.rcode) and dnscap -g when installed. Needs
# hyperfine, valgrind, dnstop and tshark (Debian packages of those names).
# RUNS (default 5) sets hyperfine's runs; CALLGRIND_TSHARK=1 also counts
# tshark's instructions (minutes). Wall times on a loaded or shared machine
# are only comparable within a run; instruction counts are deterministic.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=./target/release/sentineldns
gen=./target/release/gen_bench_pcap
for t in hyperfine valgrind dnstop tshark; do
    command -v "$t" >/dev/null || { echo "peers.sh: $t is missing (apt-get install $t)" >&2; exit 2; }
done
cargo build --release --quiet --bin sentineldns
cargo build --release --quiet -p sentineldns-tools --bin gen_bench_pcap
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
db="$work/bench.db"
prep="rm -f $db $db-wal $db-shm"
replay() { echo "$bin replay --threads $1 --db $db --format none --progress never --quiet $2"; }

count() { # callgrind instructions of a command line
    valgrind --tool=callgrind --callgrind-out-file="$work/cg.out" "$@" >/dev/null 2>&1 || true
    awk '/^summary:/ {print $2}' "$work/cg.out"
}

compare() { # name, capture for wall time, capture for callgrind
    local name=$1 big=$2 small=$3
    local packets
    packets=$(tshark -r "$big" -T fields -e frame.number 2>/dev/null | wc -l)
    local cmds=(
        -n "sentineldns 1 thread" "taskset -c 1 $(replay 1 "$big")"
        -n "sentineldns 2 threads" "$(replay 2 "$big")"
        -n "dnstop -l 3" "taskset -c 1 dnstop -l 3 $big > /dev/null"
        -n "tshark fields" "taskset -c 1 tshark -r $big -T fields -e dns.qry.name -e dns.flags.rcode > /dev/null 2>&1"
    )
    if command -v dnscap >/dev/null; then
        cmds+=(-n "dnscap -g" "taskset -c 1 dnscap -r $big -g > /dev/null 2>&1")
    fi
    hyperfine --warmup 1 --runs "${RUNS:-5}" --prepare "$prep" --export-json "$work/wall.json" "${cmds[@]}" >&2
    $prep
    local ir_s ir_d ir_t="" rss
    ir_s=$(count $(replay 1 "$small"))
    ir_d=$(count dnstop -l 3 "$small")
    if [ "${CALLGRIND_TSHARK:-0}" = 1 ]; then
        ir_t=$(count tshark -r "$small" -T fields -e dns.qry.name -e dns.flags.rcode)
    fi
    $prep
    rss=$( { /usr/bin/time -f %M $(replay 1 "$big") ; } 2>&1 | tail -1)
    $prep
    python3 - "$name" "$work/wall.json" "$packets" "$ir_s" "$ir_d" "$ir_t" "$rss" "$small" <<'PY'
import json, sys
name, wall, packets, ir_s, ir_d, ir_t, rss, small = sys.argv[1:]
packets = int(packets)
r = {x["command"]: x for x in json.load(open(wall))["results"]}
s1 = r["sentineldns 1 thread"]["mean"]
d = r["dnstop -l 3"]["mean"]
print(f"\n== {name}: {packets:,} packets")
print(f"{'command':<24}{'mean s':>9}{'± s':>8}{'packets/s':>13}{'÷ sentineldns 1 thr':>21}{'÷ dnstop':>10}")
for cmd, x in r.items():
    print(f"{cmd:<24}{x['mean']:>9.3f}{x['stddev']:>8.3f}{packets / x['mean']:>13,.0f}"
          f"{x['mean'] / s1:>20.2f}x{x['mean'] / d:>9.2f}x")
line = (f"callgrind on {small}: sentineldns {int(ir_s) / 1e6:,.1f} M, dnstop {int(ir_d) / 1e6:,.1f} M "
        f"(sentineldns/dnstop {int(ir_s) / int(ir_d):.2f})")
if ir_t:
    line += f", tshark {int(ir_t) / 1e6:,.1f} M (tshark/sentineldns {int(ir_t) / int(ir_s):.1f})"
print(line)
print(f"peak RSS, sentineldns 1 thread: {int(rss) / 1024:.1f} MB")
PY
}

for c in ${CAPTURES:-low highcard lab}; do
    case $c in
        low)
            [ -s /tmp/bench1200k.pcap ] || "$gen" /tmp/bench1200k.pcap 600000
            [ -s /tmp/bench200k.pcap ] || "$gen" /tmp/bench200k.pcap 100000
            compare "generated, 500 clients (gen_bench_pcap 600000)" /tmp/bench1200k.pcap /tmp/bench200k.pcap
            ;;
        highcard)
            [ -s /tmp/highcard.pcap ] || "$gen" /tmp/highcard.pcap 500000 1750 3600 20000
            compare "high cardinality (gen_bench_pcap 500000 1750 3600 20000)" /tmp/highcard.pcap /tmp/highcard.pcap
            ;;
        lab)
            gunzip -c tests/fixtures/real/run-h2.pcap.gz > "$work/lab.pcap"
            compare "real lab traffic (tests/fixtures/real/run-h2.pcap.gz)" "$work/lab.pcap" "$work/lab.pcap"
            ;;
        *) echo "peers.sh: unknown capture $c (low, highcard, lab)" >&2; exit 2 ;;
    esac
done
