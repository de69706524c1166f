//! Regression tests for the hostile inputs in ../shared/data/hostile (see its
//! README.md): each one broke the sensor once. Inputs are read from the shared
//! data set; a missing file fails the test.

use crate::util;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// Replay `input` into a fresh database; returns the run's stored summary.
fn replay(dir: &Path, input: &Path, extra: &[&str]) -> Value {
    let db = dir.join("s.db");
    let mut c = util::sensor();
    c.args(["replay", "--no-model", "--format", "none", "--db"])
        .arg(&db)
        .args(extra)
        .arg(input);
    let o = util::run_with_deadline(c, Duration::from_secs(120));
    util::assert_success(&o, "replay");
    let (status, stats) = util::last_run(&db);
    assert_eq!(status, "complete");
    stats
}

fn skipped(summary: &Value, reason: &str) -> u64 {
    summary["skipped"][reason].as_u64().unwrap_or(0)
}

/// One IPv6 packet whose Hop-by-Hop header names Hop-by-Hop again: refused
/// as a damaged IP header, no out-of-bounds read.
#[test]
fn ipv6_hop_by_hop_chain_does_not_read_out_of_bounds() {
    let d = tempfile::tempdir().unwrap();
    let s = replay(d.path(), &util::hostile("ipv6_hbh_hbh.pcap"), &[]);
    assert_eq!(s["packets"], 1, "{s}");
    assert_eq!(skipped(&s, "truncated_ip"), 1, "{s}");
}

/// A 60,000-byte frame of zeros, then the Hop-by-Hop packet (800 invalid
/// reads under valgrind before the fix): both counted, in bounds.
#[test]
fn ipv6_hop_by_hop_after_a_zero_frame_does_not_read_out_of_bounds() {
    let d = tempfile::tempdir().unwrap();
    let s = replay(d.path(), &util::hostile("ipv6_hbh_oob_valgrind.pcap"), &[]);
    assert_eq!(s["packets"], 2, "{s}");
    assert_eq!(skipped(&s, "not_ip"), 1, "{s}");
    assert_eq!(skipped(&s, "truncated_ip"), 1, "{s}");
    assert_eq!(s["examples"][0]["position"], 2, "{s}");
}

/// One packet stamped in 2106 in the middle of a capture: it no longer moves
/// the packet clock, so none of the 3,001 later lookups is late.
#[test]
fn future_ts_packet_does_not_make_the_rest_late() {
    let d = tempfile::tempdir().unwrap();
    let s = replay(d.path(), &util::hostile("future_ts_packet.pcap"), &[]);
    assert_eq!(skipped(&s, "late_lookup"), 0, "{s}");
    assert_eq!(skipped(&s, "future_timestamp"), 1, "{s}");
    let ex = s["examples"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["reason"] == "future_timestamp")
        .expect("example names the packet");
    assert!(ex["position"].as_u64().unwrap() > 1, "{ex}");
    assert!(ex["source"]
        .as_str()
        .unwrap()
        .ends_with("future_ts_packet.pcap"));
}
