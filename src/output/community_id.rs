//! Community ID v1 (<https://github.com/corelight/community-id-spec>): one
//! flow hash that Zeek, Suricata, Elastic and Arkime agree on, so an analyst
//! can pivot from a sentineldns lookup to the same flow in those tools
//! (ECS `network.community_id`).
//!
//! `1:` + base64(SHA-1(seed ‖ lower address ‖ higher address ‖ protocol ‖ 0 ‖
//! lower port ‖ higher port)), the endpoints ordered by (address, port) so
//! both directions of a flow give the same ID. No allocation but the
//! returned 30-byte string's own, written into the caller's buffer.

use base64::Engine as _;
use sha1::{Digest, Sha1};
use std::net::IpAddr;

/// IANA protocol number of UDP.
pub const UDP: u8 = 17;
/// IANA protocol number of TCP.
pub const TCP: u8 = 6;

fn octets(ip: &IpAddr, buf: &mut [u8; 16]) -> usize {
    match ip {
        IpAddr::V4(a) => {
            buf[..4].copy_from_slice(&a.octets());
            4
        }
        IpAddr::V6(a) => {
            buf.copy_from_slice(&a.octets());
            16
        }
    }
}

/// Append the Community ID v1 of the flow (`src`:`sport` → `dst`:`dport`,
/// protocol `proto`, `seed` 0 unless the site agreed on another) to `out`,
/// without quotes. Returns `false` and writes nothing when the two
/// addresses are of different families (no such flow).
pub fn write_v1(
    out: &mut Vec<u8>,
    seed: u16,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    proto: u8,
) -> bool {
    let (mut a, mut b) = ([0u8; 16], [0u8; 16]);
    let (na, nb) = (octets(&src, &mut a), octets(&dst, &mut b));
    if na != nb {
        return false;
    }
    let (a, b) = (&a[..na], &b[..nb]);
    let forward = (a, sport) <= (b, dport);
    let (lo, lp, hi, hp) = if forward {
        (a, sport, b, dport)
    } else {
        (b, dport, a, sport)
    };
    let mut h = Sha1::new();
    h.update(seed.to_be_bytes());
    h.update(lo);
    h.update(hi);
    h.update([proto, 0]);
    h.update(lp.to_be_bytes());
    h.update(hp.to_be_bytes());
    let digest = h.finalize();
    let mut enc = [0u8; 28];
    // A 20-byte digest is always 28 base64 characters.
    let n = base64::engine::general_purpose::STANDARD
        .encode_slice(digest, &mut enc)
        .unwrap_or(0);
    out.extend_from_slice(b"1:");
    out.extend_from_slice(&enc[..n]);
    true
}

/// [`write_v1`] into a new string (tests, readers).
pub fn v1(
    seed: u16,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    proto: u8,
) -> Option<String> {
    let mut v = Vec::with_capacity(30);
    write_v1(&mut v, seed, src, sport, dst, dport, proto)
        .then(|| String::from_utf8_lossy(&v).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// The vectors of Zeek's own community-id test
    /// (testing/btest/bifs/community_id_v1.zeek) and the spec's baseline.
    #[test]
    fn matches_the_reference_implementations() {
        let (a, b) = (ip("1.2.3.4"), ip("5.6.7.8"));
        assert_eq!(
            v1(0, a, 1122, b, 3344, TCP).unwrap(),
            "1:wCb3OG7yAFWelaUydu0D+125CLM="
        );
        assert_eq!(
            v1(0, a, 1122, b, 3344, UDP).unwrap(),
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="
        );
        // Both directions of a flow share the ID.
        assert_eq!(v1(0, b, 3344, a, 1122, UDP), v1(0, a, 1122, b, 3344, UDP));
        assert_ne!(v1(1, a, 1122, b, 3344, UDP), v1(0, a, 1122, b, 3344, UDP));
        assert_eq!(v1(0, a, 1, ip("::1"), 2, UDP), None);
        let v6 = v1(0, ip("2001:db8::1"), 5353, ip("2001:db8::2"), 53, UDP).unwrap();
        assert!(v6.starts_with("1:") && v6.len() == 30, "{v6}");
    }
}
