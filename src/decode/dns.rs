//! DNS message parsing: header, first question and a light walk of the answer
//! section. Owns [`parse_dns`], [`DnsParsed`] and [`DnsError`].
//!
//! # What is parsed
//!
//! * The 12-byte header (via hickory's `Header::read`).
//! * The first question: its name is read with hickory's `Name::read`, which
//!   follows compression pointers, refuses pointers that do not point strictly
//!   before the name being read (this is what rules out loops and forward
//!   pointers) and enforces the 63-octet label and 255-octet name limits. The
//!   name is then rendered into the caller's scratch `String` (lowercase ASCII,
//!   `\DDD` escapes for bytes outside `0x21..=0x7e` and for `.` inside a label,
//!   no trailing dot, `""` for the root or an absent question).
//! * Further questions (QDCOUNT > 1) are skipped.
//! * The answer section: per record the owner name is *skipped* (labels up to the
//!   root byte or a compression pointer), then type, class, TTL and RDLENGTH are
//!   read and the RDATA skipped, except A/AAAA addresses that are pushed into
//!   [`Answers`]; `total` and `min_ttl` are tracked.
//! * Authority and additional sections are never looked at.
//!
//! # Why answer owner names are skipped rather than read with hickory
//!
//! We never use answer owner names. Skipping is O(bytes) with no recursion, no
//! allocation and no pointer following, whereas `Name::read` follows every
//! pointer recursively (depth bounded only by the 14-bit offset space, which in
//! the answer section can reach thousands of frames), builds a `Name` (heap for
//! names over 32 bytes) and allocates a boxed error on failure. A pointer in an
//! owner name is still checked to point strictly before itself (forward
//! pointers are reported as [`DnsError::BadName`]).
//!
//! # Damage policy
//!
//! A message whose header or first question cannot be parsed is an error
//! ([`DnsError`]) and the caller skips it. Damage after the first question
//! (further questions, answer records) does not discard the message: it is
//! returned with whatever answers were read before the damage and the error is
//! reported in [`DnsParsed::answers_error`]; the decoder counts such messages
//! as [`SkipReason::DnsMalformed`] *and* yields them.

use crate::event::Answers;
use crate::stats::SkipReason;
use hickory_proto::op::Header;
use hickory_proto::rr::Name;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};
use hickory_proto::ProtoErrorKind;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// DNS header length.
pub const HEADER_LEN: usize = 12;

/// Why a name was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameFault {
    /// A label length byte with the reserved `01`/`10` high bits (i.e. a label
    /// longer than 63 octets or an extended label type).
    LabelCode(u8),
    /// A label longer than 63 octets.
    LabelTooLong(usize),
    /// The name exceeds 255 octets.
    NameTooLong(usize),
    /// A compression pointer that does not point strictly before the name
    /// (forward pointer or loop).
    PointerNotPrior(u16),
    /// Labels reached through a pointer overlap the name being read (loop).
    Overlap(usize),
}

impl std::fmt::Display for NameFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NameFault::LabelCode(b) => write!(f, "reserved label type 0x{b:02x}"),
            NameFault::LabelTooLong(n) => write!(f, "label of {n} octets"),
            NameFault::NameTooLong(n) => write!(f, "name of {n} octets"),
            NameFault::PointerNotPrior(p) => write!(f, "pointer to {p} is not prior"),
            NameFault::Overlap(o) => write!(f, "labels overlap at {o}"),
        }
    }
}

/// Longest name in presentation format, without the trailing dot (RFC 1035:
/// 255 octets on the wire).
pub const MAX_TEXT_NAME: usize = 253;
/// Longest label (RFC 1035).
pub const MAX_LABEL: usize = 63;

/// Why a name given as text (JSONL, lists) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextNameError {
    /// Longer than [`MAX_TEXT_NAME`] bytes (after one trailing dot is removed).
    #[error("name of {0} bytes is over the {MAX_TEXT_NAME}-byte limit")]
    TooLong(usize),
    /// A label longer than [`MAX_LABEL`] bytes.
    #[error("label {index} is {len} bytes, over the {MAX_LABEL}-byte limit")]
    LabelTooLong {
        /// 1-based label position from the left.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// Two dots in a row, or a leading dot.
    #[error("label {0} is empty")]
    EmptyLabel(usize),
}

/// Hold a text name to the wire limits: one trailing dot is removed, then the
/// name must be at most [`MAX_TEXT_NAME`] bytes with every label 1 to
/// [`MAX_LABEL`] bytes. `""` (or `"."`) is the root and passes. Returns the
/// name without its trailing dot. The length is checked first, so the cost is
/// bounded whatever the input size.
///
/// ```
/// use sentineldns::decode::dns::{check_text_name, TextNameError};
/// assert_eq!(check_text_name("www.example.com."), Ok("www.example.com"));
/// assert_eq!(check_text_name("a..b"), Err(TextNameError::EmptyLabel(2)));
/// assert!(check_text_name(&"a".repeat(64)).is_err());
/// ```
pub fn check_text_name(name: &str) -> Result<&str, TextNameError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.len() > MAX_TEXT_NAME {
        return Err(TextNameError::TooLong(name.len()));
    }
    if name.is_empty() {
        return Ok(name);
    }
    for (i, label) in name.split('.').enumerate() {
        if label.is_empty() {
            return Err(TextNameError::EmptyLabel(i + 1));
        }
        if label.len() > MAX_LABEL {
            return Err(TextNameError::LabelTooLong {
                index: i + 1,
                len: label.len(),
            });
        }
    }
    Ok(name)
}

/// A DNS parse failure. Every variant carries the numbers needed to explain it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    /// The message ended before a field: `need` bytes were required, `have` exist.
    #[error("truncated: need {need} bytes, have {have}")]
    Truncated {
        /// Bytes needed (offset just past the field that could not be read).
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// A name at `offset` is invalid.
    #[error("bad name at offset {offset}: {fault}")]
    BadName {
        /// Offset of the name (or of the pointer) in the message.
        offset: usize,
        /// What is wrong with it.
        fault: NameFault,
    },
    /// Other structural damage at `offset`.
    #[error("malformed at offset {offset}: {what} ({value})")]
    Malformed {
        /// Offset in the message.
        offset: usize,
        /// What is wrong.
        what: &'static str,
        /// The offending value.
        value: usize,
    },
}

impl DnsError {
    /// The skip reason this error is counted under.
    pub fn reason(&self) -> SkipReason {
        match self {
            DnsError::Truncated { .. } => SkipReason::DnsTruncated,
            DnsError::BadName { .. } => SkipReason::DnsBadName,
            DnsError::Malformed { .. } => SkipReason::DnsMalformed,
        }
    }
}

/// The parts of a DNS message the sensor uses. `qname` borrows the caller's
/// scratch string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsParsed<'b> {
    /// Transaction id.
    pub id: u16,
    /// QR bit.
    pub response: bool,
    /// OPCODE.
    pub opcode: u8,
    /// Header RCODE (4 bits).
    pub rcode: u16,
    /// TC bit.
    pub truncated: bool,
    /// First question name, normalised (see module docs).
    pub qname: &'b str,
    /// First question type (0 without a question).
    pub qtype: u16,
    /// First question class (0 without a question).
    pub qclass: u16,
    /// QDCOUNT from the header.
    pub qdcount: u16,
    /// A/AAAA addresses and the number of answer records walked.
    pub answers: Answers,
    /// Smallest TTL of the answer records walked.
    pub min_ttl: Option<u32>,
    /// Damage found after the first question (the message is still usable).
    /// This field is an addition to the original API sketch.
    pub answers_error: Option<DnsError>,
}

#[inline]
fn trunc(need: usize, have: usize) -> DnsError {
    DnsError::Truncated { need, have }
}

/// Parse one DNS message (no transport framing).
///
/// `name_scratch` is cleared and receives the first question name; the
/// returned [`DnsParsed::qname`] borrows it. No allocation happens unless the
/// scratch string has to grow or the message is invalid.
pub fn parse_dns<'b>(buf: &[u8], name_scratch: &'b mut String) -> Result<DnsParsed<'b>, DnsError> {
    name_scratch.clear();
    let have = buf.len();
    if have < HEADER_LEN {
        return Err(trunc(HEADER_LEN, have));
    }
    let mut dec = BinDecoder::new(buf);
    let header = Header::read(&mut dec).map_err(|_| trunc(HEADER_LEN, have))?;
    let qdcount = header.query_count();
    let ancount = header.answer_count();

    let (qtype, qclass) = if qdcount > 0 {
        let start = dec.index();
        let name = Name::read(&mut dec).map_err(|e| name_error(&e, start, have))?;
        render_name(&name, name_scratch);
        let qtype = read_u16(&mut dec, have)?;
        let qclass = read_u16(&mut dec, have)?;
        (qtype, qclass)
    } else {
        (0, 0)
    };

    let mut answers = Answers::default();
    let mut min_ttl = None;
    let answers_error =
        walk_rest(&mut dec, buf, qdcount, ancount, &mut answers, &mut min_ttl).err();

    Ok(DnsParsed {
        id: header.id(),
        response: header.message_type() == hickory_proto::op::MessageType::Response,
        opcode: u8::from(header.op_code()),
        rcode: u16::from(header.response_code()),
        truncated: header.truncated(),
        qname: name_scratch.as_str(),
        qtype,
        qclass,
        qdcount,
        answers,
        min_ttl,
        answers_error,
    })
}

/// Skip questions 2..qdcount, then walk `ancount` answer records.
fn walk_rest(
    dec: &mut BinDecoder<'_>,
    buf: &[u8],
    qdcount: u16,
    ancount: u16,
    answers: &mut Answers,
    min_ttl: &mut Option<u32>,
) -> Result<(), DnsError> {
    let have = buf.len();
    for _ in 1..qdcount {
        skip_name(dec, buf)?;
        skip(dec, 4, have)?;
    }
    for _ in 0..ancount {
        skip_name(dec, buf)?;
        let rtype = read_u16(dec, have)?;
        let _class = read_u16(dec, have)?;
        let ttl = read_u32(dec, have)?;
        let rdlen = read_u16(dec, have)? as usize;
        let at = dec.index();
        let rdata = dec
            .read_slice(rdlen)
            .map_err(|_| trunc(at + rdlen, have))?
            .unverified();
        match (rtype, rdata.len()) {
            (1, 4) => {
                let mut o = [0u8; 4];
                o.copy_from_slice(rdata);
                answers.push(IpAddr::V4(Ipv4Addr::from(o)));
            }
            (28, 16) => {
                let mut o = [0u8; 16];
                o.copy_from_slice(rdata);
                answers.push(IpAddr::V6(Ipv6Addr::from(o)));
            }
            (1, n) | (28, n) => {
                return Err(DnsError::Malformed {
                    offset: at,
                    what: "address rdlength",
                    value: n,
                })
            }
            _ => {}
        }
        answers.total = answers.total.saturating_add(1);
        *min_ttl = Some(min_ttl.map_or(ttl, |m: u32| m.min(ttl)));
    }
    Ok(())
}

#[inline]
fn read_u16(dec: &mut BinDecoder<'_>, have: usize) -> Result<u16, DnsError> {
    let at = dec.index();
    dec.read_u16()
        .map(|v| v.unverified())
        .map_err(|_| trunc(at + 2, have))
}

#[inline]
fn read_u32(dec: &mut BinDecoder<'_>, have: usize) -> Result<u32, DnsError> {
    let at = dec.index();
    dec.read_u32()
        .map(|v| v.unverified())
        .map_err(|_| trunc(at + 4, have))
}

#[inline]
fn skip(dec: &mut BinDecoder<'_>, n: usize, have: usize) -> Result<(), DnsError> {
    let at = dec.index();
    dec.read_slice(n)
        .map(|_| ())
        .map_err(|_| trunc(at + n, have))
}

/// Skip a wire-format name without following pointers. Checks label types,
/// label lengths (by construction <= 63), the 255-octet limit for the inline
/// part and that a terminating pointer points strictly before itself.
fn skip_name(dec: &mut BinDecoder<'_>, buf: &[u8]) -> Result<(), DnsError> {
    let have = buf.len();
    let start = dec.index();
    let mut wire = 0usize;
    loop {
        let at = dec.index();
        let b = dec.pop().map_err(|_| trunc(at + 1, have))?.unverified();
        match b & 0xC0 {
            0x00 => {
                if b == 0 {
                    return Ok(());
                }
                let len = usize::from(b);
                wire += len + 1;
                if wire > 255 {
                    return Err(DnsError::BadName {
                        offset: start,
                        fault: NameFault::NameTooLong(wire),
                    });
                }
                skip(dec, len, have)?;
            }
            0xC0 => {
                let lo = dec.pop().map_err(|_| trunc(at + 2, have))?.unverified();
                let ptr = (u16::from(b & 0x3F) << 8) | u16::from(lo);
                if usize::from(ptr) >= at {
                    return Err(DnsError::BadName {
                        offset: at,
                        fault: NameFault::PointerNotPrior(ptr),
                    });
                }
                return Ok(());
            }
            _ => {
                return Err(DnsError::BadName {
                    offset: at,
                    fault: NameFault::LabelCode(b),
                })
            }
        }
    }
}

/// Map a hickory name error onto [`DnsError`].
fn name_error(e: &hickory_proto::ProtoError, start: usize, have: usize) -> DnsError {
    let fault = match e.kind() {
        ProtoErrorKind::LabelBytesTooLong(n) => NameFault::LabelTooLong(*n),
        ProtoErrorKind::UnrecognizedLabelCode(c) => NameFault::LabelCode(*c),
        ProtoErrorKind::DomainNameTooLong(n) => NameFault::NameTooLong(*n),
        ProtoErrorKind::PointerNotPriorToLabel { ptr, .. } => NameFault::PointerNotPrior(*ptr),
        ProtoErrorKind::LabelOverlapsWithOther { other, .. } => NameFault::Overlap(*other),
        // Only "insufficient bytes" remains: the name ran off the end. hickory does
        // not say how far it got; at least one more byte than we have is needed.
        _ => return trunc(have + 1, have),
    };
    DnsError::BadName {
        offset: start,
        fault,
    }
}

/// Render `name` into `out` (which the caller has cleared): lowercase ASCII,
/// dot-joined, no trailing dot, `\DDD` for bytes outside `0x21..=0x7e` and `.`.
fn render_name(name: &Name, out: &mut String) {
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        push_label(label, out);
    }
}

/// Append one label with escaping and lowercasing.
pub(crate) fn push_label(label: &[u8], out: &mut String) {
    for &b in label {
        if (0x21..=0x7e).contains(&b) && b != b'.' {
            out.push(char::from(b.to_ascii_lowercase()));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\{b:03}");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Build a query for `name` (dotted, no escapes) with `qtype` and `id`.
    pub(crate) fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
        push_wire_name(&mut m, name);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m
    }

    pub(crate) fn push_wire_name(m: &mut Vec<u8>, name: &str) {
        for l in name.split('.').filter(|l| !l.is_empty()) {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.push(0);
    }

    /// A response to `query(id, name, 1)` with `ips` as A records (TTL 300+i)
    /// whose owner names are pointers to the question.
    pub(crate) fn response_a(id: u16, name: &str, ips: &[[u8; 4]]) -> Vec<u8> {
        let mut m = query(id, name, 1);
        m[2] = 0x81;
        m[3] = 0x80;
        m[6..8].copy_from_slice(&(ips.len() as u16).to_be_bytes());
        for (i, ip) in ips.iter().enumerate() {
            m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
            m.extend_from_slice(&(300 + i as u32).to_be_bytes());
            m.extend_from_slice(&[0, 4]);
            m.extend_from_slice(ip);
        }
        m
    }

    fn p(buf: &[u8]) -> Result<(String, DnsParsed<'static>), DnsError> {
        let mut s = String::new();
        let r = parse_dns(buf, &mut s)?;
        let owned = DnsParsed { qname: "", ..r };
        Ok((r.qname.to_string(), owned))
    }

    #[test]
    fn simple_query() {
        let q = query(0x1234, "WWW.Example.COM", 28);
        let (name, r) = p(&q).unwrap();
        assert_eq!(name, "www.example.com");
        assert_eq!(r.id, 0x1234);
        assert_eq!(r.qtype, 28);
        assert_eq!(r.qclass, 1);
        assert!(!r.response);
        assert_eq!(r.qdcount, 1);
        assert_eq!(r.answers.total, 0);
        assert_eq!(r.min_ttl, None);
        assert!(r.answers_error.is_none());
    }

    #[test]
    fn response_with_answers() {
        let ips = [
            [1, 2, 3, 4],
            [5, 6, 7, 8],
            [9, 9, 9, 9],
            [10, 0, 0, 1],
            [10, 0, 0, 2],
        ];
        let m = response_a(7, "a.b", &ips);
        let (name, r) = p(&m).unwrap();
        assert_eq!(name, "a.b");
        assert!(r.response);
        assert_eq!(r.rcode, 0);
        assert_eq!(r.answers.total, 5);
        assert_eq!(r.answers.ips().len(), 4);
        assert_eq!(r.answers.ips()[0], IpAddr::from([1, 2, 3, 4]));
        assert_eq!(r.min_ttl, Some(300));
    }

    #[test]
    fn aaaa_answer_and_rcode_opcode() {
        let mut m = query(9, "x.y", 28);
        m[2] = 0x80 | (5 << 3) | 0x02; // response, opcode 5, TC
        m[3] = 0x03; // NXDOMAIN
        m[7] = 1;
        m.extend_from_slice(&[0xC0, 12, 0, 28, 0, 1, 0, 0, 0, 60, 0, 16]);
        m.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        let (_, r) = p(&m).unwrap();
        assert_eq!(r.opcode, 5);
        assert_eq!(r.rcode, 3);
        assert!(r.truncated);
        assert_eq!(r.answers.ips()[0], "2001:db8::1".parse::<IpAddr>().unwrap());
        assert_eq!(r.min_ttl, Some(60));
    }

    #[test]
    fn truncated_header_reports_need_have() {
        let q = query(1, "a", 1);
        assert_eq!(
            p(&q[..7]).unwrap_err(),
            DnsError::Truncated { need: 12, have: 7 }
        );
        assert_eq!(p(&q[..7]).unwrap_err().reason(), SkipReason::DnsTruncated);
        assert_eq!(
            p(&[]).unwrap_err(),
            DnsError::Truncated { need: 12, have: 0 }
        );
    }

    #[test]
    fn truncated_question() {
        let q = query(1, "abc", 1);
        // name complete, qtype missing a byte
        let cut = &q[..q.len() - 3];
        assert_eq!(
            p(cut).unwrap_err(),
            DnsError::Truncated {
                need: q.len() - 2,
                have: q.len() - 3
            }
        );
        // name cut inside a label
        let e = p(&q[..14]).unwrap_err();
        assert_eq!(e.reason(), SkipReason::DnsTruncated);
    }

    #[test]
    fn compression_loop_is_bad_name() {
        // question name is a pointer to itself (offset 12)
        let mut m = query(1, "", 1);
        m.truncate(12);
        m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        let e = p(&m).unwrap_err();
        assert!(matches!(e, DnsError::BadName { .. }), "{e:?}");
        assert_eq!(e.reason(), SkipReason::DnsBadName);
        // two pointers pointing at each other inside the header area:
        // header bytes 2..4 = C0 04, 4..6 = C0 02 would require qdcount bytes; use
        // a name "\x01a" + pointer back to itself
        let mut m = query(1, "", 1);
        m.truncate(12);
        m.extend_from_slice(&[1, b'a', 0xC0, 12, 0, 1, 0, 1]);
        assert_eq!(p(&m).unwrap_err().reason(), SkipReason::DnsBadName);
    }

    #[test]
    fn forward_pointer_is_bad_name() {
        let mut m = query(1, "", 1);
        m.truncate(12);
        m.extend_from_slice(&[0xC0, 20, 0, 1, 0, 1, 0, 0, 1, b'a', 0]);
        let e = p(&m).unwrap_err();
        assert_eq!(
            e,
            DnsError::BadName {
                offset: 12,
                fault: NameFault::PointerNotPrior(20)
            }
        );
        // forward pointer in an answer owner name: message kept, error reported
        let mut m = response_a(1, "a", &[[1, 1, 1, 1]]);
        let at = m.len() - 16;
        m[at + 1] = 200;
        let (name, r) = p(&m).unwrap();
        assert_eq!(name, "a");
        assert!(matches!(
            r.answers_error,
            Some(DnsError::BadName {
                fault: NameFault::PointerNotPrior(200),
                ..
            })
        ));
    }

    #[test]
    fn label_over_63_is_bad_name() {
        let mut m = query(1, "", 1);
        m.truncate(12);
        m.push(64);
        m.extend_from_slice(&[b'a'; 64]);
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        let e = p(&m).unwrap_err();
        assert_eq!(e.reason(), SkipReason::DnsBadName);
        assert!(matches!(
            e,
            DnsError::BadName {
                fault: NameFault::LabelCode(64),
                ..
            }
        ));
    }

    #[test]
    fn name_over_255_is_bad_name() {
        let long = vec!["a".repeat(63); 5].join(".");
        let q = query(1, &long, 1);
        let e = p(&q).unwrap_err();
        assert!(matches!(
            e,
            DnsError::BadName {
                fault: NameFault::NameTooLong(_),
                ..
            }
        ));
        // exactly 255 octets on the wire is fine: 3*64 + 62 + 1 = 255
        let ok = format!("{}.{}", vec!["b".repeat(63); 3].join("."), "c".repeat(61));
        let q = query(1, &ok, 1);
        let (name, _) = p(&q).unwrap();
        assert_eq!(name, ok);
    }

    #[test]
    fn escapes_and_root_and_no_question() {
        let mut m = query(1, "", 1);
        m.truncate(12);
        m.extend_from_slice(&[3, b'a', b'.', 0x07, 2, b' ', 0xff, 0, 0, 16, 0, 1]);
        let (name, r) = p(&m).unwrap();
        assert_eq!(name, "a\\046\\007.\\032\\255");
        assert_eq!(r.qtype, 16);

        let q = query(1, "", 2);
        let (name, r) = p(&q).unwrap();
        assert_eq!(name, "");
        assert_eq!(r.qtype, 2);

        let mut m = query(1, "a", 1);
        m.truncate(12);
        m[5] = 0; // qdcount 0
        let (name, r) = p(&m).unwrap();
        assert_eq!(name, "");
        assert_eq!((r.qtype, r.qclass, r.qdcount), (0, 0, 0));
    }

    #[test]
    fn damaged_answers_keep_message() {
        let mut m = response_a(3, "k.l", &[[1, 1, 1, 1], [2, 2, 2, 2]]);
        m.truncate(m.len() - 2);
        let (name, r) = p(&m).unwrap();
        assert_eq!(name, "k.l");
        assert_eq!(r.answers.total, 1);
        assert_eq!(r.answers.ips(), &[IpAddr::from([1, 1, 1, 1])]);
        assert!(matches!(r.answers_error, Some(DnsError::Truncated { .. })));
        // A record with wrong rdlength
        let mut m = response_a(3, "k", &[[1, 1, 1, 1]]);
        let n = m.len();
        m[n - 5] = 3;
        m.pop();
        let (_, r) = p(&m).unwrap();
        assert!(matches!(r.answers_error, Some(DnsError::Malformed { .. })));
    }

    #[test]
    fn multiple_questions_are_skipped() {
        let mut m = query(5, "q1.example", 1);
        m[5] = 2;
        push_wire_name(&mut m, "q2");
        m.extend_from_slice(&[0, 1, 0, 1]);
        m[2] = 0x81;
        m[7] = 1;
        m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 9, 8, 7, 6]);
        let (name, r) = p(&m).unwrap();
        assert_eq!(name, "q1.example");
        assert_eq!(r.qdcount, 2);
        assert_eq!(r.answers.ips(), &[IpAddr::from([9, 8, 7, 6])]);
        assert_eq!(r.min_ttl, Some(5));
    }

    #[test]
    fn scratch_is_reused() {
        let mut s = String::with_capacity(64);
        let cap = s.capacity();
        for n in ["a.b", "ccc.ddd.eee", "x"] {
            let q = query(1, n, 1);
            let r = parse_dns(&q, &mut s).unwrap();
            assert_eq!(r.qname, n);
        }
        assert_eq!(s.capacity(), cap);
    }
}
