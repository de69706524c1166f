//! Calibration of the lexical risk on the labelled lists in
//! `../shared/data/domains` at the default high-risk threshold (0.7).
//! Prints the distribution table (run with `--nocapture` to see it) and
//! asserts the operating point. Skipped, with a message, when the data is
//! absent.
//!
//! Targets from the design brief: benign ≤ 2 % high risk (met), DGA ≥ 85 %
//! (NOT met: the pooled lists reach ~79 %; ~17 % of them are wordlist or
//! pronounceable families that no lexical score separates from benign at 2 %
//! false positives, see `src/enrich/lexical.rs`). The DGA assertion is a
//! regression guard at the achieved level.

use crate::util::datasets;

use sentineldns::enrich::{EnrichConfig, LexicalModel, Psl};

#[test]
fn risk_distribution_meets_operating_point() {
    let th = EnrichConfig::default().high_risk_threshold;
    let psl = Psl::embedded(false);
    let m = LexicalModel::embedded();
    let risks =
        |names: &[String]| -> Vec<f32> { names.iter().map(|q| m.score_in(q, &psl).risk).collect() };

    let benign = datasets::benign();
    let dga = datasets::dga();
    let pooled: Vec<String> = dga.iter().flat_map(|s| s.names.iter().cloned()).collect();
    let tunnels = datasets::tunnels();

    let mut rows = vec![(
        "benign lists".to_string(),
        datasets::dist(risks(&benign.names), th),
    )];
    rows.push((
        "dga (pooled)".to_string(),
        datasets::dist(risks(&pooled), th),
    ));
    for s in &dga {
        rows.push((s.name.clone(), datasets::dist(risks(&s.names), th)));
    }
    for s in &tunnels {
        rows.push((s.name.clone(), datasets::dist(risks(&s.names), th)));
    }
    println!(
        "{:<34} {:>7} {:>6} {:>6} {:>6} {:>6} {:>8}",
        "set", "n", "mean", "p50", "p90", "p99", ">=th"
    );
    for (n, d) in &rows {
        println!(
            "{n:<34} {:>7} {:>6.3} {:>6.3} {:>6.3} {:>6.3} {:>7.2}%",
            d.n,
            d.mean,
            d.p50,
            d.p90,
            d.p99,
            d.high * 100.0
        );
    }
    let get = |name: &str| {
        rows.iter()
            .find(|r| r.0 == name)
            .map(|r| r.1.high)
            .unwrap_or(f64::NAN)
    };
    assert!(
        get("benign lists") <= 0.02,
        "benign high-risk rate {}",
        get("benign lists")
    );
    assert!(
        get("plain(benign capture)") <= 0.025,
        "benign capture {}",
        get("plain(benign capture)")
    );
    assert!(
        get("dga (pooled)") >= 0.75,
        "pooled DGA recall {}",
        get("dga (pooled)")
    );
    for t in ["tunnel/dns2tcp", "tunnel/dnscapy", "tunnel/iodine"] {
        assert!(get(t) >= 0.95, "{t} {}", get(t));
    }
}
