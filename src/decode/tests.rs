//! End-to-end decoder tests on hand-built frames (every linktype, tags, IPv6
//! extension headers, fragments, TCP).

use super::*;
use crate::decode::dns::tests::{query, response_a};
use crate::event::DnsMessage;

const LOC: Location<'static> = Location {
    source: "unit",
    packet: 7,
};

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = sport.to_be_bytes().to_vec();
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    u
}

fn tcp_seg(sport: u16, dport: u16, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = sport.to_be_bytes().to_vec();
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    t
}

fn v4(proto: u8, l4: &[u8]) -> Vec<u8> {
    ip::tests::v4(proto, 1, 0, l4)
}

fn eth(et: &[u8], l3: &[u8]) -> Vec<u8> {
    let mut f = vec![2u8; 12];
    f.extend_from_slice(et);
    f.extend_from_slice(l3);
    f
}

#[derive(Debug, PartialEq)]
struct Got {
    id: u16,
    qname: String,
    transport: Transport,
    service: DnsService,
    sport: u16,
}

fn got(m: &DnsMessage<'_>) -> Got {
    Got {
        id: m.id,
        qname: m.qname.to_string(),
        transport: m.transport,
        service: m.service,
        sport: m.sport,
    }
}

fn run(d: &mut Decoder, st: &mut Stats, linktype: u32, frame: &[u8]) -> Vec<Got> {
    let mut v = Vec::new();
    let pkt = RawPacket {
        ts: 1_000,
        linktype,
        data: frame,
        orig_len: frame.len() as u32,
    };
    let n = d.decode(&pkt, &LOC, st, |m| v.push(got(m)));
    assert_eq!(n, v.len());
    v
}

fn one(linktype: u32, frame: &[u8]) -> (Vec<Got>, Stats) {
    let mut d = Decoder::default();
    let mut st = Stats::default();
    let v = run(&mut d, &mut st, linktype, frame);
    (v, st)
}

#[test]
fn every_linktype_yields_the_query() {
    let l3 = v4(17, &udp(40000, 53, &query(0x0102, "Example.ORG", 1)));
    let v6l3 = ip::tests::v6(17, &udp(40000, 53, &query(0x0102, "example.org", 1)));
    let mut sll = vec![0u8; 14];
    sll.extend_from_slice(&[8, 0]);
    sll.extend_from_slice(&l3);
    let mut sll2 = vec![0x86, 0xdd];
    sll2.extend_from_slice(&[0u8; 18]);
    sll2.extend_from_slice(&v6l3);
    let mut null_le = vec![2, 0, 0, 0];
    null_le.extend_from_slice(&l3);
    let mut loop_be = vec![0, 0, 0, 24];
    loop_be.extend_from_slice(&v6l3);
    let cases: Vec<(u32, Vec<u8>)> = vec![
        (1, eth(&[8, 0], &l3)),
        (1, eth(&[0x81, 0, 0, 11, 8, 0], &l3)),
        (
            1,
            eth(&[0x88, 0xa8, 0, 1, 0x81, 0, 0, 2, 0x86, 0xdd], &v6l3),
        ),
        (
            1,
            eth(&[0x91, 0, 0, 1, 0x91, 0, 0, 2, 0x81, 0, 0, 3, 8, 0], &l3),
        ),
        (113, sll),
        (276, sll2),
        (101, l3.clone()),
        (101, v6l3.clone()),
        (12, l3.clone()),
        (14, v6l3.clone()),
        (228, l3.clone()),
        (229, v6l3.clone()),
        (0, null_le.clone()),
        (108, null_le),
        (0, loop_be.clone()),
        (108, loop_be),
    ];
    for (lt, frame) in cases {
        let (v, st) = one(lt, &frame);
        assert_eq!(v.len(), 1, "linktype {lt}: {:?}", st.skip_counts());
        assert_eq!(v[0].id, 0x0102);
        assert_eq!(v[0].qname, "example.org");
        assert_eq!(st.dns_messages, 1);
        assert_eq!(st.dns_queries, 1);
    }
}

#[test]
fn skip_reasons() {
    let dns = query(1, "a", 1);
    let cases: Vec<(u32, Vec<u8>, SkipReason)> = vec![
        (105, vec![0; 40], SkipReason::UnsupportedLinktype),
        (1, vec![0; 10], SkipReason::TruncatedLink),
        (1, eth(&[8, 6], &[0; 28]), SkipReason::NotIp),
        (1, eth(&[8, 0], &[0x45, 0, 0]), SkipReason::TruncatedIp),
        (101, v4(1, &[8, 0, 0, 0, 0, 0, 0, 0]), SkipReason::NotUdpTcp),
        (101, v4(17, &[0, 53, 0]), SkipReason::TruncatedTransport),
        (
            101,
            v4(6, &[0, 53, 0, 53, 0]),
            SkipReason::TruncatedTransport,
        ),
        (101, v4(17, &udp(1000, 80, &dns)), SkipReason::NotDnsPort),
        (
            101,
            v4(6, &tcp_seg(1000, 5353, 1, 0x18, &dns)),
            SkipReason::NotDnsPort,
        ),
        (
            101,
            v4(17, &udp(1000, 53, &dns[..5])),
            SkipReason::DnsTruncated,
        ),
        (
            101,
            v4(6, &tcp_seg(1000, 53, 1, 0x10, &[])),
            SkipReason::TcpNoPayload,
        ),
    ];
    for (lt, frame, want) in cases {
        let (v, st) = one(lt, &frame);
        assert!(v.is_empty());
        assert_eq!(st.skip_counts(), vec![(want, 1)], "{want}");
    }
}

#[test]
fn services_by_port() {
    let dns = query(3, "host.local", 1);
    for (sport, dport, svc) in [
        (5353, 5353, DnsService::Mdns),
        (40000, 5355, DnsService::Llmnr),
        (53, 5353, DnsService::Dns),
    ] {
        let (v, st) = one(101, &v4(17, &udp(sport, dport, &dns)));
        assert_eq!(v[0].service, svc);
        assert_eq!(st.mdns_messages, u64::from(svc == DnsService::Mdns));
        assert_eq!(st.llmnr_messages, u64::from(svc == DnsService::Llmnr));
    }
}

#[test]
fn damaged_answers_are_yielded_and_counted() {
    let mut r = response_a(9, "x.y", &[[1, 2, 3, 4]]);
    r.truncate(r.len() - 1);
    let (v, st) = one(101, &v4(17, &udp(53, 4000, &r)));
    assert_eq!(v.len(), 1);
    assert_eq!(st.skipped(SkipReason::DnsMalformed), 1);
    assert_eq!(st.dns_responses, 1);
    assert_eq!(st.examples().len(), 1);
    assert_eq!(st.examples()[0].position, 7);
}

#[test]
fn ipv4_fragments_reassemble() {
    let dns = response_a(
        0x77,
        "frag.example",
        &[[1, 1, 1, 1], [2, 2, 2, 2], [3, 3, 3, 3]],
    );
    let payload = udp(53, 33000, &dns);
    let mut d = Decoder::default();
    let mut st = Stats::default();
    // three fragments, sent last, first, middle
    let (a, rest) = payload.split_at(24);
    let (b, c) = rest.split_at(16);
    let f3 = ip::tests::v4(17, 0x99, 5, c); // offset 40 bytes, MF=0
    let f1 = ip::tests::v4(17, 0x99, 0x2000, a);
    let f2 = ip::tests::v4(17, 0x99, 0x2000 | 3, b);
    assert!(run(&mut d, &mut st, 101, &f3).is_empty());
    assert!(run(&mut d, &mut st, 101, &f1).is_empty());
    assert_eq!(d.open_fragment_sets(), 1);
    let v = run(&mut d, &mut st, 101, &f2);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].qname, "frag.example");
    assert_eq!(st.reassembled_datagrams, 1);
    assert_eq!(st.skipped(SkipReason::FragmentHeld), 2);
    assert_eq!(d.open_fragment_sets(), 0);
}

#[test]
fn ipv6_hop_by_hop_and_fragments_reassemble() {
    let dns = response_a(0x66, "v6.frag", &[[9, 9, 9, 9]]);
    let payload = udp(53, 33000, &dns);
    let (a, b) = payload.split_at(32);
    // HBH (next 44) + fragment header (next 17, offset 0, M) + first part
    let mut e1 = vec![44, 0, 1, 4, 0, 0, 0, 0, 17, 0, 0x00, 0x01, 0, 0, 0, 5];
    e1.extend_from_slice(a);
    // fragment header only (offset 32 = 4 units, M=0) + second part
    let mut e2 = vec![17, 0, 0x00, 0x20, 0, 0, 0, 5];
    e2.extend_from_slice(b);
    let mut d = Decoder::default();
    let mut st = Stats::default();
    assert!(run(&mut d, &mut st, 229, &ip::tests::v6(0, &e1)).is_empty());
    let v = run(&mut d, &mut st, 229, &ip::tests::v6(44, &e2));
    assert_eq!(v.len(), 1, "{:?}", st.skip_counts());
    assert_eq!(v[0].qname, "v6.frag");
    assert_eq!(st.reassembled_datagrams, 1);
}

#[test]
fn ipv6_atomic_fragment_is_a_whole_packet() {
    let mut e = vec![17, 0, 0, 0, 0, 0, 0, 1];
    e.extend_from_slice(&udp(4000, 53, &query(5, "atomic", 1)));
    let (v, st) = one(229, &ip::tests::v6(44, &e));
    assert_eq!(v.len(), 1, "{:?}", st.skip_counts());
}

#[test]
fn tcp_split_coalesced_out_of_order_and_gap() {
    let framed = |id: u16, name: &str| {
        let m = query(id, name, 1);
        let mut v = (m.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(&m);
        v
    };
    let mut d = Decoder::default();
    let mut st = Stats::default();
    let syn = v4(6, &tcp_seg(40001, 53, 1000, 0x02, &[]));
    assert!(run(&mut d, &mut st, 101, &syn).is_empty());
    let stream = [framed(1, "one"), framed(2, "two"), framed(3, "three")].concat();
    // segment A: message 1 + half of 2; segment C: message 3; segment B: rest of 2
    let l1 = framed(1, "one").len();
    let l2 = framed(2, "two").len();
    let cut = l1 + l2 / 2;
    let a = v4(6, &tcp_seg(40001, 53, 1001, 0x18, &stream[..cut]));
    let b = v4(
        6,
        &tcp_seg(40001, 53, 1001 + cut as u32, 0x18, &stream[cut..l1 + l2]),
    );
    let c = v4(
        6,
        &tcp_seg(40001, 53, 1001 + (l1 + l2) as u32, 0x18, &stream[l1 + l2..]),
    );
    let v = run(&mut d, &mut st, 101, &a);
    assert_eq!(v.iter().map(|g| g.id).collect::<Vec<_>>(), vec![1]);
    assert!(run(&mut d, &mut st, 101, &c).is_empty());
    let v = run(&mut d, &mut st, 101, &b);
    assert_eq!(v.iter().map(|g| g.id).collect::<Vec<_>>(), vec![2, 3]);
    assert!(v
        .iter()
        .all(|g| g.transport == Transport::Tcp && g.sport == 40001));
    assert_eq!(st.tcp_messages, 3);
    // retransmission of A: nothing new
    assert!(run(&mut d, &mut st, 101, &a).is_empty());
    // a hole, then enough segments to overflow the holdback: one loss, resync
    let mut seq = 1001 + stream.len() as u32 + 500;
    let mut ids = Vec::new();
    for id in 10..10 + tcp::MAX_HELD as u16 + 1 {
        let m = framed(id, "later");
        let f = v4(6, &tcp_seg(40001, 53, seq, 0x18, &m));
        ids.extend(run(&mut d, &mut st, 101, &f).into_iter().map(|g| g.id));
        seq += m.len() as u32;
    }
    assert_eq!(ids, (10..10 + tcp::MAX_HELD as u16 + 1).collect::<Vec<_>>());
    assert_eq!(st.skipped(SkipReason::TcpStreamLoss), 1);
    assert_eq!(d.open_tcp_flows(), 1);
    // FIN closes the direction
    let fin = v4(6, &tcp_seg(40001, 53, seq, 0x11, &[]));
    assert!(run(&mut d, &mut st, 101, &fin).is_empty());
    assert_eq!(d.open_tcp_flows(), 0);
}

#[test]
fn expire_uses_packet_time() {
    let mut d = Decoder::new(DecodeConfig {
        fragment_timeout: 10,
        tcp_flow_timeout: 20,
        ..DecodeConfig::default()
    });
    let mut st = Stats::default();
    let f1 = ip::tests::v4(17, 0x5, 0x2000, &[0; 16]);
    run(&mut d, &mut st, 101, &f1);
    let half = {
        let m = query(1, "pending", 1);
        let mut v = (m.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(&m[..6]);
        v
    };
    run(
        &mut d,
        &mut st,
        101,
        &v4(6, &tcp_seg(5, 53, 1, 0x18, &half)),
    );
    assert_eq!((d.open_fragment_sets(), d.open_tcp_flows()), (1, 1));
    d.expire(1_000 + 10, &mut st);
    assert_eq!((d.open_fragment_sets(), d.open_tcp_flows()), (1, 1));
    d.expire(1_000 + 15, &mut st);
    assert_eq!((d.open_fragment_sets(), d.open_tcp_flows()), (0, 1));
    d.expire(1_000 + 25, &mut st);
    assert_eq!(d.open_tcp_flows(), 0);
    assert_eq!(st.skipped(SkipReason::FragmentDropped), 1);
    assert_eq!(st.skipped(SkipReason::TcpStreamLoss), 1);
}

/// One raw-IP TCP frame from `src` (to 10.0.0.2) through the decoder; the
/// number of DNS messages it yielded.
fn feed_tcp(
    d: &mut Decoder,
    st: &mut Stats,
    src: [u8; 4],
    sport: u16,
    seq: u32,
    flags: u8,
    payload: &[u8],
) -> usize {
    let mut frame = v4(6, &tcp_seg(sport, 53, seq, flags, payload));
    frame[12..16].copy_from_slice(&src);
    let pkt = RawPacket {
        ts: 1_000,
        linktype: 101,
        data: &frame,
        orig_len: frame.len() as u32,
    };
    d.decode(&pkt, &LOC, st, |_| {})
}

/// A length-prefixed query for `name`, split in two halves (the first long
/// enough to show the DNS header).
fn split_query(id: u16, name: &str) -> (Vec<u8>, Vec<u8>) {
    let m = query(id, name, 1);
    let mut v = (m.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(&m);
    let b = v.split_off(v.len() / 2);
    (v, b)
}

/// `n` round-robin DNS-over-TCP flows from one client: (optionally) every
/// flow's SYN, then every flow's first half query, then every second half, so
/// each flow's two segments have all the other flows' segments in between.
/// Returns the messages decoded.
fn round_robin_tcp(d: &mut Decoder, st: &mut Stats, n: u16, syn: bool) -> usize {
    let src = [10, 0, 0, 1];
    let halves: Vec<_> = (0..n)
        .map(|i| split_query(i, &format!("flow{i}.example.com")))
        .collect();
    let mut got = 0;
    if syn {
        for i in 0..n {
            got += feed_tcp(d, st, src, 20_000 + i, 1000, 0x02, &[]);
        }
    }
    for (i, (a, _)) in (0..n).zip(&halves) {
        got += feed_tcp(d, st, src, 20_000 + i, 1001, 0x08, a);
    }
    for (i, (a, b)) in (0..n).zip(&halves) {
        got += feed_tcp(d, st, src, 20_000 + i, 1001 + a.len() as u32, 0x08, b);
    }
    got
}

/// Reproducer from ../shared/data/hostile/README.md: 4,500 round-robin TCP
/// flows over the default 4,096-direction table. Strict least-recently-used
/// eviction always evicted the flow whose next segment came next, so every
/// message was lost; batch eviction loses one batch.
#[test]
fn tcp_round_robin_flows_over_the_cap_are_mostly_decoded() {
    let cap = DecodeConfig::default().max_tcp_flows;
    assert_eq!(cap, 4096);
    for syn in [false, true] {
        let mut d = Decoder::default();
        let mut st = Stats::default();
        let got = round_robin_tcp(&mut d, &mut st, 4500, syn);
        let frac = got as f64 / 4500.0;
        eprintln!(
            "round robin (syn {syn}): {got} of 4500 decoded ({:.1} %), tcp_stream_loss {}, tcp_flows evicted {}",
            frac * 100.0,
            st.skipped(SkipReason::TcpStreamLoss),
            st.evictions(crate::stats::Bound::TcpFlows)
        );
        assert!(frac >= 0.85, "only {got} of 4500 decoded (syn {syn})");
        assert!(st.evictions(crate::stats::Bound::TcpFlows) > 0);
        assert!(d.open_tcp_flows() <= cap);
        // Under the cap nothing is lost.
        let mut d = Decoder::default();
        let mut st = Stats::default();
        assert_eq!(round_robin_tcp(&mut d, &mut st, 4000, syn), 4000);
        assert_eq!(st.skipped(SkipReason::TcpStreamLoss), 0);
    }
}

/// Reproducer: 200 k half-open (SYN-only) flows interleaved with 100 real
/// flows whose two query halves are 100 k SYNs apart. The SYN flood must not
/// push out the real flows.
#[test]
fn tcp_syn_flood_does_not_evict_real_flows() {
    let mut d = Decoder::default();
    let mut st = Stats::default();
    let real: Vec<_> = (0..100u16)
        .map(|i| split_query(i, &format!("real{i}.example.com")))
        .collect();
    let client = [10, 0, 0, 1];
    let mut got = 0;
    for k in 0..200_000u32 {
        let [_, x, y, z] = k.to_be_bytes();
        let src = [172, 16 + x, y, z];
        got += feed_tcp(
            &mut d,
            &mut st,
            src,
            1024 + (k % 60_000) as u16,
            k,
            0x02,
            &[],
        );
        // Real flow i steps at SYN k = 1000 * phase + i: its SYN in phase 0,
        // first half in phase 50, second half in phase 150.
        let (phase, i) = (k / 1000, (k % 1000) as u16);
        if i < 100 {
            let (a, b) = &real[usize::from(i)];
            let sport = 30_000 + i;
            got += match phase {
                0 => feed_tcp(&mut d, &mut st, client, sport, 1000, 0x02, &[]),
                50 => feed_tcp(&mut d, &mut st, client, sport, 1001, 0x08, a),
                150 => feed_tcp(
                    &mut d,
                    &mut st,
                    client,
                    sport,
                    1001 + a.len() as u32,
                    0x08,
                    b,
                ),
                _ => 0,
            };
        }
    }
    let evicted = st.evictions(crate::stats::Bound::TcpFlows);
    eprintln!(
        "syn flood: {got} of 100 real messages decoded, tcp_stream_loss {}, tcp_flows evicted {evicted}",
        st.skipped(SkipReason::TcpStreamLoss)
    );
    assert_eq!(got, 100);
    assert_eq!(st.skipped(SkipReason::TcpStreamLoss), 0);
    assert!(evicted >= 200_000 - 4096);
}
