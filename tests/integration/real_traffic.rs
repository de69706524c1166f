//! Generalisation to real DNS software: captures made in network namespaces
//! with a real resolver (unbound), real clients (dig) and a real tunnel
//! (iodine), see `scripts/real-traffic/README.md`. The shipped model was
//! trained on simulations only. Tunnel and DGA hosts must be flagged in their
//! first window of malicious activity; benign hosts must stay Normal.

use crate::util::{self, bin, repo_file};
use serde_json::Value;

fn ts(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s).unwrap().timestamp()
}

fn check_run(run: &str) {
    let pcap = repo_file(&format!("tests/fixtures/real/{run}.pcap.gz"));
    let labels: Vec<Value> = serde_json::from_value(util::read_json(&repo_file(&format!(
        "tests/fixtures/real/{run}.labels.json"
    ))))
    .unwrap();
    let d = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["replay", "--format", "json", "--db"])
        .arg(d.path().join("r.db"))
        .arg(&pcap)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let windows = util::json_lines(&out);
    assert!(!windows.is_empty());
    let start = |w: &Value| ts(w["window_start"].as_str().unwrap());
    let end = |w: &Value| ts(w["window_end"].as_str().unwrap());
    let malicious: Vec<&Value> = labels.iter().filter(|l| l["label"] != "benign").collect();
    assert!(
        malicious.iter().any(|l| l["scenario"] == "dns_tunnel"),
        "{run}: no tunnel host"
    );
    assert!(
        malicious.iter().any(|l| l["scenario"] == "dga_beacon"),
        "{run}: no DGA host"
    );
    for m in &malicious {
        let host = m["host"].as_str().unwrap();
        let (from, to) = (
            ts(m["from"].as_str().unwrap()),
            ts(m["to"].as_str().unwrap()),
        );
        let mut ws: Vec<&Value> = windows
            .iter()
            .filter(|w| {
                w["host"] == host
                    && start(w) < to
                    && end(w) > from
                    && w["lookups"].as_i64().unwrap() > 0
            })
            .collect();
        ws.sort_by_key(|w| start(w));
        let first = ws
            .first()
            .unwrap_or_else(|| panic!("{run}: no window for {host}"));
        assert_ne!(
            first["label"], "Normal",
            "{run}: {} host {host} not flagged in its first window: {first}",
            m["scenario"]
        );
    }
    // The benign server's PTR lookups are infrastructure, counted apart.
    let db = rusqlite::Connection::open(d.path().join("r.db")).unwrap();
    let infra: i64 = db
        .query_row("SELECT SUM(infra_lookups) FROM windows", [], |r| r.get(0))
        .unwrap();
    assert!(infra > 0, "{run}: no infrastructure lookups counted");
    let bad: Vec<&str> = malicious
        .iter()
        .map(|m| m["host"].as_str().unwrap())
        .collect();
    for w in windows
        .iter()
        .filter(|w| !bad.contains(&w["host"].as_str().unwrap()))
    {
        assert_eq!(w["label"], "Normal", "{run}: benign host flagged: {w}");
    }
}

#[test]
fn run_a_tunnel_and_dga_flagged_benign_normal() {
    check_run("run-a");
}

#[test]
fn run_b_tunnel_and_dga_flagged_benign_normal() {
    check_run("run-b");
}
