//! Write a sample evaluation report from a small synthetic labelled replay.
//!
//! `cargo run --example eval_report -- /tmp/r.html` prints the text table and writes
//! the HTML report (used to eyeball the timelines in a browser).
#![forbid(unsafe_code)]

use sentineldns::evaluate::{evaluate, render_html, render_table, ScoredWindow};

/// Tiny deterministic generator (64-bit LCG) so the example needs no RNG crate.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A ground-truth incident: scenario, window indices, score boost.
type Planted = (&'static str, std::ops::Range<i64>, f64);

fn label(score: f64) -> &'static str {
    if score >= 0.75 {
        "Likely Compromise"
    } else if score >= 0.45 {
        "Unusual"
    } else {
        "Normal"
    }
}

fn main() -> std::io::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "eval_report.html".to_owned());
    let t0 = 1_700_000_000i64;
    let step = 300;
    let mut rng = Lcg(7);
    // (host, scenario, incident window range, strength)
    let hosts: [(&str, Option<Planted>); 7] = [
        ("10.1.0.11", Some(("dga", 40..70, 0.55))),
        ("10.1.0.12", Some(("dns-tunnel", 100..130, 0.35))),
        ("10.1.0.13", Some(("c2-beacon", 20..200, 0.1))),
        ("<script>alert(1)</script>", Some(("dga", 150..160, 0.5))),
        ("10.1.0.20", None),
        ("10.1.0.21", None),
        ("10.1.0.22", None),
    ];
    let mut ws = Vec::new();
    for (host, inc) in hosts {
        for i in 0..288 {
            let start = t0 + i * step;
            let mal = inc.as_ref().filter(|(_, r, _)| r.contains(&i));
            let base = 0.08 + 0.18 * rng.next() + if rng.next() > 0.985 { 0.35 } else { 0.0 };
            let score: f64 = match mal {
                Some((_, r, k)) => (base + k + 0.01 * (i - r.start) as f64).min(1.0),
                None => base,
            };
            ws.push(ScoredWindow {
                host: host.to_owned(),
                start,
                end: start + step,
                score,
                label: label(score).to_owned(),
                truth_malicious: mal.is_some(),
                truth_scenario: mal.map(|(s, _, _)| (*s).to_owned()),
                first_malicious_ts: mal.map(|_| start + 40),
                reasons: vec![],
                explanation: String::new(),
            });
        }
    }
    let e = evaluate(&ws);
    print!("{}", render_table(&e));
    std::fs::write(
        &out,
        render_html(&e, &ws, "sentineldns evaluation — synthetic replay", &[]),
    )?;
    eprintln!("wrote {out}");
    Ok(())
}
