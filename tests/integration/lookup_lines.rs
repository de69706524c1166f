//! sentineldns's own lookup lines read back (issue 14 item 1): the NDJSON
//! `--ndjson-lookups` output of real captures, replayed as an input, gives
//! exactly the window lines (features and verdicts) of replaying the
//! captures. This is the path `sentineldns score` takes from the lookups
//! topic.

use crate::util::{assert_success, json_lines, run_with_deadline, sensor, shared};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn replay(dir: &Path, name: &str, inputs: &[PathBuf], lookups: bool) -> Vec<Value> {
    let nd = dir.join(format!("{name}.ndjson"));
    let mut c = sensor();
    c.args(["replay", "--format", "none", "--db"])
        .arg(dir.join(format!("{name}.db")))
        .arg("--ndjson")
        .arg(&nd);
    if lookups {
        c.arg("--ndjson-lookups");
    }
    c.args(inputs);
    let o = run_with_deadline(c, Duration::from_secs(120));
    assert_success(&o, &format!("replay {name}"));
    json_lines(std::fs::read(&nd).unwrap())
}

fn dataset(v: &Value) -> &str {
    v["event"]["dataset"].as_str().unwrap_or_default()
}

fn sorted(v: impl IntoIterator<Item = Value>) -> Vec<String> {
    let mut s: Vec<String> = v.into_iter().map(|v| v.to_string()).collect();
    s.sort();
    s
}

#[test]
fn lookup_ndjson_of_real_captures_replays_to_the_same_windows() {
    let caps: Vec<PathBuf> = [
        "dns-oarc/dnscap/dns.pcap",
        "dns-oarc/dnscap/dnso1tcp.pcap",
        "dns-oarc/dnscap/frags.pcap",
        "dns-oarc/dnsjit/pellets.pcap",
    ]
    .iter()
    .map(|p| shared(&format!("pcap/{p}")))
    .collect();
    for c in &caps {
        assert!(c.exists(), "shared capture {} is missing", c.display());
    }
    let dir = tempfile::tempdir().unwrap();
    let first = replay(dir.path(), "captures", &caps, true);
    let lookups = first
        .iter()
        .filter(|v| dataset(v) == "sentineldns.lookup")
        .count();
    assert!(lookups > 100, "only {lookups} lookup lines");
    let windows: Vec<Value> = first
        .iter()
        .filter(|v| dataset(v) == "sentineldns.window")
        .cloned()
        .collect();
    assert!(windows.len() >= 10, "only {} windows", windows.len());
    // The whole mixed file (window lines are passed over) as the input.
    let again = replay(
        dir.path(),
        "lookups",
        &[dir.path().join("captures.ndjson")],
        false,
    );
    let again_windows: Vec<Value> = again
        .into_iter()
        .filter(|v| dataset(v) == "sentineldns.window")
        .collect();
    assert_eq!(sorted(again_windows), sorted(windows));
}
