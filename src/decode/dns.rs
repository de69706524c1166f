//! DNS message parsing: header, first question and a light walk of the answer
//! section. Owns [`parse_dns`], [`DnsParsed`] and [`DnsError`].
//!
//! Everything here is a hand-written walk over the bytes (issue 18): no
//! intermediate `Name`, no allocation, no recursion. It replaced
//! hickory-proto's `Header::read` and `Name::read`, whose results it keeps
//! exactly; the hickory-based parser is kept as the oracle of the
//! differential tests (`dns_reference.rs`, used by `src/decode/tests.rs` and
//! the `parse_dns` fuzz target).
//!
//! # What is parsed
//!
//! * The 12-byte header: id, QR, OPCODE (4 bits), TC, RCODE (low 4 bits),
//!   QDCOUNT, ANCOUNT.
//! * The first question: its name is walked from offset 12, following
//!   compression pointers, then rendered from the wire bytes straight into
//!   the caller's scratch `String` (no intermediate name, no allocation while
//!   its capacity suffices): lowercase ASCII, `\DDD` escapes for bytes
//!   outside `0x21..=0x7e` and for `.` inside a label, no trailing dot, `""`
//!   for the root or an absent question. The rules are hickory's `read_inner`
//!   (hickory-proto 0.25, `rr/domain/name.rs`), checked in this order at each
//!   length byte:
//!   1. *overlap*: after a pointer, the labels reached must stay before the
//!      start of the stretch that pointed to them (hickory's `max_idx`: one
//!      level up only); reaching it is [`NameFault::Overlap`] with that start;
//!   2. the length byte is missing: [`DnsError::Truncated`];
//!   3. `01`/`10` high bits: [`NameFault::LabelCode`] (so a "label over 63"
//!      is always reported as a label code; [`NameFault::LabelTooLong`] is
//!      never produced, as with hickory);
//!   4. a label (1..=63 octets; its bytes missing: truncated) makes the name
//!      too long when `labels + label bytes + 1 (root)` would exceed 255:
//!      [`NameFault::NameTooLong`] carrying *that label's* length, as hickory
//!      reports it (its final `len >= 255` check cannot fire after that);
//!   5. a pointer (both bytes needed, else truncated) must point strictly
//!      before the start of the stretch that contains it, i.e. the name itself
//!      for the first pointer, the previous pointer's target after that:
//!      otherwise [`NameFault::PointerNotPrior`]. Targets therefore strictly
//!      decrease, which rules out loops and forward pointers and bounds the
//!      walk (and at most 255 name octets are ever copied).
//!
//!   Every name fault is reported at the offset of the name (12), as the
//!   mapping of hickory's errors did; a name running off the end of the
//!   message is `Truncated { need: len + 1, have: len }` (hickory did not say
//!   where). On a name error the scratch string is left empty, as it was.
//! * Further questions (QDCOUNT > 1) are skipped.
//! * The answer section: per record the owner name is *skipped* (labels up to the
//!   root byte or a compression pointer), then type, class, TTL and RDLENGTH are
//!   read and the RDATA skipped, except A/AAAA addresses that are pushed into
//!   [`Answers`]; `total` and `min_ttl` are tracked.
//! * Authority and additional sections are never looked at.
//!
//! # Why answer owner names are skipped rather than followed
//!
//! We never use answer owner names. Skipping is O(bytes) with no pointer
//! following. A pointer in an owner name is still checked to point strictly
//! before itself (forward pointers are reported as [`DnsError::BadName`]).
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
/// scratch string has to grow.
pub fn parse_dns<'b>(buf: &[u8], name_scratch: &'b mut String) -> Result<DnsParsed<'b>, DnsError> {
    name_scratch.clear();
    let have = buf.len();
    let Some(h) = buf.first_chunk::<HEADER_LEN>() else {
        return Err(trunc(HEADER_LEN, have));
    };
    let id = u16::from_be_bytes([h[0], h[1]]);
    let flags = h[2];
    let rcode = u16::from(h[3] & 0x0F);
    let qdcount = u16::from_be_bytes([h[4], h[5]]);
    let ancount = u16::from_be_bytes([h[6], h[7]]);

    let mut pos = HEADER_LEN;
    let (qtype, qclass) = if qdcount > 0 {
        pos = match read_question_name(buf, HEADER_LEN, name_scratch) {
            Ok(end) => end,
            Err(e) => {
                name_scratch.clear();
                return Err(e);
            }
        };
        // (As before, a truncated QTYPE/QCLASS leaves the name in the scratch.)
        let qtype = read_u16(buf, &mut pos)?;
        let qclass = read_u16(buf, &mut pos)?;
        (qtype, qclass)
    } else {
        (0, 0)
    };

    let mut answers = Answers::default();
    let mut min_ttl = None;
    let answers_error = walk_rest(buf, pos, qdcount, ancount, &mut answers, &mut min_ttl).err();

    Ok(DnsParsed {
        id,
        response: flags & 0x80 != 0,
        opcode: (flags >> 3) & 0x0F,
        rcode,
        truncated: flags & 0x02 != 0,
        qname: name_scratch.as_str(),
        qtype,
        qclass,
        qdcount,
        answers,
        min_ttl,
        answers_error,
    })
}

/// Walk the name at `start`, following pointers, and render it into `out`
/// (module docs: the rules and their order are hickory's `read_inner`).
/// Returns the offset just past the name where it started (after its first
/// pointer, or after its root byte). `out` is untouched on error.
///
/// The walk only checks the structure; the name is rendered once it is
/// known to be valid. A name without pointers (the common case: the first
/// question has nothing before it to point to but the header) is one
/// stretch of bytes, rendered in one pass by [`render_plain`]; a name with
/// pointers by [`render_escaped`]. The labels before the first pointer are
/// walked by a tighter loop: no overlap is possible there.
fn read_question_name(buf: &[u8], start: usize, out: &mut String) -> Result<usize, DnsError> {
    let have = buf.len();
    let bad = |fault| DnsError::BadName {
        offset: start,
        fault,
    };
    // Cursor, start of the stretch being read (the name, then each pointer
    // target), start of the stretch that pointed here (no limit at first).
    let mut pos = start;
    let mut stretch = start;
    let mut limit = usize::MAX;
    // Where the name ends in the message: set by its first pointer.
    let mut end = None;
    // Encoded length so far, counting the root byte (hickory's `encoded_len`).
    let mut wire = 1usize;
    // The labels before any pointer, where no overlap is possible. A name
    // that ends here has no pointer and is rendered in one pass.
    loop {
        let Some(&b) = buf.get(pos) else {
            return Err(trunc(have + 1, have));
        };
        if b == 0 {
            render_plain(buf.get(start..pos).unwrap_or_default(), out);
            return Ok(pos + 1);
        }
        if b >= 0x40 {
            // A pointer or a reserved label type: the full walk below.
            break;
        }
        let len = usize::from(b);
        if pos + 1 + len > have {
            return Err(trunc(have + 1, have));
        }
        if wire + len + 1 > 255 {
            return Err(bad(NameFault::NameTooLong(len)));
        }
        wire += len + 1;
        pos += 1 + len;
    }
    loop {
        if pos >= limit {
            return Err(bad(NameFault::Overlap(limit)));
        }
        let Some(&b) = buf.get(pos) else {
            return Err(trunc(have + 1, have));
        };
        match b & 0xC0 {
            0x00 => {
                if b == 0 {
                    break;
                }
                let len = usize::from(b);
                if pos + 1 + len > have {
                    return Err(trunc(have + 1, have));
                }
                if wire + len + 1 > 255 {
                    return Err(bad(NameFault::NameTooLong(len)));
                }
                wire += len + 1;
                pos += 1 + len;
            }
            0xC0 => {
                let Some(&lo) = buf.get(pos + 1) else {
                    return Err(trunc(have + 1, have));
                };
                let ptr = (u16::from(b & 0x3F) << 8) | u16::from(lo);
                if usize::from(ptr) >= stretch {
                    return Err(bad(NameFault::PointerNotPrior(ptr)));
                }
                if end.is_none() {
                    end = Some(pos + 2);
                }
                limit = stretch;
                stretch = usize::from(ptr);
                pos = stretch;
            }
            _ => return Err(bad(NameFault::LabelCode(b))),
        }
    }
    // Reached through a pointer: rendered by following it again.
    render_escaped(buf, start, out);
    Ok(end.unwrap_or(pos + 1))
}

/// Render `name`, a valid name without pointers and without its root byte
/// (length byte, label, length byte, label...; empty for the root), into
/// `out`, which is empty.
///
/// The bytes go through [`TEXT`] straight into the string's own buffer
/// (taken as a `Vec<u8>`: one capacity check for the whole name, no copy
/// and no allocation while the capacity suffices), the length bytes inside
/// are overwritten with dots, and the buffer is handed back as a `String`
/// after the UTF-8 check. A byte that needs an escape is 0x80 there, which
/// fails the check: the buffer is emptied and [`render_escaped`] writes the
/// name instead.
fn render_plain(name: &[u8], out: &mut String) {
    let Some((&first, rest)) = name.split_first() else {
        return;
    };
    let mut v = std::mem::take(out).into_bytes();
    v.clear();
    v.extend_from_slice(rest);
    for c in v.iter_mut() {
        *c = TEXT[usize::from(*c)];
    }
    // The length bytes after the first label become the dots.
    let mut i = usize::from(first);
    while let (Some(d), Some(&len)) = (v.get_mut(i), rest.get(i)) {
        *d = b'.';
        i += 1 + usize::from(len);
    }
    match String::from_utf8(v) {
        Ok(s) => *out = s,
        Err(e) => {
            let mut v = e.into_bytes();
            v.clear();
            *out = String::from_utf8(v).unwrap_or_default();
            render_escaped(name, 0, out);
        }
    }
}

/// Render the name at `pos`, already validated by [`read_question_name`],
/// with escapes. Stops at anything invalid and only follows pointers that go
/// strictly backwards, so it ends whatever `buf` holds.
#[cold]
fn render_escaped(buf: &[u8], mut pos: usize, out: &mut String) {
    let mut first = true;
    while let Some(&b) = buf.get(pos) {
        match b & 0xC0 {
            0x00 if b == 0 => return,
            0x00 => {
                let len = usize::from(b);
                let Some(label) = buf.get(pos + 1..pos + 1 + len) else {
                    return;
                };
                if !first {
                    out.push('.');
                }
                first = false;
                push_label(label, out);
                pos += 1 + len;
            }
            0xC0 => {
                let Some(&lo) = buf.get(pos + 1) else {
                    return;
                };
                let ptr = usize::from((u16::from(b & 0x3F) << 8) | u16::from(lo));
                if ptr >= pos {
                    return;
                }
                pos = ptr;
            }
            _ => return,
        }
    }
}

/// Skip questions 2..qdcount from `pos`, then walk `ancount` answer records.
fn walk_rest(
    buf: &[u8],
    mut pos: usize,
    qdcount: u16,
    ancount: u16,
    answers: &mut Answers,
    min_ttl: &mut Option<u32>,
) -> Result<(), DnsError> {
    let have = buf.len();
    for _ in 1..qdcount {
        pos = skip_name(buf, pos)?;
        pos = skip(buf, pos, 4)?;
    }
    for _ in 0..ancount {
        pos = skip_name(buf, pos)?;
        // TYPE, CLASS, TTL, RDLENGTH: one bounds check when all ten bytes
        // are there, else field by field for the error of the one cut.
        let (rtype, ttl, rdlen) = match buf.get(pos..pos + 10) {
            Some(&[t0, t1, _, _, l0, l1, l2, l3, r0, r1]) => {
                pos += 10;
                (
                    u16::from_be_bytes([t0, t1]),
                    u32::from_be_bytes([l0, l1, l2, l3]),
                    usize::from(u16::from_be_bytes([r0, r1])),
                )
            }
            _ => {
                read_u16(buf, &mut pos)?;
                read_u16(buf, &mut pos)?;
                read_u32(buf, &mut pos)?;
                read_u16(buf, &mut pos)?;
                // Not reached: one of the four reads failed.
                return Err(trunc(pos, have));
            }
        };
        let at = pos;
        let rdata = buf
            .get(at..at + rdlen)
            .ok_or_else(|| trunc(at + rdlen, have))?;
        pos = at + rdlen;
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
fn read_u16(buf: &[u8], pos: &mut usize) -> Result<u16, DnsError> {
    let at = *pos;
    match buf.get(at..at + 2) {
        Some(&[a, b]) => {
            *pos = at + 2;
            Ok(u16::from_be_bytes([a, b]))
        }
        _ => Err(trunc(at + 2, buf.len())),
    }
}

#[inline]
fn read_u32(buf: &[u8], pos: &mut usize) -> Result<u32, DnsError> {
    let at = *pos;
    match buf.get(at..at + 4) {
        Some(&[a, b, c, d]) => {
            *pos = at + 4;
            Ok(u32::from_be_bytes([a, b, c, d]))
        }
        _ => Err(trunc(at + 4, buf.len())),
    }
}

/// `pos + n` if the message has those `n` bytes.
#[inline]
fn skip(buf: &[u8], pos: usize, n: usize) -> Result<usize, DnsError> {
    if n <= buf.len().saturating_sub(pos) {
        Ok(pos + n)
    } else {
        Err(trunc(pos + n, buf.len()))
    }
}

/// Skip a wire-format name at `pos` without following pointers; returns the
/// offset past it. Checks label types, label lengths (by construction <= 63),
/// the 255-octet limit for the inline part (root byte not counted) and that a
/// terminating pointer points strictly before itself.
fn skip_name(buf: &[u8], mut pos: usize) -> Result<usize, DnsError> {
    let have = buf.len();
    let start = pos;
    let mut wire = 0usize;
    loop {
        let at = pos;
        let Some(&b) = buf.get(at) else {
            return Err(trunc(at + 1, have));
        };
        pos += 1;
        match b & 0xC0 {
            0x00 => {
                if b == 0 {
                    return Ok(pos);
                }
                let len = usize::from(b);
                wire += len + 1;
                if wire > 255 {
                    return Err(DnsError::BadName {
                        offset: start,
                        fault: NameFault::NameTooLong(wire),
                    });
                }
                pos = skip(buf, pos, len)?;
            }
            0xC0 => {
                let Some(&lo) = buf.get(at + 1) else {
                    return Err(trunc(at + 2, have));
                };
                let ptr = (u16::from(b & 0x3F) << 8) | u16::from(lo);
                if usize::from(ptr) >= at {
                    return Err(DnsError::BadName {
                        offset: at,
                        fault: NameFault::PointerNotPrior(ptr),
                    });
                }
                return Ok(at + 2);
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

/// How a label byte is rendered: itself lowercased, or 0x80 (not ASCII) when
/// it is written `\DDD` (bytes outside `0x21..=0x7e`, and `.`).
static TEXT: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut b = 0x21u8;
    while b <= 0x7e {
        if b != b'.' {
            t[b as usize] = b.to_ascii_lowercase();
        }
        b += 1;
    }
    t
};

/// Append one label with escaping and lowercasing.
pub(crate) fn push_label(label: &[u8], out: &mut String) {
    for &b in label {
        match TEXT[usize::from(b)] {
            0x80 => push_escape(b, out),
            // The mask tells the compiler `t` is ASCII (one byte, no encoding).
            t => out.push(char::from(t & 0x7f)),
        }
    }
}

/// Append `\DDD` for `b`.
fn push_escape(b: u8, out: &mut String) {
    out.push('\\');
    out.push(char::from(b'0' + b / 100));
    out.push(char::from(b'0' + b / 10 % 10));
    out.push(char::from(b'0' + b % 10));
}

/// The hickory-proto parser this module replaced, kept as the oracle of the
/// differential tests (also included by the `parse_dns` fuzz target).
#[cfg(test)]
pub(crate) mod reference {
    use super::{DnsError, DnsParsed, NameFault, HEADER_LEN};
    use crate::event::Answers;
    include!("dns_reference.rs");
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

    /// [`p`], asserting first that the hickory reference parser agrees.
    fn both(buf: &[u8]) -> Result<(String, DnsParsed<'static>), DnsError> {
        let mut s = String::new();
        let r = reference::parse_dns_hickory(buf, &mut s)
            .map(|r| (r.qname.to_string(), DnsParsed { qname: "", ..r }));
        let n = p(buf);
        assert_eq!(n, r, "hickory disagrees on {buf:02x?}");
        n
    }

    fn bad(offset: usize, fault: NameFault) -> DnsError {
        DnsError::BadName { offset, fault }
    }

    #[test]
    fn pointers_into_the_header_follow_hickorys_rules() {
        // name -> 8 -> "\x01z\0" (nscount and arcount bytes)
        let m = [0, 1, 0, 0, 0, 1, 0, 0, 1, b'z', 0, 0, 0xC0, 8, 0, 1, 0, 1];
        assert_eq!(both(&m).unwrap().0, "z");
        // labels, then a pointer: "q" + "z"
        let m = [
            0, 1, 0, 0, 0, 1, 0, 0, 1, b'Z', 0, 0, 1, b'q', 0xC0, 8, 0, 1, 0, 1,
        ];
        let (name, r) = both(&m).unwrap();
        assert_eq!((name.as_str(), r.qtype, r.qclass), ("q.z", 1, 1));
        // a pointer to the root byte: the root name
        let m = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 3, 0, 28, 0, 1];
        assert_eq!(both(&m).unwrap().0, "");
        // name -> 8 -> 2: the labels at 2 run into offset 8, where the
        // stretch that pointed to them starts (one level up): overlap at 8
        let m = [
            0, 1, 3, b'a', b'b', 1, 2, b'c', 0xC0, 2, 0, 0, 0xC0, 8, 0, 1, 0, 1,
        ];
        assert_eq!(both(&m).unwrap_err(), bad(12, NameFault::Overlap(8)));
        // the labels at 4 run into the name itself (offset 12)
        let m = [0, 1, 0, 0, 5, 1, 0, 0, 0, 0, 1, b'x', 0xC0, 4, 0, 1, 0, 1];
        assert_eq!(both(&m).unwrap_err(), bad(12, NameFault::Overlap(12)));
        // the second pointer (at 8) must point before 8, not before 12
        let m = [0, 1, 0, 0, 0, 1, 0, 0, 0xC0, 9, 0, 0, 0xC0, 8, 0, 1, 0, 1];
        assert_eq!(
            both(&m).unwrap_err(),
            bad(12, NameFault::PointerNotPrior(9))
        );
        // a pointer after labels still has to point before the name (12)
        let m = [
            0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 1, b'b', 0xC0, 14,
        ];
        assert_eq!(
            both(&m).unwrap_err(),
            bad(12, NameFault::PointerNotPrior(14))
        );
    }

    #[test]
    fn name_faults_match_hickory_exactly() {
        // 5 labels of 63: the 4th would make 257 octets; hickory reports the
        // length of the label that did not fit
        let long = vec!["a".repeat(63); 5].join(".");
        assert_eq!(
            both(&query(1, &long, 1)).unwrap_err(),
            bad(12, NameFault::NameTooLong(63))
        );
        // reserved label types
        for code in [0x40u8, 0x7f, 0x80, 0xbf] {
            let mut m = query(1, "", 1);
            m.truncate(12);
            m.extend_from_slice(&[1, b'a', code, 0, 0, 1, 0, 1]);
            assert_eq!(both(&m).unwrap_err(), bad(12, NameFault::LabelCode(code)));
        }
        // running off the end: hickory does not say where
        let q = query(1, "abc", 1);
        for cut in [12, 13, 14, 16] {
            assert_eq!(
                both(&q[..cut]).unwrap_err(),
                DnsError::Truncated {
                    need: cut + 1,
                    have: cut
                }
            );
        }
        // half a pointer
        let m = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0xC0];
        assert_eq!(
            both(&m).unwrap_err(),
            DnsError::Truncated { need: 16, have: 15 }
        );
        // a bad name leaves the scratch empty, a truncated QTYPE does not
        let mut s = String::from("old");
        assert!(parse_dns(&m, &mut s).is_err());
        assert_eq!(s, "");
        let q = query(1, "Keep.Me", 1);
        assert!(parse_dns(&q[..q.len() - 3], &mut s).is_err());
        assert_eq!(s, "keep.me");
    }

    #[test]
    fn every_byte_renders_like_hickory() {
        let mut m = query(1, "", 1);
        m.truncate(12);
        for chunk in (0..=255u8).collect::<Vec<_>>().chunks(63) {
            m.push(chunk.len() as u8);
            m.extend_from_slice(chunk);
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        // 256 bytes in 5 labels are too long for one name: split in two
        let (head, tail) = m.split_at(12 + 64 * 2);
        let mut a = head.to_vec();
        a.extend_from_slice(&[0, 0, 1, 0, 1]);
        let mut b = m[..12].to_vec();
        b.extend_from_slice(tail);
        for msg in [a, b] {
            let (name, _) = both(&msg).unwrap();
            assert!(name.is_ascii());
        }
        let (name, _) = both(&query(1, "A-Z.a~z.Q!", 1)).unwrap();
        assert_eq!(name, "a-z.a~z.q!");
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
