#!/bin/bash
# Re-create tests/fixtures/dnstap/unbound.fstrm: a real unbound (Debian,
# built with --enable-dnstap) in a network namespace logs client queries and
# responses to fstrm_capture (Debian fstrm-bin), while dig asks it over UDP,
# TCP, DNS over TLS and DNS over HTTPS. Needs root, iproute2, unbound,
# bind9-dnsutils (dig >= 9.18 for +tls/+https), fstrm-bin and openssl.
# Usage: sudo scripts/dnstap-fixture.sh [OUT]
set -euo pipefail
OUT=${1:-$(dirname "$0")/../tests/fixtures/dnstap/unbound.fstrm}
D=$(mktemp -d)
NS=dtfx$$
H=dtfh$$
P=dtfp$$
cleanup() {
    [ -n "${UB:-}" ] && kill "$UB" 2>/dev/null || true
    [ -n "${FC:-}" ] && kill "$FC" 2>/dev/null || true
    ip link del "$H" 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
    rm -rf "$D"
}
trap cleanup EXIT
ip netns add "$NS"
ip link add "$H" type veth peer name "$P"
ip link set "$P" netns "$NS"
ip addr add 10.231.9.2/24 dev "$H"
ip link set "$H" up
ip netns exec "$NS" ip addr add 10.231.9.1/24 dev "$P"
ip netns exec "$NS" ip link set "$P" up
ip netns exec "$NS" ip link set lo up
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$D/key.pem" -out "$D/cert.pem" \
    -days 3650 -subj /CN=resolver.test 2>/dev/null
cat > "$D/unbound.conf" <<EOC
server:
    interface: 10.231.9.1@53
    interface: 10.231.9.1@853
    interface: 10.231.9.1@443
    tls-port: 853
    https-port: 443
    http-endpoint: "/dns-query"
    tls-service-key: "$D/key.pem"
    tls-service-pem: "$D/cert.pem"
    access-control: 10.231.0.0/16 allow
    do-daemonize: no
    username: ""
    chroot: ""
    directory: "$D"
    pidfile: "$D/unbound.pid"
    use-syslog: no
    logfile: ""
    do-ip6: no
    module-config: "iterator"
    local-zone: "." static
    local-zone: "example.test." static
    local-data: "www.example.test. 60 IN A 10.9.9.9"
    local-data: "mail.example.test. 60 IN A 10.9.9.10"
    local-data: "cfg.example.test. 60 IN TXT \"v=1\""
remote-control:
    control-enable: no
dnstap:
    dnstap-enable: yes
    dnstap-socket-path: "$D/tap.sock"
    dnstap-send-identity: yes
    dnstap-send-version: yes
    dnstap-identity: "unbound-fixture"
    dnstap-log-client-query-messages: yes
    dnstap-log-client-response-messages: yes
EOC
fstrm_capture -t protobuf:dnstap.Dnstap -u "$D/tap.sock" -w "$D/out.fstrm" 2>"$D/fc.log" &
FC=$!
sleep 0.5
ip netns exec "$NS" unbound -d -c "$D/unbound.conf" 2>"$D/ub.log" &
UB=$!
ok=""
for _ in $(seq 1 50); do
    if dig @10.231.9.1 www.example.test +short +time=1 +tries=1 | grep -q 10.9.9.9; then ok=1; break; fi
    sleep 0.2
done
[ -n "$ok" ] || { cat "$D/ub.log"; echo "unbound did not answer" >&2; exit 1; }
q() { dig @10.231.9.1 +time=2 +tries=1 "$@" >/dev/null; }
# after the readiness query (1 x www A over UDP):
for _ in 1 2; do q mail.example.test A; done           # UDP, NOERROR
for i in 1 2 3; do q "nx$i.example.test" A; done      # UDP, NXDOMAIN
q cfg.example.test TXT                                # UDP, TXT
q +tcp www.example.test A                             # TCP
q +tcp nx4.example.test A                             # TCP, NXDOMAIN
q -p 853 +tls www.example.test A                      # DNS over TLS
q -p 853 +tls nx5.example.test A                      # DNS over TLS, NXDOMAIN
q -p 443 +https www.example.test A                    # DNS over HTTPS
sleep 1.5                                             # unbound flushes its dnstap buffer
kill "$UB"; wait "$UB" || true; UB=""
sleep 0.5
kill "$FC"; wait "$FC" || true; FC=""
mkdir -p "$(dirname "$OUT")"
cp "$D/out.fstrm" "$OUT"
cat "$D/fc.log"
echo "wrote $OUT"
