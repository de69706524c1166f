//! Property tests: hostile bytes never panic the DNS parser or the decoder (under
//! every supported linktype), and well-formed queries round-trip.

use proptest::prelude::*;
use sentineldns::decode::{parse_dns, DecodeConfig, Decoder, Location};
use sentineldns::event::RawPacket;
use sentineldns::stats::Stats;

const LINKTYPES: [u32; 11] = [1, 113, 276, 101, 12, 14, 228, 229, 0, 108, 147];

const LOC: Location<'static> = Location {
    source: "prop",
    packet: 1,
};

/// A label of 1..=63 bytes drawn from `[a-z0-9-]`.
fn label() -> impl Strategy<Value = String> {
    "[a-z0-9-]{1,63}"
}

/// A name of up to 4 labels that fits 255 octets on the wire.
fn name() -> impl Strategy<Value = String> {
    prop::collection::vec(label(), 0..5)
        .prop_filter("fits 255 octets", |ls| {
            ls.iter().map(|l| l.len() + 1).sum::<usize>() < 255
        })
        .prop_map(|ls| ls.join("."))
}

fn query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for l in name.split('.').filter(|l| !l.is_empty()) {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.push(0);
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&[0, 1]);
    m
}

/// Ethernet/IPv4/UDP or TCP frame skeleton around `payload`, so that mutated
/// bytes reach the deep layers more often than pure noise would.
fn eth_ipv4(proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0]);
    f.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
    f.extend_from_slice(l4);
    f
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn parse_dns_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut s = String::new();
        if let Ok(p) = parse_dns(&bytes, &mut s) {
            prop_assert!(p.answers.ips().len() <= 4);
            prop_assert!(p.qname.is_ascii());
        }
    }

    #[test]
    fn parse_dns_never_panics_on_mutated_messages(
        name in name(),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut m = query(1, &name, 1);
        m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 1, 2, 3, 4]);
        m[7] = 1;
        for (i, b) in flips {
            let at = i.index(m.len());
            m[at] = b;
        }
        let n = cut.index(m.len() + 1);
        let mut s = String::new();
        let _ = parse_dns(&m[..n], &mut s);
    }

    #[test]
    fn decode_never_panics_any_linktype(
        lt in prop::sample::select(LINKTYPES.to_vec()),
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..6),
    ) {
        let mut d = Decoder::new(DecodeConfig { max_fragment_sets: 2, max_tcp_flows: 2, ..DecodeConfig::default() });
        let mut st = Stats::default();
        for (i, data) in frames.iter().enumerate() {
            let pkt = RawPacket { ts: i as i64, linktype: lt, data, orig_len: data.len() as u32 };
            let n = d.decode(&pkt, &LOC, &mut st, |m| { let _ = m.qname.len(); });
            prop_assert!(n <= data.len());
        }
        d.expire(i64::MAX, &mut st);
        prop_assert_eq!(d.open_tcp_flows(), 0);
        prop_assert_eq!(d.open_fragment_sets(), 0);
    }

    #[test]
    fn decode_never_panics_structured(
        proto in prop::sample::select(vec![6u8, 17]),
        ports in prop::sample::select(vec![53u16, 5353, 5355]),
        frag_field in any::<u16>(),
        l4 in prop::collection::vec(any::<u8>(), 0..200),
        seqs in prop::collection::vec(any::<u32>(), 1..5),
    ) {
        let mut d = Decoder::new(DecodeConfig { max_fragment_sets: 2, max_tcp_flows: 2, ..DecodeConfig::default() });
        let mut st = Stats::default();
        for (i, seq) in seqs.iter().enumerate() {
            let mut l4 = l4.clone();
            if l4.len() >= 8 {
                l4[2..4].copy_from_slice(&ports.to_be_bytes());
            }
            if proto == 6 && l4.len() >= 8 {
                l4[4..8].copy_from_slice(&seq.to_be_bytes());
            }
            let mut f = eth_ipv4(proto, &l4);
            f[20..22].copy_from_slice(&(frag_field & (i as u16 | 0x3fff)).to_be_bytes());
            let pkt = RawPacket { ts: i as i64, linktype: 1, data: &f, orig_len: f.len() as u32 };
            d.decode(&pkt, &LOC, &mut st, |_| {});
        }
    }

    #[test]
    fn query_round_trips(id in any::<u16>(), name in name(), qtype in any::<u16>(), upper in any::<bool>()) {
        let wire_name = if upper { name.to_ascii_uppercase() } else { name.clone() };
        let q = query(id, &wire_name, qtype);
        let mut s = String::new();
        let p = parse_dns(&q, &mut s).unwrap();
        prop_assert_eq!(p.id, id);
        prop_assert_eq!(p.qtype, qtype);
        prop_assert_eq!(p.qclass, 1);
        prop_assert!(!p.response);
        prop_assert_eq!(p.qname, name.as_str());
        prop_assert!(p.answers_error.is_none());
    }

    #[test]
    fn query_round_trips_through_udp_decoder(id in any::<u16>(), name in name(), qtype in any::<u16>()) {
        let dns = query(id, &name, qtype);
        let mut udp = 40000u16.to_be_bytes().to_vec();
        udp.extend_from_slice(&53u16.to_be_bytes());
        udp.extend_from_slice(&((8 + dns.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(&dns);
        let f = eth_ipv4(17, &udp);
        let mut d = Decoder::new(DecodeConfig::default());
        let mut st = Stats::default();
        let pkt = RawPacket { ts: 5, linktype: 1, data: &f, orig_len: f.len() as u32 };
        let mut got = None;
        let n = d.decode(&pkt, &LOC, &mut st, |m| got = Some((m.id, m.qname.to_string(), m.qtype, m.size)));
        prop_assert_eq!(n, 1);
        prop_assert_eq!(got, Some((id, name, qtype, dns.len() as u32)));
    }
}
