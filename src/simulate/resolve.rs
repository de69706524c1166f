//! The recursive resolver model: what a lookup gets back.
//!
//! Given a name's properties ([`NameProfile`]), a query type and the RNG this
//! decides the response code, answer addresses, TTL (remaining TTL on a cache
//! hit), response size in bytes (header + question + records + EDNS OPT, the
//! same accounting the pcap writer uses) and latency (cache hit ≈ 1 ms,
//! recursion 20–200 ms with a long tail, SERVFAIL often after timeouts).
//!
//! Per-name properties (address count, IPv6 presence, TTL class, CNAME chain)
//! are derived from a stable hash of the name, so every host sees the same name
//! resolve the same way.

use super::lists::DomainLists;
use super::names::{v4_for, v6_for};
use super::rng::{fnv64, Draw, Rng, Zipf};
use super::SimEvent;
use crate::event::{qtype, rcode, TsMicros};
use std::net::IpAddr;

/// Shared, read-only generation context.
pub(crate) struct Ctx<'a> {
    /// Name lists.
    pub lists: &'a DomainLists,
    /// Popularity over `lists.benign`.
    pub zipf: Zipf,
    /// Run seed.
    pub seed: u64,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(lists: &'a DomainLists, seed: u64) -> Self {
        Ctx {
            lists,
            zipf: Zipf::new(lists.benign.len(), 1.0),
            seed,
        }
    }
}

/// How a name resolves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NameProfile {
    /// NOERROR (true) or NXDOMAIN.
    pub exists: bool,
    /// Probability the resolver has it cached.
    pub cache_p: f64,
    /// IPv4 addresses returned for A.
    pub v4: u8,
    /// IPv6 addresses returned for AAAA (0 = NODATA).
    pub v6: u8,
    /// Full TTL.
    pub ttl: u32,
    /// Extra bytes of CNAME records in front of the addresses.
    pub cname_bytes: u32,
    /// Whether an HTTPS record exists.
    pub https: bool,
    /// Probability of SERVFAIL.
    pub servfail_p: f64,
    /// Probability of no response at all.
    pub timeout_p: f64,
}

const TTLS: &[u32] = &[
    20, 30, 60, 60, 120, 300, 300, 300, 300, 600, 900, 1800, 3600, 3600, 14400, 86400,
];

impl NameProfile {
    /// A real, existing name; `rank` is its popularity rank when known
    /// (`None` = rare tail domain).
    pub(crate) fn benign(name: &str, rank: Option<usize>) -> Self {
        let h = fnv64(name.as_bytes());
        let popular = rank.is_some_and(|r| r < 2000);
        let cache_p = match rank {
            Some(r) if r < 50 => 0.97,
            Some(r) if r < 500 => 0.9,
            Some(r) if r < 5000 => 0.7,
            Some(_) => 0.45,
            None => 0.1,
        };
        let v6_share = if popular { 70 } else { 35 };
        NameProfile {
            exists: true,
            cache_p,
            v4: [1, 1, 1, 2, 2, 3, 4, 8][(h % 8) as usize],
            v6: if (h >> 8) % 100 < v6_share {
                1 + ((h >> 16) % 2) as u8
            } else {
                0
            },
            ttl: TTLS[((h >> 20) % TTLS.len() as u64) as usize],
            cname_bytes: if (h >> 28) % 100 < 35 {
                20 + ((h >> 36) % 45) as u32
            } else {
                0
            },
            https: (h >> 44) % 100 < if popular { 30 } else { 8 },
            servfail_p: if popular { 0.0005 } else { 0.01 },
            timeout_p: 0.0008,
        }
    }

    /// A name that does not exist (typos, DGA, random names).
    pub(crate) fn nx(cache_p: f64) -> Self {
        NameProfile {
            exists: false,
            cache_p,
            v4: 0,
            v6: 0,
            ttl: 900,
            cname_bytes: 0,
            https: false,
            servfail_p: 0.0,
            timeout_p: 0.0,
        }
    }

    /// An internal (corporate zone) name.
    pub(crate) fn internal(name: &str) -> Self {
        NameProfile {
            cache_p: 0.8,
            v6: 0,
            ttl: 1200,
            cname_bytes: 0,
            https: false,
            servfail_p: 0.0,
            timeout_p: 0.0,
            ..NameProfile::benign(name, Some(0))
        }
    }
}

/// A response (or its absence).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Resp {
    pub rcode: u16,
    pub answers: Vec<IpAddr>,
    pub ttl: Option<u32>,
    /// 0 = no response.
    pub bytes: u32,
    pub latency_ms: f32,
}

/// Header + question + EDNS OPT.
pub(crate) fn base_bytes(name: &str) -> u32 {
    12 + name.len() as u32 + 2 + 4 + 11
}

/// An SOA record in the authority section (negative answers).
pub(crate) fn soa_bytes(name: &str) -> u32 {
    let zone = name.rsplit('.').next().unwrap_or("");
    // owner + type/class/ttl/rdlen + mname + rname + 5 × u32
    (zone.len() as u32 + 2) + 10 + (zone.len() as u32 + 10) + (zone.len() as u32 + 17) + 20
}

/// Latency in ms, rounded to microseconds.
pub(crate) fn latency(rng: &mut Rng, cached: bool) -> f32 {
    let ms = if cached {
        rng.lognormal(0.5, 0.5).clamp(0.08, 6.0)
    } else if rng.chance(0.02) {
        rng.uniform(250.0, 1500.0)
    } else {
        rng.lognormal(38.0, 0.65).clamp(3.0, 900.0)
    };
    round_ms(ms)
}

/// Round to whole microseconds (keeps JSON output short and stable).
pub(crate) fn round_ms(ms: f64) -> f32 {
    ((ms * 1000.0).round() / 1000.0) as f32
}

/// No response.
pub(crate) fn timeout() -> Resp {
    Resp {
        rcode: rcode::SERVFAIL,
        answers: Vec::new(),
        ttl: None,
        bytes: 0,
        latency_ms: 0.0,
    }
}

/// SERVFAIL: fast (DNSSEC failure) or after upstream timeouts.
pub(crate) fn servfail(rng: &mut Rng, name: &str) -> Resp {
    Resp {
        rcode: rcode::SERVFAIL,
        answers: Vec::new(),
        ttl: None,
        bytes: base_bytes(name),
        latency_ms: if rng.chance(0.3) {
            latency(rng, false)
        } else {
            round_ms(rng.uniform(1000.0, 4500.0))
        },
    }
}

/// Resolve `name`/`qt` per `p`.
pub(crate) fn respond(rng: &mut Rng, name: &str, qt: u16, p: &NameProfile) -> Resp {
    if p.timeout_p > 0.0 && rng.chance(p.timeout_p) {
        return timeout();
    }
    if p.servfail_p > 0.0 && rng.chance(p.servfail_p) {
        return servfail(rng, name);
    }
    let cached = rng.chance(p.cache_p);
    let lat = latency(rng, cached);
    let ttl_now = |rng: &mut Rng, ttl: u32| {
        if cached {
            rng.int(1, u64::from(ttl.max(1))) as u32
        } else {
            ttl
        }
    };
    let base = base_bytes(name);
    if !p.exists {
        return Resp {
            rcode: rcode::NXDOMAIN,
            answers: Vec::new(),
            ttl: None,
            bytes: base + soa_bytes(name),
            latency_ms: lat,
        };
    }
    let nodata = |lat| Resp {
        rcode: rcode::NOERROR,
        answers: Vec::new(),
        ttl: None,
        bytes: base + soa_bytes(name),
        latency_ms: lat,
    };
    let rot = rng.index(8);
    match qt {
        qtype::A => {
            let n = usize::from(p.v4.max(1));
            Resp {
                rcode: rcode::NOERROR,
                answers: v4_for(name, n, rot),
                ttl: Some(ttl_now(rng, p.ttl)),
                bytes: base + p.cname_bytes + 16 * n as u32,
                latency_ms: lat,
            }
        }
        qtype::AAAA if p.v6 > 0 => {
            let n = usize::from(p.v6);
            Resp {
                rcode: rcode::NOERROR,
                answers: v6_for(name, n, rot),
                ttl: Some(ttl_now(rng, p.ttl)),
                bytes: base + p.cname_bytes + 28 * n as u32,
                latency_ms: lat,
            }
        }
        qtype::HTTPS if p.https => Resp {
            rcode: rcode::NOERROR,
            answers: Vec::new(),
            ttl: Some(ttl_now(rng, p.ttl)),
            bytes: base + 12 + 25 + (fnv64(name.as_bytes()) % 40) as u32,
            latency_ms: lat,
        },
        qtype::PTR => Resp {
            rcode: rcode::NOERROR,
            answers: Vec::new(),
            ttl: Some(ttl_now(rng, p.ttl.max(3600))),
            bytes: base + 12 + 20 + (fnv64(name.as_bytes()) % 30) as u32,
            latency_ms: lat,
        },
        qtype::MX => {
            let n = 1 + (fnv64(name.as_bytes()) % 5) as u32;
            Resp {
                rcode: rcode::NOERROR,
                answers: Vec::new(),
                ttl: Some(ttl_now(rng, p.ttl.max(300))),
                bytes: base + n * (12 + 2 + 18),
                latency_ms: lat,
            }
        }
        qtype::SRV => Resp {
            rcode: rcode::NOERROR,
            answers: Vec::new(),
            ttl: Some(ttl_now(rng, 600)),
            bytes: base + 2 * (12 + 6 + 16),
            latency_ms: lat,
        },
        qtype::TXT => {
            // SPF / verification / DKIM records: a few hundred bytes, sometimes ~1 KB.
            let len = 40 + (fnv64(name.as_bytes()) % 700) as u32;
            Resp {
                rcode: rcode::NOERROR,
                answers: Vec::new(),
                ttl: Some(ttl_now(rng, p.ttl.max(300))),
                bytes: (base + 12 + len + len / 255 + 1).min(MAX_RESPONSE),
                latency_ms: lat,
            }
        }
        _ => nodata(lat),
    }
}

/// Largest UDP response we model (the EDNS buffer size of the 2020 flag day).
pub(crate) const MAX_RESPONSE: u32 = 1232;

/// A NOERROR response carrying `payload` bytes of record data (TXT, NULL,
/// CNAME, MX tunnels; A answers for exfil).
pub(crate) fn payload_resp(rng: &mut Rng, name: &str, qt: u16, payload: u32, lat: f32) -> Resp {
    let base = base_bytes(name);
    let (answers, bytes) = match qt {
        qtype::A => {
            let ip = IpAddr::from([
                (rng.int(1, 223)) as u8,
                rng.int(0, 255) as u8,
                rng.int(0, 255) as u8,
                rng.int(1, 254) as u8,
            ]);
            (vec![ip], base + 16)
        }
        qtype::TXT => (Vec::new(), base + 12 + payload + payload / 255 + 1),
        _ => (Vec::new(), base + 12 + payload),
    };
    Resp {
        rcode: rcode::NOERROR,
        answers,
        ttl: Some(if qt == qtype::A { 60 } else { 0 }),
        bytes: bytes.min(MAX_RESPONSE),
        latency_ms: lat,
    }
}

/// Build an event.
#[allow(clippy::too_many_arguments)]
pub(crate) fn event(
    ts: TsMicros,
    host: IpAddr,
    server: IpAddr,
    name: &str,
    qt: u16,
    r: Resp,
    label: &'static str,
    scenario: &'static str,
) -> SimEvent {
    SimEvent {
        ts,
        host,
        domain: name.to_string(),
        qtype: qt,
        rcode: r.rcode,
        answers: r.answers,
        ttl: r.ttl,
        server,
        response_bytes: r.bytes,
        latency_ms: r.latency_ms,
        label,
        scenario,
    }
}

#[cfg(test)]
mod tests {
    use super::super::rng::derive;
    use super::*;

    #[test]
    fn responses_are_plausible() {
        let mut r = derive(1, &[]);
        let p = NameProfile::benign("www.example.com", Some(10));
        for _ in 0..200 {
            let a = respond(&mut r, "www.example.com", qtype::A, &p);
            if a.bytes == 0 || a.rcode != 0 {
                continue;
            }
            assert!(!a.answers.is_empty());
            assert!(a.bytes >= 12 + 17 + 16);
            assert!(a.latency_ms > 0.0);
        }
        let nx = respond(&mut r, "nope.example", qtype::A, &NameProfile::nx(0.0));
        assert_eq!(nx.rcode, rcode::NXDOMAIN);
        assert!(nx.answers.is_empty() && nx.bytes > 40);
        let t = payload_resp(&mut r, "x.t.example", qtype::NULL, 5000, 10.0);
        assert_eq!(t.bytes, MAX_RESPONSE);
    }
}
