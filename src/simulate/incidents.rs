//! Incident planning and the malicious traffic of each [`Scenario`].
//!
//! Planning ([`plan`]): `incident_hosts` hosts are drawn by seed; each gets one
//! to three incidents (more when needed so every requested scenario appears at
//! least once). A host's incidents sit in disjoint slots after a benign
//! warm-up (the first hour, or a quarter of shorter runs), so they never
//! overlap. Families, tools and storm modes rotate across incidents.
//!
//! Generation: each incident has its own RNG stream and emits its first
//! malicious lookup at its start. Only these lookups are labelled malicious;
//! the host's benign traffic continues around them (generated elsewhere).
//!
//! * `dga_beacon`: every 30–300 s (±5–25% jitter) a batch of 5–50 lookups of the
//!   family's real domains, walked through a per-incident "daily list"; almost
//!   all NXDOMAIN, the C2 (and sometimes a sinkhole) resolves and ends a batch.
//! * `dns_tunnel`: iodine (NULL, base32), dns2tcp (TXT, base64) or dnscat2
//!   (TXT/CNAME/MX, hex) at 1–20 q/s with transfer and idle-poll phases; long
//!   multi-label payloads (100–250 chars) or short polls, half of them
//!   replayed from real captures re-rooted under the incident's zone.
//! * `slow_exfil`: one A or TXT lookup every 10–60 s of a 20–60-char encoded
//!   label (optionally with a sequence label) under one attacker domain.
//! * `phishing`: one to three lookalike domains (brand + keywords, digit
//!   homoglyphs, punycode homoglyphs, brand-as-subdomain, free hosting
//!   platforms), resolved over a few minutes with reloads; the legitimate page
//!   assets and the final redirect to the real brand stay benign.
//! * `nxdomain_storm`: 150–2,000 lookups/min of water-torture random
//!   subdomains of one real domain, random names, or typo floods; ≥80%
//!   NXDOMAIN, with SERVFAIL/timeouts when the victim's servers buckle.

use super::benign::Host;
use super::names::{
    attacker_domain, encoded_chars, join_under, punycode_label, random_alnum, random_alpha,
    split_labels, typo, Encoding, MAX_NAME,
};
use super::resolve::{
    base_bytes, event, latency, payload_resp, respond, round_ms, servfail, soa_bytes, timeout, Ctx,
    NameProfile, Resp,
};
use super::rng::{derive, pick, Draw, Rng};
use super::{DomainLists, Scenario, SimConfig, SimEvent, LABEL_BENIGN, LABEL_MALICIOUS};
use crate::event::{qtype, rcode, TsMicros, MICROS};
use rustc_hash::FxHashSet;
use serde::Serialize;
use std::net::IpAddr;

/// One planned incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InjectedIncident {
    /// Affected host.
    pub host: IpAddr,
    /// What happens.
    pub scenario: Scenario,
    /// Start (first malicious lookup), µs.
    pub start: TsMicros,
    /// End (exclusive), µs.
    pub end: TsMicros,
    /// Variant: DGA family, tunnel tool, storm mode, or empty.
    pub detail: String,
}

/// Safety cap on events from one incident.
const MAX_INCIDENT_EVENTS: usize = 200_000;

const TUNNEL_TOOLS: &[&str] = &["iodine", "dns2tcp", "dnscat2"];
const STORM_MODES: &[&str] = &["water_torture", "random_names", "typo_flood"];

fn secs(s: f64) -> i64 {
    (s * MICROS as f64) as i64
}

/// Plan incidents for `hosts`.
pub(crate) fn plan(cfg: &SimConfig, hosts: &[Host], lists: &DomainLists) -> Vec<InjectedIncident> {
    let mut scen: Vec<Scenario> = Vec::new();
    for s in &cfg.scenarios {
        if !scen.contains(s) {
            scen.push(*s);
        }
    }
    let n_hosts = cfg.incident_hosts.min(hosts.len());
    if scen.is_empty() || n_hosts == 0 {
        return Vec::new();
    }
    let mut rng = derive(cfg.seed, &[0x1C]);
    let start = cfg.start.timestamp_micros();
    let run = (cfg.hours * 3600.0 * MICROS as f64) as i64;
    let end = start + run;
    let warm = (3600 * MICROS).min(run / 4);

    // Which hosts.
    let mut order: Vec<usize> = (0..hosts.len()).collect();
    for i in (1..order.len()).rev() {
        let j = rng.index(i + 1);
        order.swap(i, j);
    }
    order.truncate(n_hosts);

    // How many incidents each.
    let mut counts: Vec<usize> = (0..n_hosts).map(|_| rng.int(1, 3) as usize).collect();
    let mut k = 0;
    while counts.iter().sum::<usize>() < scen.len() {
        counts[k % n_hosts] += 1;
        k += 1;
    }
    let total: usize = counts.iter().sum();

    // Which scenarios: every requested one once (shuffled), then random.
    let mut kinds = scen.clone();
    for i in (1..kinds.len()).rev() {
        let j = rng.index(i + 1);
        kinds.swap(i, j);
    }
    while kinds.len() < total {
        kinds.push(*pick(&mut rng, &scen));
    }

    let fam_base = rng.index(lists.dga.len().max(1));
    let tool_base = rng.index(TUNNEL_TOOLS.len());
    let mode_base = rng.index(STORM_MODES.len());
    let (mut n_dga, mut n_tun, mut n_storm) = (0usize, 0usize, 0usize);

    let mut out = Vec::with_capacity(total);
    let mut next_kind = kinds.into_iter();
    for (hi, &host_idx) in order.iter().enumerate() {
        let n = counts[hi];
        let slot = (end - start - warm) / n as i64;
        for s in 0..n {
            let Some(scenario) = next_kind.next() else {
                break;
            };
            let slot_start = start + warm + slot * s as i64;
            let want = match scenario {
                Scenario::DgaBeacon => rng.uniform(20.0, 120.0),
                Scenario::DnsTunnel => rng.log_uniform(5.0, 40.0),
                Scenario::SlowExfil => rng.uniform(30.0, 120.0),
                Scenario::Phishing => rng.uniform(2.0, 8.0),
                Scenario::NxdomainStorm => rng.log_uniform(5.0, 30.0),
            };
            let dur = secs(want * 60.0).min(slot * 9 / 10).max(1);
            let inc_start = slot_start + rng.int(0, (slot - dur).max(0) as u64) as i64;
            let detail = match scenario {
                Scenario::DgaBeacon => {
                    n_dga += 1;
                    lists
                        .dga
                        .get((fam_base + n_dga - 1) % lists.dga.len().max(1))
                        .map(|(f, _)| f.clone())
                        .unwrap_or_default()
                }
                Scenario::DnsTunnel => {
                    n_tun += 1;
                    TUNNEL_TOOLS[(tool_base + n_tun - 1) % TUNNEL_TOOLS.len()].to_string()
                }
                Scenario::NxdomainStorm => {
                    n_storm += 1;
                    STORM_MODES[(mode_base + n_storm - 1) % STORM_MODES.len()].to_string()
                }
                _ => String::new(),
            };
            out.push(InjectedIncident {
                host: hosts[host_idx].ip,
                scenario,
                start: inc_start,
                end: (inc_start + dur).min(end),
                detail,
            });
        }
    }
    out
}

/// Emits labelled events for one incident.
struct Em<'a, 'b> {
    h: &'a Host,
    inc: &'a InjectedIncident,
    rng: Rng,
    out: &'b mut Vec<SimEvent>,
    n: usize,
}

impl Em<'_, '_> {
    fn live(&self, t: TsMicros) -> bool {
        t < self.inc.end && self.n < MAX_INCIDENT_EVENTS
    }
    fn push(&mut self, t: TsMicros, name: &str, qt: u16, r: Resp) {
        if !self.live(t) {
            return;
        }
        let server = self.h.pick_server(&mut self.rng);
        self.out.push(event(
            t,
            self.h.ip,
            server,
            name,
            qt,
            r,
            LABEL_MALICIOUS,
            self.inc.scenario.as_str(),
        ));
        self.n += 1;
    }
    fn push_benign(&mut self, t: TsMicros, name: &str, qt: u16, r: Resp) {
        let server = self.h.pick_server(&mut self.rng);
        self.out.push(event(
            t,
            self.h.ip,
            server,
            name,
            qt,
            r,
            LABEL_BENIGN,
            LABEL_BENIGN,
        ));
    }
}

/// Generate incident `i`'s events.
pub(crate) fn generate(
    ctx: &Ctx<'_>,
    h: &Host,
    inc: &InjectedIncident,
    i: usize,
    out: &mut Vec<SimEvent>,
) {
    let mut em = Em {
        h,
        inc,
        rng: derive(ctx.seed, &[0x1D, i as u64]),
        out,
        n: 0,
    };
    match inc.scenario {
        Scenario::DgaBeacon => dga(ctx, &mut em),
        Scenario::DnsTunnel => tunnel(ctx, &mut em),
        Scenario::SlowExfil => slow_exfil(&mut em),
        Scenario::Phishing => phishing(&mut em),
        Scenario::NxdomainStorm => storm(ctx, &mut em),
    }
}

fn nx_resp(rng: &mut Rng, name: &str, cached: bool) -> Resp {
    Resp {
        rcode: rcode::NXDOMAIN,
        answers: Vec::new(),
        ttl: None,
        bytes: base_bytes(name) + soa_bytes(name),
        latency_ms: latency(rng, cached),
    }
}

fn dga(ctx: &Ctx<'_>, em: &mut Em<'_, '_>) {
    let lists = ctx.lists;
    let samples: &[String] = lists
        .dga
        .iter()
        .find(|(f, _)| *f == em.inc.detail)
        .or_else(|| lists.dga.first())
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[]);
    if samples.is_empty() {
        return;
    }
    let rng = &mut em.rng;
    let mut pool: Vec<&String> = samples.iter().collect();
    for i in (1..pool.len()).rev() {
        let j = rng.index(i + 1);
        pool.swap(i, j);
    }
    let m = (rng.int(40, 400) as usize).min(pool.len()).max(1);
    pool.truncate(m);
    let base = rng.int(5, 50) as f64;
    let c2 = if rng.chance(0.7) {
        Some(rng.int((base / 2.0) as u64, m as u64) as usize % m)
    } else {
        None
    };
    let sinkhole = if rng.chance(0.3) {
        Some(rng.index(m))
    } else {
        None
    };
    let period = rng.uniform(30.0, 300.0);
    let jitter = rng.uniform(0.05, 0.25);
    let c2_ip = IpAddr::from([
        rng.int(45, 194) as u8,
        rng.int(0, 255) as u8,
        rng.int(0, 255) as u8,
        rng.int(1, 254) as u8,
    ]);
    let mut seen: FxHashSet<usize> = FxHashSet::default();
    let mut cursor = 0usize;
    let mut t = em.inc.start;
    while em.live(t) {
        let n = (base * em.rng.uniform(0.8, 1.2)).round().clamp(3.0, 60.0) as usize;
        let mut tb = t;
        for _ in 0..n {
            let idx = cursor % m;
            cursor += 1;
            let name = pool[idx].as_str();
            let again = !seen.insert(idx);
            if Some(idx) == c2 || Some(idx) == sinkhole {
                let ip = if Some(idx) == c2 {
                    c2_ip
                } else {
                    IpAddr::from([127, 0, 0, 1]) // common sinkhole answer
                };
                let r = Resp {
                    rcode: rcode::NOERROR,
                    answers: vec![ip],
                    ttl: Some(300),
                    bytes: base_bytes(name) + 16,
                    latency_ms: latency(&mut em.rng, again),
                };
                em.push(tb, name, qtype::A, r);
                if Some(idx) == c2 {
                    break;
                }
            } else {
                let cached = again && em.rng.chance(0.7);
                let r = nx_resp(&mut em.rng, name, cached);
                em.push(tb, name, qtype::A, r);
            }
            tb += secs(em.rng.uniform(0.05, 1.2));
        }
        t += secs(period * (1.0 + em.rng.uniform(-jitter, jitter)));
    }
}

fn tunnel(ctx: &Ctx<'_>, em: &mut Em<'_, '_>) {
    let tool = em.inc.detail.clone();
    let rng = &mut em.rng;
    let zone = if rng.chance(0.6) {
        format!(
            "{}.{}",
            pick(rng, &["t", "tun", "ns", "d", "x", "dns"]),
            attacker_domain(rng)
        )
    } else {
        attacker_domain(rng)
    };
    let sample_tool = match tool.as_str() {
        "iodine" => "iodine",
        "dns2tcp" => "dns2tcp",
        _ => "dnscapy",
    };
    let samples: &[String] = ctx
        .lists
        .tunnel_names
        .iter()
        .find(|(t, _)| t == sample_tool)
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[]);
    let replay_p = if samples.is_empty() { 0.0 } else { 0.5 };
    let enc = match tool.as_str() {
        "iodine" => Encoding::Base32,
        "dns2tcp" => Encoding::Base64,
        _ => Encoding::Hex,
    };
    let rate = rng.log_uniform(1.0, 20.0);
    let idle_rate = (rate * 0.2).max(1.0);
    let label_len = rng.int(30, 63) as usize;
    let pick_qt = |rng: &mut Rng| -> u16 {
        let u = rng.unit();
        match tool.as_str() {
            "iodine" => {
                if u < 0.88 {
                    qtype::NULL
                } else if u < 0.95 {
                    qtype::TXT
                } else {
                    qtype::CNAME
                }
            }
            "dns2tcp" => qtype::TXT,
            _ => {
                if u < 0.5 {
                    qtype::TXT
                } else if u < 0.75 {
                    qtype::CNAME
                } else {
                    qtype::MX
                }
            }
        }
    };
    let mut seq: u32 = em.rng.int(0, 60000) as u32;
    let mut t = em.inc.start;
    // iodine's handshake: version, login, codec and fragment-size probes.
    if tool == "iodine" {
        for c in ["v", "l", "i", "z", "y", "r", "n"] {
            let n = em.rng.int(6, 40) as usize;
            let name = format!(
                "{c}{}.{zone}",
                encoded_chars(&mut em.rng, Encoding::Base32, n)
            );
            let qt = if em.rng.chance(0.5) {
                qtype::NULL
            } else {
                qtype::TXT
            };
            let lat = round_ms(em.rng.lognormal(45.0, 0.4));
            let size = em.rng.int(8, 200) as u32;
            let r = payload_resp(&mut em.rng, &name, qt, size, lat);
            em.push(t, &name, qt, r);
            t += secs(em.rng.uniform(0.05, 0.4));
        }
    }
    let mut transfer = true;
    let mut phase_end = t + secs(em.rng.exp(40.0).max(5.0));
    while em.live(t) {
        if t >= phase_end {
            transfer = !transfer;
            let mean = if transfer { 40.0 } else { 60.0 };
            phase_end = t + secs(em.rng.exp(mean).max(5.0));
        }
        let cur_rate = if transfer { rate } else { idle_rate };
        seq = seq.wrapping_add(1);
        let long = transfer || em.rng.chance(0.15);
        let sub = if em.rng.chance(replay_p) {
            pick(&mut em.rng, samples).clone()
        } else if long {
            let total = em.rng.int(100, 250) as usize;
            let room = total.saturating_sub(zone.len() + 2).max(label_len);
            let chars = room - room / (label_len + 1);
            let prefix = match tool.as_str() {
                "iodine" => encoded_chars(&mut em.rng, Encoding::Base32, 1),
                "dns2tcp" => String::new(),
                _ => format!("{seq:04x}"),
            };
            let body = encoded_chars(&mut em.rng, enc, chars.saturating_sub(prefix.len()));
            split_labels(&format!("{prefix}{body}"), label_len)
        } else {
            match tool.as_str() {
                "iodine" => format!("p{}", encoded_chars(&mut em.rng, Encoding::Base32, 7)),
                "dns2tcp" => encoded_chars(&mut em.rng, Encoding::Base64, 10),
                _ => {
                    let n = em.rng.int(18, 34) as usize;
                    encoded_chars(&mut em.rng, Encoding::Hex, n)
                }
            }
        };
        let name = join_under(&sub, &zone);
        let qt = pick_qt(&mut em.rng);
        let r = if em.rng.chance(0.015) {
            timeout()
        } else if em.rng.chance(0.003) {
            servfail(&mut em.rng, &name)
        } else {
            let payload = match qt {
                qtype::NULL if transfer => em.rng.int(200, 1100),
                qtype::NULL => em.rng.int(20, 120),
                qtype::TXT if transfer => em.rng.int(100, 500),
                qtype::TXT => em.rng.int(10, 80),
                _ => em.rng.int(60, 220),
            } as u32;
            let lat = round_ms(em.rng.lognormal(45.0, 0.5).clamp(8.0, 1500.0));
            payload_resp(&mut em.rng, &name, qt, payload, lat)
        };
        em.push(t, &name, qt, r);
        t += secs(em.rng.exp(1.0 / cur_rate).max(0.001));
    }
}

fn slow_exfil(em: &mut Em<'_, '_>) {
    let rng = &mut em.rng;
    let zone = attacker_domain(rng);
    let enc = *pick(rng, &[Encoding::Base32, Encoding::Hex, Encoding::Base64Url]);
    let mode = rng.index(3); // 0: A, 1: TXT, 2: mixed
    let period = rng.uniform(10.0, 60.0);
    let seq_label = rng.chance(0.5);
    let session = random_alnum(rng, 4);
    let mut seq = 0u32;
    let mut t = em.inc.start;
    while em.live(t) {
        let len = em.rng.int(20, 60) as usize;
        let body = encoded_chars(&mut em.rng, enc, len);
        let name = if seq_label {
            format!("{body}.{seq}.{session}.{zone}")
        } else {
            format!("{body}.{zone}")
        };
        seq += 1;
        let qt = match mode {
            0 => qtype::A,
            1 => qtype::TXT,
            _ => {
                if em.rng.chance(0.5) {
                    qtype::A
                } else {
                    qtype::TXT
                }
            }
        };
        let lat = latency(&mut em.rng, false);
        let size = em.rng.int(8, 80) as u32;
        let r = payload_resp(&mut em.rng, &name, qt, size, lat);
        em.push(t, &name, qt, r);
        t += secs(period * em.rng.uniform(0.5, 1.5));
    }
}

const BRANDS: &[(&str, &str)] = &[
    ("paypal", "www.paypal.com"),
    ("microsoft", "login.microsoftonline.com"),
    ("office365", "www.office.com"),
    ("outlook", "outlook.live.com"),
    ("apple", "www.apple.com"),
    ("icloud", "www.icloud.com"),
    ("amazon", "www.amazon.com"),
    ("netflix", "www.netflix.com"),
    ("chase", "www.chase.com"),
    ("wellsfargo", "www.wellsfargo.com"),
    ("dhl", "www.dhl.com"),
    ("docusign", "www.docusign.com"),
    ("adobe", "www.adobe.com"),
    ("dropbox", "www.dropbox.com"),
    ("linkedin", "www.linkedin.com"),
    ("coinbase", "www.coinbase.com"),
    ("metamask", "metamask.io"),
    ("binance", "www.binance.com"),
    ("facebook", "www.facebook.com"),
    ("google", "accounts.google.com"),
    ("wetransfer", "wetransfer.com"),
];
const KEYWORDS: &[&str] = &[
    "secure",
    "login",
    "verify",
    "account",
    "update",
    "signin",
    "support",
    "billing",
    "wallet",
    "auth",
    "confirm",
    "service",
    "recovery",
    "unlock",
    "helpdesk",
    "portal",
    "validation",
    "security",
    "alert",
    "id",
    "online",
    "access",
    "center",
];
const PHISH_TLDS: &[&str] = &[
    "com", "net", "info", "xyz", "top", "online", "site", "live", "app", "co", "support", "help",
    "click", "link", "shop", "org",
];
const PLATFORMS: &[&str] = &[
    "web.app",
    "firebaseapp.com",
    "pages.dev",
    "netlify.app",
    "azurewebsites.net",
    "herokuapp.com",
    "glitch.me",
    "r2.dev",
];

/// A lookalike domain for `brand`.
pub(crate) fn lookalike(rng: &mut Rng, brand: &str) -> String {
    let kw = |rng: &mut Rng| *pick(rng, KEYWORDS);
    let tld = |rng: &mut Rng| *pick(rng, PHISH_TLDS);
    let name = match rng.index(8) {
        0 => {
            let mut s = format!("{brand}-{}-{}", kw(rng), kw(rng));
            if rng.chance(0.3) {
                s = format!("{s}-{}", kw(rng));
            }
            format!("{s}.{}", tld(rng))
        }
        1 => format!("{}-{brand}-{}.{}", kw(rng), kw(rng), tld(rng)),
        2 => {
            let swapped = ascii_homoglyph(rng, brand);
            if rng.chance(0.5) {
                format!("{swapped}-{}-{}.{}", kw(rng), kw(rng), tld(rng))
            } else {
                format!("{swapped}.{}", tld(rng))
            }
        }
        3 => {
            let label = punycode_label(&unicode_homoglyph(rng, brand));
            let t = if rng.chance(0.5) { "com" } else { tld(rng) };
            format!("{label}.{t}")
        }
        4 => format!("{brand}.com-{}-{}.{}", kw(rng), kw(rng), tld(rng)),
        5 => format!(
            "{}-{}-{brand}{}.{}",
            kw(rng),
            kw(rng),
            rng.int(1, 999),
            tld(rng)
        ),
        6 => format!(
            "{brand}-{}-{}.{}",
            kw(rng),
            random_alnum(rng, 4),
            pick(rng, PLATFORMS)
        ),
        _ => format!(
            "{}.{brand}.{}-{}-{}.{}",
            kw(rng),
            kw(rng),
            kw(rng),
            random_alnum(rng, 5),
            tld(rng)
        ),
    };
    if name.len() > MAX_NAME {
        format!("{brand}-{}.com", kw(rng))
    } else {
        name
    }
}

fn ascii_homoglyph(rng: &mut Rng, brand: &str) -> String {
    const SUBS: &[(&str, &str)] = &[
        ("o", "0"),
        ("l", "1"),
        ("i", "1"),
        ("m", "rn"),
        ("e", "3"),
        ("a", "4"),
        ("s", "5"),
    ];
    let cands: Vec<&(&str, &str)> = SUBS.iter().filter(|(a, _)| brand.contains(a)).collect();
    if cands.is_empty() {
        return format!("{brand}{brand}");
    }
    let (a, b) = *pick(rng, &cands);
    brand.replacen(a, b, 1)
}

fn unicode_homoglyph(rng: &mut Rng, brand: &str) -> String {
    const SUBS: &[(char, char)] = &[
        ('a', '\u{430}'),
        ('e', '\u{435}'),
        ('o', '\u{43e}'),
        ('p', '\u{440}'),
        ('c', '\u{441}'),
        ('x', '\u{445}'),
        ('y', '\u{443}'),
        ('i', '\u{456}'),
    ];
    let cands: Vec<&(char, char)> = SUBS.iter().filter(|(a, _)| brand.contains(*a)).collect();
    if cands.is_empty() {
        return format!("{brand}\u{430}");
    }
    let (a, b) = **pick(rng, &cands);
    let mut done = false;
    brand
        .chars()
        .map(|c| {
            if c == a && !done {
                done = true;
                b
            } else {
                c
            }
        })
        .collect()
}

fn phishing(em: &mut Em<'_, '_>) {
    let rng = &mut em.rng;
    let (brand, real) = *pick(rng, BRANDS);
    // A redirector or landing chain: one to three lookalikes, sometimes a
    // freshly registered throw-away domain the credentials are posted to.
    let n = rng.int(1, 3) as usize;
    let mut names = Vec::new();
    while names.len() < n {
        let d = lookalike(rng, brand);
        if !names.contains(&d) {
            names.push(d);
        }
    }
    if rng.chance(0.4) {
        names.push(attacker_domain(rng));
    }
    let n = names.len();
    let inc_len = (em.inc.end - em.inc.start).max(1) as f64 / MICROS as f64;
    let mut t = em.inc.start;
    for (i, d) in names.iter().enumerate() {
        if i > 0 {
            t += secs(em.rng.uniform(5.0, (inc_len / n as f64).max(6.0)));
        }
        let ttl = *pick(&mut em.rng, &[60u32, 300, 600, 3600]);
        let prof = NameProfile {
            exists: i == 0 || em.rng.chance(0.9),
            cache_p: 0.0,
            ttl,
            servfail_p: 0.0,
            timeout_p: 0.0,
            cname_bytes: 0,
            ..NameProfile::benign(d, None)
        };
        let mut hosts = vec![d.clone()];
        if em.rng.chance(0.4) {
            hosts.push(format!("www.{d}"));
        }
        if em.rng.chance(0.4) {
            hosts.push(format!(
                "{}.{d}",
                pick(&mut em.rng, &["cdn", "static", "api", "assets"])
            ));
        }
        let reload = em.rng.chance(0.5);
        for (k, name) in hosts.iter().enumerate() {
            let tk = t + secs(0.3 * k as f64 + em.rng.uniform(0.0, 0.2));
            for qt in [qtype::A, qtype::AAAA, qtype::HTTPS] {
                if qt != qtype::A && em.rng.chance(0.5) {
                    continue;
                }
                let r = respond(&mut em.rng, name, qt, &prof);
                let tq = tk + secs(em.rng.uniform(0.0, 0.01));
                em.push(tq, name, qt, r);
            }
            if reload {
                let tr = tk + secs(em.rng.uniform(30.0, 150.0));
                let r = respond(
                    &mut em.rng,
                    name,
                    qtype::A,
                    &NameProfile {
                        cache_p: 0.9,
                        ..prof
                    },
                );
                em.push(tr, name, qtype::A, r);
            }
        }
        // The kit pulls legitimate assets: benign look-ups.
        if em.rng.chance(0.6) {
            let asset = *pick(
                &mut em.rng,
                &[
                    "code.jquery.com",
                    "cdnjs.cloudflare.com",
                    "aadcdn.msftauth.net",
                    "fonts.googleapis.com",
                    "cdn.jsdelivr.net",
                ],
            );
            let p = NameProfile::benign(asset, Some(20));
            let r = respond(&mut em.rng, asset, qtype::A, &p);
            em.push_benign(t + secs(0.5), asset, qtype::A, r);
        }
    }
    // After the credentials are posted, a redirect to the real brand (benign).
    let tr = (t + secs(em.rng.uniform(10.0, 60.0))).min(em.inc.end);
    let p = NameProfile::benign(real, Some(50));
    let r = respond(&mut em.rng, real, qtype::A, &p);
    em.push_benign(tr, real, qtype::A, r);
}

fn storm(ctx: &Ctx<'_>, em: &mut Em<'_, '_>) {
    let lists = ctx.lists;
    let rng = &mut em.rng;
    let mode = em.inc.detail.clone();
    let rate = rng.log_uniform(150.0, 2000.0);
    let lo = 50.min(lists.benign.len() - 1);
    let hi = 3000.min(lists.benign.len()).max(lo + 1);
    let victim = lists.benign[rng.int(lo as u64, (hi - 1) as u64) as usize].clone();
    let sub_len = rng.int(8, 16) as usize;
    let mut t = em.inc.start;
    let mut cur = rate;
    let mut next_mod = t;
    while em.live(t) {
        if t >= next_mod {
            cur = rate * em.rng.uniform(0.7, 1.3);
            next_mod = t + 10 * MICROS;
        }
        let qt = if em.rng.chance(0.85) {
            qtype::A
        } else {
            qtype::AAAA
        };
        let (name, r) = match mode.as_str() {
            "water_torture" => {
                let len = (sub_len as i64 + em.rng.int(0, 4) as i64 - 2).max(4) as usize;
                let name = format!("{}.{victim}", random_alnum(&mut em.rng, len));
                let u = em.rng.unit();
                let r = if u < 0.05 {
                    timeout()
                } else if u < 0.12 {
                    servfail(&mut em.rng, &name)
                } else {
                    let mut r = nx_resp(&mut em.rng, &name, false);
                    r.latency_ms = round_ms(em.rng.lognormal(80.0, 0.7).clamp(5.0, 3000.0));
                    r
                };
                (name, r)
            }
            "random_names" => {
                let tld = *pick(
                    &mut em.rng,
                    &[
                        "com", "net", "org", "info", "biz", "ru", "cn", "xyz", "top", "de",
                    ],
                );
                let n = em.rng.int(6, 15) as usize;
                let name = format!("{}.{tld}", random_alpha(&mut em.rng, n));
                let r = if em.rng.chance(0.03) {
                    respond(&mut em.rng, &name, qt, &NameProfile::benign(&name, None))
                } else {
                    let mut r = nx_resp(&mut em.rng, &name, false);
                    r.latency_ms = round_ms(em.rng.lognormal(25.0, 0.6).clamp(2.0, 1500.0));
                    r
                };
                (name, r)
            }
            _ => {
                let r0 = ctx.zipf.sample(&mut em.rng);
                let mut name = typo(&mut em.rng, &lists.benign[r0]);
                if em.rng.chance(0.5) {
                    name = typo(&mut em.rng, &name);
                }
                let r = if em.rng.chance(0.12) {
                    respond(&mut em.rng, &name, qt, &NameProfile::benign(&name, None))
                } else {
                    let cached = em.rng.chance(0.2);
                    nx_resp(&mut em.rng, &name, cached)
                };
                (name, r)
            }
        };
        em.push(t, &name, qt, r);
        t += secs(em.rng.exp(60.0 / cur).max(0.0005));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookalikes_are_valid_names() {
        let mut r = derive(9, &[]);
        for _ in 0..500 {
            let (b, _) = *pick(&mut r, BRANDS);
            let d = lookalike(&mut r, b);
            assert!(d.len() <= MAX_NAME);
            assert!(d.is_ascii() && d == d.to_ascii_lowercase(), "{d}");
            assert!(d.split('.').all(|l| !l.is_empty() && l.len() <= 63), "{d}");
        }
    }

    #[test]
    fn plan_covers_requested_scenarios_without_overlap() {
        let cfg = SimConfig {
            hosts: 3,
            incident_hosts: 1,
            ..SimConfig::default()
        };
        let hosts = super::super::benign::plan_hosts(&cfg);
        let lists = DomainLists::embedded();
        let p = plan(&cfg, &hosts, &lists);
        for s in Scenario::ALL {
            assert!(p.iter().any(|i| i.scenario == s), "{s}");
        }
        let start = cfg.start.timestamp_micros();
        for w in p.windows(2) {
            assert!(w[0].end <= w[1].start);
        }
        assert!(p
            .iter()
            .all(|i| i.start >= start + 3600 * MICROS && i.end > i.start));
    }
}
