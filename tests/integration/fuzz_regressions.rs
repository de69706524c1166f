//! Every committed fuzz input — the seed corpus (`fuzz/corpus/<target>/`) and
//! the crash reproducers (`fuzz/regressions/<target>/`) — replayed through the
//! same harnesses the cargo-fuzz targets call (`sentineldns::fuzzing` and
//! `sentineldns_flows::fuzzing`), on stable Rust, in every test run. A crash found by fuzzing gets its input
//! copied to `fuzz/regressions/<target>/` and then stays fixed.

use crate::util::{self, files_in, repo as root};
use sentineldns::fuzzing;
use std::path::PathBuf;

/// A crate's harness runner: `run(target, input)`, false for an unknown target.
type Runner = fn(&str, &[u8]) -> bool;

/// Every target of both crates with the harness runner that owns it.
fn targets() -> Vec<(&'static str, Runner)> {
    let dns = fuzzing::TARGETS
        .iter()
        .map(|t| (*t, fuzzing::run as Runner));
    let flows = sentineldns_flows::fuzzing::TARGETS
        .iter()
        .map(|t| (*t, sentineldns_flows::fuzzing::run as Runner));
    dns.chain(flows).collect()
}

/// The crash reproducers of `target`: none until fuzzing has found a crash
/// in it, so a target without a `fuzz/regressions/<target>/` folder has none
/// (the seed corpus, in contrast, must exist: [`files_in`] fails without it).
fn regressions(target: &str) -> Vec<PathBuf> {
    let dir = root().join("fuzz/regressions").join(target);
    if dir.exists() {
        files_in(&dir)
    } else {
        Vec::new()
    }
}

#[test]
fn every_seed_and_crash_input_runs_clean() {
    for (t, run) in targets() {
        let corpus = files_in(&root().join("fuzz/corpus").join(t));
        assert!(
            !corpus.is_empty(),
            "fuzz/corpus/{t} is missing or empty: regenerate it with scripts/fuzz-corpus.py"
        );
        for f in corpus.iter().chain(regressions(t).iter()) {
            let data = std::fs::read(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(run(t, &data), "unknown harness {t}");
        }
    }
}

#[test]
fn every_fuzz_target_has_a_harness_and_a_cargo_fuzz_binary() {
    let manifest =
        std::fs::read_to_string(root().join("fuzz/Cargo.toml")).expect("fuzz/Cargo.toml");
    let targets = targets();
    assert_eq!(targets.len(), 8, "a harness was added or lost");
    for (t, _) in targets {
        assert!(
            manifest.contains(&format!("name = \"{t}\"")),
            "{t} not in fuzz/Cargo.toml"
        );
        assert!(
            root().join(format!("fuzz/fuzz_targets/{t}.rs")).is_file(),
            "{t}.rs missing"
        );
    }
    assert!(!fuzzing::run("no_such_target", b""));
    assert!(
        !fuzzing::run("flow_csv", b""),
        "flow_csv belongs to sentineldns-flows"
    );
    assert!(!sentineldns_flows::fuzzing::run("decode_packet", b""));
}

/// ../shared/data/hostile/decode_packet-crash-minimized.bin: the first crash
/// `decode_packet` found (IPv6 Hop-by-Hop naming Hop-by-Hop; out-of-bounds read).
#[test]
fn decode_packet_fuzz_crash_ipv6_hop_by_hop_chain_does_not_read_out_of_bounds() {
    let p = util::hostile("decode_packet-crash-minimized.bin");
    let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    fuzzing::decode_packet(&data);
    fuzzing::read_capture(&data);
}
