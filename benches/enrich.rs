//! Criterion benches of `Enricher::enrich`: cache hit (the common case) and
//! cache miss (PSL + lexical scoring), plus the two models on their own.

use criterion::{criterion_group, criterion_main, Criterion};
use sentineldns::enrich::{EnrichConfig, Enricher, LexicalModel, Psl};
use sentineldns::event::{Lookup, LookupOutcome};
use std::hint::black_box;
use std::net::IpAddr;

const NAMES: &[&str] = &[
    "www.google.com",
    "www.bbc.co.uk",
    "a.b.c.example.com.au",
    "outlook.office365.com",
    "xjw7qk2v9zpl4m.net",
    "mzxw6ytboi2gk4tfmvzxi5dfon2gk3tfmvzxi5dfon2gk3tf.x9q7zk2w.tunnel.example.com",
    "1.0.168.192.in-addr.arpa",
    "tyybelid.bazar",
];

fn lk(client: IpAddr, qname: &str) -> Lookup<'_> {
    Lookup {
        outcome: LookupOutcome::Answered,
        ..Lookup::new(1, client, qname)
    }
}

fn bench(c: &mut Criterion) {
    let hosts: Vec<IpAddr> = (0..16u8).map(|i| IpAddr::from([10, 0, 0, i])).collect();
    let lookups: Vec<Lookup<'_>> = hosts
        .iter()
        .flat_map(|h| NAMES.iter().map(move |n| lk(*h, n)))
        .collect();

    let mut e = Enricher::new(EnrichConfig::default());
    for l in &lookups {
        e.enrich(l);
    }
    let mut sink = sentineldns::enrich::FirstSeenDelta::default();
    e.drain_new_first_seen(&mut sink);
    let mut i = 0usize;
    c.bench_function("enrich/cache_hit", |b| {
        b.iter(|| {
            i = (i + 1) % lookups.len();
            black_box(e.enrich(black_box(&lookups[i])))
        })
    });

    // Miss: a cache of capacity 1 that is cleared on every insert, with
    // already-seen domains so only PSL + lexical work differs from a hit.
    let mut m = Enricher::new(EnrichConfig {
        domain_cache_cap: 1,
        ..EnrichConfig::default()
    });
    for l in &lookups {
        m.enrich(l);
    }
    m.drain_new_first_seen(&mut sink);
    let mut j = 0usize;
    c.bench_function("enrich/cache_miss", |b| {
        b.iter(|| {
            j = (j + 1) % lookups.len();
            black_box(m.enrich(black_box(&lookups[j])))
        })
    });

    let psl = Psl::embedded(false);
    let model = LexicalModel::embedded();
    let mut k = 0usize;
    c.bench_function("psl/registrable_domain", |b| {
        b.iter(|| {
            k = (k + 1) % NAMES.len();
            black_box(psl.registrable_domain(black_box(NAMES[k])))
        })
    });
    c.bench_function("lexical/score_in", |b| {
        b.iter(|| {
            k = (k + 1) % NAMES.len();
            black_box(model.score_in(black_box(NAMES[k]), &psl))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
