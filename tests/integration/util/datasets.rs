//! Loaders for the labelled domain lists under `../shared/data/domains`
//! (shared by `enrich_calibration`, `brand_real_lists` and
//! `examples/lexical_calibration.rs`, which also compiles `paths.rs`).
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Root of the labelled domain lists (fails the test when missing).
pub fn root() -> PathBuf {
    let root = super::paths::shared_data().join("domains");
    assert!(
        root.join("benign").is_dir(),
        "labelled domain lists not found at {}: check out ../shared next to this repository or set SENTINELDNS_SHARED_DATA",
        root.display()
    );
    root
}

/// One named set of query names.
pub struct Set {
    /// `benign`, `dga/<family>`, `tunnel/<tool>`, ...
    pub name: String,
    /// Normalised names (lowercase, no trailing dot, `\DDD` escapes), de-duplicated.
    pub names: Vec<String>,
}

/// Normalise like the capture decoder: ASCII lowercase, one trailing dot
/// removed, bytes outside `!`..=`~` escaped as `\DDD`.
pub fn normalise(raw: &str) -> String {
    let raw = raw.trim();
    let raw = raw.strip_suffix('.').unwrap_or(raw);
    let mut s = String::with_capacity(raw.len());
    for &b in raw.as_bytes() {
        if (0x21..=0x7e).contains(&b) {
            s.push(b.to_ascii_lowercase() as char);
        } else {
            s.push_str(&format!("\\{b:03}"));
        }
    }
    s
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// All benign registrable domains (the four lists, de-duplicated).
pub fn benign() -> Set {
    let mut set = BTreeSet::new();
    for f in super::paths::files_in(&root().join("benign")) {
        for line in read(&f).lines() {
            let d = normalise(line.rsplit(',').next().unwrap_or(""));
            if !d.is_empty() && d != "domain" {
                set.insert(d);
            }
        }
    }
    Set {
        name: "benign".into(),
        names: set.into_iter().collect(),
    }
}

/// DGA domains grouped by family (source list for the andrewaeva files).
pub fn dga() -> Vec<Set> {
    let mut fams: std::collections::BTreeMap<String, BTreeSet<String>> = Default::default();
    for f in super::paths::files_in(&root().join("dga")) {
        let fname = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let text = read(&f);
        if fname.starts_with("baderj") {
            for line in text.lines().skip(1) {
                let mut it = line.split(',');
                let (Some(fam), Some(d)) = (it.next(), it.next()) else {
                    continue;
                };
                fams.entry(format!("baderj/{fam}"))
                    .or_default()
                    .insert(normalise(d));
            }
        } else if fname.ends_with(".csv") {
            for line in text.lines() {
                let mut it = line.split(',').map(|s| s.trim().trim_matches('"'));
                let (Some(d), Some(fam)) = (it.next(), it.next()) else {
                    continue;
                };
                fams.entry(format!("andrewaeva-dds/{fam}"))
                    .or_default()
                    .insert(normalise(d));
            }
        } else {
            let fam = fname
                .trim_start_matches("andrewaeva_")
                .trim_end_matches(".txt");
            for line in text.lines() {
                let d = normalise(line);
                if !d.is_empty() {
                    fams.entry(format!("andrewaeva/{fam}"))
                        .or_default()
                        .insert(d);
                }
            }
        }
    }
    fams.into_iter()
        .map(|(name, s)| Set {
            name,
            names: s.into_iter().collect(),
        })
        .collect()
}

/// Tunnelling query names (`label == 1`) per tool, and the benign capture
/// (`netrack_plain`, label 0) as `plain`. Not de-duplicated: every query counts.
pub fn tunnels() -> Vec<Set> {
    let mut out = Vec::new();
    for f in super::paths::files_in(&root().join("tunneling")) {
        let fname = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        if !fname.ends_with("_names.csv") {
            continue;
        }
        let tool = fname
            .trim_start_matches("netrack_")
            .trim_end_matches("_names.csv");
        let mut names = Vec::new();
        for line in read(&f).lines().skip(1) {
            let Some((label, q)) = line.split_once(',') else {
                continue;
            };
            let q = normalise(q);
            if q.is_empty() {
                continue;
            }
            let want = if tool == "plain" { "0" } else { "1" };
            if label.trim() == want {
                names.push(q);
            }
        }
        let name = if tool == "plain" {
            "plain(benign capture)".to_string()
        } else {
            format!("tunnel/{tool}")
        };
        out.push(Set { name, names });
    }
    out
}

/// Mean and quantiles of a sample.
pub struct Dist {
    pub n: usize,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    /// Fraction `>= threshold`.
    pub high: f64,
}

pub fn dist(mut v: Vec<f32>, threshold: f32) -> Dist {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    let q = |p: f64| {
        if n == 0 {
            0.0
        } else {
            v[((n as f64 - 1.0) * p).round() as usize] as f64
        }
    };
    Dist {
        n,
        mean: if n == 0 {
            0.0
        } else {
            v.iter().map(|x| *x as f64).sum::<f64>() / n as f64
        },
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        high: if n == 0 {
            0.0
        } else {
            v.iter().filter(|x| **x >= threshold).count() as f64 / n as f64
        },
    }
}
