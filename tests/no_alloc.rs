//! `Enricher::enrich` on a cache hit for an already-seen domain must not
//! allocate. Uses a counting global allocator (this test binary only).

use sentineldns::enrich::{EnrichConfig, Enricher};
use sentineldns::event::{Answers, DnsService, Lookup, LookupOutcome};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn lk(client: IpAddr, qname: &str) -> Lookup<'_> {
    Lookup {
        ts: 1,
        client,
        server: None,
        transport: None,
        service: DnsService::Dns,
        qname,
        qtype: 1,
        rcode: Some(0),
        answers: Answers::default(),
        min_ttl: None,
        latency_us: None,
        query_bytes: 0,
        response_bytes: 0,
        outcome: LookupOutcome::Answered,
        label: None,
        scenario: None,
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
    let mut out = Vec::new();
    e.drain_new_first_seen(&mut out);
    let before = ALLOCS.load(Ordering::Relaxed);
    let mut high = 0;
    for _ in 0..1000 {
        for h in &hosts {
            for n in names {
                high += e.enrich(&lk(*h, n)).high_risk as u32;
            }
        }
    }
    let after = ALLOCS.load(Ordering::Relaxed);
    assert_eq!(after - before, 0, "allocations on the cache-hit path");
    assert!(high > 0);
}
