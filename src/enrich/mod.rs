//! TEMPORARY stub with the agreed API; replaced by the real enrichment module.
#![allow(missing_docs, dead_code)]
use crate::event::{Lookup, TsMicros};
use std::net::IpAddr;
#[derive(Debug, Clone)]
pub struct EnrichConfig {
    pub include_private_suffixes: bool,
    pub high_risk_threshold: f32,
    pub domain_cache_cap: usize,
    pub first_seen_cap: usize,
    pub host_first_seen_cap: usize,
}
impl Default for EnrichConfig {
    fn default() -> Self {
        EnrichConfig {
            include_private_suffixes: false,
            high_risk_threshold: 0.7,
            domain_cache_cap: 200_000,
            first_seen_cap: 1_000_000,
            host_first_seen_cap: 2_000_000,
        }
    }
}
#[derive(Debug, Clone, Copy, Default)]
pub struct Enrichment {
    pub qname_hash: u64,
    pub registrable_len: u16,
    pub registrable_hash: u64,
    pub risk: f32,
    pub high_risk: bool,
    pub entropy: f32,
    pub max_label_len: u8,
    pub labels: u8,
    pub digit_ratio: f32,
    pub new_global: bool,
    pub new_host: bool,
}
#[derive(Debug, Clone)]
pub struct FirstSeenRecord {
    pub host: Option<IpAddr>,
    pub domain: String,
    pub first_ts: TsMicros,
}
#[derive(Debug, Default)]
pub struct Enricher {
    seen: std::collections::HashSet<String>,
    new: Vec<FirstSeenRecord>,
}
fn h(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut x = rustc_hash::FxHasher::default();
    s.hash(&mut x);
    x.finish()
}
impl Enricher {
    pub fn new(_c: EnrichConfig) -> Self {
        Self::default()
    }
    pub fn preload_first_seen(&mut self, r: &FirstSeenRecord) {
        self.seen.insert(r.domain.clone());
    }
    pub fn enrich(&mut self, l: &Lookup<'_>) -> Enrichment {
        let q = l.qname;
        let parts: Vec<&str> = q.rsplitn(3, '.').collect();
        let reg = if parts.len() >= 2 {
            &q[q.len() - parts[0].len() - parts[1].len() - 1..]
        } else {
            q
        };
        let new = self.seen.insert(reg.to_string());
        if new {
            self.new.push(FirstSeenRecord {
                host: None,
                domain: reg.to_string(),
                first_ts: l.ts,
            });
        }
        let risk = if q.len() > 30 { 0.9 } else { 0.1 };
        Enrichment {
            qname_hash: h(q),
            registrable_len: reg.len() as u16,
            registrable_hash: h(reg),
            risk,
            high_risk: risk >= 0.7,
            entropy: 2.0,
            max_label_len: 10,
            labels: 2,
            digit_ratio: 0.0,
            new_global: new,
            new_host: new,
        }
    }
    pub fn drain_new_first_seen(&mut self, out: &mut Vec<FirstSeenRecord>) {
        out.append(&mut self.new);
    }
}
