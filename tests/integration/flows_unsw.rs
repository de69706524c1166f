//! End-to-end tests of `sentineldns flows train-classifier` and `flows score`
//! on the UNSW-NB15 testing-set subset: held-out quality floors, determinism,
//! NDJSON output, corrupt / truncated / foreign model files and bad CSV input.

use crate::util::bin;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn unsw() -> std::path::PathBuf {
    crate::util::shared("flows/unsw-nb15/UNSW_NB15_testing-set_subset4528.csv")
}

fn train(out: &Path, seed: u64, trees: u16) -> Value {
    let o = bin()
        .args(["flows", "train-classifier"])
        .arg(unsw())
        .arg("--out")
        .arg(out)
        .args(["--seed", &seed.to_string(), "--trees", &trees.to_string()])
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// The model of the documented run (seed 42, 100 trees), trained once.
fn model() -> (&'static Path, &'static Value) {
    static M: OnceLock<(tempfile::TempDir, PathBuf, Value)> = OnceLock::new();
    let (_, p, v) = M.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("unsw.bin");
        let v = train(&p, 42, 100);
        (dir, p, v)
    });
    (p.as_path(), v)
}

#[test]
fn held_out_quality_is_above_the_floors() {
    let (_, v) = model();
    let h = &v["holdout"];
    // measured (seed 42, 100 trees, test fraction 0.3): ROC-AUC 0.983,
    // precision 0.980, recall 1.000 on 1359 held-out rows (73 normal)
    assert_eq!(h["rows"], 1359);
    assert_eq!(h["positives"], 1286);
    assert!(h["roc_auc"].as_f64().unwrap() >= 0.95, "{h}");
    assert!(h["precision"].as_f64().unwrap() >= 0.96, "{h}");
    assert!(h["recall"].as_f64().unwrap() >= 0.98, "{h}");
    assert_eq!(v["train_rows"], 3169);
}

#[test]
fn same_seed_same_model_bytes_other_seed_differs() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a.bin"),
        dir.path().join("b.bin"),
        dir.path().join("c.bin"),
    );
    let va = train(&a, 5, 20);
    let vb = train(&b, 5, 20);
    train(&c, 6, 20);
    assert_eq!(std::fs::read(&a).unwrap(), std::fs::read(&b).unwrap());
    assert_ne!(std::fs::read(&a).unwrap(), std::fs::read(&c).unwrap());
    assert_eq!(va, vb);
}

fn score(model: &Path, input: &Path) -> std::process::Output {
    bin()
        .args(["flows", "score", "--model"])
        .arg(model)
        .arg(input)
        .output()
        .unwrap()
}

#[test]
fn score_writes_one_json_object_per_record() {
    let (m, _) = model();
    let o = score(m, &unsw());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(recs.len(), 4528);
    // truth from the file itself (last column), to rank the scores against
    let truth: Vec<bool> = std::fs::read_to_string(unsw())
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.trim_end().ends_with(",1"))
        .collect();
    let mut ranked = Vec::new();
    for (i, r) in recs.iter().enumerate() {
        assert_eq!(r["line"], i as u64 + 2);
        let s = r["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&s));
        assert_eq!(r["label"].as_u64().unwrap(), u64::from(s >= 0.5));
        ranked.push((truth[i], s));
    }
    let auc = sentineldns_model::metrics::roc_auc(&ranked);
    assert!(auc > 0.97, "{auc}");
    // CSV output carries the same scores
    let o = bin()
        .args(["flows", "score", "--format", "csv", "--model"])
        .arg(m)
        .arg(unsw())
        .output()
        .unwrap();
    let csv = String::from_utf8(o.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("line,score,label,proto,service,state"));
    let first: Vec<&str> = lines.next().unwrap().split(',').collect();
    assert_eq!(
        first[1].parse::<f64>().unwrap(),
        recs[0]["score"].as_f64().unwrap()
    );
}

fn assert_fails_with(o: &std::process::Output, needle: &str) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn corrupt_truncated_and_foreign_models_are_refused_clearly() {
    let (m, _) = model();
    let bytes = std::fs::read(m).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.bin");

    let mut flipped = bytes.clone();
    let mid = bytes.len() / 2;
    flipped[mid] ^= 0x01;
    std::fs::write(&bad, &flipped).unwrap();
    assert_fails_with(&score(&bad, &unsw()), "checksum mismatch");

    std::fs::write(&bad, &bytes[..bytes.len() - 100]).unwrap();
    assert_fails_with(&score(&bad, &unsw()), "truncated");

    std::fs::write(&bad, b"").unwrap();
    assert_fails_with(&score(&bad, &unsw()), "not a sentineldns flow model");

    // a CSV file, and a DNS model bundle header, are not flow models
    assert_fails_with(&score(&unsw(), &unsw()), "not a sentineldns flow model");
    let mut dns = b"SDNSMDL\0".to_vec();
    dns.extend_from_slice(&bytes[8..]);
    std::fs::write(&bad, &dns).unwrap();
    assert_fails_with(&score(&bad, &unsw()), "not a sentineldns flow model");

    assert_fails_with(
        &score(&dir.path().join("missing.bin"), &unsw()),
        "missing.bin",
    );
}

fn header() -> String {
    let f = std::fs::read_to_string(unsw()).unwrap();
    f.lines()
        .next()
        .unwrap()
        .trim_start_matches('\u{feff}')
        .to_string()
}

fn data_lines(n: usize) -> Vec<String> {
    let f = std::fs::read_to_string(unsw()).unwrap();
    f.lines().skip(1).take(n).map(str::to_string).collect()
}

#[test]
fn messy_csv_gives_counted_skips_and_unknown_categories_score() {
    let (m, _) = model();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("messy.csv");
    let mut rows = data_lines(3);
    // an unseen protocol, a garbage number, a short row, quoted fields
    rows.push(rows[0].replacen(",udp,", ",\"zz-proto\",", 1));
    rows.push(rows[1].replacen(",0.000008,", ",abc,", 1));
    rows.push("1,2,3".to_string());
    rows.push(rows[2].replacen(",udp,", ",\"udp\",", 1));
    let text = format!("\u{feff}{}\r\n{}\r\n", header(), rows.join("\r\n"));
    std::fs::write(&p, text).unwrap();
    let o = score(m, &p);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    let out = String::from_utf8(o.stdout).unwrap();
    let lines: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let nums: Vec<u64> = lines.iter().map(|v| v["line"].as_u64().unwrap()).collect();
    assert_eq!(nums, vec![2, 3, 4, 5, 8]);
    assert!(err.contains("2 rows skipped"), "{err}");
    assert!(err.contains("skipped line 6: dur: \"abc\""), "{err}");
    // the quoted copy scores exactly like the original row
    assert_eq!(lines[4]["score"], lines[2]["score"]);
}

#[test]
fn missing_columns_binary_files_and_one_class_data_are_clear_errors() {
    let (m, _) = model();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("few.csv");
    std::fs::write(&p, "dur,proto,state\n1,tcp,FIN\n").unwrap();
    let o = score(m, &p);
    assert_fails_with(&o, "missing required column(s): spkts");
    assert_fails_with(&o, "service");

    let b = dir.path().join("bin.csv");
    std::fs::write(&b, b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").unwrap();
    assert_fails_with(&score(m, &b), "not a CSV text file");

    // training without a label column, and with a single class
    let nolabel = dir.path().join("nolabel.csv");
    let h = header();
    let cut = h.rfind(",label").unwrap();
    let body: Vec<String> = data_lines(50)
        .iter()
        .map(|l| l[..l.rfind(',').unwrap()].to_string())
        .collect();
    std::fs::write(&nolabel, format!("{}\n{}\n", &h[..cut], body.join("\n"))).unwrap();
    let o = bin()
        .args(["flows", "train-classifier", "--out"])
        .arg(dir.path().join("x.bin"))
        .arg(&nolabel)
        .output()
        .unwrap();
    assert_fails_with(&o, "missing required column(s): label");

    let normal = dir.path().join("normal.csv");
    std::fs::write(&normal, format!("{}\n{}\n", h, data_lines(50).join("\n"))).unwrap();
    let o = bin()
        .args(["flows", "train-classifier", "--out"])
        .arg(dir.path().join("x.bin"))
        .arg(&normal)
        .output()
        .unwrap();
    assert_fails_with(&o, "training needs both classes");
    assert!(!dir.path().join("x.bin").exists());
}
