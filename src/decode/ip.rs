//! Network layer: IPv4 (with options) and IPv6 (with extension headers) down to
//! the transport protocol number and payload, plus the fragment identity of
//! fragmented packets. Owns [`IpPacket`], [`FragInfo`] and [`IpError`].
//!
//! Header slicing is etherparse's lax slicer ([`LaxIpSlice`]): it checks the
//! IPv4 IHL/total length and walks IPv6 hop-by-hop, routing, destination
//! options, fragment and AH headers, trimming link-layer padding by the IP
//! length fields and falling back to the captured length when a snaplen cut the
//! packet. Only two things are done by hand, because etherparse does not expose
//! them in the form reassembly needs: the byte range of a fragment's data (for
//! IPv6 etherparse keeps parsing *after* the fragment header, which is wrong for
//! non-first fragments) and skipping extension headers that sit at the start of
//! a reassembled IPv6 payload ([`skip_v6_exts`], again via etherparse).

use crate::stats::SkipReason;
use etherparse::err::ip::{HeaderError, LaxHeaderSliceError};
use etherparse::{IpNumber, Ipv6ExtensionSlice, Ipv6ExtensionsSlice, LaxIpSlice};
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
            let mut off = 40usize;
            let mut frag = None;
            for ext in v6.extensions().clone() {
                match ext {
                    Ipv6ExtensionSlice::Fragment(fh) => {
                        frag = Some((off + fh.slice().len(), fh.slice()));
                        break;
                    }
                    Ipv6ExtensionSlice::HopByHop(s)
                    | Ipv6ExtensionSlice::Routing(s)
                    | Ipv6ExtensionSlice::DestinationOptions(s) => off += s.slice().len(),
                    Ipv6ExtensionSlice::Authentication(s) => off += s.slice().len(),
                }
            }
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

/// Skip IPv6 extension headers at the start of a reassembled payload whose
/// first header is `proto`. Returns the transport protocol and its bytes.
pub fn skip_v6_exts(proto: u8, data: &[u8]) -> Result<(u8, &[u8]), IpError> {
    let (_, next, rest, err) = Ipv6ExtensionsSlice::from_slice_lax(IpNumber(proto), data);
    if err.is_some() {
        return Err(IpError::Inconsistent(
            "ipv6 extension header after reassembly",
        ));
    }
    Ok((next.0, rest))
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
}
