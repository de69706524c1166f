//! The integration tests of sentineldns, in one test binary (issue 11):
//! one module per area, shared helpers in [`util`]. Run a subset by module
//! path, e.g. `cargo test --test integration hostile_` or
//! `cargo test --test integration cli::`.
//!
//! The modules run as threads of one process, so a test must not change
//! process-wide state (environment variables, the current directory, signal
//! dispositions, resource limits): pass it to the child process instead
//! (`Command::env`, `Command::current_dir`, `prlimit`). A test that measures
//! the whole process re-runs itself alone in a child
//! ([`util::run_alone`]). Kept apart as its own binary (Cargo.toml):
//! `tests/no_alloc.rs` (a counting global allocator). The `flows_*` modules
//! test the flow detectors (crate `sentineldns-flows`) through the binary.
//!
//! Test data: the checkout, and the shared data set (`../shared/data`, or
//! `$SENTINELDNS_SHARED_DATA`); a missing file fails the test that needs it.
//! Golden files (`tests/golden`, see [`golden`]): after an intended change to
//! the alerts or explanations, `UPDATE_GOLDEN=1 cargo test --test integration
//! golden::` rewrites them; review `git diff tests/golden` before committing.

mod util;

mod brand_real_lists;
#[cfg(feature = "capture")]
mod capture_live;
mod cli;
mod config;
mod decode_props;
mod decode_real;
mod dnstap_live;
mod ecs;
mod enrich_calibration;
mod enrich_lexicon;
mod enrich_props;
mod evaluate_props;
#[cfg(feature = "postgres")]
mod fleet;
#[cfg(all(feature = "kafka", feature = "postgres"))]
mod fleet_kafka;
#[cfg(all(feature = "kafka", feature = "postgres"))]
mod fleet_score;
#[cfg(feature = "postgres")]
mod fleet_serve;
mod flows_cicids;
mod flows_drift;
mod flows_lab;
mod flows_rules;
mod flows_unsw;
mod flows_zscore;
mod formats;
mod fuzz_regressions;
mod golden;
mod hostile;
mod hostile_config;
mod hostile_jsonl;
mod hostile_spoofed;
mod hostile_store;
mod incidents;
mod inputs_logs;
mod lookup_lines;
mod model_bundle;
mod outputs;
mod pairing;
mod real_captures;
mod real_traffic;
mod retention;
mod serve;
mod simulate;
mod site_learning;
mod threat_intel;
mod triage;
mod verdicts;
mod window_signals;
