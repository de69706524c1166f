//! End-to-end decoder tests on hand-built frames (every linktype, tags, IPv6
//! extension headers, fragments, TCP), and the differential test of the
//! hand-written DNS parser against hickory-proto on real captures.

use super::*;
use crate::decode::dns::reference::parse_dns_hickory;
use crate::decode::dns::tests::{query, response_a};
use crate::decode::dns::HEADER_LEN;
use crate::event::DnsMessage;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

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

// ---------------------------------------------------------------------------
// Differential test of the hand-written DNS parser (issue 18) against the
// hickory-proto parser it replaced (`dns::reference`, the oracle).

thread_local! {
    /// Every DNS message [`deliver`] is about to parse, while a test collects
    /// them on this thread (`None`: not collecting).
    static TAP: RefCell<Option<Vec<Vec<u8>>>> = const { RefCell::new(None) };
}

/// Called by `deliver` (test builds only) with each message before parsing.
pub(super) fn tap(msg: &[u8]) {
    TAP.with(|t| {
        if let Some(v) = t.borrow_mut().as_mut() {
            v.push(msg.to_vec());
        }
    });
}

/// `../shared/data/pcap` (or `$SENTINELDNS_SHARED_DATA/pcap`); panics with a
/// message when it is missing: this test never skips.
fn shared_pcap_dir() -> std::path::PathBuf {
    let root = std::env::var_os("SENTINELDNS_SHARED_DATA")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let dir = root.join("pcap");
    assert!(
        dir.is_dir(),
        "real captures not found at {}: check out ../shared next to this repository or set SENTINELDNS_SHARED_DATA",
        dir.display()
    );
    dir
}

fn files_under(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    let rd =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    for e in rd {
        let p = e
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
            .path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Every distinct DNS payload the decoder hands to `parse_dns` over every
/// capture under `dir` (UDP, reassembled fragments and TCP messages alike,
/// including the ones that fail to parse), sorted; and the number of captures.
fn real_payloads(dir: &std::path::Path) -> (BTreeSet<Vec<u8>>, usize) {
    use crate::source::savefile::{CaptureReader, OwnedPacket};
    use crate::source::InputKind;
    let mut files = Vec::new();
    files_under(dir, &mut files);
    files.sort();
    let mut captures = 0;
    let mut all = BTreeSet::new();
    for f in &files {
        let Ok(opened) = crate::source::open(f) else {
            continue; // nDPI's expected-output text files
        };
        if !matches!(opened.kind, InputKind::Pcap | InputKind::Pcapng) {
            continue;
        }
        let name = f.display().to_string();
        let Ok(mut reader) = CaptureReader::new(opened, &name) else {
            continue;
        };
        captures += 1;
        TAP.with(|t| *t.borrow_mut() = Some(Vec::new()));
        let mut d = Decoder::default();
        let mut st = Stats::default();
        let mut pkt = OwnedPacket::default();
        let mut n = 0u64;
        while reader.next_into(&mut pkt, &mut st) {
            n += 1;
            let loc = Location {
                source: &name,
                packet: n,
            };
            d.decode(&pkt.as_raw(), &loc, &mut st, |_| {});
        }
        d.expire(i64::MAX, &mut st);
        let got = TAP.with(|t| t.borrow_mut().take()).unwrap_or_default();
        all.extend(got);
    }
    (all, captures)
}

/// Parse `msg` with both parsers and assert identical results (and scratch
/// contents afterwards). Returns a label of the outcome for coverage counts.
fn differential(msg: &[u8]) -> String {
    let mut a = String::with_capacity(8);
    let mut b = String::new();
    let ra = parse_dns(msg, &mut a);
    let rb = parse_dns_hickory(msg, &mut b);
    assert_eq!(ra, rb, "parsers differ on {msg:02x?}");
    let kind = match &ra {
        Ok(p) => match p.answers_error {
            None => "ok".to_string(),
            Some(e) => format!("ok, answers {}", err_kind(&e)),
        },
        Err(e) => err_kind(e),
    };
    assert_eq!(a, b, "scratch differs on {msg:02x?}");
    kind
}

fn err_kind(e: &DnsError) -> String {
    match e {
        DnsError::Truncated { .. } => "truncated".into(),
        DnsError::BadName { fault, .. } => {
            let f = format!("{fault:?}");
            format!("bad name {}", &f[..f.find('(').unwrap_or(f.len())])
        }
        DnsError::Malformed { what, .. } => format!("malformed {what}"),
    }
}

/// splitmix64: a small deterministic generator (same stream everywhere).
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (`n > 0`).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A compression pointer to a target drawn mostly before `at` (into the
/// header, or earlier in the message), sometimes at or after it.
fn pointer_to(r: &mut Mix, at: usize, len: usize) -> [u8; 2] {
    let t = match r.below(4) {
        0 => r.below(HEADER_LEN),
        1 => r.below(at.max(1)),
        2 => at + r.below(len.saturating_sub(at) + 4),
        _ => r.below(0x4000),
    };
    [0xC0 | ((t >> 8) & 0x3F) as u8, t as u8]
}

/// One to three random edits of `m`: bit flips, truncations, inserted or
/// overwritten compression pointers, reserved label codes, long labels,
/// header counts, and a name that is a pointer into the header.
fn mutate(r: &mut Mix, m: &mut Vec<u8>) {
    for _ in 0..1 + r.below(3) {
        let len = m.len();
        // Most edits land in the header or the question.
        let near = |r: &mut Mix| r.below(len.clamp(1, 12 + 64));
        match r.below(9) {
            0 if len > 0 => {
                let i = if r.below(4) == 0 {
                    r.below(len)
                } else {
                    near(r)
                };
                if i < len {
                    m[i] ^= 1 << r.below(8);
                }
            }
            1 if len > 0 => m.truncate(r.below(len)),
            2 => {
                let at = (HEADER_LEN + r.below(40)).min(len);
                let p = pointer_to(r, at, len);
                m.splice(at..at, p);
            }
            3 if len >= HEADER_LEN + 2 => {
                let at = HEADER_LEN + r.below((len - HEADER_LEN - 1).min(48));
                let p = pointer_to(r, at, len);
                m[at..at + 2].copy_from_slice(&p);
            }
            4 if len > HEADER_LEN => {
                let i = HEADER_LEN + r.below((len - HEADER_LEN).min(64));
                m[i] = match r.below(3) {
                    0 => 0x40 + r.below(0x80) as u8,
                    1 => r.below(64) as u8,
                    _ => r.below(256) as u8,
                };
            }
            5 if len >= HEADER_LEN => {
                // 1 to 4 labels of 40..=63 octets (any bytes) in front of the name
                let mut ins = Vec::new();
                for _ in 0..1 + r.below(4) {
                    let l = 40 + r.below(24);
                    ins.push(l as u8);
                    ins.extend((0..l).map(|_| r.below(256) as u8));
                }
                m.splice(HEADER_LEN..HEADER_LEN, ins);
            }
            6 if len >= HEADER_LEN => {
                let i = 4 + 2 * r.below(4);
                let v = [1u16, 2, 3, r.below(0x10000) as u16][r.below(4)];
                m[i..i + 2].copy_from_slice(&v.to_be_bytes());
            }
            7 if len >= HEADER_LEN + 2 => {
                // The name is a pointer into the header, whose bytes from the
                // target on are small label lengths (overlap, chains).
                let t = r.below(HEADER_LEN);
                m[HEADER_LEN] = 0xC0;
                m[HEADER_LEN + 1] = t as u8;
                for b in &mut m[t..HEADER_LEN] {
                    if r.below(2) == 0 {
                        *b = r.below(12) as u8;
                    }
                }
                if r.below(3) == 0 {
                    let at = t + r.below(HEADER_LEN - t);
                    if at + 1 < HEADER_LEN {
                        m[at] = 0xC0;
                        m[at + 1] = r.below(HEADER_LEN) as u8;
                    }
                }
                if m[4] == 0 && m[5] == 0 {
                    m[5] = 1;
                }
            }
            _ => {
                let at = r.below(len + 1);
                let n = 1 + r.below(4);
                let bytes: Vec<u8> = (0..n).map(|_| r.below(256) as u8).collect();
                m.splice(at..at, bytes);
            }
        }
    }
}

/// The hand-written parser against hickory on (a) every DNS payload of every
/// real capture in `../shared/data/pcap` and (b) 20,000 deterministic random
/// mutations of them: Ok values equal (qname included), or the same error.
/// The mutations must reach every name fault the parser can report; a
/// missing capture folder fails the test.
///
/// Known difference, by construction none: `NameFault::LabelTooLong` is
/// produced by neither parser (a length byte above 63 has reserved high
/// bits, reported as `LabelCode`), and hickory's final `len >= 255` check
/// cannot fire after its per-label check, so neither is replicated.
#[test]
fn hand_written_dns_parser_matches_hickory_on_real_and_mutated_payloads() {
    let dir = shared_pcap_dir();
    let (payloads, captures) = real_payloads(&dir);
    assert!(
        captures >= 250,
        "only {captures} captures under {}",
        dir.display()
    );
    assert!(
        payloads.len() >= 5_000,
        "only {} DNS payloads under {}",
        payloads.len(),
        dir.display()
    );
    let mut real: BTreeMap<String, usize> = BTreeMap::new();
    for p in &payloads {
        *real.entry(differential(p)).or_default() += 1;
    }
    eprintln!(
        "{} distinct DNS payloads from {captures} captures: {real:?}",
        payloads.len()
    );
    assert!(real.get("ok").copied().unwrap_or(0) >= 5_000, "{real:?}");

    let payloads: Vec<Vec<u8>> = payloads.into_iter().collect();
    let mut r = Mix(18);
    let mut mutated: BTreeMap<String, usize> = BTreeMap::new();
    for _ in 0..20_000 {
        let mut m = payloads[r.below(payloads.len())].clone();
        mutate(&mut r, &mut m);
        *mutated.entry(differential(&m)).or_default() += 1;
    }
    eprintln!("20000 mutations: {mutated:?}");
    for k in [
        "ok",
        "truncated",
        "bad name LabelCode",
        "bad name NameTooLong",
        "bad name PointerNotPrior",
        "bad name Overlap",
    ] {
        assert!(
            mutated.get(k).copied().unwrap_or(0) >= 5,
            "{k}: {mutated:?}"
        );
    }
}
