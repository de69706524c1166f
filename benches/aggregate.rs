//! Criterion benches for the per-host window aggregation and the full
//! enrich → aggregate path over JSONL-style lookups (no packet decoding).
//!
//! ```text
//! cargo bench --bench aggregate
//! ```

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sentineldns::aggregate::{AggregateConfig, Aggregator};
use sentineldns::enrich::{EnrichConfig, Enricher};
use sentineldns::event::{Lookup, LookupOutcome, MICROS};
use std::net::IpAddr;

fn names() -> Vec<String> {
    let bases = [
        "google.com",
        "microsoft.com",
        "bbc.co.uk",
        "github.com",
        "akamaized.net",
        "zoom.us",
    ];
    let subs = [
        "www", "api", "cdn", "mail", "login", "static", "img", "edge",
    ];
    let mut v = Vec::new();
    for b in bases {
        for s in subs {
            v.push(format!("{s}.{b}"));
        }
    }
    for i in 0..2000u32 {
        v.push(format!(
            "n{:x}{}.example{}.com",
            i.wrapping_mul(2654435761),
            i % 7,
            i % 50
        ));
    }
    v
}

fn lookups(n: usize, names: &[String]) -> Vec<(i64, IpAddr, usize, u16)> {
    let mut x: u64 = 42;
    (0..n)
        .map(|i| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
            let r = (x >> 33) as usize;
            let name = if r % 10 < 8 { r % 48 } else { r % names.len() };
            let host = IpAddr::from([10, 0, (r % 4) as u8, (r % 250) as u8]);
            (
                1_700_000_000 * MICROS + i as i64 * 1000,
                host,
                name,
                if r % 25 == 0 { 3 } else { 0 },
            )
        })
        .collect()
}

fn lookup<'a>(ts: i64, host: IpAddr, qname: &'a str, rcode: u16) -> Lookup<'a> {
    Lookup {
        rcode: Some(rcode),
        min_ttl: Some(300),
        latency_us: Some(1200),
        query_bytes: 40,
        response_bytes: 90,
        outcome: LookupOutcome::Answered,
        ..Lookup::new(ts, host, qname)
    }
}

fn bench(c: &mut Criterion) {
    let names = names();
    let ls = lookups(200_000, &names);
    let mut g = c.benchmark_group("aggregate");
    g.throughput(Throughput::Elements(ls.len() as u64));
    g.bench_function("enrich+record+advance 200k lookups, 1000 hosts", |b| {
        b.iter_batched(
            || {
                let mut e = Enricher::new(EnrichConfig::default());
                // Warm the per-name cache and first-seen sets as in steady state.
                for (ts, h, n, rc) in ls.iter().take(20_000) {
                    e.enrich(&lookup(*ts, *h, &names[*n], *rc));
                }
                (
                    e,
                    Aggregator::new(AggregateConfig::default()),
                    Vec::with_capacity(4096),
                )
            },
            |(mut e, mut a, mut out)| {
                for (ts, h, n, rc) in &ls {
                    let l = lookup(*ts, *h, &names[*n], *rc);
                    let en = e.enrich(&l);
                    a.record(&l, &en);
                    a.advance(*ts, &mut out);
                    out.clear();
                }
                a.flush_all(&mut out);
                out.len()
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
