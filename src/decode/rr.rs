//! Every answer record of a DNS message in presentation form, for the outputs
//! that show them (ECS `dns.answers`, Suricata EVE `dns.answers`, Zeek
//! `answers`/`TTLs`). Off the hot path: the windows use only the light walk
//! of [`super::dns`]; this module runs only when a lookup is written out.
//!
//! Names (owner names and names inside RDATA) follow compression pointers,
//! each of which must point strictly before the label sequence it is found
//! in, so a walk always ends (no loops) and takes at most 255 octets of name.
//! They are rendered like the question name ([`super::dns`]): lowercase ASCII,
//! `\DDD` escapes, no trailing dot, `""` for the root.
//!
//! RDATA is rendered as `dig` shows it: addresses for A/AAAA; the target name
//! for CNAME, NS, PTR and DNAME; `preference exchange` for MX; quoted
//! character-strings for TXT and SPF (`"v=spf1 -all"`, `\"`, `\\` and `\DDD`
//! escaped); the seven fields of SOA; `priority weight port target` for SRV;
//! `flags tag "value"` for CAA; and RFC 3597's `\# LEN HEX` for every other
//! type, or when a record's RDATA does not parse as its type says.
//!
//! Nothing allocates once the [`RrScratch`] buffers have grown.

use super::dns::{push_label, DnsError, NameFault};
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

/// One answer record, borrowed from [`RrScratch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnswerRecord<'s> {
    /// Owner name.
    pub name: &'s str,
    /// TYPE.
    pub rtype: u16,
    /// CLASS.
    pub class: u16,
    /// TTL in seconds.
    pub ttl: u32,
    /// RDATA in presentation form.
    pub data: &'s str,
}

/// Reusable buffers for [`for_each_answer`].
#[derive(Debug, Default)]
pub struct RrScratch {
    name: String,
    data: String,
}

const HEADER_LEN: usize = 12;

fn trunc(need: usize, have: usize) -> DnsError {
    DnsError::Truncated { need, have }
}

fn u16_at(buf: &[u8], at: usize) -> Result<u16, DnsError> {
    match buf.get(at..at + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(trunc(at + 2, buf.len())),
    }
}

fn u32_at(buf: &[u8], at: usize) -> Result<u32, DnsError> {
    match buf.get(at..at + 4) {
        Some(b) => Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]])),
        None => Err(trunc(at + 4, buf.len())),
    }
}

/// Read the name at `at` into `out` (appended), following pointers that point
/// strictly before the current label sequence. Returns the offset just past
/// the name *where it started* (past its first pointer, if any).
fn read_name(buf: &[u8], at: usize, out: &mut String) -> Result<usize, DnsError> {
    let have = buf.len();
    let mut pos = at;
    // Start of the label sequence being read: a pointer must go before it.
    let mut seq_start = at;
    let mut end = None;
    let mut wire = 0usize;
    let mut first = true;
    loop {
        let b = *buf.get(pos).ok_or_else(|| trunc(pos + 1, have))?;
        match b & 0xC0 {
            0x00 => {
                if b == 0 {
                    return Ok(end.unwrap_or(pos + 1));
                }
                let len = usize::from(b);
                wire += len + 1;
                if wire > 255 {
                    return Err(DnsError::BadName {
                        offset: at,
                        fault: NameFault::NameTooLong(wire),
                    });
                }
                let label = buf
                    .get(pos + 1..pos + 1 + len)
                    .ok_or_else(|| trunc(pos + 1 + len, have))?;
                if !first {
                    out.push('.');
                }
                first = false;
                push_label(label, out);
                pos += 1 + len;
            }
            0xC0 => {
                let lo = *buf.get(pos + 1).ok_or_else(|| trunc(pos + 2, have))?;
                let ptr = usize::from(u16::from(b & 0x3F) << 8 | u16::from(lo));
                if ptr >= seq_start {
                    return Err(DnsError::BadName {
                        offset: pos,
                        fault: NameFault::PointerNotPrior(ptr as u16),
                    });
                }
                end.get_or_insert(pos + 2);
                pos = ptr;
                seq_start = ptr;
            }
            _ => {
                return Err(DnsError::BadName {
                    offset: pos,
                    fault: NameFault::LabelCode(b),
                })
            }
        }
    }
}

/// Append the character-strings of `rdata` (TXT, SPF) quoted and
/// space-separated; `false` when they overrun the RDATA.
fn push_strings(rdata: &[u8], out: &mut String) -> bool {
    let mut i = 0;
    let mut first = true;
    while i < rdata.len() {
        let n = usize::from(rdata[i]);
        let Some(s) = rdata.get(i + 1..i + 1 + n) else {
            return false;
        };
        if !first {
            out.push(' ');
        }
        first = false;
        push_quoted(s, out);
        i += 1 + n;
    }
    true
}

fn push_quoted(s: &[u8], out: &mut String) {
    out.push('"');
    for &b in s {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(char::from(b)),
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out.push('"');
}

fn push_unknown(rdata: &[u8], out: &mut String) {
    let _ = write!(out, "\\# {}", rdata.len());
    if !rdata.is_empty() {
        out.push(' ');
        for b in rdata {
            let _ = write!(out, "{b:02x}");
        }
    }
}

/// Render the RDATA of a record of type `rtype` found at `at..at+len` of
/// `buf` (names inside may point anywhere before themselves). Falls back to
/// RFC 3597 form when it does not parse as its type.
fn push_rdata(buf: &[u8], rtype: u16, at: usize, len: usize, out: &mut String) {
    let rdata = &buf[at..at + len];
    let mark = out.len();
    let ok = match rtype {
        1 if len == 4 => {
            let _ = write!(
                out,
                "{}",
                Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3])
            );
            true
        }
        28 if len == 16 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(rdata);
            let _ = write!(out, "{}", Ipv6Addr::from(o));
            true
        }
        // CNAME, NS, PTR, DNAME: one name filling the RDATA.
        2 | 5 | 12 | 39 => read_name(buf, at, out).is_ok_and(|e| e == at + len),
        // MX: preference, exchange.
        15 if len >= 3 => {
            let pref = u16::from_be_bytes([rdata[0], rdata[1]]);
            let _ = write!(out, "{pref} ");
            read_name(buf, at + 2, out).is_ok_and(|e| e == at + len)
        }
        16 | 99 => push_strings(rdata, out),
        // SOA: mname rname serial refresh retry expire minimum.
        6 => (|| {
            let e = read_name(buf, at, out).ok()?;
            out.push(' ');
            let e = read_name(buf, e, out).ok()?;
            if e + 20 != at + len {
                return None;
            }
            for k in 0..5 {
                let v = u32_at(buf, e + 4 * k).ok()?;
                let _ = write!(out, " {v}");
            }
            Some(())
        })()
        .is_some(),
        // SRV: priority weight port target.
        33 if len >= 7 => {
            let _ = write!(
                out,
                "{} {} {} ",
                u16::from_be_bytes([rdata[0], rdata[1]]),
                u16::from_be_bytes([rdata[2], rdata[3]]),
                u16::from_be_bytes([rdata[4], rdata[5]])
            );
            read_name(buf, at + 6, out).is_ok_and(|e| e == at + len)
        }
        // CAA: flags tag "value".
        257 if len >= 2 && rdata.len() >= 2 + usize::from(rdata[1]) => {
            let tl = usize::from(rdata[1]);
            let _ = write!(out, "{} ", rdata[0]);
            push_label(&rdata[2..2 + tl], out);
            out.push(' ');
            push_quoted(&rdata[2 + tl..], out);
            true
        }
        _ => false,
    };
    if !ok {
        out.truncate(mark);
        push_unknown(rdata, out);
    }
}

/// Skip the question section; returns the offset of the answer section.
fn skip_questions(buf: &[u8], scratch: &mut String) -> Result<usize, DnsError> {
    let qd = u16_at(buf, 4)?;
    let mut pos = HEADER_LEN;
    for _ in 0..qd {
        scratch.clear();
        pos = read_name(buf, pos, scratch)? + 4;
        if pos > buf.len() {
            return Err(trunc(pos, buf.len()));
        }
    }
    Ok(pos)
}

/// Call `f` for each record of the answer section of `msg`, in order; returns
/// how many were shown. Damage stops the walk with an error after the records
/// already shown (a caller that shows partial answers loses nothing that
/// parsed).
pub fn for_each_answer<F: FnMut(&AnswerRecord<'_>)>(
    msg: &[u8],
    scratch: &mut RrScratch,
    mut f: F,
) -> Result<usize, DnsError> {
    let have = msg.len();
    if have < HEADER_LEN {
        return Err(trunc(HEADER_LEN, have));
    }
    let an = u16_at(msg, 6)?;
    let mut pos = skip_questions(msg, &mut scratch.name)?;
    let mut shown = 0;
    for _ in 0..an {
        scratch.name.clear();
        scratch.data.clear();
        pos = read_name(msg, pos, &mut scratch.name)?;
        let rtype = u16_at(msg, pos)?;
        let class = u16_at(msg, pos + 2)?;
        let ttl = u32_at(msg, pos + 4)?;
        let rdlen = usize::from(u16_at(msg, pos + 8)?);
        let at = pos + 10;
        if at + rdlen > have {
            return Err(trunc(at + rdlen, have));
        }
        push_rdata(msg, rtype, at, rdlen, &mut scratch.data);
        pos = at + rdlen;
        f(&AnswerRecord {
            name: &scratch.name,
            rtype,
            class,
            ttl,
            data: &scratch.data,
        });
        shown += 1;
    }
    Ok(shown)
}

/// The mnemonic of a record type (`A`, `TXT`, …; `TYPE65280` for the rest,
/// RFC 3597).
pub fn type_name(t: u16) -> std::borrow::Cow<'static, str> {
    match type_mnemonic(t) {
        Some(s) => s.into(),
        None => format!("TYPE{t}").into(),
    }
}

/// The mnemonic of a record type, `None` for types without one (no
/// allocation, for the outputs' hot path).
pub fn type_mnemonic(t: u16) -> Option<&'static str> {
    Some(match t {
        1 => "A",
        2 => "NS",
        5 => "CNAME",
        6 => "SOA",
        10 => "NULL",
        12 => "PTR",
        13 => "HINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        24 => "SIG",
        25 => "KEY",
        28 => "AAAA",
        29 => "LOC",
        33 => "SRV",
        35 => "NAPTR",
        39 => "DNAME",
        41 => "OPT",
        43 => "DS",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        252 => "AXFR",
        255 => "ANY",
        257 => "CAA",
        _ => return None,
    })
}

/// The mnemonic of a class (`IN`, `CH`, `HS`, `NONE`, `ANY`; `CLASS7` for
/// the rest).
pub fn class_name(c: u16) -> std::borrow::Cow<'static, str> {
    match c {
        1 => "IN".into(),
        3 => "CH".into(),
        4 => "HS".into(),
        254 => "NONE".into(),
        255 => "ANY".into(),
        _ => format!("CLASS{c}").into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::dns::tests::{push_wire_name, query};

    fn rr(m: &mut Vec<u8>, owner: &[u8], rtype: u16, ttl: u32, rdata: &[u8]) {
        m.extend_from_slice(owner);
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    }

    type Shown = Vec<(String, u16, u32, String)>;

    fn all(m: &[u8]) -> (Shown, Result<usize, DnsError>) {
        let mut s = RrScratch::default();
        let mut v = Vec::new();
        let r = for_each_answer(m, &mut s, |a| {
            v.push((a.name.to_string(), a.rtype, a.ttl, a.data.to_string()))
        });
        (v, r)
    }

    #[test]
    fn every_record_type_in_presentation_form() {
        let mut m = query(7, "WWW.Example.com", 1);
        let mut n = 0u16;
        let mut cname = Vec::new();
        push_wire_name(&mut cname, "edge.cdn.example.net");
        rr(&mut m, &[0xC0, 12], 5, 60, &cname);
        n += 1;
        rr(&mut m, &[0xC0, 12], 1, 30, &[192, 0, 2, 1]);
        n += 1;
        rr(
            &mut m,
            &[0xC0, 12],
            28,
            30,
            &[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
        );
        n += 1;
        // MX whose exchange points back at the question name.
        rr(&mut m, &[0xC0, 12], 15, 300, &[0, 10, 0xC0, 12]);
        n += 1;
        let mut txt = vec![11];
        txt.extend_from_slice(b"v=spf1 \"-all");
        txt[0] = 12;
        txt.push(2);
        txt.extend_from_slice(&[b'a', 0x07]);
        rr(&mut m, &[0xC0, 12], 16, 300, &txt);
        n += 1;
        let mut srv = vec![0, 1, 0, 5, 0x01, 0xbb];
        push_wire_name(&mut srv, "sip.example.com");
        rr(&mut m, &[0xC0, 12], 33, 300, &srv);
        n += 1;
        rr(&mut m, &[0xC0, 12], 65280, 300, &[0xde, 0xad]);
        n += 1;
        let mut soa = Vec::new();
        push_wire_name(&mut soa, "ns1.example.com");
        push_wire_name(&mut soa, "hostmaster.example.com");
        for v in [2024010101u32, 7200, 3600, 1209600, 300] {
            soa.extend_from_slice(&v.to_be_bytes());
        }
        rr(&mut m, &[0xC0, 12], 6, 300, &soa);
        n += 1;
        m[6..8].copy_from_slice(&n.to_be_bytes());
        let (v, r) = all(&m);
        assert_eq!(r, Ok(8));
        let data: Vec<&str> = v.iter().map(|x| x.3.as_str()).collect();
        assert_eq!(
            data,
            [
                "edge.cdn.example.net",
                "192.0.2.1",
                "2001:db8::1",
                "10 www.example.com",
                "\"v=spf1 \\\"-all\" \"a\\007\"",
                "1 5 443 sip.example.com",
                "\\# 2 dead",
                "ns1.example.com hostmaster.example.com 2024010101 7200 3600 1209600 300",
            ]
        );
        assert!(v.iter().all(|x| x.0 == "www.example.com"));
        assert_eq!(v[0].2, 60);
        assert_eq!(type_name(v[6].1), "TYPE65280");
    }

    #[test]
    fn pointer_loops_and_forward_pointers_are_errors_not_hangs() {
        let mut m = query(1, "a.example", 1);
        // Owner name: a pointer to itself.
        let at = m.len() as u8;
        rr(&mut m, &[0xC0, at], 1, 1, &[1, 2, 3, 4]);
        m[6..8].copy_from_slice(&1u16.to_be_bytes());
        let (v, r) = all(&m);
        assert!(v.is_empty());
        assert!(matches!(r, Err(DnsError::BadName { .. })), "{r:?}");
        // A CNAME whose target points into itself: shown as unknown data,
        // never followed forever.
        let mut m = query(1, "a.example", 1);
        let at = (m.len() + 12) as u8;
        rr(&mut m, &[0xC0, 12], 5, 1, &[0xC0, at]);
        m[6..8].copy_from_slice(&1u16.to_be_bytes());
        let (v, r) = all(&m);
        assert_eq!(r, Ok(1));
        assert_eq!(v[0].3, format!("\\# 2 c0{at:02x}"));
    }

    #[test]
    fn truncation_keeps_the_records_before_it() {
        let mut m = query(1, "a.example", 1);
        rr(&mut m, &[0xC0, 12], 1, 1, &[1, 2, 3, 4]);
        rr(&mut m, &[0xC0, 12], 1, 1, &[5, 6, 7, 8]);
        m[6..8].copy_from_slice(&2u16.to_be_bytes());
        m.truncate(m.len() - 2);
        let (v, r) = all(&m);
        assert_eq!(v.len(), 1);
        assert!(matches!(r, Err(DnsError::Truncated { .. })));
        for cut in 0..m.len() {
            let _ = all(&m[..cut]);
        }
    }
}
