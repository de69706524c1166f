#!/usr/bin/env bash
# Flood benchmark for live capture (not a test): dnsperf at its highest rate
# against unbound in a network namespace while `sentineldns capture` listens on
# the host end of the veth. Prints what dnsperf sent and what the sensor
# captured, processed and dropped (kernel / interface / queue).
#
#   sudo [QPS=N] scripts/bench/flood.sh [SECONDS] [CLIENTS]   (QPS caps dnsperf; default: as fast as it goes)
#
# Needs: root, iproute2, unbound, dnsperf, a release build with --features capture.
set -euo pipefail
secs=${1:-20}
clients=${2:-8}
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=$root/target/release/sentineldns
[ -x "$bin" ] || { echo "build first: cargo build --release --features capture" >&2; exit 2; }
ns=sdnsflood; hif=sdfh; pif=sdfp
work=$(mktemp -d); chmod 0777 "$work"
cleanup() {
    [ -n "${upid:-}" ] && kill "$upid" 2>/dev/null || true
    ip link del "$hif" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ip netns del "$ns" 2>/dev/null || true
ip netns add "$ns"
ip link add "$hif" type veth peer name "$pif"
ip link set "$pif" netns "$ns"
ip addr add 10.232.0.2/24 dev "$hif"; ip link set "$hif" up
ip netns exec "$ns" ip addr add 10.232.0.1/24 dev "$pif"
ip netns exec "$ns" ip link set "$pif" up
ip netns exec "$ns" ip link set lo up
cat > "$work/unbound.conf" <<CONF
server:
    interface: 10.232.0.1
    access-control: 10.232.0.0/24 allow
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$work"
    use-syslog: no
    do-ip6: no
    num-threads: 1
    so-rcvbuf: 8m
    so-sndbuf: 8m
    module-config: "iterator"
    local-zone: "." static
    local-zone: "example.test." static
    local-data: "www.example.test. 60 IN A 10.9.9.9"
    local-data: "api.example.test. 60 IN A 10.9.9.10"
    local-data: "cdn.example.test. 60 IN AAAA 2001:db8::1"
remote-control:
    control-enable: no
CONF
ip netns exec "$ns" unbound -d -c "$work/unbound.conf" & upid=$!
for _ in $(seq 50); do dig @10.232.0.1 www.example.test +short +time=1 +tries=1 | grep -q 10.9.9.9 && break; sleep 0.2; done
: > "$work/queries"
for i in $(seq 1 2000); do
    case $((i % 4)) in
        0) echo "www.example.test A";; 1) echo "api.example.test A";;
        2) echo "cdn.example.test AAAA";; 3) echo "h$i.nx.example.test A";;
    esac >> "$work/queries"
done
"$bin" capture -i "$hif" --user nobody --no-model --format none --queue 262144 --buffer-mb 64 \
    --db "$work/flood.db" --summary-json "$work/summary.json" 2> "$work/sensor.err" & spid=$!
sleep 1
dnsperf -s 10.232.0.1 -d "$work/queries" -l "$secs" -c "$clients" -q 2000 -Q "${QPS:-1000000}" > "$work/dnsperf.out" 2>&1 || true
sleep 1
kill -TERM "$spid"; wait "$spid" || true
grep -E "Queries sent|Queries completed|Queries per second" "$work/dnsperf.out"
cat "$work/sensor.err"
python3 - "$work/summary.json" "$secs" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); secs = float(sys.argv[2])
c, st = s["capture"], s["stats"]
print(f"captured {c['captured']} packets in ~{secs:.0f}s = {c['captured']/secs:,.0f} packets/s; "
      f"dns messages {st['dns_messages']}; dropped kernel {c['kernel_dropped']}, "
      f"interface {c['interface_dropped']}, queue {c['queue_dropped']}")
PY
