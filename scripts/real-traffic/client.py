#!/usr/bin/env python3
"""Traffic generator for one lab host. Every lookup is a real `dig` process
sent to the lab's recursive resolver; this script only decides *what* to look
up and *when*.

Roles:
  workstation  bursty human browsing: a site, its www/subdomains and a few
               third-party (ads/analytics/CDN) names, A (+AAAA, +HTTPS for
               "browser-like" profiles), dwell times, idle gaps, sessions,
               background periodic checks, an OS-style local cache (names are
               not re-queried while their TTL runs), an occasional typo or
               search-domain leak (NXDOMAIN).
  server       a few names on steady timers (no local cache, like glibc),
               PTR lookups for lab addresses, an occasional MX lookup.
  dga          batches of real DGA-family names (a "day list" cycled through)
               every --dga-min..--dga-max seconds; all are NXDOMAIN. With
               --batch-min 1 --batch-max 1 --dga-min 15 --dga-max 40 and a
               dictionary family (suppobox, nymaim2, matsnu) this is the slow
               dictionary DGA.
benign-but-weird roles:
  mail         an MTA: per incoming connection a DNSBL lookup of the reversed
               sender IPv4 under zen.spamhaus.org (A, TXT when listed), often PTR
               of the sender and SPF/DMARC TXT of the sender domain; outgoing
               mail: MX + A of the MX host.
  av           an anti-virus agent: file-hash reputation lookups
               (<md5>.q1.avqs.mcafee.com A) a few per minute, mostly NXDOMAIN.
  media        a streaming box: r<N>---sn-<id>.googlevideo.com and
               d<hex>.cloudfront.net chunk-server names (A/AAAA) during playback.
  winmember    a Windows domain member: DC locator SRV lookups (_ldap/_kerberos/
               _gc, site-specific) at boot and periodically, A of the DCs,
               SOA of its own name (dynamic update), NCSI probes.
attack roles (besides dga):
  beacon       TXT lookup of <id>.<c2 domain> every --period s (+-jitter).
  phish        episodes: a brand lookalike (A/AAAA/HTTPS, www, login), then
               1-2 never-seen credential-drop domains within a minute.
Workstations with --chrome-probes MEAN also send Chrome's 3 random single-label
probes at start and then about every MEAN s ("network change").

Every loop is bounded by --until (epoch seconds) and --max-lookups.
Each lookup is logged as a JSON line to --log.
"""
import argparse
import bisect
import json
import math
import random
import subprocess
import sys
import time

RDATA_TYPES = {"A", "AAAA", "CNAME", "MX", "TXT", "PTR", "HTTPS", "NS", "SOA", "SRV"}
THIRD_PARTY = ["google-analytics.com", "googletagmanager.com", "doubleclick.net", "gstatic.com",
               "googleapis.com", "fbcdn.net", "facebook.net", "criteo.com", "adnxs.com",
               "scorecardresearch.com", "cloudflare.com", "jsdelivr.net", "twimg.com", "ytimg.com",
               "googlesyndication.com", "amazon-adsystem.com", "taboola.com", "outbrain.com",
               "demdex.net", "omtrdc.net", "rubiconproject.com", "pubmatic.com", "adsrvr.org",
               "casalemedia.com", "googleadservices.com", "gravatar.com", "ampproject.org",
               "clarity.ms", "nr-data.net", "sentry.io", "ggpht.com", "akamaized.net"]
BACKGROUND = ["msftconnecttest.com", "windowsupdate.com", "windows.com", "office.com", "live.com",
              "outlook.com", "icloud.com", "apple.com", "ntp.org", "slack.com", "dropbox.com",
              "spotify.com", "googleapis.com", "microsoftonline.com", "skype.com", "digicert.com",
              "mozilla.org", "msn.com", "office365.com", "zoom.us", "teams.microsoft.com"]
SERVER_PREF = ["debian.org", "ubuntu.com", "github.com", "amazonaws.com", "googleapis.com",
               "ntp.org", "sentry.io", "stripe.com", "slack.com", "docker.com", "nginx.org",
               "cloudflare.com", "apache.org", "launchpad.net", "python.org", "pypi.org"]
KEYBOARD_NEIGH = {c: n for c, n in zip("qwertyuiopasdfghjklzxcvbnm",
                                       ["wa", "qes", "wrd", "etf", "ryg", "tuh", "yij", "uok", "ipl", "ol",
                                        "qsz", "awdx", "sefc", "drgv", "fthb", "gyjn", "hukm", "jilm", "kol",
                                        "asx", "zsdc", "xdfv", "cfgb", "vghn", "bhjm", "njk"])}


class Resolver:
    def __init__(self, server, dig_opts, log, role, until, max_lookups):
        self.server = server
        self.dig_opts = dig_opts
        self.logf = open(log, "a") if log else None
        self.role = role
        self.until = until
        self.max = max_lookups
        self.n = 0
        self.cache = {}

    def done(self):
        return time.time() >= self.until or self.n >= self.max

    def lookup(self, name, qtype="A", use_cache=False, tag=None):
        """One dig query; returns (rcode, min_ttl) or (None, None)."""
        if self.done():
            return None, None
        key = (name, qtype)
        now = time.time()
        if use_cache and self.cache.get(key, 0) > now:
            return "CACHED", None
        self.n += 1
        cmd = ["dig", "@" + self.server, "+tries=1", "+time=3", "+noall", "+comments", "+answer"]
        cmd += self.dig_opts + ["-t", qtype]
        if qtype == "PTR":
            cmd += ["-x", name]
        else:
            cmd += [name]
        t0 = time.time()
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=12,
                                 errors="replace").stdout
        except subprocess.TimeoutExpired:
            out = ""
        rcode, ttl = None, None
        for line in out.splitlines():
            if "->>HEADER<<-" in line and "status:" in line:
                rcode = line.split("status:")[1].split(",")[0].strip()
            elif line and not line.startswith(";"):
                f = line.split()
                if len(f) >= 5 and f[3] in RDATA_TYPES and f[1].isdigit():
                    ttl = int(f[1]) if ttl is None else min(ttl, int(f[1]))
        if use_cache:
            hold = ttl if ttl is not None else (60 if rcode == "NXDOMAIN" else 30)
            self.cache[key] = now + max(5, hold)
        if self.logf:
            self.logf.write(json.dumps({"t": round(t0, 3), "role": self.role, "tag": tag, "name": name,
                                        "type": qtype, "rcode": rcode or "TIMEOUT"}) + "\n")
            self.logf.flush()
        return rcode, ttl

    def sleep(self, sec):
        end = min(time.time() + max(0.0, sec), self.until)
        while True:
            left = end - time.time()
            if left <= 0:
                return
            time.sleep(min(left, 5.0))


def load_served(path):
    with open(path) as f:
        s = json.load(f)
    by_dom = {}
    for name, _t in s["names"]:
        labels = name.split(".")
        by_dom.setdefault(".".join(labels[-2:]), []).append(name)
    return s["domains"], by_dom


def zipf_picker(items, s, rnd):
    cum, tot = [], 0.0
    for i in range(len(items)):
        tot += 1.0 / (i + 1) ** s
        cum.append(tot)

    def pick():
        return items[min(len(items) - 1, bisect.bisect_left(cum, rnd.random() * tot))]
    return pick


def typo(dom, served, rnd):
    label, tld = dom.rsplit(".", 1)
    for _ in range(20):
        i = rnd.randrange(len(label))
        op = rnd.random()
        if op < 0.3 and len(label) > 3:
            t = label[:i] + label[i + 1:]
        elif op < 0.55:
            t = label[:i] + label[i] + label[i:]
        elif op < 0.8 and i < len(label) - 1:
            t = label[:i] + label[i + 1] + label[i] + label[i + 2:]
        else:
            c = label[i]
            t = label[:i] + rnd.choice(KEYBOARD_NEIGH.get(c, "e")) + label[i + 1:]
        cand = "%s.%s" % (t, tld)
        if cand != dom and cand not in served:
            return cand
    return "%sx.%s" % (label, tld)


def workstation(a, r, rnd):
    domains, by_dom = load_served(a.served)
    served = set(domains)
    # personal preference order: global rank perturbed per user
    order = sorted(range(len(domains)), key=lambda i: math.log(i + 2) + rnd.gauss(0, a.taste))
    pick_site = zipf_picker([domains[i] for i in order], a.zipf, rnd)
    thirds = [d for d in THIRD_PARTY if d in served]
    bgs = [d for d in BACKGROUND if d in served]
    rnd.shuffle(bgs)
    bg = []
    for d in bgs[:a.bg_tasks]:
        names = by_dom.get(d, [d])
        bg.append({"name": rnd.choice(names), "period": rnd.uniform(60, 900),
                   "next": time.time() + rnd.uniform(5, 300)})

    probes = {"next": time.time() + rnd.uniform(0, a.start_jitter)} if a.chrome_probes > 0 else None

    def q(name, use_cache=True, tag="browse"):
        r.lookup(name, "A", use_cache, tag)
        if rnd.random() < a.aaaa:
            r.lookup(name, "AAAA", use_cache, tag)
        if a.https and rnd.random() < 0.9:
            r.lookup(name, "HTTPS", use_cache, tag)
        time.sleep(rnd.uniform(0.0, 0.25))

    def wait(sec):
        end = time.time() + sec
        while not r.done():
            now = time.time()
            if probes and probes["next"] <= now:
                # Chrome's intranet-redirect detector: 3 random single-label names
                for _ in range(3):
                    label = "".join(rnd.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rnd.randint(7, 15)))
                    r.lookup(label, "A", tag="chrome_probe")
                probes["next"] = now + rnd.expovariate(1.0 / a.chrome_probes)
                continue
            due = min(bg, key=lambda b: b["next"]) if bg else None
            if due and due["next"] <= now:
                q(due["name"], tag="background")
                due["next"] = now + due["period"] * rnd.uniform(0.9, 1.1)
                continue
            nxt = min(end, due["next"]) if due else end
            if probes:
                nxt = min(nxt, probes["next"])
            if nxt <= now:
                return
            r.sleep(nxt - now)

    wait(rnd.uniform(0, a.start_jitter))
    while not r.done():
        # one browsing session
        for _ in range(rnd.randint(1, a.session_max)):
            if r.done():
                break
            x = rnd.random()
            if x < a.typo:
                t = typo(pick_site(), served, rnd)
                q(("www." + t) if rnd.random() < 0.5 else t, tag="typo")
            elif x < a.typo + a.leak:
                leak = rnd.choice(["wpad.%s" % a.search_domain, "%s.%s" % (rnd.choice(
                    ["printer", "fileserver", "nas", "intranet", "sharepoint"]), a.search_domain)])
                q(leak, tag="searchdomain")
            else:
                site = pick_site()
                names = by_dom.get(site, [site])
                if rnd.random() < 0.5:
                    q(site)
                www = "www." + site
                q(www if www in names else site)
                subs = [n for n in names if n not in (site, www)]
                for n in rnd.sample(subs, min(len(subs), rnd.randint(0, 4))):
                    q(n)
                for d in rnd.sample(thirds, min(len(thirds), rnd.randint(0, a.third_max))):
                    tn = by_dom.get(d, [d])
                    q(rnd.choice(tn), tag="thirdparty")
            # dwell: reading, clicking within the site
            wait(rnd.lognormvariate(math.log(a.dwell), 0.8))
        # idle between sessions, sometimes a long break
        gap = rnd.uniform(a.idle_min, a.idle_max)
        if rnd.random() < 0.15:
            gap *= 3
        wait(gap)


def server(a, r, rnd):
    domains, by_dom = load_served(a.served)
    prefs = [d for d in SERVER_PREF if d in by_dom] or domains[:10]
    names = []
    for d in rnd.sample(prefs, min(len(prefs), a.server_names)):
        names.append(rnd.choice(by_dom[d]))
    timers = [{"kind": "A", "name": n, "period": rnd.choice([30, 60, 60, 120, 300]),
               "next": time.time() + rnd.uniform(0, 30)} for n in names]
    timers.append({"kind": "PTR", "period": rnd.uniform(40, 90), "next": time.time() + 10})
    timers.append({"kind": "MX", "period": rnd.uniform(150, 400), "next": time.time() + 60})
    lab_ips = a.ptr_ips.split(",") if a.ptr_ips else []
    while not r.done():
        t = min(timers, key=lambda x: x["next"])
        r.sleep(t["next"] - time.time())
        if r.done():
            break
        if t["kind"] == "A":
            r.lookup(t["name"], "A", tag="service")
            if rnd.random() < a.aaaa:
                r.lookup(t["name"], "AAAA", tag="service")
        elif t["kind"] == "PTR":
            for _ in range(rnd.choice([1, 1, 1, 2, 3])):
                ip = rnd.choice(lab_ips) if lab_ips and rnd.random() < 0.75 else \
                    "10.53.0.%d" % rnd.randrange(2, 127)
                r.lookup(ip, "PTR", tag="ptr")
        else:
            r.lookup(rnd.choice(domains[:200]), "MX", tag="mx")
        t["next"] = time.time() + t["period"] * rnd.uniform(0.97, 1.03)


def dga(a, r, rnd):
    names = []
    for path in a.dga_file:
        fam, _, p = path.partition(":") if ":" in path and not path.startswith("/") else ("", "", path)
        with open(p) as f:
            for line in f:
                line = line.strip()
                if not line or line.startswith("family,"):
                    continue
                if fam:
                    parts = line.split(",")
                    if parts[0] == fam:
                        names.append(parts[1].lower())
                else:
                    names.append(line.split(",")[0].lower())
    if not names:
        sys.exit("no DGA names loaded")
    start = rnd.randrange(len(names))
    day = (names[start:] + names[:start])[:a.dga_day]
    i = 0
    first = last = None
    while not r.done():
        k = rnd.randint(a.batch_min, a.batch_max)
        for _ in range(k):
            if r.done():
                break
            t = time.time()
            first = first or t
            r.lookup(day[i % len(day)], "A", tag="dga")
            last = time.time()
            i += 1
            time.sleep(rnd.uniform(0.0, a.intra))
        if a.mark:
            with open(a.mark, "w") as f:
                json.dump({"first": first, "last": last, "lookups": i}, f)
        r.sleep(rnd.uniform(a.dga_min, a.dga_max))
    if a.mark:   # the beacon process ran (infected, between batches) until now
        with open(a.mark, "w") as f:
            json.dump({"first": first, "last": last, "lookups": i, "stopped": time.time()}, f)


def extras(a):
    with open(a.served) as f:
        return json.load(f)["extras"]


def rand_v4(rnd):
    return "%d.%d.%d.%d" % (rnd.choice([5, 31, 37, 45, 46, 62, 77, 78, 80, 81, 85, 89, 91, 94, 103, 109, 112,
                                        113, 115, 117, 119, 123, 125, 141, 171, 175, 176, 177, 178, 179,
                                        181, 185, 186, 187, 188, 189, 190, 191, 193, 195, 197, 200, 201]),
                            rnd.randrange(256), rnd.randrange(256), rnd.randrange(1, 255))


def mail(a, r, rnd):
    """MTA: DNSBL checks of connecting IPs, FCrDNS, SPF/DMARC, outgoing MX."""
    x = extras(a)
    domains, _ = load_served(a.served)
    zone, listed = x["dnsbl"]["zone"], x["dnsbl"]["listed"]
    regulars = [rand_v4(rnd) for _ in range(40)]      # big senders that come back
    next_out = time.time() + rnd.uniform(20, 120)
    while not r.done():
        if time.time() >= next_out:
            d = rnd.choice(domains[:250])
            rc, _ = r.lookup(d, "MX", tag="mx_out")
            r.lookup(("mx1." + d) if rc == "NOERROR" else d, "A", tag="mx_out")
            next_out = time.time() + rnd.expovariate(1.0 / a.mail_out)
        else:
            u = rnd.random()
            ip = rnd.choice(listed) if u < 0.07 else rnd.choice(regulars) if u < 0.45 else rand_v4(rnd)
            rev = ".".join(reversed(ip.split(".")))
            rc, _ = r.lookup("%s.%s" % (rev, zone), "A", tag="dnsbl")
            if rc == "NOERROR" and rnd.random() < 0.6:
                r.lookup("%s.%s" % (rev, zone), "TXT", tag="dnsbl")
            if rnd.random() < 0.6:
                r.lookup(ip, "PTR", tag="fcrdns")
            sender = rnd.choice(domains)
            if rnd.random() < 0.5:
                r.lookup(sender, "TXT", tag="spf")
            if rnd.random() < 0.3:
                r.lookup("_dmarc." + sender, "TXT", tag="dmarc")
        # connections arrive in bursts
        r.sleep(rnd.expovariate(1.0 / a.mail_gap) * (0.2 if rnd.random() < 0.3 else 1.0))


def av(a, r, rnd):
    """AV agent: file-hash reputation lookups under one registrable domain."""
    x = extras(a)["av"]
    seen = []
    while not r.done():
        u = rnd.random()
        if u < 0.3:
            h = rnd.choice(x["known"])                   # a common, known file
        elif u < 0.4 and seen:
            h = rnd.choice(seen)                         # re-scan of a recent file
        else:
            h = "%032x" % rnd.getrandbits(128)           # never-seen file
        seen = (seen + [h])[-50:]
        r.lookup("%s.%s" % (h, x["suffix"]), "A", tag="hash")
        # a scan burst now and then (several files opened at once)
        r.sleep(rnd.uniform(0.2, 2.0) if rnd.random() < 0.25 else rnd.uniform(a.av_min, a.av_max))


def media(a, r, rnd):
    """Streaming box: app/API names, then chunk servers with hashed names."""
    domains, by_dom = load_served(a.served)
    apps = [d for d in ["youtube.com", "ytimg.com", "netflix.com", "googleapis.com", "gstatic.com",
                        "primevideo.com", "hulu.com", "twitch.tv", "spotify.com"] if d in by_dom]
    alnum = "abcdefghijklmnopqrstuvwxyz0123456789"

    def both(name, tag):
        r.lookup(name, "A", True, tag)
        r.lookup(name, "AAAA", True, tag)

    r.sleep(rnd.uniform(0, 60))
    while not r.done():
        end = time.time() + rnd.uniform(300, 2400)      # one viewing session
        for d in rnd.sample(apps, min(len(apps), rnd.randint(2, 4))):
            both(rnd.choice(by_dom[d]), "app")
        yt = rnd.random() < 0.6
        sn = "sn-" + "".join(rnd.choice(alnum) for _ in range(8))
        while time.time() < end and not r.done():
            if yt:
                if rnd.random() < 0.15:
                    sn = "sn-" + "".join(rnd.choice(alnum) for _ in range(8))
                pre = rnd.choice(["r", "rr"])
                both("%s%d---%s.googlevideo.com" % (pre, rnd.randint(1, 20), sn), "chunks")
            else:
                both("d%013x.cloudfront.net" % rnd.getrandbits(52), "chunks")
            r.sleep(rnd.uniform(4, 60))
        r.sleep(rnd.uniform(120, 1200))


def winmember(a, r, rnd):
    """Windows domain member: DC locator, DDNS SOA probe, NCSI."""
    x = extras(a)["ad"]
    ad, site = x["domain"], rnd.choice(x["sites"])
    me = "%s.%s" % (a.hostname, ad)

    def locate(full):
        r.lookup("_ldap._tcp.%s._sites.dc._msdcs.%s" % (site, ad), "SRV", True, "dclocator")
        r.lookup("_ldap._tcp.dc._msdcs.%s" % ad, "SRV", True, "dclocator")
        if full:
            r.lookup("_kerberos._tcp.%s._sites.%s" % (site, ad), "SRV", True, "dclocator")
            r.lookup("_kerberos._tcp.dc._msdcs.%s" % ad, "SRV", True, "dclocator")
            r.lookup("_ldap._tcp.pdc._msdcs.%s" % ad, "SRV", True, "dclocator")
            r.lookup("_gc._tcp.%s._sites.%s" % (site, ad), "SRV", True, "dclocator")
        for dc in ("dc1", "dc2"):
            r.lookup("%s.%s" % (dc, ad), "A", True, "dc")
            time.sleep(rnd.uniform(0, 0.05))

    r.sleep(rnd.uniform(0, 30))
    locate(True)
    r.lookup(me, "SOA", tag="ddns")
    r.lookup("www.msftconnecttest.com", "A", tag="ncsi")
    timers = {"locate": time.time() + rnd.uniform(60, 300), "ddns": time.time() + rnd.uniform(600, 3600),
              "ncsi": time.time() + rnd.uniform(300, 1800), "wpad": time.time() + rnd.uniform(60, 1800)}
    while not r.done():
        k = min(timers, key=timers.get)
        r.sleep(timers[k] - time.time())
        if r.done():
            break
        if k == "locate":          # Kerberos ticket renewal, GP refresh, logon
            locate(rnd.random() < 0.4)
            timers[k] = time.time() + rnd.uniform(240, 900)
        elif k == "ddns":
            r.lookup(me, "SOA", tag="ddns")
            r.lookup(ad, "SOA", tag="ddns")
            timers[k] = time.time() + rnd.uniform(1800, 3600)
        elif k == "ncsi":
            r.lookup("www.msftconnecttest.com", "A", tag="ncsi")
            timers[k] = time.time() + rnd.uniform(600, 2400)
        else:
            r.lookup("wpad.%s" % ad, "A", True, "wpad")
            timers[k] = time.time() + rnd.uniform(900, 3600)


def write_mark(path, mark):
    if path:
        with open(path, "w") as f:
            json.dump(mark, f)


def beacon(a, r, rnd):
    """TXT C2 beacon: one lookup every --period s (+- --jitter fraction)."""
    name = "%s.%s" % ("".join(rnd.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(a.beacon_id)),
                      extras(a)["c2"]["domain"])
    mark = {"first": None, "last": None, "lookups": 0, "name": name}
    while not r.done():
        t = time.time()
        mark["first"] = mark["first"] or t
        r.lookup(name, "TXT", tag="c2")
        mark["last"], mark["lookups"] = time.time(), mark["lookups"] + 1
        write_mark(a.mark, mark)
        r.sleep(a.period * rnd.uniform(1 - a.jitter, 1 + a.jitter))
    mark["stopped"] = time.time()
    write_mark(a.mark, mark)


def phish(a, r, rnd):
    """Phishing: a lure lookalike, then never-seen credential-drop domains."""
    x = extras(a)["phish"]
    lures, drops = list(x["lures"]), list(x["drops"])
    rnd.shuffle(lures)
    rnd.shuffle(drops)
    span = a.until - time.time()
    starts = sorted(time.time() + rnd.uniform(5, max(10, span - 90)) for _ in range(a.episodes))
    mark = {"first": None, "last": None, "lookups": 0, "lures": []}
    for i, t0 in enumerate(starts):
        r.sleep(t0 - time.time())
        if r.done():
            break
        lure = lures[i % len(lures)]
        mark["first"] = mark["first"] or time.time()
        mark["lures"].append(lure)
        for name in [lure, "www." + lure] + (["login." + lure] if rnd.random() < 0.6 else []):
            r.lookup(name, "A", tag="lure")
            r.lookup(name, "AAAA", tag="lure")
            if rnd.random() < 0.5:
                r.lookup(name, "HTTPS", tag="lure")
            time.sleep(rnd.uniform(0.05, 3.0))
        for _ in range(rnd.randint(1, 2)):      # the kit posts the credentials elsewhere
            r.sleep(rnd.uniform(5, 25))
            d = drops.pop() if drops else "cdn.%s" % lure
            r.lookup(d, "A", tag="drop")
            if rnd.random() < 0.5:
                r.lookup(d, "AAAA", tag="drop")
        mark["last"] = time.time()
        mark["lookups"] = r.n
        write_mark(a.mark, mark)
    r.sleep(a.until - time.time())
    mark["stopped"] = time.time()
    write_mark(a.mark, mark)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["workstation", "server", "dga", "mail", "av", "media", "winmember",
                                     "beacon", "phish"])
    ap.add_argument("--resolver", required=True)
    ap.add_argument("--served", required=True)
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--until", type=float, required=True)
    ap.add_argument("--max-lookups", type=int, default=20000)
    ap.add_argument("--log")
    ap.add_argument("--dig-opts", default="", help="space separated, e.g. '+noedns +noad'")
    ap.add_argument("--aaaa", type=float, default=0.9)
    ap.add_argument("--https", action="store_true", help="browser-like HTTPS (type 65) queries")
    ap.add_argument("--zipf", type=float, default=1.1)
    ap.add_argument("--taste", type=float, default=1.0)
    ap.add_argument("--dwell", type=float, default=25.0, help="median dwell seconds")
    ap.add_argument("--session-max", type=int, default=8)
    ap.add_argument("--idle-min", type=float, default=20.0)
    ap.add_argument("--idle-max", type=float, default=180.0)
    ap.add_argument("--third-max", type=int, default=4)
    ap.add_argument("--typo", type=float, default=0.03)
    ap.add_argument("--leak", type=float, default=0.01)
    ap.add_argument("--search-domain", default="corp.lan")
    ap.add_argument("--bg-tasks", type=int, default=3)
    ap.add_argument("--start-jitter", type=float, default=20.0)
    ap.add_argument("--server-names", type=int, default=5)
    ap.add_argument("--ptr-ips", default="")
    ap.add_argument("--dga-file", action="append", default=[],
                    help="plain list, or FAMILY:csv for the baderj family,domain,source_file csv")
    ap.add_argument("--dga-day", type=int, default=250)
    ap.add_argument("--dga-min", type=float, default=20.0)
    ap.add_argument("--dga-max", type=float, default=60.0)
    ap.add_argument("--batch-min", type=int, default=10)
    ap.add_argument("--batch-max", type=int, default=40)
    ap.add_argument("--intra", type=float, default=0.3, help="max seconds between DGA lookups in a batch")
    ap.add_argument("--mark")
    ap.add_argument("--chrome-probes", type=float, default=0.0,
                    help="mean seconds between Chrome random-name probe triples (0 = off)")
    ap.add_argument("--mail-gap", type=float, default=15.0, help="mean seconds between incoming mails")
    ap.add_argument("--mail-out", type=float, default=120.0, help="mean seconds between outgoing mails")
    ap.add_argument("--av-min", type=float, default=8.0)
    ap.add_argument("--av-max", type=float, default=40.0)
    ap.add_argument("--hostname", default="desktop")
    ap.add_argument("--period", type=float, default=60.0, help="beacon period")
    ap.add_argument("--jitter", type=float, default=0.04, help="beacon jitter (fraction)")
    ap.add_argument("--beacon-id", type=int, default=8)
    ap.add_argument("--episodes", type=int, default=4, help="phishing episodes")
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    r = Resolver(a.resolver, a.dig_opts.split(), a.log, a.role, a.until, a.max_lookups)
    {"workstation": workstation, "server": server, "dga": dga, "mail": mail, "av": av, "media": media,
     "winmember": winmember, "beacon": beacon, "phish": phish}[a.role](a, r, rnd)


if __name__ == "__main__":
    main()
