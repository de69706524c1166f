//! The hot path must not allocate per packet: `Enricher::enrich` on a cache
//! hit, and decode → pair → enrich → aggregate in steady state. Uses a counting
//! global allocator (this test binary only; the library itself forbids
//! `unsafe`). Only allocations of the thread that is measuring are counted, so
//! tests running in parallel do not disturb each other.

use sentineldns::enrich::{EnrichConfig, Enricher};
use sentineldns::event::{Lookup, LookupOutcome};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::IpAddr;

struct Counting;

thread_local! {
    /// Set while the current thread is being measured (const-initialised: no
    /// allocation when the allocator reads it).
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    /// This thread's allocations while measuring. Per thread, not global: a
    /// global counter read before and after `f` also took in the allocations
    /// of another test measuring at the same time (both failed with the same
    /// count in CI).
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    if MEASURING.try_with(Cell::get).unwrap_or(false) {
        let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
    }
}

/// Allocations made by this thread while running `f`.
fn allocations_in(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    MEASURING.with(|m| m.set(true));
    f();
    MEASURING.with(|m| m.set(false));
    ALLOCS.with(Cell::get) - before
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn lk(client: IpAddr, qname: &str) -> Lookup<'_> {
    Lookup {
        outcome: LookupOutcome::Answered,
        ..Lookup::new(1, client, qname)
    }
}

#[test]
fn cache_hit_does_not_allocate() {
    let mut e = Enricher::new(EnrichConfig::default());
    let names = [
        "www.bbc.co.uk",
        "mzxw6ytboi2gk4tfmvzxi5dfon2gk3tf.tunnel.example.com",
        "1.0.168.192.in-addr.arpa",
        "printer.local",
    ];
    let hosts: Vec<IpAddr> = (0..4u8).map(|i| IpAddr::from([10, 0, 0, i])).collect();
    for h in &hosts {
        for n in names {
            e.enrich(&lk(*h, n));
        }
    }
    let mut out = sentineldns::enrich::FirstSeenDelta::default();
    e.drain_new_first_seen(&mut out);
    let mut high = 0;
    let allocs = allocations_in(|| {
        for _ in 0..1000 {
            for h in &hosts {
                for n in names {
                    high += e.enrich(&lk(*h, n)).high_risk as u32;
                }
            }
        }
    });
    assert_eq!(allocs, 0, "allocations on the cache-hit path");
    assert!(high > 0);
}

#[path = "integration/util/frames.rs"]
mod frames;
use frames::frame;

/// The whole hot path — decode, pair, enrich, aggregate — allocates nothing per
/// packet in steady state (same hosts and names, windows still open).
#[test]
fn steady_state_pipeline_does_not_allocate_per_packet() {
    use sentineldns::event::{RawPacket, MICROS};
    use sentineldns::pipeline::{Ingest, PipelineConfig, VecSink, Windowing};
    let cfg = PipelineConfig::default();
    let mut ingest = Ingest::new(&cfg);
    let mut win = Windowing::new(&cfg, Enricher::new(cfg.enrich.clone()), VecSink::default());
    let names = [
        "www.google.com",
        "api.github.com",
        "outlook.office365.com",
        "cdn.bbc.co.uk",
    ];
    let mut frames = Vec::new();
    for (i, n) in names.iter().enumerate() {
        for h in 1..=8u8 {
            let port = 40000 + h as u16 * 10 + i as u16;
            frames.push(frame([10, 1, 0, h], port, 7 + i as u16, n, false));
            frames.push(frame([10, 1, 0, h], port, 7 + i as u16, n, true));
        }
    }
    let t0 = 1_700_000_000 * MICROS;
    let feed = |round: i64, ingest: &mut Ingest, win: &mut Windowing<VecSink>| {
        for (k, f) in frames.iter().enumerate() {
            let pkt = RawPacket {
                ts: t0 + round * 1000 + k as i64,
                linktype: 1,
                data: f,
                orig_len: f.len() as u32,
            };
            ingest.packet(&pkt, "mem", k as u64, win);
            win.advance(ingest.now());
        }
    };
    for r in 0..200 {
        feed(r, &mut ingest, &mut win);
    }
    let rounds = 2000;
    let allocs = allocations_in(|| {
        for r in 200..200 + rounds {
            feed(r, &mut ingest, &mut win);
        }
    });
    let packets = rounds as usize * frames.len();
    assert!(ingest.stats().answered >= packets as u64 / 2);
    assert_eq!(allocs, 0, "{allocs} allocations over {packets} packets");
}

/// NDJSON lookup lines (one per lookup when `--ndjson-lookups` is on) are
/// formatted into a reused buffer without allocating, including odd names,
/// IPv6 clients, answers and unknown record types.
#[test]
fn ndjson_lookup_lines_do_not_allocate() {
    use sentineldns::enrich::Enrichment;
    use sentineldns::event::Answers;
    use sentineldns::output::ndjson::format_lookup;
    let mut answers = Answers::default();
    answers.push(IpAddr::from([93, 184, 216, 34]));
    answers.push("2001:db8::1".parse().unwrap());
    answers.total = 2;
    let clients: [IpAddr; 2] = [IpAddr::from([10, 0, 0, 7]), "fe80::7".parse().unwrap()];
    let names = ["www.bbc.co.uk", "we\\\"ird\\007.example.com", "x.y"];
    let e = Enrichment {
        registrable_len: 9,
        risk: 0.5,
        ..Default::default()
    };
    let mut buf = Vec::with_capacity(4096);
    let mut bytes = 0;
    let mut run = |buf: &mut Vec<u8>, n: u32| {
        for i in 0..n {
            for c in clients {
                for nm in names {
                    let l = Lookup {
                        server: Some(IpAddr::from([10, 0, 0, 53])),
                        rcode: if i % 3 == 0 {
                            None
                        } else {
                            Some((i % 12) as u16)
                        },
                        qtype: (i % 300) as u16,
                        answers,
                        min_ttl: Some(i),
                        latency_us: Some(i * 7),
                        ..lk(c, nm)
                    };
                    buf.clear();
                    format_lookup(buf, &l, &e);
                    bytes += buf.len();
                }
            }
        }
    };
    // Warm up once-per-process state (the ECS observer block is built on
    // first use) and this thread's scratch buffers.
    run(&mut buf, 3);
    let allocs = allocations_in(|| run(&mut buf, 1000));
    assert_eq!(allocs, 0, "allocations formatting NDJSON lookup lines");
    assert!(bytes > 6000 * 300);
    let v: serde_json::Value = serde_json::from_slice(&buf).unwrap();
    assert_eq!(v["source"]["ip"], "fe80::7");
}

/// The EVE and Zeek (TSV, JSON) records of lookups with a response of
/// CNAME + A + TXT records allocate nothing once their buffers have grown
/// (issue 17).
#[test]
fn eve_and_zeek_records_do_not_allocate() {
    use sentineldns::event::{LookupDetail, LookupOutcome, Transport};
    use sentineldns::output::{eve, zeek};
    let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 3, 0, 0, 0, 0];
    m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
    m.extend_from_slice(&[0xc0, 12, 0, 5, 0, 1, 0, 0, 0x0e, 0x10, 0, 6]);
    let at = m.len() as u8;
    m.extend_from_slice(b"\x03web\xc0\x10");
    m.extend_from_slice(&[0xc0, at, 0, 1, 0, 1, 0, 0, 1, 0x2c, 0, 4, 93, 184, 216, 34]);
    m.extend_from_slice(&[0xc0, at, 0, 16, 0, 1, 0, 0, 0, 60, 0, 16]);
    m.extend_from_slice(b"\x0bv=spf1 -all\x03a\"b");
    let clients: [IpAddr; 2] = [IpAddr::from([10, 0, 0, 7]), "fe80::7".parse().unwrap()];
    let mut buf = Vec::with_capacity(8192);
    let run = |buf: &mut Vec<u8>, n: u32| {
        for i in 0..n {
            for c in clients {
                let l = Lookup {
                    server: Some(if c.is_ipv4() {
                        IpAddr::from([10, 0, 0, 53])
                    } else {
                        "fe80::53".parse().unwrap()
                    }),
                    transport: Some(Transport::Udp),
                    outcome: LookupOutcome::Answered,
                    qtype: (i % 300) as u16,
                    latency_us: Some(i * 7),
                    detail: LookupDetail {
                        id: Some(i as u16),
                        client_port: Some(40000),
                        server_port: Some(53),
                        qclass: Some(1),
                        flags: Some(0x8180),
                        response: Some(&m),
                    },
                    ..lk(c, "www.example.com")
                };
                buf.clear();
                assert_eq!(eve::format_lookup(buf, &l, true), 2);
                zeek::format_tsv(buf, &l);
                zeek::format_json(buf, &l);
            }
        }
    };
    // Warm up the thread's scratch buffers.
    run(&mut buf, 2);
    let allocs = allocations_in(|| run(&mut buf, 500));
    assert_eq!(allocs, 0, "allocations formatting EVE and Zeek records");
    let text = String::from_utf8(buf).unwrap();
    assert!(
        text.contains("\"grouped\":{\"CNAME\":[\"web.example.com\"]"),
        "{text}"
    );
}
