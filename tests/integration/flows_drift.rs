//! End-to-end tests of `sentineldns flows drift` and `flows burst`: KL / L1 on
//! UNSW-NB15 halves cross-checked against an independent computation, ADWIN on
//! a deliberate shift and on a stationary stream, burst alerts, and bad input.

use crate::util::bin;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn unsw() -> std::path::PathBuf {
    crate::util::shared("flows/unsw-nb15/UNSW_NB15_testing-set_subset4528.csv")
}

fn run(args: &[&str], files: &[&Path]) -> std::process::Output {
    let mut c = bin();
    c.args(["flows"]).args(args);
    for f in files {
        c.arg(f);
    }
    c.output().unwrap()
}

fn json_lines(o: &std::process::Output) -> Vec<Value> {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn fails_with(o: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// The UNSW subset split at `at` data rows into reference and current files.
fn unsw_halves(dir: &Path, at: usize) -> (PathBuf, PathBuf, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(unsw()).expect("shared UNSW-NB15 subset present");
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let rows: Vec<&str> = lines.collect();
    let (r, c) = (dir.join("ref.csv"), dir.join("cur.csv"));
    std::fs::write(&r, format!("{header}\n{}\n", rows[..at].join("\n"))).unwrap();
    std::fs::write(&c, format!("{header}\n{}\n", rows[at..].join("\n"))).unwrap();
    let parsed = rows
        .iter()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    (r, c, parsed)
}

/// Independent KL(cur‖ref) and L1 with Laplace smoothing over the union of categories.
fn expected(rows: &[Vec<String>], at: usize, col: usize) -> (f64, f64) {
    let count = |rs: &[Vec<String>]| {
        let mut m: BTreeMap<String, f64> = BTreeMap::new();
        for r in rs {
            *m.entry(r[col].clone()).or_default() += 1.0;
        }
        m
    };
    let (a, b) = (count(&rows[..at]), count(&rows[at..]));
    let cats: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let k = cats.len() as f64;
    let (na, nb) = (at as f64, (rows.len() - at) as f64);
    let (mut kl, mut l1) = (0.0, 0.0);
    for c in cats {
        let q = (a.get(c).copied().unwrap_or(0.0) + 1.0) / (na + k);
        let p = (b.get(c).copied().unwrap_or(0.0) + 1.0) / (nb + k);
        kl += p * (p / q).ln();
        l1 += (p - q).abs();
    }
    (kl, l1)
}

#[test]
fn kl_and_l1_on_unsw_halves_match_an_independent_computation() {
    let dir = tempfile::tempdir().unwrap();
    let (r, c, rows) = unsw_halves(dir.path(), 2264);
    let o = bin()
        .args(["flows", "drift", "--format", "json", "--reference"])
        .arg(&r)
        .arg("--current")
        .arg(&c)
        .output()
        .unwrap();
    let out = json_lines(&o);
    assert_eq!(out.len(), 3);
    // proto, service, state are columns 2, 3, 4 of the UNSW header
    for (v, (name, col)) in out.iter().zip([("proto", 2), ("state", 4), ("service", 3)]) {
        assert_eq!(v["column"], name);
        assert_eq!(v["unit"], "nats");
        let (kl, l1) = expected(&rows, 2264, col);
        assert!(
            (v["kl"].as_f64().unwrap() - kl).abs() < 1e-9,
            "{name}: {v} vs {kl}"
        );
        assert!(
            (v["l1"].as_f64().unwrap() - l1).abs() < 1e-9,
            "{name}: {v} vs {l1}"
        );
    }
    // the second half is attack-heavy: proto moves a lot, service little
    assert!(out[0]["kl"].as_f64().unwrap() > 0.5);
    assert!(out[2]["kl"].as_f64().unwrap() < 0.1);

    // identical windows: zero divergence
    let o = bin()
        .args(["flows", "drift", "--format", "json", "--reference"])
        .arg(&c)
        .arg("--current")
        .arg(&c)
        .output()
        .unwrap();
    for v in json_lines(&o) {
        assert_eq!(v["kl"], 0.0);
        assert_eq!(v["l1"], 0.0);
    }
}

/// `n` rows of `time,score` with a deterministic noisy mean that jumps at `shift`.
fn score_csv(path: &Path, n: usize, shift: usize, before: f64, after: f64) {
    let mut s = String::from("\u{feff}stime,score\r\n");
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for i in 0..n {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let u = (state >> 11) as f64 / (1u64 << 53) as f64;
        let mean = if i < shift { before } else { after };
        let v = (mean + 0.3 * (u - 0.5)).clamp(0.0, 1.0);
        s.push_str(&format!("{},\"{v:.4}\"\r\n", 1_700_000_000 + i));
    }
    std::fs::write(path, s).unwrap();
}

#[test]
fn adwin_finds_a_deliberate_shift_quickly_and_nothing_on_a_stationary_stream() {
    let dir = tempfile::tempdir().unwrap();
    let shifted = dir.path().join("shift.csv");
    score_csv(&shifted, 4000, 2000, 0.2, 0.6);
    let o = run(
        &[
            "drift",
            "--format",
            "json",
            "--adwin-column",
            "score",
            "--time-column",
            "stime",
            "--current",
        ],
        &[&shifted],
    );
    let ev = json_lines(&o);
    assert!(!ev.is_empty());
    let first = &ev[0];
    assert_eq!(first["kind"], "drift");
    let idx = first["index"].as_u64().unwrap();
    assert!((2000..2000 + 96).contains(&idx), "{first}");
    assert_eq!(first["line"], idx + 2);
    assert_eq!(
        first["time"].as_f64().unwrap(),
        (1_700_000_000 + idx) as f64
    );
    assert!(first["old_mean"].as_f64().unwrap() < 0.3);
    assert!(first["new_mean"].as_f64().unwrap() > first["old_mean"].as_f64().unwrap());

    let flat = dir.path().join("flat.csv");
    score_csv(&flat, 20_000, 20_000, 0.4, 0.4);
    let o = run(&["drift", "--adwin-column", "score", "--current"], &[&flat]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("20000 values, 0 drift event(s)"), "{text}");
}

#[test]
fn drift_input_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("s.csv");
    std::fs::write(
        &p,
        "stime,score,proto\n1,0.5,tcp\n2,abc,udp\n3\n4,0.7,tcp\n",
    )
    .unwrap();
    fails_with(&run(&["drift", "--current"], &[&p]), "nothing to do");
    fails_with(
        &run(&["drift", "--adwin-column", "nope", "--current"], &[&p]),
        "missing required column(s): nope",
    );
    fails_with(
        &run(
            &[
                "drift",
                "--columns",
                "proto,state,service",
                "--current",
                p.to_str().unwrap(),
                "--reference",
            ],
            &[&p],
        ),
        "missing required column(s): state, service",
    );
    fails_with(
        &run(
            &[
                "drift",
                "--adwin-column",
                "score",
                "--delta",
                "0",
                "--current",
            ],
            &[&p],
        ),
        "delta",
    );
    let o = run(&["drift", "--adwin-column", "score", "--current"], &[&p]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("2 rows skipped"), "{err}");
    assert!(err.contains("skipped line 3: score: \"abc\""), "{err}");
    let b = dir.path().join("b.csv");
    std::fs::write(&b, b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00\0\0\0\0").unwrap();
    fails_with(
        &run(&["drift", "--adwin-column", "score", "--current"], &[&b]),
        "not a CSV text file",
    );
}

#[test]
fn burst_raises_one_alert_per_burst_with_context() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("scored.csv");
    let t0 = 1_700_000_000i64;
    let mut rows: Vec<(i64, String)> = Vec::new();
    // background: an anomaly every 10 minutes for 3 hours, normal records between
    for i in 0..180 {
        let t = t0 + i * 60;
        let score = if i % 10 == 0 { 0.9 } else { 0.1 };
        rows.push((t, format!("{t},{score},udp,INT,dns")));
    }
    // two bursts of 15 anomalies within 3 minutes, one hour apart
    for b in [0, 3600] {
        for i in 0..15 {
            let t = t0 + 1805 + b + i * 12;
            rows.push((t, format!("{t},0.95,tcp,CON,\"http\"")));
        }
    }
    rows.sort();
    let mut s = String::from("\u{feff}stime,score,proto,state,service\r\n");
    for (_, r) in rows {
        s.push_str(&r);
        s.push_str("\r\n");
    }
    s.push_str("garbage,0.9,tcp,CON,http\r\n");
    std::fs::write(&p, s).unwrap();
    let o = run(&["burst", "--min-hits", "10", "--window", "5m"], &[&p]);
    let alerts = json_lines(&o);
    assert_eq!(alerts.len(), 2, "{alerts:?}");
    for a in &alerts {
        assert_eq!(a["type"], "burst");
        assert_eq!(a["hits_in_window"], 10);
        assert_eq!(a["window_min"], 5.0);
        assert_eq!(a["threshold"], 0.5);
        assert_eq!(a["top_context"]["proto"], "tcp");
        assert_eq!(a["top_context"]["state"], "CON");
        assert_eq!(a["top_context"]["service"], "http");
    }
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("1 rows skipped") && err.contains("2 burst alert(s)"),
        "{err}"
    );
    // each burst plus the background anomaly 5 s before it is 16 in 5 minutes
    let o = run(&["burst", "--min-hits", "16", "--window", "5m"], &[&p]);
    assert_eq!(json_lines(&o).len(), 2);
    let o = run(&["burst", "--min-hits", "17", "--window", "5m"], &[&p]);
    assert!(json_lines(&o).is_empty());
    fails_with(&run(&["burst", "--min-hits", "0"], &[&p]), "min_hits");
    fails_with(&run(&["burst", "--context", "proto,nope"], &[&p]), "nope");
}
