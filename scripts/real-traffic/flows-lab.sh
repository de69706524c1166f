#!/usr/bin/env bash
# sentineldns flow lab: real TCP traffic from real tools (curl against
# python3's http.server, nmap, hping3) in Linux network namespaces, captured
# with tcpdump and turned into flow CSVs by the PyPI `cicflowmeter` — the
# dialect the flow detectors must read (issue 15 item 3). Needs root.
# Touches nothing outside the namespaces it creates (prefix sdnsfl-<tag>-)
# and the --out directory.
#
#   sudo scripts/real-traffic/flows-lab.sh --out DIR [--seed N] [--benign SEC]
#
# cicflowmeter: `pip install cicflowmeter==0.2.0 scapy==2.5.0` in a venv.
# scapy 2.5 is required: with scapy >= 2.6 (new session API) cicflowmeter
# 0.2.0 silently writes an empty CSV; this script refuses it.
#
# Writes, per phase, DIR/<phase>.pcap and DIR/<phase>.csv (cicflowmeter -f … -c):
#   benign   CLIENTS hosts fetch files of mixed sizes from two web servers
#   portscan the same benign traffic plus `nmap -sS` of ports 1-PORTS on one server
#   ddos     the same benign traffic plus an `hping3 -S --rand-source` SYN flood
#            on port 80 of one server
# and DIR/summary.txt (tool versions, flows per phase, seed).
set -Eeuo pipefail

OUT="" SEED=1 TAG=lab BENIGN=150 ATTACK=40 CLIENTS=4 PORTS=2000 FLOOD=6000
CICFLOWMETER=${CICFLOWMETER:-cicflowmeter}
usage() {
  cat <<EOF
usage: $0 --out DIR [--seed N] [--tag NAME] [--benign SEC] [--attack SEC]
          [--clients N] [--ports N] [--flood PACKETS]
  --benign SEC   length of the benign phase (default $BENIGN)
  --attack SEC   length of each attack phase (default $ATTACK)
  --clients N    benign client hosts (default $CLIENTS)
  --ports N      nmap scans ports 1-N (default $PORTS)
  --flood N      SYN packets hping3 sends (default $FLOOD)
  env CICFLOWMETER: the cicflowmeter executable (default: on PATH; pip install cicflowmeter)
EOF
}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$2; shift 2 ;;
    --seed) SEED=$2; shift 2 ;;
    --tag) TAG=$2; shift 2 ;;
    --benign) BENIGN=$2; shift 2 ;;
    --attack) ATTACK=$2; shift 2 ;;
    --clients) CLIENTS=$2; shift 2 ;;
    --ports) PORTS=$2; shift 2 ;;
    --flood) FLOOD=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
[ -n "$OUT" ] || { usage >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "needs root (network namespaces)" >&2; exit 1; }
for t in ip tcpdump nmap hping3 curl python3 "$CICFLOWMETER"; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install iproute2 tcpdump nmap hping3 curl python3; pip install cicflowmeter)" >&2; exit 1; }
done
CICPY=$(head -1 "$(command -v "$CICFLOWMETER")" | sed 's/^#!//')
SCAPY=$("$CICPY" -c 'import importlib.metadata as m; print(m.version("scapy"))' 2>/dev/null || echo unknown)
case "$SCAPY" in
  2.5.*) ;;
  *) echo "cicflowmeter 0.2.0 needs scapy 2.5 (found $SCAPY: it would write empty CSVs); pip install scapy==2.5.0" >&2; exit 1 ;;
esac
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
P=sdnsfl-$TAG
W=$(mktemp -d)

nsx() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }
cleanup() {
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$P-" || true); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] && kill $pids 2>/dev/null || true
    sleep 0.2
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [ -n "$pids" ] && kill -9 $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  rm -rf "$W"
}
trap cleanup EXIT
cleanup
W=$(mktemp -d)

addns() { ip netns add "$P-$1"; nsx "$1" ip link set lo up; }
plug() { # NS ADDR: a veth from the switch namespace's bridge into NS as eth0
  local ns=$1 addr=$2 peer="v-$1"
  nsx sw ip link add "$peer" type veth peer name eth0 netns "$P-$ns"
  nsx sw ip link set "$peer" master br0 up
  nsx "$ns" ip addr add "$addr/24" dev eth0
  nsx "$ns" ip link set eth0 up
}
addns sw
nsx sw ip link add br0 type bridge
nsx sw ip link set br0 up
SERVERS=(10.99.0.1 10.99.0.2)
addns s1; plug s1 10.99.0.1
addns s2; plug s2 10.99.0.2
for i in $(seq 1 "$CLIENTS"); do addns "c$i"; plug "c$i" "10.99.0.$((10 + i))"; done
addns atk; plug atk 10.99.0.66

# Web content: files of mixed sizes, the same on both servers.
mkdir -p "$W/www"
python3 - "$W/www" "$SEED" <<'EOF'
import os, random, sys
d, seed = sys.argv[1], int(sys.argv[2])
rng = random.Random(seed)
for i in range(40):
    size = int(rng.lognormvariate(8, 1.6))  # ~3 KB median, a long tail
    with open(os.path.join(d, f"f{i}.bin"), "wb") as f:
        f.write(rng.randbytes(min(size, 2_000_000)))
EOF
for s in s1 s2; do
  for port in 80 8080; do
    (cd "$W/www" && exec ip netns exec "$P-$s" python3 -m http.server "$port" --bind 0.0.0.0 >/dev/null 2>&1) &
  done
done
sleep 1

# Benign clients: each fetches random files from a random server and port
# with random think times (seeded per client).
client() { # N SECONDS
  local n=$1 secs=$2
  ip netns exec "$P-c$n" timeout "$secs" python3 - "$n" "$SEED" "${SERVERS[@]}" <<'EOF' || true
import random, subprocess, sys, time
n, seed, servers = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
rng = random.Random(seed * 1000 + n)
while True:
    url = f"http://{rng.choice(servers)}:{rng.choice([80, 80, 8080])}/f{rng.randrange(40)}.bin"
    subprocess.run(["curl", "-s", "-o", "/dev/null", "--max-time", "5", url])
    time.sleep(rng.expovariate(1 / 0.35))
EOF
}
benign_traffic() { # SECONDS
  for i in $(seq 1 "$CLIENTS"); do client "$i" "$1" & done
  wait
}

capture_phase() { # NAME SECONDS ATTACK-COMMAND...
  local name=$1 secs=$2; shift 2
  # A plain command, not the nsx function: `ip netns exec` execs tcpdump, so
  # $! is tcpdump itself and the SIGINT below reaches it.
  ip netns exec "$P-sw" tcpdump -i br0 -n -U -s 0 -w "$OUT/$name.pcap" >"$W/tcpdump-$name.out" 2>&1 &
  local cap=$!
  for _ in $(seq 1 50); do grep -q "listening on" "$W/tcpdump-$name.out" 2>/dev/null && break; sleep 0.1; done
  benign_traffic "$secs" &
  local ben=$!
  if [ $# -gt 0 ]; then sleep 3; "$@" || true; fi
  wait "$ben"
  sleep 1
  kill -INT "$cap"; wait "$cap" 2>/dev/null || true
  rm -f "$OUT/$name.csv"
  "$CICFLOWMETER" -f "$OUT/$name.pcap" -c "$OUT/$name.csv" >"$W/cic-$name.out" 2>&1
  [ -s "$OUT/$name.csv" ] || { echo "cicflowmeter wrote no flows for $name:" >&2; cat "$W/cic-$name.out" >&2; exit 1; }
  echo "$name: $(($(wc -l <"$OUT/$name.csv") - 1)) flows, $(stat -c %s "$OUT/$name.pcap") bytes of capture"
}

{
  echo "flows-lab seed $SEED, $CLIENTS clients, benign ${BENIGN}s, attacks ${ATTACK}s each"
  echo "cicflowmeter $("$CICPY" -c 'import importlib.metadata as m; print(m.version("cicflowmeter"))' 2>/dev/null || echo unknown), scapy $SCAPY"
  echo "$(nmap --version | head -1); hping3 $(hping3 --version 2>&1 | head -1)"
  capture_phase benign "$BENIGN"
  capture_phase portscan "$ATTACK" nsx atk sh -c "nmap -n -Pn -sS -T4 -p 1-$PORTS 10.99.0.1 >/dev/null"
  capture_phase ddos "$ATTACK" nsx atk sh -c "timeout $ATTACK hping3 -q -S -p 80 --rand-source -i u2000 -c $FLOOD 10.99.0.1 >/dev/null 2>&1"
} | tee "$OUT/summary.txt"
