//! Threat-intel lists (`[intel]`, `--intel`): a lookup of a listed name makes
//! its window Likely Compromise with the reason `threat_intel`, whatever the
//! model says; the same replay without the list does not; a missing list is
//! a clear error naming the file.

use crate::util::{bin, event_line, json_lines, stderr, stdout};
use serde_json::Value;
use std::path::Path;

/// Two ordinary hosts; 10.1.1.5 looks up one name under `bad-feed.example.com`.
fn replay_input(dir: &Path) -> std::path::PathBuf {
    let mut text = String::new();
    for i in 0..40 {
        let ts = 1_700_000_000.0 + 5.0 * i as f64;
        let d = if i == 20 {
            "beacon.bad-feed.example.com".to_string()
        } else {
            format!("site{}.com", i % 8)
        };
        text.push_str(&event_line(ts, "10.1.1.5", &d, "A", "NOERROR"));
        text.push_str(&event_line(
            ts,
            "10.1.1.6",
            &format!("site{}.com", i % 8),
            "A",
            "NOERROR",
        ));
    }
    let p = dir.join("in.jsonl");
    std::fs::write(&p, text).unwrap();
    p
}

fn replay(dir: &Path, db: &str, extra: &[&std::ffi::OsStr]) -> Vec<Value> {
    let input = replay_input(dir);
    let o = bin()
        .args(["replay", "--format", "json", "--db"])
        .arg(dir.join(db))
        .args(extra)
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    json_lines(&o.stdout)
}

#[test]
fn a_listed_name_makes_its_window_likely_compromise_and_nothing_else_changes() {
    let d = tempfile::tempdir().unwrap();
    let list = d.path().join("intel.txt");
    std::fs::write(&list, "# feed\nbad-feed.example.com\n").unwrap();
    let with = replay(d.path(), "a.db", &["--intel".as_ref(), list.as_os_str()]);
    let without = replay(d.path(), "b.db", &[]);
    assert_eq!(with.len(), without.len());
    let hit: Vec<&Value> = with
        .iter()
        .filter(|w| w["label"] == "Likely Compromise")
        .collect();
    assert_eq!(hit.len(), 1, "{with:#?}");
    assert_eq!(hit[0]["host"], "10.1.1.5");
    assert_eq!(hit[0]["reasons"][0]["tag"], "threat_intel");
    assert_eq!(hit[0]["reasons"][0]["feature"], "intel_lookups");
    let text = hit[0]["explanation"].as_str().unwrap();
    assert!(
        text.contains("threat-intel list") && text.contains("example.com"),
        "{text}"
    );
    assert!(
        without.iter().all(|w| w["label"] == "Normal"),
        "{without:#?}"
    );
    // The other windows are scored exactly as without the list.
    for (a, b) in with.iter().zip(&without) {
        if a["reasons"].as_array().is_some_and(|r| r.is_empty()) {
            assert_eq!(a, b);
        }
    }
    // The stored verdict carries the reason.
    let o = bin()
        .args(["alerts", "--db"])
        .arg(d.path().join("a.db"))
        .output()
        .unwrap();
    assert!(stdout(&o).contains("threat_intel"), "{}", stdout(&o));
}

#[test]
fn a_missing_intel_list_is_a_clear_error_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let cfg = d.path().join("s.toml");
    std::fs::write(&cfg, "[intel]\nfiles = [\"missing-intel.txt\"]\n").unwrap();
    let o = bin()
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("missing-intel.txt"), "{err}");
    assert!(err.contains("[intel] files"), "{err}");
    // A list that does not parse names the file and the line.
    let bad = d.path().join("bad.txt");
    std::fs::write(&bad, "ok.example\nnot a domain\n").unwrap();
    std::fs::write(
        &cfg,
        format!("[intel]\nfiles = [{:?}]\n", bad.display().to_string()),
    )
    .unwrap();
    let o = bin()
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("bad.txt") && err.contains("line 2"), "{err}");
    // The flag is checked before any work.
    let input = replay_input(d.path());
    let o = bin()
        .args(["replay", "--db"])
        .arg(d.path().join("x.db"))
        .arg("--intel")
        .arg(d.path().join("nope-intel.txt"))
        .arg(&input)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("nope-intel.txt"), "{err}");
    assert!(
        !d.path().join("x.db").exists(),
        "no database before the check"
    );
}

/// On a real capture (DNS-OARC dnscap test traffic, benign): listing the one
/// domain its client resolves (`google.com`, matched suffix-aware for every
/// name under it) turns that client's window into Likely Compromise with
/// `threat_intel`; an `=exact` entry for a name it never asked leaves it Normal.
#[test]
fn a_listed_domain_in_a_real_capture_is_likely_compromise() {
    let d = tempfile::tempdir().unwrap();
    let cap = crate::util::repo_file("tests/fixtures/dnscap-dns.pcap.gz");
    let run = |db: &str, entry: &str| {
        let list = d.path().join(format!("{db}.txt"));
        std::fs::write(&list, format!("{entry}\n")).unwrap();
        let o = bin()
            .args(["replay", "--format", "json", "--db"])
            .arg(d.path().join(db))
            .arg("--intel")
            .arg(&list)
            .arg(&cap)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        json_lines(&o.stdout)
    };
    let hit = run("a.db", "google.com");
    assert_eq!(hit.len(), 1, "{hit:#?}");
    assert_eq!(hit[0]["host"], "172.17.0.10");
    assert_eq!(hit[0]["label"], "Likely Compromise");
    assert_eq!(hit[0]["reasons"][0]["tag"], "threat_intel");
    assert_eq!(hit[0]["reasons"][0]["value"], 24.0, "{:#}", hit[0]);
    let miss = run("b.db", "=mail.google.com");
    assert_eq!(miss[0]["label"], "Normal", "{:#}", miss[0]);
}
