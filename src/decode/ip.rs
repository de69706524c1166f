//! Network layer: IPv4 (with options) and IPv6 (with extension headers) down to
//! the transport protocol number and payload, plus the fragment identity of
//! fragmented packets. Owns [`IpPacket`], [`FragInfo`] and [`IpError`].
//!
//! Header slicing is etherparse's lax slicer ([`LaxIpSlice`]): it checks the
//! IPv4 IHL/total length and walks IPv6 hop-by-hop, routing, destination
//! options, fragment and AH headers, trimming link-layer padding by the IP
//! length fields and falling back to the captured length when a snaplen cut the
//! packet. The IPv6 extension chain is walked by hand, with checked slicing and
//! at most [`MAX_V6_EXTENSIONS`] headers: to find the fragment header (for IPv6
//! etherparse keeps parsing *after* it, which is wrong for non-first fragments,
//! and its extension iterator reads out of bounds once the lax parser stopped
//! on a damaged chain) and to skip extension headers at the start of a
//! reassembled payload ([`skip_v6_exts`]).

use crate::stats::SkipReason;
use etherparse::err::ip::{HeaderError, LaxHeaderSliceError};
use etherparse::LaxIpSlice;
use std::net::IpAddr;

/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;
/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;

/// Identity and position of one IP fragment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragInfo {
    /// IPv4 identification (16 bits) or IPv6 fragment identification.
    pub id: u32,
    /// Byte offset of this fragment's data in the reassembled payload.
    pub offset: usize,
    /// More-fragments flag.
    pub more: bool,
    /// Fragment of an IPv6 packet (the reassembled payload may start with
    /// further extension headers).
    pub v6: bool,
}

/// A decoded IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpPacket<'a> {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Transport protocol (for fragments: the protocol of the fragmented payload).
    pub proto: u8,
    /// Transport header and payload (for fragments: this fragment's data).
    pub payload: &'a [u8],
    /// Present when the packet is a fragment that needs reassembly.
    pub frag: Option<FragInfo>,
}

/// IP decode failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpError {
    /// Not enough bytes for a header.
    Truncated {
        /// Bytes needed.
        need: usize,
        /// Bytes available.
        have: usize,
    },
    /// Header fields inconsistent (IHL < 5, ext header damage, cut fragment).
    Inconsistent(&'static str),
    /// Version nibble is neither 4 nor 6.
    NotIp(u8),
}

impl IpError {
    /// Skip reason to count.
    pub fn reason(&self) -> SkipReason {
        match self {
            IpError::NotIp(_) => SkipReason::NotIp,
            _ => SkipReason::TruncatedIp,
        }
    }
}

impl std::fmt::Display for IpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IpError::Truncated { need, have } => {
                write!(f, "ip header: need {need} bytes, have {have}")
            }
            IpError::Inconsistent(w) => write!(f, "ip header: {w}"),
            IpError::NotIp(v) => write!(f, "ip version {v}"),
        }
    }
}

/// Decode the IP packet at the start of `data`.
pub fn parse(data: &[u8]) -> Result<IpPacket<'_>, IpError> {
    let (ip, stop) = match LaxIpSlice::from_slice(data) {
        Ok(x) => x,
        Err(LaxHeaderSliceError::Len(e)) => {
            return Err(IpError::Truncated {
                need: e.required_len,
                have: e.len,
            })
        }
        Err(LaxHeaderSliceError::Content(HeaderError::UnsupportedIpVersion { version_number })) => {
            return Err(IpError::NotIp(version_number))
        }
        Err(LaxHeaderSliceError::Content(_)) => {
            return Err(IpError::Inconsistent("ihl smaller than header"))
        }
    };
    let src = ip.source_addr();
    let dst = ip.destination_addr();
    match &ip {
        LaxIpSlice::Ipv4(v4) => {
            let h = v4.header();
            let pl = v4.payload();
            if pl.fragmented {
                if pl.incomplete {
                    return Err(IpError::Inconsistent("fragment cut by snaplen"));
                }
                let hlen = h.slice().len();
                let end = usize::from(h.total_len()).min(data.len());
                let frag_data = data.get(hlen..end).unwrap_or(&[]);
                return Ok(IpPacket {
                    src,
                    dst,
                    proto: h.protocol().0,
                    payload: frag_data,
                    frag: Some(FragInfo {
                        id: u32::from(h.identification()),
                        offset: usize::from(h.fragments_offset().byte_offset()),
                        more: h.more_fragments(),
                        v6: false,
                    }),
                });
            }
            if stop.is_some() {
                return Err(IpError::Inconsistent("ipv4 auth header"));
            }
            Ok(IpPacket {
                src,
                dst,
                proto: pl.ip_number.0,
                payload: pl.payload,
                frag: None,
            })
        }
        LaxIpSlice::Ipv6(v6) => {
            let pl = v6.payload();
            // Look for a fragment header ourselves: etherparse 0.18's
            // `Ipv6FragmentHeaderSlice` reads the offset's low bits and the M flag
            // from the wrong bits of byte 3 (RFC 8200: offset = bits 0..13 of
            // bytes 2-3, M = lowest bit), so its `fragmented` flag is unreliable.
            // The chain is walked over `data` with checked slicing, never with
            // etherparse's extension iterator: after the lax parser stopped with
            // an error (e.g. a Hop-by-Hop header naming Hop-by-Hop again) that
            // iterator reads past its slice.
            let frag = find_v6_fragment(data, v6.header().next_header().0);
            if let Some((start, fh)) = frag {
                let field = fh.get(2..4).map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                let id = fh
                    .get(4..8)
                    .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
                let offset = usize::from(field & 0xfff8);
                let more = field & 1 == 1;
                let next = fh.first().copied().unwrap_or(0);
                // An atomic fragment (offset 0, M 0; RFC 6946) is a whole packet.
                if offset != 0 || more {
                    if pl.incomplete {
                        return Err(IpError::Inconsistent("fragment cut by snaplen"));
                    }
                    // Everything after the fragment header, up to the IPv6 payload
                    // length, is this fragment's data.
                    let plen = usize::from(v6.header().payload_length());
                    let end = if plen == 0 {
                        data.len()
                    } else {
                        (40 + plen).min(data.len())
                    };
                    return Ok(IpPacket {
                        src,
                        dst,
                        proto: next,
                        payload: data.get(start..end).unwrap_or(&[]),
                        frag: Some(FragInfo {
                            id,
                            offset,
                            more,
                            v6: true,
                        }),
                    });
                }
            }
            if stop.is_some() {
                return Err(IpError::Inconsistent("ipv6 extension header"));
            }
            Ok(IpPacket {
                src,
                dst,
                proto: pl.ip_number.0,
                payload: pl.payload,
                frag: None,
            })
        }
    }
}

/// Most IPv6 extension headers walked before a packet is refused (RFC 8200
/// allows each kind once, twice for destination options; real stacks send 0-3).
pub const MAX_V6_EXTENSIONS: usize = 8;

/// Next-header values of the IPv6 extension headers this decoder walks.
const EXT_HOP_BY_HOP: u8 = 0;
const EXT_ROUTING: u8 = 43;
const EXT_FRAGMENT: u8 = 44;
const EXT_AUTH: u8 = 51;
const EXT_DEST_OPTS: u8 = 60;
const EXT_MOBILITY: u8 = 135;
const EXT_HIP: u8 = 139;
const EXT_SHIM6: u8 = 140;

/// One step of an IPv6 extension chain.
enum ExtStep {
    /// A header of `len` bytes whose next header is `next`.
    Header { next: u8, len: usize },
    /// The fragment header (always 8 bytes).
    Fragment,
    /// `proto` is not an extension header: the chain ends here.
    End,
}

/// Classify the header `proto` at `data[off..]`, checking every byte it reads.
fn ext_step(proto: u8, data: &[u8], off: usize) -> Result<ExtStep, IpError> {
    let have = data.len().saturating_sub(off);
    let len = match proto {
        EXT_FRAGMENT => {
            if have < 8 {
                return Err(IpError::Truncated { need: 8, have });
            }
            return Ok(ExtStep::Fragment);
        }
        EXT_HOP_BY_HOP | EXT_ROUTING | EXT_DEST_OPTS | EXT_MOBILITY | EXT_HIP | EXT_SHIM6 => {
            let h = data
                .get(off..off + 2)
                .ok_or(IpError::Truncated { need: 2, have })?;
            (usize::from(h[1]) + 1) * 8
        }
        EXT_AUTH => {
            let h = data
                .get(off..off + 2)
                .ok_or(IpError::Truncated { need: 2, have })?;
            (usize::from(h[1]) + 2) * 4
        }
        _ => return Ok(ExtStep::End),
    };
    if have < len {
        return Err(IpError::Truncated { need: len, have });
    }
    Ok(ExtStep::Header {
        next: data[off],
        len,
    })
}

/// Walk the extension chain of the IPv6 packet `data` (fixed header first)
/// whose first next-header is `first`, looking for a fragment header. Returns
/// the offset just past it and its 8 bytes. A damaged or over-long chain
/// returns `None`; the lax parser's own error then decides the packet.
fn find_v6_fragment(data: &[u8], first: u8) -> Option<(usize, &[u8])> {
    let mut proto = first;
    let mut off = 40usize;
    for i in 0..MAX_V6_EXTENSIONS {
        // Hop-by-Hop is only valid directly after the fixed header.
        if proto == EXT_HOP_BY_HOP && i > 0 {
            return None;
        }
        match ext_step(proto, data, off).ok()? {
            ExtStep::Fragment => return Some((off + 8, data.get(off..off + 8)?)),
            ExtStep::Header { next, len } => {
                proto = next;
                off += len;
            }
            ExtStep::End => return None,
        }
    }
    None
}

/// Skip IPv6 extension headers at the start of a reassembled payload whose
/// first header is `proto`. Returns the transport protocol and its bytes.
pub fn skip_v6_exts(proto: u8, data: &[u8]) -> Result<(u8, &[u8]), IpError> {
    let mut proto = proto;
    let mut off = 0usize;
    for _ in 0..MAX_V6_EXTENSIONS {
        match ext_step(proto, data, off) {
            Ok(ExtStep::End) => return Ok((proto, &data[off..])),
            Ok(ExtStep::Header { next, len }) if proto != EXT_HOP_BY_HOP => {
                proto = next;
                off += len;
            }
            _ => break,
        }
    }
    Err(IpError::Inconsistent(
        "ipv6 extension header after reassembly",
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// IPv4 header (no options) + payload; checksum left 0 (not verified).
    pub(crate) fn v4(proto: u8, id: u16, frag_field: u16, payload: &[u8]) -> Vec<u8> {
        let total = (20 + payload.len()) as u16;
        let mut p = vec![0x45, 0];
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
        p.extend_from_slice(&frag_field.to_be_bytes());
        p.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        p.extend_from_slice(payload);
        p
    }

    /// IPv6 header + raw extension bytes + payload; `next` is the first next-header.
    pub(crate) fn v6(next: u8, exts_and_payload: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend_from_slice(&(exts_and_payload.len() as u16).to_be_bytes());
        p.extend_from_slice(&[next, 64]);
        let mut a = [0u8; 16];
        a[0] = 0x20;
        a[1] = 0x01;
        a[15] = 1;
        p.extend_from_slice(&a);
        a[15] = 2;
        p.extend_from_slice(&a);
        p.extend_from_slice(exts_and_payload);
        p
    }

    #[test]
    fn ipv4_plain_with_padding() {
        let mut p = v4(17, 1, 0, &[1, 2, 3, 4, 5, 6, 7, 8]);
        p.extend_from_slice(&[0; 6]); // ethernet padding
        let ip = parse(&p).unwrap();
        assert_eq!(ip.proto, 17);
        assert_eq!(ip.payload, &[1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(ip.src, IpAddr::from([10, 0, 0, 1]));
        assert!(ip.frag.is_none());
    }

    #[test]
    fn ipv4_fragment_fields() {
        let p = v4(17, 0x4242, 0x2000 | 3, &[9; 16]);
        let ip = parse(&p).unwrap();
        assert_eq!(
            ip.frag,
            Some(FragInfo {
                id: 0x4242,
                offset: 24,
                more: true,
                v6: false
            })
        );
        assert_eq!(ip.payload.len(), 16);
    }

    #[test]
    fn ipv4_errors() {
        assert_eq!(parse(&[]).unwrap_err().reason(), SkipReason::TruncatedIp);
        assert_eq!(
            parse(&[0x45, 0, 0]).unwrap_err().reason(),
            SkipReason::TruncatedIp
        );
        assert_eq!(
            parse(&[0x43; 20]).unwrap_err().reason(),
            SkipReason::TruncatedIp
        );
        assert_eq!(parse(&[0x20; 20]).unwrap_err(), IpError::NotIp(2));
    }

    #[test]
    fn ipv6_hop_by_hop_then_fragment() {
        // HBH (next = 44 fragment), 8 bytes; fragment header next = 17, offset 0, M=1
        let mut ext = vec![44, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]);
        ext.extend_from_slice(&[7; 24]);
        let p = v6(0, &ext);
        let ip = parse(&p).unwrap();
        assert_eq!(ip.proto, 17);
        assert_eq!(
            ip.frag,
            Some(FragInfo {
                id: 0xdeadbeef,
                offset: 0,
                more: true,
                v6: true
            })
        );
        assert_eq!(ip.payload, &[7; 24]);
        // non-first fragment whose next header is destination options: data is
        // taken verbatim after the fragment header
        let mut ext = vec![60, 0, 0x00, 0x18, 0, 0, 0, 9];
        ext.extend_from_slice(&[0xff; 10]);
        let pkt = v6(44, &ext);
        let ip = parse(&pkt).unwrap();
        assert_eq!(ip.proto, 60);
        assert_eq!(ip.frag.unwrap().offset, 24);
        assert!(!ip.frag.unwrap().more);
        assert_eq!(ip.payload, &[0xff; 10]);
    }

    #[test]
    fn ipv6_plain_and_dest_opts() {
        let mut ext = vec![17, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[1; 8]);
        let pkt = v6(60, &ext);
        let ip = parse(&pkt).unwrap();
        assert_eq!(ip.proto, 17);
        assert_eq!(ip.payload, &[1; 8]);
        // extension header cut short
        let pkt = v6(60, &[17, 3, 0, 0]);
        let ip = parse(&pkt);
        assert_eq!(ip.unwrap_err().reason(), SkipReason::TruncatedIp);
        // reassembled payload that starts with dest options
        let (proto, rest) = skip_v6_exts(60, &ext).unwrap();
        assert_eq!((proto, rest), (17, &[1u8; 8][..]));
    }

    #[test]
    fn ipv6_hop_by_hop_naming_hop_by_hop_is_refused_in_bounds() {
        // ../shared/data/hostile/ipv6_hbh_hbh.pcap: HBH whose next header is
        // HBH again, and a payload length that runs past the capture.
        let pkt = v6(0, &[0, 0, 1, 4, 0, 0, 0, 0, 0, 0]);
        assert!(parse(&pkt).is_err());
        let mut pkt = v6(0, &[0, 0, 1, 4, 0, 0, 0, 0]);
        pkt[4..6].copy_from_slice(&9u16.to_be_bytes());
        assert!(parse(&pkt).is_err());
        // every prefix of a valid chain fails cleanly, never panics
        let mut ext = vec![44, 0, 1, 4, 0, 0, 0, 0];
        ext.extend_from_slice(&[17, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]);
        ext.extend_from_slice(&[7; 24]);
        let full = v6(0, &ext);
        for n in 0..full.len() {
            let _ = parse(&full[..n]);
        }
    }

    #[test]
    fn ipv6_extension_chain_is_bounded() {
        // 20 destination-options headers: more than MAX_V6_EXTENSIONS
        let mut ext = Vec::new();
        for _ in 0..20 {
            ext.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        ext.extend_from_slice(&[44, 0, 0, 0, 0, 0, 0, 0]);
        let pkt = v6(60, &ext);
        assert_eq!(find_v6_fragment(&pkt, 60), None);
        assert!(skip_v6_exts(60, &ext).is_err());
        // the same chain within the bound finds its fragment header
        let mut ext = Vec::new();
        for _ in 0..3 {
            ext.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]);
        }
        ext.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]);
        ext.extend_from_slice(&[17, 0, 0x00, 0x09, 0, 0, 0, 7]);
        ext.extend_from_slice(&[1; 8]);
        let pkt = v6(60, &ext);
        let ip = parse(&pkt).unwrap();
        assert_eq!(
            ip.frag.map(|f| (f.id, f.offset, f.more)),
            Some((7, 8, true))
        );
        assert_eq!(ip.payload, &[1; 8]);
    }
}
