//! Benign hosts: workstations, servers and IoT devices.
//!
//! * **Workstation**: present during a per-host working day (arrival ≈ 08:30,
//!   departure ≈ 17:15, local time = UTC), alternating active stretches (page
//!   visits every few seconds to minutes) with meetings/idle time; a lunch dip;
//!   about a third stay on overnight with background traffic only. A page
//!   visit resolves the site (often `www.`), A plus AAAA and HTTPS depending on
//!   the browser/OS, a stable per-site set of subdomains (`cdn`, `static`,
//!   `api`, `login`, ...), sometimes a hashed CDN name, and third-party
//!   trackers/CDNs. Background services (mail, chat, OS telemetry, OCSP,
//!   internal AD names, `wpad` misses) re-resolve when their TTL runs out. A
//!   stub cache suppresses most repeats within the TTL. Rare events: never-seen
//!   tail domains, typos and search-suffix misses (NXDOMAIN), short NXDOMAIN
//!   retry bursts, PTR look-ups and, on some hosts, AV reputation look-ups with
//!   hashed names.
//! * **Server** (web/app, mail, build roles): a steady low rate over a few
//!   names (updates, NTP pool, monitoring, internal services, external APIs)
//!   without a stub cache, PTR look-ups of clients (many NXDOMAIN), mail
//!   servers' MX/SPF/DMARC/DKIM look-ups, build servers' package bursts.
//! * **IoT**: one to three vendor endpoints polled on a fixed period with
//!   sub-second jitter (benign beacons), plus NTP.

use super::names::{random_alnum, typo};
use super::resolve::{event, respond, Ctx, NameProfile};
use super::rng::{derive, fnv64, pick, Draw, Rng};
use super::{SimConfig, SimEvent, LABEL_BENIGN};
use crate::event::{qtype, TsMicros, MICROS};
use rustc_hash::FxHashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The corporate DNS zone.
pub(crate) const INTERNAL_ZONE: &str = "acme.internal";

/// Server role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerRole {
    App,
    Mail,
    Build,
}

/// Host behaviour profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    Workstation,
    Server(ServerRole),
    Iot,
}

impl Profile {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Profile::Workstation => "workstation",
            Profile::Server(_) => "server",
            Profile::Iot => "iot",
        }
    }
}

/// A simulated client.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Host {
    pub idx: usize,
    pub ip: IpAddr,
    pub server: IpAddr,
    pub alt_server: IpAddr,
    pub profile: Profile,
}

impl Host {
    /// The resolver for one lookup (mostly the primary).
    pub(crate) fn pick_server(&self, rng: &mut Rng) -> IpAddr {
        if rng.chance(0.08) {
            self.alt_server
        } else {
            self.server
        }
    }
}

/// Assign profiles and addresses: ~70% workstations, ~15% servers, ~15% IoT
/// (shuffled by seed; the first host planned is always a workstation).
pub(crate) fn plan_hosts(cfg: &SimConfig) -> Vec<Host> {
    let n = cfg.hosts;
    let mut rng = derive(cfg.seed, &[0xB0]);
    let n_srv = if n >= 3 { (n * 15 + 50) / 100 } else { 0 };
    let n_iot = if n >= 4 { (n * 15 + 50) / 100 } else { 0 };
    let mut roles: Vec<Profile> = Vec::with_capacity(n);
    for k in 0..n_srv {
        roles.push(Profile::Server(match k % 3 {
            0 => ServerRole::App,
            1 => ServerRole::Mail,
            _ => ServerRole::Build,
        }));
    }
    roles.extend(std::iter::repeat_n(Profile::Iot, n_iot));
    while roles.len() < n {
        roles.push(Profile::Workstation);
    }
    // Fisher–Yates, keeping index 0 a workstation.
    for i in (1..roles.len()).rev() {
        let j = rng.index(i + 1);
        roles.swap(i, j);
    }
    if let Some(p) = roles.iter().position(|r| *r == Profile::Workstation) {
        roles.swap(0, p);
    }
    let v4_server = IpAddr::V4(Ipv4Addr::new(10, 20, 0, 53));
    let v4_alt = IpAddr::V4(Ipv4Addr::new(10, 20, 0, 54));
    let (mut ws, mut srv, mut iot) = (0usize, 0usize, 0usize);
    roles
        .into_iter()
        .enumerate()
        .map(|(idx, profile)| {
            let (net, k) = match profile {
                Profile::Workstation => {
                    ws += 1;
                    (20u8, ws - 1)
                }
                Profile::Server(_) => {
                    srv += 1;
                    (21, srv - 1)
                }
                Profile::Iot => {
                    iot += 1;
                    (22, iot - 1)
                }
            };
            let third = (k / 250) as u8;
            let fourth = (k % 250 + 10).min(254) as u8;
            // Every tenth workstation is an IPv6-only-DNS client (dual stack).
            let v6 = profile == Profile::Workstation && k % 10 == 7;
            let (ip, server, alt_server) = if v6 {
                (
                    IpAddr::V6(Ipv6Addr::new(
                        0xfd00,
                        0x20,
                        0,
                        0,
                        0,
                        0,
                        third.into(),
                        fourth.into(),
                    )),
                    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x20, 0, 0, 0, 0, 0, 0x53)),
                    IpAddr::V6(Ipv6Addr::new(0xfd00, 0x20, 0, 0, 0, 0, 0, 0x54)),
                )
            } else {
                (
                    IpAddr::V4(Ipv4Addr::new(10, net, third + 1, fourth)),
                    v4_server,
                    v4_alt,
                )
            };
            Host {
                idx,
                ip,
                server,
                alt_server,
                profile,
            }
        })
        .collect()
}

/// Generate the host's benign events over `[start, end)`.
pub(crate) fn generate(
    ctx: &Ctx<'_>,
    h: &Host,
    start: TsMicros,
    end: TsMicros,
    out: &mut Vec<SimEvent>,
) {
    let mut g = Gen {
        ctx,
        h,
        rng: derive(ctx.seed, &[0xB1, h.idx as u64]),
        cache: FxHashMap::default(),
        out,
        end,
        use_cache: h.profile == Profile::Workstation,
    };
    match h.profile {
        Profile::Workstation => workstation(&mut g, start, end),
        Profile::Server(role) => server(&mut g, role, start, end),
        Profile::Iot => iot(&mut g, start, end),
    }
}

/// Per-host generation state.
struct Gen<'a, 'b> {
    ctx: &'a Ctx<'a>,
    h: &'a Host,
    rng: Rng,
    /// Stub resolver cache: (name, qtype) → expiry.
    cache: FxHashMap<(String, u16), TsMicros>,
    out: &'b mut Vec<SimEvent>,
    end: TsMicros,
    use_cache: bool,
}

impl Gen<'_, '_> {
    /// One lookup, unless the stub cache answers it.
    fn lookup(&mut self, ts: TsMicros, name: &str, qt: u16, p: &NameProfile) {
        if ts >= self.end {
            return;
        }
        let key = (name.to_string(), qt);
        if self.use_cache {
            if let Some(exp) = self.cache.get(&key) {
                if ts < *exp && self.rng.chance(0.92) {
                    return;
                }
            }
        }
        let r = respond(&mut self.rng, name, qt, p);
        if self.use_cache && r.bytes > 0 {
            let ttl = match r.ttl {
                Some(t) => i64::from(t),
                None if r.rcode == 3 => 300,
                None => 60,
            };
            self.cache.insert(key, ts + ttl * MICROS);
        }
        let server = self.h.pick_server(&mut self.rng);
        self.out.push(event(
            ts,
            self.h.ip,
            server,
            name,
            qt,
            r,
            LABEL_BENIGN,
            LABEL_BENIGN,
        ));
    }

    /// A and, per the host's preference, AAAA (and HTTPS) for a name.
    fn lookup_addr(&mut self, ts: TsMicros, name: &str, p: &NameProfile, v6: f64, https: f64) {
        self.lookup(ts, name, qtype::A, p);
        if self.rng.chance(v6) {
            let d = self.rng.int(0, 3000) as i64;
            self.lookup(ts + d, name, qtype::AAAA, p);
        }
        if self.rng.chance(https) {
            let d = self.rng.int(0, 5000) as i64;
            self.lookup(ts + d, name, qtype::HTTPS, p);
        }
    }
}

fn secs(s: f64) -> i64 {
    (s * MICROS as f64) as i64
}

/// Hour of day (local = UTC) as a float.
fn hour_of_day(ts: TsMicros) -> f64 {
    (ts.rem_euclid(86_400 * MICROS) as f64) / (3600.0 * MICROS as f64)
}

/// Start of the day containing `ts`.
fn day_start(ts: TsMicros) -> TsMicros {
    ts - ts.rem_euclid(86_400 * MICROS)
}

const SITE_SUBS: &[&str] = &[
    "cdn", "static", "img", "api", "assets", "media", "login", "accounts", "auth", "images", "js",
    "fonts", "m", "secure", "account", "signin", "edge", "s", "video", "apps", "support", "help",
    "my", "id", "sso", "shop", "app", "content", "cms", "search",
];

const THIRD_PARTY: &[&str] = &[
    "www.google-analytics.com",
    "www.googletagmanager.com",
    "fonts.googleapis.com",
    "fonts.gstatic.com",
    "ajax.googleapis.com",
    "www.gstatic.com",
    "stats.g.doubleclick.net",
    "securepubads.g.doubleclick.net",
    "pagead2.googlesyndication.com",
    "connect.facebook.net",
    "www.facebook.com",
    "static.xx.fbcdn.net",
    "platform.twitter.com",
    "cdn.jsdelivr.net",
    "cdnjs.cloudflare.com",
    "code.jquery.com",
    "use.typekit.net",
    "js.stripe.com",
    "www.youtube.com",
    "i.ytimg.com",
    "cdn.segment.com",
    "api.segment.io",
    "bat.bing.com",
    "snap.licdn.com",
    "static.hotjar.com",
    "script.hotjar.com",
    "cdn.cookielaw.org",
    "geolocation.onetrust.com",
    "sb.scorecardresearch.com",
    "c.amazon-adsystem.com",
    "s.yimg.com",
    "tags.tiqcdn.com",
    "assets.adobedtm.com",
    "dpm.demdex.net",
    "ib.adnxs.com",
    "match.adsrvr.org",
    "widget.intercom.io",
    "js.intercomcdn.com",
    "browser.sentry-cdn.com",
    "cdn.optimizely.com",
    "www.recaptcha.net",
    "accounts.google.com",
    "login.microsoftonline.com",
    "aadcdn.msftauth.net",
    "secure.gravatar.com",
    "unpkg.com",
    "api.mixpanel.com",
    "rum.browser-intake-datadoghq.com",
];

/// (name, typical re-resolve period in seconds).
const WS_BACKGROUND: &[(&str, f64)] = &[
    ("outlook.office365.com", 300.0),
    ("outlook.office.com", 600.0),
    ("teams.microsoft.com", 300.0),
    ("login.microsoftonline.com", 900.0),
    ("graph.microsoft.com", 600.0),
    ("settings-win.data.microsoft.com", 1800.0),
    ("v10.events.data.microsoft.com", 900.0),
    ("self.events.data.microsoft.com", 900.0),
    ("ctldl.windowsupdate.com", 3600.0),
    ("www.msftconnecttest.com", 1800.0),
    ("ocsp.digicert.com", 1200.0),
    ("ocsp.pki.goog", 1800.0),
    ("clients4.google.com", 600.0),
    ("update.googleapis.com", 1800.0),
    ("safebrowsing.googleapis.com", 1800.0),
    ("mtalk.google.com", 900.0),
    ("slack.com", 600.0),
    ("wss-primary.slack.com", 900.0),
    ("edge.microsoft.com", 1800.0),
    ("config.edge.skype.com", 1800.0),
    ("nexusrules.officeapps.live.com", 3600.0),
    ("login.live.com", 1800.0),
    ("api.dropboxapi.com", 900.0),
    ("client.dropbox.com", 600.0),
    ("zoom.us", 1800.0),
    ("push.apple.com", 1200.0),
    ("gateway.icloud.com", 1800.0),
    ("api.github.com", 900.0),
];

const WS_INTERNAL: &[&str] = &[
    "dc01",
    "dc02",
    "fileserver",
    "intranet",
    "print01",
    "vpn",
    "wiki",
    "jira",
];

/// Whether the workstation is "at work" at `t` (local = UTC).
struct Day {
    arrive: f64,
    leave: f64,
    lunch: f64,
    always_on: bool,
}

impl Day {
    fn present(&self, t: TsMicros) -> bool {
        let h = hour_of_day(t);
        h >= self.arrive && h < self.leave
    }
    fn powered(&self, t: TsMicros) -> bool {
        self.always_on || self.present(t)
    }
    /// Next arrival at or after `t`.
    fn next_arrival(&self, t: TsMicros) -> TsMicros {
        let d = day_start(t);
        // One second past the arrival instant, so `present` is surely true then.
        let a = d + secs(self.arrive * 3600.0) + MICROS;
        if a > t {
            a
        } else {
            a + 86_400 * MICROS
        }
    }
}

fn workstation(g: &mut Gen<'_, '_>, start: TsMicros, end: TsMicros) {
    let rng = &mut g.rng;
    let day = Day {
        arrive: (8.5 + 0.6 * rng.normal()).clamp(6.5, 10.5),
        leave: (17.2 + 0.8 * rng.normal()).clamp(14.5, 21.0),
        lunch: rng.uniform(11.75, 12.75),
        always_on: rng.chance(0.35),
    };
    let intensity = rng.lognormal(1.0, 0.45).clamp(0.35, 3.0);
    let v6 = if rng.chance(0.8) {
        rng.uniform(0.4, 1.0)
    } else {
        0.03
    };
    let https = if rng.chance(0.6) {
        rng.uniform(0.5, 1.0)
    } else {
        0.0
    };
    let av = rng.chance(0.25);
    let tail_p = rng.uniform(0.02, 0.06);
    // Background services for this host.
    let mut bg: Vec<(String, f64)> = Vec::new();
    let n_bg = rng.int(6, 14) as usize;
    for _ in 0..n_bg {
        let (n, p) = *pick(rng, WS_BACKGROUND);
        if !bg.iter().any(|(b, _)| b == n) {
            bg.push((n.to_string(), p));
        }
    }
    for _ in 0..rng.int(1, 4) {
        let n = format!("{}.{INTERNAL_ZONE}", pick(rng, WS_INTERNAL));
        if !bg.iter().any(|(b, _)| *b == n) {
            let p = rng.uniform(600.0, 2400.0);
            bg.push((n, p));
        }
    }
    bg.push((format!("wpad.{INTERNAL_ZONE}"), rng.uniform(900.0, 3600.0)));

    // Background re-resolution.
    for (name, period) in &bg {
        let internal = name.ends_with(INTERNAL_ZONE);
        let prof = if name.starts_with("wpad.") {
            NameProfile::nx(0.6)
        } else if internal {
            NameProfile::internal(name)
        } else {
            NameProfile::benign(name, Some(100))
        };
        let mut t = start + secs(g.rng.uniform(0.0, *period));
        while t < end {
            if day.powered(t) {
                g.lookup_addr(t, name, &prof, if internal { 0.0 } else { v6 }, 0.0);
            }
            let jitter = g.rng.uniform(0.7, 1.4);
            t += secs(period * jitter).max(MICROS);
        }
    }
    // AD SRV look-ups at log-on and hourly.
    let mut t = start + secs(g.rng.uniform(0.0, 3600.0));
    while t < end {
        if day.present(t) {
            let name = format!("_ldap._tcp.dc._msdcs.{INTERNAL_ZONE}");
            let p = NameProfile::internal(&name);
            g.lookup(t, &name, qtype::SRV, &p);
        }
        t += secs(g.rng.uniform(2400.0, 5400.0));
    }

    // Foreground: active stretches of page visits and idle stretches.
    let mut t = start;
    while t < end {
        if !day.present(t) {
            t = day.next_arrival(t);
            continue;
        }
        let h = hour_of_day(t);
        let lunch = h >= day.lunch && h < day.lunch + 1.0;
        let active_p = if lunch { 0.35 } else { 0.72 };
        if g.rng.chance(active_p) {
            let dur = g.rng.exp(15.0 * 60.0).clamp(120.0, 75.0 * 60.0);
            let b_end = (t + secs(dur)).min(end);
            let mut tv = t;
            while tv < b_end {
                visit(g, tv, v6, https, av, tail_p);
                let gap = g.rng.lognormal(22.0 / intensity, 1.0).clamp(1.5, 900.0);
                tv += secs(gap);
            }
            t = b_end.max(tv);
        } else {
            let dur = g.rng.exp(12.0 * 60.0).clamp(180.0, 60.0 * 60.0);
            t += secs(dur);
        }
    }
}

/// One page visit.
fn visit(g: &mut Gen<'_, '_>, t0: TsMicros, v6: f64, https: f64, av: bool, tail_p: f64) {
    let lists = g.ctx.lists;
    let (site, rank) = if g.rng.chance(tail_p) {
        (pick(&mut g.rng, &lists.benign_tail).clone(), None)
    } else {
        let r = g.ctx.zipf.sample(&mut g.rng);
        (lists.benign[r].clone(), Some(r))
    };
    let mut t = t0;

    // Misses before the real name: a typo, or the search suffix appended.
    if g.rng.chance(0.012) {
        let bad = typo(&mut g.rng, &site);
        let p = NameProfile::nx(0.2);
        g.lookup_addr(t, &bad, &p, v6, 0.0);
        t += secs(g.rng.uniform(1.0, 8.0));
        if g.rng.chance(0.3) {
            return;
        }
    }
    if g.rng.chance(0.01) {
        let bad = format!("{site}.{INTERNAL_ZONE}");
        g.lookup(t, &bad, qtype::A, &NameProfile::nx(0.0));
        t += step(&mut g.rng);
    }

    let labels = site.split('.').count();
    let primary = if labels <= 2 && g.rng.chance(0.6) {
        format!("www.{site}")
    } else {
        site.clone()
    };
    let prof = NameProfile::benign(&primary, rank);
    g.lookup_addr(t, &primary, &prof, v6, https);

    // The site's own subdomains: a stable per-site subset.
    let sh = fnv64(site.as_bytes());
    let mut srng = derive(sh, &[0x5B]);
    let n_subs = (sh % 7) as usize;
    let subs: Vec<&str> = (0..n_subs).map(|_| *pick(&mut srng, SITE_SUBS)).collect();
    let take = g.rng.int(0, n_subs as u64) as usize;
    for sub in subs.iter().take(take) {
        t += step(&mut g.rng);
        let name = format!("{sub}.{site}");
        let p = NameProfile::benign(&name, rank);
        g.lookup_addr(t, &name, &p, v6, 0.0);
    }
    // A hashed CDN name some sites use.
    if sh % 4 == 0 && g.rng.chance(0.7) {
        let id = random_alnum(&mut srng, 14);
        let name = match (sh >> 8) % 5 {
            0 => format!("d{id}.cloudfront.net"),
            1 => format!(
                "{site_label}.b-cdn.net",
                site_label = site.replace('.', "-")
            ),
            2 => format!("{}.execute-api.eu-west-1.amazonaws.com", &id[..10]),
            3 => format!("r{}---sn-{}.googlevideo.com", sh % 9 + 1, &id[..8]),
            _ => format!("e{}.dscx.akamaiedge.net", sh % 9000 + 1000),
        };
        t += step(&mut g.rng);
        let p = NameProfile::benign(&name, Some(300));
        g.lookup_addr(t, &name, &p, v6, 0.0);
    }
    // Third parties: more on popular sites.
    let max_tp = match rank {
        Some(r) if r < 200 => 10,
        Some(r) if r < 3000 => 7,
        _ => 4,
    };
    let n_tp = g.rng.int(0, max_tp) as usize;
    for _ in 0..n_tp {
        t += step(&mut g.rng);
        let name = *pick(&mut g.rng, THIRD_PARTY);
        let p = NameProfile::benign(name, Some(20));
        g.lookup_addr(t, name, &p, v6, 0.0);
    }
    // Rare extras.
    if g.rng.chance(0.003) {
        // An app retrying a dead name.
        let tp = *pick(&mut g.rng, THIRD_PARTY);
        let dead = typo(&mut g.rng, tp);
        let n = g.rng.int(3, 8);
        let mut tb = t;
        let p = NameProfile::nx(0.5);
        for _ in 0..n {
            tb += secs(g.rng.uniform(0.5, 5.0));
            let r = respond(&mut g.rng, &dead, qtype::A, &p);
            let server = g.h.pick_server(&mut g.rng);
            g.out.push(event(
                tb,
                g.h.ip,
                server,
                &dead,
                qtype::A,
                r,
                LABEL_BENIGN,
                LABEL_BENIGN,
            ));
        }
    }
    if g.rng.chance(0.01) {
        let ip = prof_ip(&mut g.rng);
        let p = if g.rng.chance(0.6) {
            NameProfile::benign(&ip, None)
        } else {
            NameProfile::nx(0.1)
        };
        g.lookup(t + secs(0.2), &ip, qtype::PTR, &p);
    }
    if av && g.rng.chance(0.12) {
        // Endpoint protection reputation look-ups encode file hashes in names.
        let n = g.rng.int(1, 3);
        for _ in 0..n {
            t += step(&mut g.rng);
            let len = if g.rng.chance(0.5) { 32 } else { 40 };
            let hash = super::names::encoded_chars(&mut g.rng, super::names::Encoding::Hex, len);
            let name = format!("{hash}.{}.sophosxl.net", g.rng.int(1, 4));
            let p = NameProfile {
                cache_p: 0.0,
                v6: 0,
                cname_bytes: 0,
                https: false,
                ttl: 300,
                ..NameProfile::benign(&name, Some(1000))
            };
            g.lookup(t, &name, qtype::A, &p);
        }
    }
}

/// Gap between the look-ups of one page load.
fn step(rng: &mut Rng) -> i64 {
    secs(rng.lognormal(0.15, 1.0).clamp(0.003, 5.0))
}

/// A reverse-lookup name for a random public address.
fn prof_ip(rng: &mut Rng) -> String {
    format!(
        "{}.{}.{}.{}.in-addr.arpa",
        rng.int(1, 254),
        rng.int(0, 255),
        rng.int(0, 255),
        rng.int(1, 223)
    )
}

const SRV_COMMON: &[&str] = &[
    "security.ubuntu.com",
    "archive.ubuntu.com",
    "esm.ubuntu.com",
    "changelogs.ubuntu.com",
    "motd.ubuntu.com",
    "api.snapcraft.io",
    "0.ubuntu.pool.ntp.org",
    "1.ubuntu.pool.ntp.org",
    "ntp.ubuntu.com",
    "api.datadoghq.com",
    "intake.logs.datadoghq.com",
    "ldap.acme.internal",
    "monitor.acme.internal",
];
const SRV_APP: &[&str] = &[
    "db01.acme.internal",
    "redis01.acme.internal",
    "api.stripe.com",
    "api.sendgrid.com",
    "hooks.slack.com",
    "sts.amazonaws.com",
    "s3.amazonaws.com",
    "s3.eu-west-1.amazonaws.com",
    "sqs.eu-west-1.amazonaws.com",
    "o450616.ingest.sentry.io",
    "oauth2.googleapis.com",
    "www.googleapis.com",
];
const SRV_BUILD: &[&str] = &[
    "github.com",
    "api.github.com",
    "codeload.github.com",
    "objects.githubusercontent.com",
    "pypi.org",
    "files.pythonhosted.org",
    "registry.npmjs.org",
    "index.crates.io",
    "static.crates.io",
    "static.rust-lang.org",
    "registry-1.docker.io",
    "auth.docker.io",
    "production.cloudflare.docker.com",
    "dl-cdn.alpinelinux.org",
    "deb.debian.org",
    "proxy.golang.org",
    "repo.maven.apache.org",
];

fn server(g: &mut Gen<'_, '_>, role: ServerRole, start: TsMicros, end: TsMicros) {
    // Steady per-name polling (no stub cache on typical Linux servers).
    let mut names: Vec<&str> = Vec::new();
    let k = g.rng.int(4, 8) as usize;
    for _ in 0..k {
        let n = *pick(&mut g.rng, SRV_COMMON);
        if !names.contains(&n) {
            names.push(n);
        }
    }
    if role == ServerRole::App {
        for _ in 0..g.rng.int(3, 7) {
            let n = *pick(&mut g.rng, SRV_APP);
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    let v6 = if g.rng.chance(0.5) { 0.8 } else { 0.0 };
    for name in names {
        let period = *pick(&mut g.rng, &[30.0, 60.0, 60.0, 120.0, 300.0, 600.0, 3600.0]);
        let prof = if name.ends_with(INTERNAL_ZONE) {
            NameProfile::internal(name)
        } else {
            NameProfile::benign(name, Some(500))
        };
        let poisson = g.rng.chance(0.5);
        let mut t = start + secs(g.rng.uniform(0.0, period));
        while t < end {
            g.lookup_addr(t, name, &prof, v6, 0.0);
            let dt = if poisson {
                g.rng.exp(period)
            } else {
                period * g.rng.uniform(0.97, 1.03)
            };
            t += secs(dt.max(0.5));
        }
    }
    // Reverse look-ups of clients (web/mail logs), many without PTR records.
    let ptr_rate = match role {
        ServerRole::Mail => g.rng.uniform(0.5, 2.0),
        ServerRole::App => g.rng.uniform(0.05, 0.6),
        ServerRole::Build => 0.02,
    };
    let mut t = start + secs(g.rng.exp(60.0 / ptr_rate));
    while t < end {
        let ip = prof_ip(&mut g.rng);
        let p = if g.rng.chance(0.6) {
            NameProfile::benign(&ip, None)
        } else {
            NameProfile::nx(0.2)
        };
        g.lookup(t, &ip, qtype::PTR, &p);
        t += secs(g.rng.exp(60.0 / ptr_rate).max(0.05));
    }
    match role {
        ServerRole::Mail => mail(g, start, end),
        ServerRole::Build => build(g, start, end),
        ServerRole::App => {}
    }
}

/// Mail relay: per message MX of the recipient domain, the MX host's
/// address, and SPF/DMARC/DKIM TXT of sender domains.
fn mail(g: &mut Gen<'_, '_>, start: TsMicros, end: TsMicros) {
    let rate = g.rng.uniform(0.5, 3.0); // messages per minute
    let mut t = start + secs(g.rng.exp(60.0 / rate));
    while t < end {
        let dom = {
            let r = g.ctx.zipf.sample(&mut g.rng);
            g.ctx.lists.benign[r].clone()
        };
        let p = NameProfile::benign(&dom, Some(100));
        let mut tt = t;
        if g.rng.chance(0.5) {
            // Outbound: MX then the exchanger.
            g.lookup(tt, &dom, qtype::MX, &p);
            tt += secs(g.rng.uniform(0.01, 0.2));
            let mx = format!("mx{}.{dom}", g.rng.int(1, 2));
            let mp = NameProfile::benign(&mx, Some(100));
            g.lookup_addr(tt, &mx, &mp, 0.5, 0.0);
        } else {
            // Inbound: SPF, DMARC, DKIM of the sender domain.
            g.lookup(tt, &dom, qtype::TXT, &p);
            tt += secs(g.rng.uniform(0.01, 0.3));
            let dmarc = format!("_dmarc.{dom}");
            let dp = if g.rng.chance(0.7) {
                NameProfile::benign(&dmarc, Some(1000))
            } else {
                NameProfile::nx(0.3)
            };
            g.lookup(tt, &dmarc, qtype::TXT, &dp);
            if g.rng.chance(0.8) {
                tt += secs(g.rng.uniform(0.01, 0.3));
                let sel = pick(
                    &mut g.rng,
                    &["selector1", "selector2", "google", "s1", "k1", "default"],
                );
                let dkim = format!("{sel}._domainkey.{dom}");
                let kp = NameProfile::benign(&dkim, Some(1000));
                g.lookup(tt, &dkim, qtype::TXT, &kp);
            }
        }
        // Inbound connections are checked against DNS blocklists: the
        // reversed client address under the list zone, almost always
        // NXDOMAIN (= not listed), listed ones answer 127.0.0.x.
        if g.rng.chance(0.5) {
            let ip = prof_ip(&mut g.rng);
            let rev = ip.trim_end_matches(".in-addr.arpa");
            for zone in [
                "zen.spamhaus.org",
                "b.barracudacentral.org",
                "bl.spamcop.net",
            ] {
                if zone != "zen.spamhaus.org" && g.rng.chance(0.5) {
                    continue;
                }
                let name = format!("{rev}.{zone}");
                let p = if g.rng.chance(0.08) {
                    NameProfile::benign(&name, Some(5000))
                } else {
                    NameProfile::nx(0.1)
                };
                g.lookup(tt + secs(0.05), &name, qtype::A, &p);
            }
        }
        t += secs(g.rng.exp(60.0 / rate).max(0.05));
    }
}

/// Build server: bursts of package-registry look-ups every 10–60 minutes.
fn build(g: &mut Gen<'_, '_>, start: TsMicros, end: TsMicros) {
    let mut t = start + secs(g.rng.uniform(0.0, 1800.0));
    while t < end {
        let n = g.rng.int(15, 80);
        let mut tb = t;
        for _ in 0..n {
            let name = *pick(&mut g.rng, SRV_BUILD);
            let p = NameProfile::benign(name, Some(200));
            g.lookup_addr(tb, name, &p, 0.5, 0.0);
            tb += secs(g.rng.lognormal(0.8, 1.0).clamp(0.01, 20.0));
        }
        t += secs(g.rng.uniform(600.0, 3600.0));
    }
}

const IOT_VENDORS: &[&[&str]] = &[
    &[
        "a3k7odshaiipe8-ats.iot.eu-west-1.amazonaws.com",
        "device-metrics-us.amazon.com",
    ],
    &["a2.tuyaeu.com", "m2.tuyaeu.com"],
    &["ws.meethue.com", "diag.meethue.com"],
    &["api.smartthings.com", "dc.connect.smartthings.com"],
    &["mqtt.googleapis.com", "connectivitycheck.gstatic.com"],
    &["fw-download.ubnt.com", "trace.svc.ui.com"],
    &["api.particle.io"],
    &["iot.us-east-1.amazonaws.com", "firmware.printer-vendor.com"],
];

fn iot(g: &mut Gen<'_, '_>, start: TsMicros, end: TsMicros) {
    let vendor = *pick(&mut g.rng, IOT_VENDORS);
    let n = g.rng.int(1, vendor.len() as u64) as usize;
    for name in vendor.iter().take(n) {
        let period = *pick(&mut g.rng, &[30.0, 60.0, 60.0, 120.0, 300.0]);
        let p = NameProfile::benign(name, Some(800));
        let mut t = start + secs(g.rng.uniform(0.0, period));
        while t < end {
            g.lookup(t, name, qtype::A, &p);
            t += secs(period + g.rng.uniform(-0.3, 0.3));
        }
    }
    // NTP hourly-ish.
    let ntp = *pick(
        &mut g.rng,
        &[
            "pool.ntp.org",
            "time.google.com",
            "time.nist.gov",
            "0.pool.ntp.org",
        ],
    );
    let p = NameProfile::benign(ntp, Some(300));
    let mut t = start + secs(g.rng.uniform(0.0, 3600.0));
    while t < end {
        g.lookup(t, ntp, qtype::A, &p);
        t += secs(g.rng.uniform(3000.0, 4000.0));
    }
}

#[cfg(test)]
mod tests {
    use super::super::DomainLists;
    use super::*;

    #[test]
    fn host_plan_mixes_profiles() {
        let hosts = plan_hosts(&SimConfig::default());
        assert_eq!(hosts.len(), 20);
        assert_eq!(hosts[0].profile, Profile::Workstation);
        let n = |p: &str| hosts.iter().filter(|h| h.profile.name() == p).count();
        assert_eq!(n("server"), 3);
        assert_eq!(n("iot"), 3);
        let mut ips: Vec<_> = hosts.iter().map(|h| h.ip).collect();
        ips.sort();
        ips.dedup();
        assert_eq!(ips.len(), 20);
    }

    #[test]
    fn workstation_is_diurnal_and_varied() {
        let lists = DomainLists::embedded();
        let ctx = Ctx::new(&lists, 3);
        let h = Host {
            idx: 1,
            ip: "10.20.1.10".parse().unwrap(),
            server: "10.20.0.53".parse().unwrap(),
            alt_server: "10.20.0.54".parse().unwrap(),
            profile: Profile::Workstation,
        };
        // Monday 00:00 to Tuesday 00:00.
        let start = 1_709_510_400 * MICROS;
        let mut out = Vec::new();
        generate(&ctx, &h, start, start + 86_400 * MICROS, &mut out);
        let day: usize = out
            .iter()
            .filter(|e| (9.0..17.0).contains(&hour_of_day(e.ts)))
            .count();
        let night: usize = out.iter().filter(|e| hour_of_day(e.ts) < 6.0).count();
        assert!(day > 10 * night.max(1), "day {day} night {night}");
        let nx = out.iter().filter(|e| e.rcode == 3 && e.answered()).count() as f64;
        let rate = nx / out.len() as f64;
        assert!(rate < 0.08, "nx rate {rate}");
        assert!(out.iter().any(|e| e.domain.contains("login")));
    }
}
