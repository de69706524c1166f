//! parse_dns and Decoder::decode throughput.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sentineldns::decode::{parse_dns, DecodeConfig, Decoder, Location};
use sentineldns::event::RawPacket;
use sentineldns::stats::Stats;
use std::hint::black_box;

fn wire_name(m: &mut Vec<u8>, name: &str) {
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.push(0);
}

fn query(name: &str) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1];
    wire_name(&mut m, name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    // EDNS OPT record in the additional section (typical of real queries)
    m.extend_from_slice(&[0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0]);
    m
}

fn response4(name: &str) -> Vec<u8> {
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 4, 0, 0, 0, 0];
    wire_name(&mut m, name);
    m.extend_from_slice(&[0, 1, 0, 1]);
    for i in 0..4u8 {
        m.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4, 93, 184, 216, i]);
    }
    m
}

fn eth_udp(dns: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 8 + dns.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 17, 0, 0, 192, 168, 1, 10, 8, 8, 8, 8]);
    f.extend_from_slice(&50000u16.to_be_bytes());
    f.extend_from_slice(&53u16.to_be_bytes());
    f.extend_from_slice(&((8 + dns.len()) as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(dns);
    f
}

fn bench(c: &mut Criterion) {
    let q = query("www.example.com");
    let r = response4("www.example.com");
    // 60+ bytes of labels (hickory's Name, before issue 18, allocated for it)
    let long = query("dGhpcyBpcyBhIHR1bm5lbGxlZCBwYXlsb2FkIGNodW5r.t1.exfil-example.net");
    let mut scratch = String::with_capacity(256);
    let mut g = c.benchmark_group("parse_dns");
    g.throughput(Throughput::Elements(1));
    g.bench_function("query", |b| {
        b.iter(|| {
            let p = parse_dns(black_box(&q), &mut scratch).unwrap();
            black_box(p.qtype);
        })
    });
    g.bench_function("query_long_name", |b| {
        b.iter(|| {
            let p = parse_dns(black_box(&long), &mut scratch).unwrap();
            black_box(p.qtype);
        })
    });
    g.bench_function("response_4a", |b| {
        b.iter(|| {
            let p = parse_dns(black_box(&r), &mut scratch).unwrap();
            black_box(p.answers.total);
        })
    });
    g.finish();

    let frame = eth_udp(&q);
    let mut dec = Decoder::new(DecodeConfig::default());
    let mut stats = Stats::default();
    let loc = Location {
        source: "bench",
        packet: 1,
    };
    let pkt = RawPacket {
        ts: 1,
        linktype: 1,
        data: &frame,
        orig_len: frame.len() as u32,
    };
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("eth_ipv4_udp_query", |b| {
        b.iter(|| {
            let mut n = 0u16;
            dec.decode(black_box(&pkt), &loc, &mut stats, |m| {
                n = n.wrapping_add(m.qtype)
            });
            black_box(n);
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
