//! Classic pcap output of simulated lookups.
//!
//! Each event becomes an Ethernet/IPv4 (IPv6 when the client is IPv6) UDP query
//! from `host:ephemeral` to `server:53` at `ts`, and, when the event was
//! answered, the response at `ts + latency`. Responses wait in a min-heap so
//! the file is in timestamp order. Transaction ids and source ports are fresh
//! pseudo-random values per query (seeded from the event stream, so output is
//! deterministic).
//!
//! DNS messages are well formed: queries carry the question and an EDNS OPT
//! record; responses carry the question, A/AAAA answers with the event's TTL,
//! TXT/NULL/CNAME/MX payloads sized to `response_bytes`, PTR/SRV/HTTPS
//! records, an SOA in the authority section for NXDOMAIN and NODATA, and an OPT
//! record whose RFC 7830 padding option makes the message exactly
//! `response_bytes` long when the records alone are shorter (CNAME chains are
//! accounted for in `response_bytes` but not written out). IPv4 header and UDP
//! checksums are computed.

use super::rng::{derive, fnv64, Draw, Rng};
use super::SimEvent;
use crate::event::{qtype, rcode};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv6Addr};

const LINKTYPE_ETHERNET: u32 = 1;
const SNAPLEN: u32 = 65_535;
const RESOLVER_MAC: [u8; 6] = [0x02, 0x53, 0x00, 0x00, 0x00, 0x01];

/// Write `events` as a pcap; returns the number of packets written.
pub fn write_pcap<W: Write>(events: &[SimEvent], mut w: W) -> io::Result<u64> {
    // Global header: magic, v2.4, thiszone 0, sigfigs 0, snaplen, linktype.
    let mut hdr = Vec::with_capacity(24);
    hdr.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
    hdr.extend_from_slice(&2u16.to_le_bytes());
    hdr.extend_from_slice(&4u16.to_le_bytes());
    hdr.extend_from_slice(&0i32.to_le_bytes());
    hdr.extend_from_slice(&0u32.to_le_bytes());
    hdr.extend_from_slice(&SNAPLEN.to_le_bytes());
    hdr.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    w.write_all(&hdr)?;

    let mut order: Vec<usize> = (0..events.len()).collect();
    order.sort_by_key(|&i| events[i].ts);
    let seed = events
        .first()
        .map(|e| e.ts as u64 ^ fnv64(e.domain.as_bytes()))
        .unwrap_or(0)
        ^ events.len() as u64;
    let mut rng = derive(seed, &[0x9CA9]);

    let mut pending: BinaryHeap<Reverse<(i64, u64, Vec<u8>)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut packets = 0u64;
    let mut buf = Vec::with_capacity(1600);
    for i in order {
        let e = &events[i];
        while let Some(Reverse((ts, _, _))) = pending.peek() {
            if *ts > e.ts {
                break;
            }
            if let Some(Reverse((ts, _, frame))) = pending.pop() {
                write_record(&mut w, ts, &frame)?;
                packets += 1;
            }
        }
        let id = rng.int(0, 0xffff) as u16;
        let sport = rng.int(49_152, 65_535) as u16;
        let ip_id = rng.int(0, 0xffff) as u16;
        buf.clear();
        let q = dns_query(id, &e.domain, e.qtype);
        frame(&mut buf, e.host, e.server, sport, 53, ip_id, &q);
        write_record(&mut w, e.ts, &buf)?;
        packets += 1;
        if e.answered() {
            let r = dns_response(e, id, &mut rng);
            let mut f = Vec::with_capacity(r.len() + 62);
            let rid = rng.int(0, 0xffff) as u16;
            frame(&mut f, e.server, e.host, 53, sport, rid, &r);
            let lat = (f64::from(e.latency_ms) * 1000.0).round().max(1.0) as i64;
            pending.push(Reverse((e.ts + lat, seq, f)));
            seq += 1;
        }
    }
    while let Some(Reverse((ts, _, frame))) = pending.pop() {
        write_record(&mut w, ts, &frame)?;
        packets += 1;
    }
    w.flush()?;
    Ok(packets)
}

fn write_record<W: Write>(w: &mut W, ts: i64, data: &[u8]) -> io::Result<()> {
    let sec = ts.div_euclid(1_000_000) as u32;
    let usec = ts.rem_euclid(1_000_000) as u32;
    let len = data.len() as u32;
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&sec.to_le_bytes());
    h[4..8].copy_from_slice(&usec.to_le_bytes());
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h[12..16].copy_from_slice(&len.to_le_bytes());
    w.write_all(&h)?;
    w.write_all(data)
}

fn host_mac(ip: IpAddr) -> [u8; 6] {
    let h = fnv64(ip.to_string().as_bytes()).to_le_bytes();
    [0x02, 0x00, h[0], h[1], h[2], h[3]]
}

fn as_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// Ethernet + IP + UDP around `payload`.
fn frame(
    out: &mut Vec<u8>,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    ip_id: u16,
    payload: &[u8],
) {
    let (smac, dmac) = if dport == 53 {
        (host_mac(src), RESOLVER_MAC)
    } else {
        (RESOLVER_MAC, host_mac(dst))
    };
    out.extend_from_slice(&dmac);
    out.extend_from_slice(&smac);
    let udp_len = (8 + payload.len()) as u16;
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            out.extend_from_slice(&0x0800u16.to_be_bytes());
            let mut ip = [0u8; 20];
            ip[0] = 0x45;
            ip[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
            ip[4..6].copy_from_slice(&ip_id.to_be_bytes());
            ip[6..8].copy_from_slice(&0x4000u16.to_be_bytes()); // DF
            ip[8] = 64;
            ip[9] = 17;
            ip[12..16].copy_from_slice(&s.octets());
            ip[16..20].copy_from_slice(&d.octets());
            let c = checksum(&[&ip]);
            ip[10..12].copy_from_slice(&c.to_be_bytes());
            out.extend_from_slice(&ip);
            let mut pseudo = [0u8; 12];
            pseudo[0..4].copy_from_slice(&s.octets());
            pseudo[4..8].copy_from_slice(&d.octets());
            pseudo[9] = 17;
            pseudo[10..12].copy_from_slice(&udp_len.to_be_bytes());
            udp(out, &pseudo, sport, dport, payload);
        }
        _ => {
            let (s, d) = (as_v6(src), as_v6(dst));
            out.extend_from_slice(&0x86DDu16.to_be_bytes());
            let mut ip = [0u8; 40];
            ip[0] = 0x60;
            ip[4..6].copy_from_slice(&udp_len.to_be_bytes());
            ip[6] = 17;
            ip[7] = 64;
            ip[8..24].copy_from_slice(&s.octets());
            ip[24..40].copy_from_slice(&d.octets());
            out.extend_from_slice(&ip);
            let mut pseudo = [0u8; 40];
            pseudo[0..16].copy_from_slice(&s.octets());
            pseudo[16..32].copy_from_slice(&d.octets());
            pseudo[32..36].copy_from_slice(&u32::from(udp_len).to_be_bytes());
            pseudo[39] = 17;
            udp(out, &pseudo, sport, dport, payload);
        }
    }
}

fn udp(out: &mut Vec<u8>, pseudo: &[u8], sport: u16, dport: u16, payload: &[u8]) {
    let mut h = [0u8; 8];
    h[0..2].copy_from_slice(&sport.to_be_bytes());
    h[2..4].copy_from_slice(&dport.to_be_bytes());
    h[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    let mut c = checksum(&[pseudo, &h, payload]);
    if c == 0 {
        c = 0xffff;
    }
    h[6..8].copy_from_slice(&c.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
}

/// Internet checksum over the concatenation of `parts` (each part is summed as
/// if it started on an even offset; all parts but the last have even length).
fn checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for p in parts {
        let mut it = p.chunks_exact(2);
        for c in &mut it {
            sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
        }
        if let [b] = it.remainder() {
            sum += u32::from(*b) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Wire-format name (labels > 63 bytes are cut, the whole name kept ≤ 255).
fn put_name(out: &mut Vec<u8>, name: &str) {
    let mut total = 1;
    for l in name.split('.').filter(|l| !l.is_empty()) {
        let b = &l.as_bytes()[..l.len().min(63)];
        if total + 1 + b.len() > 255 {
            break;
        }
        out.push(b.len() as u8);
        out.extend_from_slice(b);
        total += 1 + b.len();
    }
    out.push(0);
}

fn header(out: &mut Vec<u8>, id: u16, flags: u16, counts: [u16; 4]) {
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&flags.to_be_bytes());
    for c in counts {
        out.extend_from_slice(&c.to_be_bytes());
    }
}

fn put_opt(out: &mut Vec<u8>, pad: Option<usize>) {
    out.push(0); // root
    out.extend_from_slice(&41u16.to_be_bytes());
    out.extend_from_slice(&1232u16.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    match pad {
        Some(n) => {
            out.extend_from_slice(&((4 + n) as u16).to_be_bytes());
            out.extend_from_slice(&12u16.to_be_bytes()); // Padding
            out.extend_from_slice(&(n as u16).to_be_bytes());
            out.resize(out.len() + n, 0u8);
        }
        None => out.extend_from_slice(&0u16.to_be_bytes()),
    }
}

fn dns_query(id: u16, name: &str, qt: u16) -> Vec<u8> {
    let mut m = Vec::with_capacity(name.len() + 40);
    header(&mut m, id, 0x0100, [1, 0, 0, 1]);
    put_name(&mut m, name);
    m.extend_from_slice(&qt.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    put_opt(&mut m, None);
    m
}

/// Start a resource record owned by the question name (pointer 0xC00C).
fn rr_head(m: &mut Vec<u8>, t: u16, ttl: u32, rdlen: usize) {
    m.extend_from_slice(&0xC00Cu16.to_be_bytes());
    m.extend_from_slice(&t.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&ttl.to_be_bytes());
    m.extend_from_slice(&(rdlen as u16).to_be_bytes());
}

fn filler(rng: &mut Rng, n: usize) -> Vec<u8> {
    const A: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..n).map(|_| A[rng.index(A.len())]).collect()
}

/// A name of about `wire` bytes made of filler labels under `zone`.
fn filler_name(rng: &mut Rng, wire: usize, zone: &str) -> Vec<u8> {
    let mut v = Vec::new();
    let mut left = wire.clamp(2, 250).saturating_sub(zone.len() + 2);
    while left > 2 {
        let l = (left - 1).min(63);
        v.push(l as u8);
        v.extend(filler(rng, l));
        left = left.saturating_sub(l + 1);
    }
    let mut z = Vec::new();
    put_name(&mut z, zone);
    v.extend(z);
    v
}

fn zone_of(name: &str, labels: usize) -> &str {
    let mut idx = name.len();
    let mut seen = 0;
    for (i, c) in name.char_indices().rev() {
        if c == '.' {
            seen += 1;
            if seen == labels {
                idx = i + 1;
                break;
            }
        }
    }
    if seen < labels {
        name
    } else {
        &name[idx.min(name.len())..]
    }
}

fn put_soa(m: &mut Vec<u8>, name: &str) {
    let zone = zone_of(name, 1);
    let mut owner = Vec::new();
    put_name(&mut owner, zone);
    let mut rdata = Vec::new();
    put_name(&mut rdata, &format!("a.nic.{zone}"));
    put_name(&mut rdata, &format!("hostmaster.nic.{zone}"));
    for v in [2_024_030_401u32, 1800, 900, 604_800, 900] {
        rdata.extend_from_slice(&v.to_be_bytes());
    }
    m.extend_from_slice(&owner);
    m.extend_from_slice(&qtype::SOA.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&900u32.to_be_bytes());
    m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    m.extend_from_slice(&rdata);
}

fn dns_response(e: &SimEvent, id: u16, rng: &mut Rng) -> Vec<u8> {
    let target = e.response_bytes as usize;
    let mut m = Vec::with_capacity(target.max(64));
    header(&mut m, id, 0x8180 | (e.rcode & 0xf), [1, 0, 0, 1]);
    put_name(&mut m, &e.domain);
    m.extend_from_slice(&e.qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    let ttl = e.ttl.unwrap_or(300);
    let (mut an, mut ns) = (0u16, 0u16);
    // Bytes left for record data once the OPT (11) and an RR header (12) are in.
    let budget = |m: &Vec<u8>| target.saturating_sub(m.len() + 11 + 12);
    if e.rcode == rcode::NOERROR {
        match e.qtype {
            qtype::A | qtype::AAAA => {
                for ip in &e.answers {
                    match (e.qtype, ip) {
                        (qtype::A, IpAddr::V4(a)) => {
                            rr_head(&mut m, qtype::A, ttl, 4);
                            m.extend_from_slice(&a.octets());
                            an += 1;
                        }
                        (qtype::AAAA, IpAddr::V6(a)) => {
                            rr_head(&mut m, qtype::AAAA, ttl, 16);
                            m.extend_from_slice(&a.octets());
                            an += 1;
                        }
                        _ => {}
                    }
                }
            }
            qtype::TXT => {
                let b = budget(&m).max(2);
                let n = b.div_ceil(256);
                let content = b - n;
                let mut rd = Vec::with_capacity(b);
                let mut left = content.max(1);
                while left > 0 {
                    let l = left.min(255);
                    rd.push(l as u8);
                    rd.extend(filler(rng, l));
                    left -= l;
                }
                rr_head(&mut m, qtype::TXT, ttl, rd.len());
                m.extend_from_slice(&rd);
                an += 1;
            }
            qtype::NULL => {
                let b = budget(&m).clamp(1, 65_000);
                rr_head(&mut m, qtype::NULL, ttl, b);
                let rd: Vec<u8> = (0..b).map(|_| rng.int(0, 255) as u8).collect();
                m.extend_from_slice(&rd);
                an += 1;
            }
            qtype::CNAME | qtype::PTR => {
                let zone = if e.qtype == qtype::PTR {
                    "dynamic.isp.example.net"
                } else {
                    zone_of(&e.domain, 2)
                };
                let rd = filler_name(
                    rng,
                    budget(&m).min(60 + 190 * usize::from(e.qtype == qtype::CNAME)),
                    zone,
                );
                rr_head(&mut m, e.qtype, ttl, rd.len());
                m.extend_from_slice(&rd);
                an += 1;
            }
            qtype::MX => {
                let zone = zone_of(&e.domain, 2);
                let name = filler_name(rng, budget(&m).saturating_sub(2).min(200), zone);
                rr_head(&mut m, qtype::MX, ttl, name.len() + 2);
                m.extend_from_slice(&10u16.to_be_bytes());
                m.extend_from_slice(&name);
                an += 1;
            }
            qtype::SRV => {
                let mut rd = Vec::new();
                rd.extend_from_slice(&0u16.to_be_bytes());
                rd.extend_from_slice(&100u16.to_be_bytes());
                rd.extend_from_slice(&389u16.to_be_bytes());
                put_name(&mut rd, &format!("dc01.{}", zone_of(&e.domain, 2)));
                rr_head(&mut m, qtype::SRV, ttl, rd.len());
                m.extend_from_slice(&rd);
                an += 1;
            }
            qtype::HTTPS if e.ttl.is_some() => {
                // priority 1, target ".", alpn=h3,h2
                let rd: [u8; 13] = [0, 1, 0, 0, 1, 0, 6, 2, b'h', b'3', 2, b'h', b'2'];
                rr_head(&mut m, qtype::HTTPS, ttl, rd.len());
                m.extend_from_slice(&rd);
                an += 1;
            }
            _ => {}
        }
        if an == 0 {
            put_soa(&mut m, &e.domain);
            ns += 1;
        }
    } else if e.rcode == rcode::NXDOMAIN {
        put_soa(&mut m, &e.domain);
        ns += 1;
    }
    let pad = target.checked_sub(m.len() + 11 + 4);
    put_opt(&mut m, pad);
    m[6..8].copy_from_slice(&an.to_be_bytes());
    m[8..10].copy_from_slice(&ns.to_be_bytes());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_reference_header() {
        // Example header from RFC 1071 discussions / Wikipedia.
        let h: [u8; 20] = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0x00, 0x00, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&[&h]), 0xb861);
    }

    #[test]
    fn zone_helper() {
        assert_eq!(zone_of("a.b.example.com", 2), "example.com");
        assert_eq!(zone_of("example.com", 2), "example.com");
        assert_eq!(zone_of("a.b.example.com", 1), "com");
    }

    #[test]
    fn padding_hits_response_size() {
        let e = SimEvent {
            ts: 0,
            host: "10.0.0.1".parse().unwrap(),
            domain: "www.example.com".into(),
            qtype: qtype::A,
            rcode: 0,
            answers: vec!["1.2.3.4".parse().unwrap()],
            ttl: Some(60),
            server: "10.0.0.53".parse().unwrap(),
            response_bytes: 120,
            latency_ms: 1.0,
            label: "benign",
            scenario: "benign",
        };
        let mut r = derive(1, &[]);
        assert_eq!(dns_response(&e, 7, &mut r).len(), 120);
        let e2 = SimEvent {
            qtype: qtype::TXT,
            answers: vec![],
            response_bytes: 700,
            ..e
        };
        assert_eq!(dns_response(&e2, 7, &mut r).len(), 700);
    }
}
