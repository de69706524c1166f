#!/usr/bin/env python3
"""Generate the lab's fake internet: NSD zones, NSD config, unbound config,
root hints and the list of served names the clients browse.

Everything is deterministic (records are derived from a hash of each domain
name), so the fake internet is identical across runs; only the clients' seeds
change what is looked up.

Layout of the fake DNS tree, all served by one NSD instance on the "auth" host:
  .            root zone: NS a.root-servers.net (glue = auth host), delegations
               for every TLD that is served, plus "test." and "arpa."
  <tld>.       one zone per TLD: delegations (with glue) for each served domain
  <domain>.    one zone per served domain: SOA/NS/A/AAAA/MX/TXT, www, subdomains,
               CNAME chains into the CDN zones below
  edgekey.net / akamaiedge.net / cloudfront.net / fastly.net   CDN zones
  <parent of the tunnel zone>  a small "site" zone that delegates the tunnel
               zone (e.g. t.tunnel.test) to the iodined host
  arpa.        reverse zone for the lab's LAN (0.53.10.in-addr.arpa PTRs)
Names that are not in any zone get NXDOMAIN from the closest enclosing zone
(the root for unknown TLDs), exactly as on the real internet.
"""
import argparse
import hashlib
import json
import os
import random
import sys

PUBLIC_FIRST_OCTETS = [13, 20, 23, 31, 34, 35, 40, 45, 52, 54, 64, 66, 69, 74, 77,
                       78, 81, 85, 87, 91, 93, 95, 104, 107, 108, 136, 138, 140,
                       141, 142, 143, 146, 151, 152, 157, 162, 163, 167, 168, 173,
                       176, 178, 184, 185, 188, 193, 194, 195, 199, 204, 205, 206,
                       207, 208, 209, 212, 213, 216, 217]
V6_PREFIXES = ["2a00:1450", "2606:4700", "2600:1f18", "2a03:2880", "2620:1ec",
               "2a02:6b8", "2a04:4e42", "2600:9000", "2001:4860", "2a01:111"]
SPECIAL = {"edgekey.net", "akamaiedge.net", "cloudfront.net", "fastly.net",
           "root-servers.net", "gtld-servers.net"}
SUBS = ["api", "cdn", "static", "mail", "login", "m", "img", "accounts", "assets",
        "app", "auth", "media", "support", "docs", "news", "shop", "id", "blog"]


def rng_for(name):
    return random.Random(int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big"))


def v4(r):
    return "%d.%d.%d.%d" % (r.choice(PUBLIC_FIRST_OCTETS), r.randrange(0, 256),
                            r.randrange(0, 256), r.randrange(1, 255))


def v6(r):
    return "%s:%x:%x::%x" % (r.choice(V6_PREFIXES), r.randrange(0, 0xffff),
                             r.randrange(0, 0xffff), r.randrange(1, 0xffff))


def soa(zone, serial=2024060101, minimum=300):
    z = zone if zone != "." else ""
    mname = "a.root-servers.net." if zone == "." else "ns1.%s." % z if z else "ns1."
    rname = ("hostmaster.%s." % z) if z else "nstld.verisign-grs.com."
    return "@ 86400 IN SOA %s %s %d 7200 3600 1209600 %d\n" % (mname, rname, serial, minimum)


def pick_domains(top_csv, n, tunnel_parent):
    doms = []
    with open(top_csv) as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) != 2 or not parts[0].isdigit():
                continue
            d = parts[1].lower().strip(".")
            labels = d.split(".")
            if len(labels) != 2 or not labels[1].isalpha() or d in SPECIAL or d == tunnel_parent:
                continue
            if not all(c.isalnum() or c == "-" for c in labels[0]):
                continue
            doms.append((int(parts[0]), d))
            if len(doms) >= n:
                break
    return doms


def domain_zone(d, cdn_records, served_names):
    """Zone text for a served domain; fills cdn_records for CDN zones and
    served_names with (name, type) pairs that resolve (for the clients)."""
    r = rng_for(d)
    out = ["$ORIGIN %s.\n" % d, "$TTL %d\n" % r.choice([300, 600, 1800, 3600]), soa(d)]
    out.append("@ 86400 IN NS ns1.%s.\n@ 86400 IN NS ns2.%s.\n" % (d, d))
    ns_ips = [v4(r), v4(r)]
    out.append("ns1 86400 IN A %s\nns2 86400 IN A %s\n" % tuple(ns_ips))
    attl = r.choice([60, 300, 300, 600, 3600])
    for _ in range(r.randint(1, 4)):
        out.append("@ %d IN A %s\n" % (attl, v4(r)))
    has6 = r.random() < 0.6
    if has6:
        for _ in range(r.randint(1, 2)):
            out.append("@ %d IN AAAA %s\n" % (attl, v6(r)))
    if r.random() < 0.7:
        out.append("@ 3600 IN MX 10 mx1.%s.\n@ 3600 IN MX 20 mx2.%s.\n" % (d, d))
        out.append("mx1 3600 IN A %s\nmx2 3600 IN A %s\n" % (v4(r), v4(r)))
    if r.random() < 0.5:
        out.append('@ 3600 IN TXT "v=spf1 include:_spf.%s ip4:%s/24 ~all"\n' % (d, v4(r).rsplit(".", 1)[0] + ".0"))
        out.append('_spf 3600 IN TXT "v=spf1 ip4:%s ip4:%s -all"\n' % (v4(r), v4(r)))
    if r.random() < 0.3:
        out.append('@ 3600 IN TXT "google-site-verification=%s"\n' % hashlib.sha1(d.encode()).hexdigest()[:32])
    if r.random() < 0.4:
        out.append('_dmarc 3600 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@%s"\n' % d)
    served_names.append([d, "A"])

    def cdn_chain(label):
        """Point <label>.<d> at a CDN; returns the record text."""
        fq = "%s.%s" % (label, d) if label != "@" else d
        kind = r.random()
        if kind < 0.35:
            e = "e%d.a" % r.randrange(1000, 9999)
            cdn_records["edgekey.net"].add("%s 300 IN CNAME %s.akamaiedge.net.\n" % (fq, e))
            cdn_records["akamaiedge.net"].add("%s 20 IN A %s\n" % (e, v4(r)))
            if has6:
                cdn_records["akamaiedge.net"].add("%s 20 IN AAAA %s\n" % (e, v6(r)))
            return "%s %d IN CNAME %s.edgekey.net.\n" % (label, attl, fq)
        if kind < 0.55:
            cf = "d%s" % hashlib.md5(fq.encode()).hexdigest()[:13]
            for _ in range(4):
                cdn_records["cloudfront.net"].add("%s 60 IN A %s\n" % (cf, v4(r)))
            if has6:
                cdn_records["cloudfront.net"].add("%s 60 IN AAAA %s\n" % (cf, v6(r)))
            return "%s %d IN CNAME %s.cloudfront.net.\n" % (label, attl, cf)
        if kind < 0.7:
            fl = "%s.map" % d.replace(".", "-")
            cdn_records["fastly.net"].add("%s 30 IN A %s\n" % (fl, v4(r)))
            return "%s %d IN CNAME %s.fastly.net.\n" % (label, attl, fl)
        if kind < 0.85:
            return "%s %d IN CNAME %s.\n" % (label, attl, d)
        txt = "%s %d IN A %s\n" % (label, attl, v4(r))
        if has6:
            txt += "%s %d IN AAAA %s\n" % (label, attl, v6(r))
        return txt

    out.append(cdn_chain("www"))
    served_names.append(["www." + d, "A"])
    for s in r.sample(SUBS, r.randint(2, 7)):
        if s == "mail" and r.random() < 0.5:
            out.append("mail %d IN A %s\n" % (attl, v4(r)))
        else:
            out.append(cdn_chain(s))
        served_names.append(["%s.%s" % (s, d), "A"])
    return "".join(out), ns_ips


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", required=True)
    ap.add_argument("--count", type=int, default=350)
    ap.add_argument("--out", required=True)
    ap.add_argument("--auth-ip", required=True)
    ap.add_argument("--nsd-listen", required=True, help="ip@port NSD listens on")
    ap.add_argument("--iodined-ip", required=True)
    ap.add_argument("--tunnel-domain", required=True)
    ap.add_argument("--resolver-lan-ip", required=True)
    ap.add_argument("--resolver-up-ip", required=True)
    ap.add_argument("--lan-cidr", required=True)
    ap.add_argument("--qname-min", default="yes")
    ap.add_argument("--ptr", action="append", default=[], help="ip=name")
    a = ap.parse_args()

    zdir = os.path.join(a.out, "zones")
    os.makedirs(zdir, exist_ok=True)
    tparts = a.tunnel_domain.strip(".").split(".")
    tunnel_parent = ".".join(tparts[1:])
    doms = pick_domains(a.top, a.count, tunnel_parent)
    cdn = {k: set() for k in ["edgekey.net", "akamaiedge.net", "cloudfront.net", "fastly.net"]}
    served = []
    zones = {}   # zone name -> text
    tld_deleg = {}  # tld -> list of lines
    for rank, d in doms:
        text, ns_ips = domain_zone(d, cdn, served)
        zones[d] = text
        tld = d.split(".")[-1]
        tld_deleg.setdefault(tld, []).append(
            "%s. 172800 IN NS ns1.%s.\n%s. 172800 IN NS ns2.%s.\nns1.%s. 172800 IN A %s\nns2.%s. 172800 IN A %s\n"
            % (d, d, d, d, d, a.auth_ip, d, a.auth_ip))
    for cz, recs in cdn.items():
        r = rng_for(cz)
        zones[cz] = "$ORIGIN %s.\n$TTL 300\n%s@ 86400 IN NS ns1.%s.\nns1 86400 IN A %s\n%s" % (
            cz, soa(cz), cz, v4(r), "".join(sorted(recs)))
        tld_deleg.setdefault("net", []).append(
            "%s. 172800 IN NS ns1.%s.\nns1.%s. 172800 IN A %s\n" % (cz, cz, cz, a.auth_ip))
    # tunnel parent zone: a small site that delegates the tunnel zone to iodined
    tp = tunnel_parent
    r = rng_for(tp)
    zones[tp] = ("$ORIGIN %s.\n$TTL 300\n%s@ 86400 IN NS ns1.%s.\nns1 86400 IN A %s\n@ IN A %s\nwww IN A %s\n"
                 "%s 86400 IN NS ns.%s.\nns.%s 86400 IN A %s\n") % (
        tp, soa(tp), tp, a.auth_ip, v4(r), v4(r), tparts[0], a.tunnel_domain, tparts[0], a.iodined_ip)
    ptld = tp.split(".")[-1]
    tld_deleg.setdefault(ptld, []).append(
        "%s. 172800 IN NS ns1.%s.\nns1.%s. 172800 IN A %s\n" % (tp, tp, tp, a.auth_ip))
    # TLD zones
    for tld, lines in tld_deleg.items():
        extra = ""
        if tld == "net":
            extra = "a.root-servers.net. 86400 IN A %s\n" % a.auth_ip
        zones[tld] = "$ORIGIN %s.\n$TTL 86400\n%s@ 172800 IN NS a.nic.%s.\na.nic.%s. 172800 IN A %s\n%s%s" % (
            tld, soa(tld, minimum=900), tld, tld, a.auth_ip, extra, "".join(lines))
    # reverse zone for the LAN, under arpa.
    ptrs = "".join("%s.in-addr.arpa. 3600 IN PTR %s.\n" % (".".join(reversed(ip.split("."))), name)
                   for ip, name in (p.split("=", 1) for p in a.ptr))
    zones["arpa"] = "$ORIGIN arpa.\n$TTL 3600\n%s@ 86400 IN NS a.nic.arpa.\na.nic.arpa. 86400 IN A %s\n%s" % (
        soa("arpa"), a.auth_ip, ptrs)
    # root zone
    root = ["$ORIGIN .\n$TTL 86400\n", soa(".", minimum=86400), ". 518400 IN NS a.root-servers.net.\n"]
    for tld in sorted(set(tld_deleg) | {"arpa"}):
        root.append("%s. 172800 IN NS a.nic.%s.\na.nic.%s. 172800 IN A %s\n" % (tld, tld, tld, a.auth_ip))
    root.append("a.root-servers.net. 518400 IN A %s\n" % a.auth_ip)
    zones["."] = "".join(root)

    conf = ["server:\n  ip-address: %s\n  server-count: 1\n  username: \"\"\n  chroot: \"\"\n"
            "  zonesdir: \"%s\"\n  database: \"\"\n  zonelistfile: \"%s/nsd.zonelist\"\n"
            "  xfrdfile: \"%s/nsd.xfrd.state\"\n  xfrdir: \"%s\"\n  pidfile: \"%s/nsd.pid\"\n"
            "  logfile: \"%s/nsd.log\"\n  verbosity: 1\n  hide-version: yes\n  do-ip6: no\n"
            "  tcp-count: 64\n\nremote-control:\n  control-enable: no\n\n"
            % (a.nsd_listen, zdir, a.out, a.out, a.out, a.out, a.out)]
    for z, text in sorted(zones.items()):
        fn = "root.zone" if z == "." else z + ".zone"
        with open(os.path.join(zdir, fn), "w") as f:
            f.write(text)
        conf.append("zone:\n  name: \"%s\"\n  zonefile: \"%s\"\n" % (z, fn))
    with open(os.path.join(a.out, "nsd.conf"), "w") as f:
        f.write("".join(conf))
    with open(os.path.join(a.out, "root.hints"), "w") as f:
        f.write(".  3600000 IN NS a.root-servers.net.\na.root-servers.net. 3600000 IN A %s\n" % a.auth_ip)
    with open(os.path.join(a.out, "unbound.conf"), "w") as f:
        f.write("""server:
  username: ""
  chroot: ""
  directory: "{o}"
  pidfile: "{o}/unbound.pid"
  logfile: "{o}/unbound.log"
  use-syslog: no
  verbosity: 1
  num-threads: 1
  interface: {lan}
  outgoing-interface: {up}
  port: 53
  do-ip4: yes
  do-ip6: no
  access-control: 0.0.0.0/0 refuse
  access-control: {cidr} allow
  root-hints: "{o}/root.hints"
  module-config: "iterator"
  qname-minimisation: {qm}
  prefetch: yes
  cache-min-ttl: 0
  local-zone: "10.in-addr.arpa." nodefault
  local-zone: "test." nodefault
  hide-identity: yes
  hide-version: yes

remote-control:
  control-enable: no
""".format(o=a.out, lan=a.resolver_lan_ip, up=a.resolver_up_ip, cidr=a.lan_cidr, qm=a.qname_min))
    with open(os.path.join(a.out, "served.json"), "w") as f:
        json.dump({"domains": [d for _, d in doms], "names": served}, f)
    print("zones=%d domains=%d names=%d tlds=%d" % (len(zones), len(doms), len(served), len(tld_deleg)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
