//! Window features: [`HostWindow`] → a fixed, named feature vector.
//!
//! [`FEATURE_NAMES`] is the single source of truth for the names and their
//! order: the SQLite columns, the JSON output, the README table and (later) the
//! model bundle all read it. Every feature is a pure function of one window, so
//! the same window always gives the same vector.
//!
//! | feature | how it is computed |
//! |---|---|
//! | `queries_per_min` | unicast lookups / window length in minutes |
//! | `nxdomain_rate` | NXDOMAIN responses / lookups that got a response code |
//! | `servfail_rate` | SERVFAIL (and REFUSED) / lookups that got a response code |
//! | `unanswered_rate` | queries with no response / lookups |
//! | `high_risk_domain_ratio` | distinct names with lexical risk ≥ threshold / distinct names |
//! | `newly_seen_ratio` | registrable domains never seen by the sensor / distinct registrable domains |
//! | `host_newly_seen_ratio` | registrable domains never seen from this host / distinct registrable domains |
//! | `unique_domains` | distinct query names |
//! | `unique_registrable_domains` | distinct registrable domains (PSL) |
//! | `max_subdomains_per_domain` | most distinct names under one registrable domain that is neither allow-listed nor popular |
//! | `mean_qname_len` | mean length of the distinct names |
//! | `max_qname_len` | longest name |
//! | `mean_label_entropy` | mean Shannon entropy (bits/char) of the distinct names' labels |
//! | `max_label_entropy` | highest of those |
//! | `mean_risk` | mean lexical risk of the distinct names |
//! | `max_risk` | highest lexical risk |
//! | `txt_ratio` | TXT lookups / lookups |
//! | `null_ratio` | NULL lookups / lookups |
//! | `rare_qtype_ratio` | TXT + NULL + ANY + uncommon types / lookups |
//! | `response_bytes_per_lookup` | response bytes / lookups that got a response |
//! | `mean_latency_ms` | mean query→response latency of paired lookups |
//! | `beacon_score` | `1 / (1 + cv)` of the intervals between contacts with the most regular registrable domain (lookups < 1 s apart are one contact; ≥ 4 contacts needed; 1 = perfectly periodic), 0 if none |
//! | `distinct_name_ratio` | distinct names / lookups (1 = every lookup a new name) |

use crate::aggregate::HostWindow;
use crate::event::MICROS;

/// Feature names, in vector order.
pub const FEATURE_NAMES: [&str; 23] = [
    "queries_per_min",
    "nxdomain_rate",
    "servfail_rate",
    "unanswered_rate",
    "high_risk_domain_ratio",
    "newly_seen_ratio",
    "host_newly_seen_ratio",
    "unique_domains",
    "unique_registrable_domains",
    "max_subdomains_per_domain",
    "mean_qname_len",
    "max_qname_len",
    "mean_label_entropy",
    "max_label_entropy",
    "mean_risk",
    "max_risk",
    "txt_ratio",
    "null_ratio",
    "rare_qtype_ratio",
    "response_bytes_per_lookup",
    "mean_latency_ms",
    "beacon_score",
    "distinct_name_ratio",
];

/// Number of features.
pub const N_FEATURES: usize = FEATURE_NAMES.len();

/// A window's feature vector, in [`FEATURE_NAMES`] order.
pub type FeatureVector = [f64; N_FEATURES];

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Compute the feature vector of a window.
pub fn compute(w: &HostWindow) -> FeatureVector {
    let minutes = ((w.end - w.start) as f64 / (60 * MICROS) as f64).max(1e-9);
    let lookups = w.lookups as u64;
    let uniq = w.unique_domains as u64;
    let ureg = w.unique_registrable as u64;
    let q = &w.qtypes;
    let rare = (q.txt + q.null + q.any + q.rare) as u64;
    [
        w.lookups as f64 / minutes,
        ratio(w.nxdomain as u64, w.with_rcode as u64),
        ratio((w.servfail + w.refused) as u64, w.with_rcode as u64),
        ratio(w.unanswered as u64, lookups),
        ratio(w.high_risk_domains as u64, uniq),
        ratio(w.new_domains as u64, ureg).min(1.0),
        ratio(w.new_host_domains as u64, ureg).min(1.0),
        uniq as f64,
        ureg as f64,
        w.max_subdomains as f64,
        if uniq == 0 {
            0.0
        } else {
            w.qname_len_sum as f64 / uniq as f64
        },
        w.max_qname_len as f64,
        if uniq == 0 {
            0.0
        } else {
            w.entropy_sum / uniq as f64
        },
        w.max_entropy as f64,
        if uniq == 0 {
            0.0
        } else {
            w.risk_sum / uniq as f64
        },
        w.max_risk as f64,
        ratio(q.txt as u64, lookups),
        ratio(q.null as u64, lookups),
        ratio(rare, lookups),
        ratio(w.response_bytes, w.with_rcode as u64),
        if w.latency_n == 0 {
            0.0
        } else {
            w.latency_sum_us as f64 / w.latency_n as f64 / 1000.0
        },
        w.beacon.as_ref().map_or(0.0, |b| 1.0 / (1.0 + b.cv)),
        ratio(uniq, lookups),
    ]
}

/// Features as (name, value) pairs.
pub fn named(w: &HostWindow) -> impl Iterator<Item = (&'static str, f64)> {
    FEATURE_NAMES.into_iter().zip(compute(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{AggregateConfig, Aggregator};
    use crate::enrich::Enrichment;
    use crate::event::{Lookup, LookupOutcome};

    #[test]
    fn features_of_a_small_window() {
        let mut a = Aggregator::new(AggregateConfig::default());
        let names = ["a.ex.com", "b.ex.com", "a.ex.com", "zz.org"];
        for (i, n) in names.iter().enumerate() {
            let l = Lookup {
                qtype: if i == 3 { 16 } else { 1 },
                rcode: Some(if i == 1 { 3 } else { 0 }),
                latency_us: Some(2000),
                query_bytes: 30,
                response_bytes: 100,
                outcome: LookupOutcome::Answered,
                ..Lookup::new(i as i64 * MICROS, "10.1.1.1".parse().unwrap(), n)
            };
            let e = Enrichment {
                qname_hash: n.len() as u64 * 31 + n.as_bytes()[0] as u64,
                registrable_len: 6,
                registrable_hash: if n.ends_with("ex.com") { 1 } else { 2 },
                group_len: 6,
                group_hash: if n.ends_with("ex.com") { 1 } else { 2 },
                risk: if i == 3 { 0.9 } else { 0.1 },
                high_risk: i == 3,
                entropy: 1.0,
                new_global: i == 0,
                ..Default::default()
            };
            a.record(&l, &e);
        }
        let mut out = Vec::new();
        a.flush_all(&mut out);
        let f: std::collections::HashMap<_, _> = named(&out[0]).collect();
        assert!((f["queries_per_min"] - 0.8).abs() < 1e-9);
        assert!((f["nxdomain_rate"] - 0.25).abs() < 1e-9);
        assert_eq!(f["unique_domains"], 3.0);
        assert_eq!(f["unique_registrable_domains"], 2.0);
        assert_eq!(f["max_subdomains_per_domain"], 2.0);
        assert!((f["high_risk_domain_ratio"] - 1.0 / 3.0).abs() < 1e-9);
        assert!((f["newly_seen_ratio"] - 0.5).abs() < 1e-9);
        assert!((f["txt_ratio"] - 0.25).abs() < 1e-9);
        assert!((f["mean_latency_ms"] - 2.0).abs() < 1e-9);
        assert!((f["distinct_name_ratio"] - 0.75).abs() < 1e-9);
        assert!(compute(&out[0]).iter().all(|v| v.is_finite()));
    }
}
