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
  lab extras   (added to a served zone, or their own zone under a served TLD)
               zen.spamhaus.org DNSBL (a few listed IPv4s, the rest NXDOMAIN),
               avqs.mcafee.com file-hash reputation (known hashes -> 127.0.0.x),
               wildcards in googlevideo.com / cloudfront.net (media CDN names),
               example-corp.com with an Active Directory domain ad.example-corp.com
               (_ldap/_kerberos/_gc SRV records, DCs), a TXT C2 domain
               (--c2-domain, wildcard TXT), phishing lookalikes and their
               credential-drop domains (all resolve), and the parent zone of the
               dns2tcp tunnel zone (--dns2tcp-domain, delegated to dns2tcpd)
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


AD_DOMAIN = "ad.example-corp.com"
AD_SITES = ["Default-First-Site-Name", "HQ", "Branch-Office"]
PHISH_LURES = ["paypal-account-verify.com", "micros0ft-login.com", "app1e-id-support.com",
               "p\u0430ypal.com".encode("idna").decode(), "secure-netflix-billing.com",
               "amaz0n-order-review.com", "office365-mailbox-auth.com", "dropbox-shared-file.net"]
PHISH_DROPS = ["auth-session-verify.net", "login-confirm-portal.com", "acct-recovery-help.com",
               "docs-view-secure.net", "form-submit-cdn.com", "mailbox-quota-alert.com",
               "verify-billing-info.net", "id-validate-service.com", "secure-upload-gate.net",
               "cred-sync-api.com", "webmail-relogin.net", "payment-hold-notice.com"]


def add_records(zones, tld_deleg, auth_ip, dom, records):
    """Append records (relative to dom) to dom's zone, creating the zone (and its
    delegation from the TLD zone) if dom is not served."""
    if dom not in zones:
        r = rng_for(dom)
        zones[dom] = "$ORIGIN %s.\n$TTL 300\n%s@ 86400 IN NS ns1.%s.\nns1 86400 IN A %s\n@ 300 IN A %s\n" % (
            dom, soa(dom, minimum=60), dom, auth_ip, v4(r))
        tld_deleg.setdefault(dom.split(".")[-1], []).append(
            "%s. 172800 IN NS ns1.%s.\nns1.%s. 172800 IN A %s\n" % (dom, dom, dom, auth_ip))
    zones[dom] += "".join(records)


def lab_extras(zones, tld_deleg, a):
    """The zones behind the benign-but-weird hosts and the attacks; returns the
    facts the clients need (written to served.json)."""
    facts = {}
    # DNSBL: reversed-IPv4 names under zen.spamhaus.org; listed ones answer 127.0.0.x
    r = rng_for("dnsbl")
    listed = sorted({v4(r) for _ in range(60)})
    recs = []
    for ip in listed:
        rev = ".".join(reversed(ip.split(".")))
        code = r.choice(["127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.10", "127.0.0.11"])
        recs.append("%s.zen 300 IN A %s\n" % (rev, code))
        recs.append('%s.zen 300 IN TXT "Listed by ZEN, see https://check.spamhaus.org/query/ip/%s"\n' % (rev, ip))
    add_records(zones, tld_deleg, a.auth_ip, "spamhaus.org", recs)
    facts["dnsbl"] = {"zone": "zen.spamhaus.org", "listed": listed}
    # AV file-hash reputation: known hashes answer 127.0.0.x, unknown ones NXDOMAIN
    r = rng_for("avqs")
    known = ["%032x" % r.getrandbits(128) for _ in range(800)]
    recs = ["%s.q1.avqs 600 IN A 127.0.%d.%d\n" % (h, r.choice([0, 0, 0, 1]), r.choice([1, 1, 1, 2, 16]))
            for h in known]
    add_records(zones, tld_deleg, a.auth_ip, "mcafee.com", recs)
    facts["av"] = {"suffix": "q1.avqs.mcafee.com", "known": known}
    # media CDNs: every hashed name resolves
    r = rng_for("googlevideo")
    add_records(zones, tld_deleg, a.auth_ip, "googlevideo.com",
                ["* 1800 IN A %s\n" % v4(r), "* 1800 IN AAAA %s\n" % v6(r)])
    r = rng_for("cloudfront-wild")
    zones["cloudfront.net"] += "* 60 IN A %s\n* 60 IN A %s\n* 60 IN AAAA %s\n" % (v4(r), v4(r), v6(r))
    # Active Directory domain (a Windows domain member's DC locator lookups)
    ad = AD_DOMAIN.split(".")[0]
    recs = ["dc1.%s 3600 IN A 10.20.0.10\n" % ad, "dc2.%s 3600 IN A 10.20.0.11\n" % ad,
            "%s 600 IN A 10.20.0.10\n%s 600 IN A 10.20.0.11\n" % (ad, ad)]
    for svc, port in [("_ldap._tcp", 389), ("_kerberos._tcp", 88), ("_kerberos._udp", 88),
                      ("_kpasswd._tcp", 464), ("_gc._tcp", 3268)]:
        for dc in ("dc1", "dc2"):
            tgt = "%s.%s." % (dc, AD_DOMAIN)
            recs.append("%s.%s 600 IN SRV 0 100 %d %s\n" % (svc, ad, port, tgt))
            for site in AD_SITES:
                recs.append("%s.%s._sites.%s 600 IN SRV 0 100 %d %s\n" % (svc, site, ad, port, tgt))
            if svc in ("_ldap._tcp", "_kerberos._tcp"):
                recs.append("%s.dc._msdcs.%s 600 IN SRV 0 100 %d %s\n" % (svc, ad, port, tgt))
                for site in AD_SITES:
                    recs.append("%s.%s._sites.dc._msdcs.%s 600 IN SRV 0 100 %d %s\n" % (svc, site, ad, port, tgt))
    recs.append("_ldap._tcp.pdc._msdcs.%s 600 IN SRV 0 100 389 dc1.%s.\n" % (ad, AD_DOMAIN))
    recs.append("_ldap._tcp.gc._msdcs.%s 600 IN SRV 0 100 3268 dc1.%s.\n" % (ad, AD_DOMAIN))
    recs.append("gc._msdcs.%s 600 IN A 10.20.0.10\n" % ad)
    add_records(zones, tld_deleg, a.auth_ip, "example-corp.com", recs)
    facts["ad"] = {"domain": AD_DOMAIN, "sites": AD_SITES}
    # TXT C2: any <id>.<c2 domain> answers a short base64-ish "command"
    r = rng_for(a.c2_domain)
    cmd = "".join(r.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(44))
    add_records(zones, tld_deleg, a.auth_ip, a.c2_domain,
                ['* 30 IN TXT "%s="\n' % cmd, "www 300 IN A %s\n" % v4(r)])
    facts["c2"] = {"domain": a.c2_domain}
    # phishing lookalikes and credential-drop domains: all resolve
    for d in PHISH_LURES + PHISH_DROPS:
        r = rng_for(d)
        ip = v4(r)
        add_records(zones, tld_deleg, a.auth_ip, d,
                    ["www 300 IN A %s\nlogin 300 IN A %s\nsecure 300 IN CNAME www\n" % (ip, ip)])
    facts["phish"] = {"lures": PHISH_LURES, "drops": PHISH_DROPS}
    # random-subdomain flood target: a small site on its own server; every
    # random name under it is an NXDOMAIN from that server
    if a.flood_domain:
        r = rng_for(a.flood_domain)
        add_records(zones, tld_deleg, a.auth_ip, a.flood_domain,
                    ["www 300 IN A %s\nmail 300 IN A %s\n@ 300 IN MX 10 mail\n" % (v4(r), v4(r))])
        facts["nxflood"] = {"domain": a.flood_domain}
    # slow-exfiltration server: answers every name under it (wildcard A)
    if a.exfil_domain:
        r = rng_for(a.exfil_domain)
        add_records(zones, tld_deleg, a.auth_ip, a.exfil_domain,
                    ["* 60 IN A %s\nwww 300 IN A %s\n" % (v4(r), v4(r))])
        facts["slowexfil"] = {"domain": a.exfil_domain}
    return facts


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", required=True)
    ap.add_argument("--count", type=int, default=350)
    ap.add_argument("--out", required=True)
    ap.add_argument("--auth-ip", required=True)
    ap.add_argument("--nsd-listen", required=True, help="ip@port NSD listens on")
    ap.add_argument("--iodined-ip", required=True)
    ap.add_argument("--tunnel-domain", required=True)
    ap.add_argument("--dns2tcp-domain", default="")
    ap.add_argument("--dns2tcp-ip", default="")
    ap.add_argument("--c2-domain", default="cdn-metrics-sync.com")
    ap.add_argument("--flood-domain", default="")
    ap.add_argument("--exfil-domain", default="")
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
    # tunnel zones: a small "site" zone (the parent) delegates each tunnel zone
    # (iodine's, dns2tcp's) to its tunnel server
    for fqdn, ip in [(a.tunnel_domain, a.iodined_ip), (a.dns2tcp_domain, a.dns2tcp_ip)]:
        if not fqdn:
            continue
        label, parent = fqdn.strip(".").split(".", 1)
        r = rng_for(parent)
        www = "" if parent in zones else "www IN A %s\n" % v4(r)
        add_records(zones, tld_deleg, a.auth_ip, parent,
                    [www, "%s 86400 IN NS ns.%s.\nns.%s 86400 IN A %s\n" % (label, fqdn, label, ip)])
    facts = lab_extras(zones, tld_deleg, a)
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
        json.dump({"domains": [d for _, d in doms], "names": served, "extras": facts}, f)
    print("zones=%d domains=%d names=%d tlds=%d" % (len(zones), len(doms), len(served), len(tld_deleg)),
          file=sys.stderr)


if __name__ == "__main__":
    main()
