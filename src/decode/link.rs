//! Link-layer decoding: turns a captured frame of a given pcap LINKTYPE into the
//! network-layer bytes it carries (or a skip reason). Owns the list of
//! supported link types.
//!
//! Supported: 1 Ethernet (stacked 802.1Q / 802.1ad / 0x9100 tags, PPPoE
//! sessions and MPLS label stacks, up to [`MAX_VLAN_TAGS`] deep), 113 Linux SLL,
//! 276 Linux SLL2, 101/12/14 raw IP, 228 raw IPv4, 229 raw IPv6, 0 BSD null and
//! 108 OpenBSD loop.
//!
//! This layer is hand-written rather than delegated to etherparse: every header
//! here is a fixed-offset read of at most 20 bytes, etherparse's lax slicer caps
//! stacked link extensions at three and stops silently beyond that, and it has
//! no notion of SLL2, BSD null or OpenBSD loop headers. Everything from the IP
//! header down is etherparse's (see [`super::ip`]).

use crate::stats::SkipReason;

/// Deepest VLAN tag stack we walk through (Ethernet).
pub const MAX_VLAN_TAGS: usize = 8;

/// Ethertype IPv4.
pub const ETH_IPV4: u16 = 0x0800;
/// Ethertype IPv6.
pub const ETH_IPV6: u16 = 0x86dd;

/// Link-layer decode failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkError {
    /// Skip reason to count.
    pub reason: SkipReason,
    /// Bytes needed (for truncation) or offending value (ethertype, family, linktype).
    pub value: u32,
    /// Bytes available.
    pub have: usize,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.reason {
            SkipReason::TruncatedLink => {
                write!(
                    f,
                    "link header: need {} bytes, have {}",
                    self.value, self.have
                )
            }
            SkipReason::UnsupportedLinktype => write!(f, "linktype {}", self.value),
            _ => write!(f, "protocol 0x{:04x}", self.value),
        }
    }
}

fn short(need: usize, have: usize) -> LinkError {
    LinkError {
        reason: SkipReason::TruncatedLink,
        value: u32::try_from(need).unwrap_or(u32::MAX),
        have,
    }
}

fn not_ip(value: u32) -> LinkError {
    LinkError {
        reason: SkipReason::NotIp,
        value,
        have: 0,
    }
}

#[inline]
fn be16(d: &[u8], at: usize) -> Option<u16> {
    let b = d.get(at..at.checked_add(2)?)?;
    Some(u16::from_be_bytes([*b.first()?, *b.get(1)?]))
}

/// Return the IP packet carried by `data` under `linktype`. The returned slice
/// starts at the IP header; the version nibble decides v4 or v6 later.
pub fn network_payload(linktype: u32, data: &[u8]) -> Result<&[u8], LinkError> {
    match linktype {
        1 => ethernet(data),
        113 => sll(data),
        276 => sll2(data),
        101 | 12 | 14 | 228 | 229 => Ok(data),
        0 | 108 => null_loop(data),
        other => Err(LinkError {
            reason: SkipReason::UnsupportedLinktype,
            value: other,
            have: data.len(),
        }),
    }
}

#[inline]
fn is_vlan(et: u16) -> bool {
    matches!(et, 0x8100 | 0x88a8 | 0x9100)
}

/// Walk from an ethertype to the IP packet: stacked VLAN tags (802.1Q,
/// 802.1ad, 0x9100), a PPPoE session header carrying PPP IPv4/IPv6, and an
/// MPLS label stack (the payload after the bottom label is IP if its version
/// nibble says so). At most [`MAX_VLAN_TAGS`] tags/labels are walked in total.
fn by_ethertype(mut et: u16, mut payload: &[u8]) -> Result<&[u8], LinkError> {
    let mut depth = 0usize;
    loop {
        depth += 1;
        if depth > MAX_VLAN_TAGS + 1 {
            return Err(not_ip(u32::from(et)));
        }
        match et {
            ETH_IPV4 | ETH_IPV6 => return Ok(payload),
            t if is_vlan(t) => {
                // tag: TCI (2 bytes) then inner ethertype (2 bytes)
                et = be16(payload, 2).ok_or_else(|| short(4, payload.len()))?;
                payload = payload.get(4..).ok_or_else(|| short(4, payload.len()))?;
            }
            0x8864 => {
                // PPPoE session: ver/type, code, session (2), length (2), then PPP protocol
                let proto = be16(payload, 6).ok_or_else(|| short(8, payload.len()))?;
                payload = payload.get(8..).ok_or_else(|| short(8, payload.len()))?;
                et = match proto {
                    0x0021 => ETH_IPV4,
                    0x0057 => ETH_IPV6,
                    other => return Err(not_ip(u32::from(other))),
                };
            }
            0x8847 | 0x8848 => {
                let mut labels = 0usize;
                loop {
                    labels += 1;
                    let entry = payload.get(..4).ok_or_else(|| short(4, payload.len()))?;
                    let bottom = entry.get(2).is_some_and(|b| b & 1 == 1);
                    payload = payload.get(4..).unwrap_or(&[]);
                    if bottom {
                        break;
                    }
                    if labels >= MAX_VLAN_TAGS {
                        return Err(not_ip(u32::from(et)));
                    }
                }
                et = match payload.first().map(|b| b >> 4) {
                    Some(4) => ETH_IPV4,
                    Some(6) => ETH_IPV6,
                    _ => return Err(not_ip(u32::from(et))),
                };
            }
            other => return Err(not_ip(u32::from(other))),
        }
    }
}

/// Ethernet II (then [`by_ethertype`]).
fn ethernet(data: &[u8]) -> Result<&[u8], LinkError> {
    let et = be16(data, 12).ok_or_else(|| short(14, data.len()))?;
    let payload = data.get(14..).ok_or_else(|| short(14, data.len()))?;
    by_ethertype(et, payload)
}

/// Linux cooked capture v1: 16-byte header, protocol at offset 14.
fn sll(data: &[u8]) -> Result<&[u8], LinkError> {
    let et = be16(data, 14).ok_or_else(|| short(16, data.len()))?;
    let payload = data.get(16..).ok_or_else(|| short(16, data.len()))?;
    by_ethertype(et, payload)
}

/// Linux cooked capture v2: 20-byte header, protocol at offset 0.
fn sll2(data: &[u8]) -> Result<&[u8], LinkError> {
    let et = be16(data, 0).ok_or_else(|| short(20, data.len()))?;
    let payload = data.get(20..).ok_or_else(|| short(20, data.len()))?;
    by_ethertype(et, payload)
}

/// BSD null / OpenBSD loop: 4-byte address family in host byte order of the
/// capturing machine (null) or network order (loop); accept both.
fn null_loop(data: &[u8]) -> Result<&[u8], LinkError> {
    let fam: [u8; 4] = data
        .get(..4)
        .and_then(|f| f.try_into().ok())
        .ok_or_else(|| short(4, data.len()))?;
    let (le, be) = (u32::from_le_bytes(fam), u32::from_be_bytes(fam));
    let payload = data.get(4..).ok_or_else(|| short(4, data.len()))?;
    let fam_ok = |f: u32| matches!(f, 2 | 24 | 28 | 30);
    if fam_ok(le) || fam_ok(be) {
        Ok(payload)
    } else {
        Err(not_ip(le))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: [u8; 4] = [0x45, 0, 0, 20];

    fn eth(et: &[u8], rest: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(et);
        f.extend_from_slice(rest);
        f
    }

    #[test]
    fn ethernet_plain_and_tagged() {
        assert_eq!(network_payload(1, &eth(&[8, 0], &IP)).unwrap(), &IP);
        let one = eth(&[0x81, 0, 0, 11, 0x86, 0xdd], &IP);
        assert_eq!(network_payload(1, &one).unwrap(), &IP);
        let qinq = eth(&[0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 8, 0], &IP);
        assert_eq!(network_payload(1, &qinq).unwrap(), &IP);
        let old = eth(
            &[
                0x91, 0, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x81, 0, 0, 4, 8, 0,
            ],
            &IP,
        );
        assert_eq!(network_payload(1, &old).unwrap(), &IP);
        let mut deep = vec![0u8; 12];
        for _ in 0..9 {
            deep.extend_from_slice(&[0x81, 0, 0, 1]);
        }
        deep.extend_from_slice(&[8, 0]);
        assert_eq!(
            network_payload(1, &deep).unwrap_err().reason,
            SkipReason::NotIp
        );
    }

    #[test]
    fn pppoe_and_mpls() {
        // VLAN, VLAN, PPPoE session, PPP IPv4
        let f = eth(
            &[
                0x81, 0, 0, 1, 0x81, 0, 0, 2, 0x88, 0x64, 0x11, 0, 0, 1, 0, 22, 0, 0x21,
            ],
            &IP,
        );
        assert_eq!(network_payload(1, &f).unwrap(), &IP);
        let f = eth(&[0x88, 0x64, 0x11, 0, 0, 1, 0, 22, 0xc0, 0x21], &IP);
        assert_eq!(
            network_payload(1, &f).unwrap_err().reason,
            SkipReason::NotIp
        );
        // two MPLS labels, bottom of stack on the second
        let f = eth(&[0x88, 0x47, 0, 1, 0x00, 64, 0, 2, 0x01, 64], &IP);
        assert_eq!(network_payload(1, &f).unwrap(), &IP);
        let f = eth(&[0x88, 0x47, 0, 1, 0x01, 64], &[0, 0, 0, 0]);
        assert_eq!(
            network_payload(1, &f).unwrap_err().reason,
            SkipReason::NotIp
        );
        let f = eth(&[0x88, 0x47, 0, 1, 0x00], &[]);
        assert_eq!(
            network_payload(1, &f).unwrap_err().reason,
            SkipReason::TruncatedLink
        );
    }

    #[test]
    fn ethernet_errors() {
        assert_eq!(
            network_payload(1, &[0; 13]).unwrap_err(),
            LinkError {
                reason: SkipReason::TruncatedLink,
                value: 14,
                have: 13
            }
        );
        let arp = eth(&[8, 6], &[0; 28]);
        assert_eq!(
            network_payload(1, &arp).unwrap_err().reason,
            SkipReason::NotIp
        );
        let cut = eth(&[0x81, 0, 0], &[]);
        assert_eq!(
            network_payload(1, &cut).unwrap_err().reason,
            SkipReason::TruncatedLink
        );
    }

    #[test]
    fn sll_and_sll2() {
        let mut f = vec![0u8; 14];
        f.extend_from_slice(&[8, 0]);
        f.extend_from_slice(&IP);
        assert_eq!(network_payload(113, &f).unwrap(), &IP);
        let mut f = vec![0x86, 0xdd];
        f.extend_from_slice(&[0u8; 18]);
        f.extend_from_slice(&IP);
        assert_eq!(network_payload(276, &f).unwrap(), &IP);
        assert_eq!(
            network_payload(276, &f[..19]).unwrap_err().reason,
            SkipReason::TruncatedLink
        );
        let mut f = vec![0x81, 0x00];
        f.extend_from_slice(&[0u8; 18]);
        f.extend_from_slice(&[0, 5, 8, 0]);
        f.extend_from_slice(&IP);
        assert_eq!(network_payload(276, &f).unwrap(), &IP);
    }

    #[test]
    fn raw_and_null_and_unknown() {
        for lt in [101, 12, 14, 228, 229] {
            assert_eq!(network_payload(lt, &IP).unwrap(), &IP);
        }
        for fam in [
            [2u8, 0, 0, 0],
            [0, 0, 0, 2],
            [30, 0, 0, 0],
            [0, 0, 0, 24],
            [28, 0, 0, 0],
        ] {
            let mut f = fam.to_vec();
            f.extend_from_slice(&IP);
            assert_eq!(network_payload(0, &f).unwrap(), &IP);
            assert_eq!(network_payload(108, &f).unwrap(), &IP);
        }
        assert_eq!(
            network_payload(0, &[7, 0, 0, 0, 1]).unwrap_err().reason,
            SkipReason::NotIp
        );
        assert_eq!(
            network_payload(0, &[2, 0]).unwrap_err().reason,
            SkipReason::TruncatedLink
        );
        assert_eq!(
            network_payload(105, &IP).unwrap_err().reason,
            SkipReason::UnsupportedLinktype
        );
    }
}
