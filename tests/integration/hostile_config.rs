//! Regression tests for the hostile configurations of
//! `../shared/data/hostile` (issue 10, item 5): values that passed
//! `config check` and then crashed or hung `replay`, and files the
//! configuration names that are not regular files or are too large.
//!
//! Every run of the binary has a deadline (a hang fails the test, it does not
//! hang the suite); `/dev/zero` runs under `prlimit --as` so a regression
//! cannot exhaust the machine's memory.

use crate::util::{self, hostile, run_with_deadline as run, stderr};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// The binary, hermetic ([`util::hermetic`]), under an address-space limit
/// when `prlimit` exists.
fn bin(args: &[&std::ffi::OsStr]) -> Command {
    let mut c = if Path::new("/usr/bin/prlimit").exists() {
        let mut c = Command::new("/usr/bin/prlimit");
        c.arg(format!("--as={}", 2u64 << 30)).arg(util::EXE);
        c
    } else {
        Command::new(util::EXE)
    };
    c.args(args);
    util::hermetic(&mut c);
    c
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

const PROMPT: Duration = Duration::from_secs(30);

/// `config check` exits 2 and names every `needle`.
fn check_refuses(config: &Path, needles: &[&str]) {
    let o = run(
        bin(&[
            os("config"),
            os("check"),
            os("--config"),
            config.as_os_str(),
        ]),
        PROMPT,
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from: {err}");
    }
}

/// `replay` with `config` exits non-zero promptly (no panic, no hang),
/// names every `needle`, and creates no database.
fn replay_refuses(config: &Path, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"ts\": 1700000000, \"host\": \"10.0.0.7\", \"domain\": \"www.example.com\", \"qtype\": \"A\", \"rcode\": \"NOERROR\"}\n",
    )
    .unwrap();
    let db = dir.path().join("x.db");
    let o = run(
        bin(&[
            os("--config"),
            config.as_os_str(),
            os("replay"),
            os("--no-model"),
            os("--db"),
            db.as_os_str(),
            input.as_os_str(),
        ]),
        PROMPT,
    );
    let err = stderr(&o);
    assert!(!o.status.success(), "replay accepted it: {err}");
    assert_ne!(o.status.code(), Some(101), "panicked: {err}");
    assert!(o.status.code().is_some(), "killed by a signal: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} missing from: {err}");
    }
    assert!(!db.exists(), "refused before doing any work: {err}");
}

#[test]
fn webhook_queue_u64_max_is_refused_not_a_capacity_overflow_panic() {
    let c = hostile("webhook_queue_u64max.toml");
    let needles = [
        "[outputs.webhook] queue: 18446744073709551615 is out of range (1 to 1000000)",
        "[outputs.webhook] timeout_ms: 18446744073709551615ms is out of range (1ms to 1h)",
        "[outputs.webhook] backoff_max_ms",
    ];
    check_refuses(&c, &needles);
    replay_refuses(&c, &needles);
}

#[test]
fn webhook_queue_of_a_billion_is_refused_not_a_32_gb_allocation() {
    let c = hostile("webhook_queue_1e9.toml");
    let needles = ["[outputs.webhook] queue: 1000000000 is out of range (1 to 1000000)"];
    check_refuses(&c, &needles);
    replay_refuses(&c, &needles);
}

#[test]
fn webhook_u64_max_timeouts_are_refused_so_replay_can_exit() {
    let c = hostile("webhook_never_exits.toml");
    let needles = [
        "[outputs.webhook] timeout_ms",
        "[outputs.webhook] backoff_initial_ms",
        "[outputs.webhook] backoff_max_ms",
        "[outputs.webhook] breaker_cooldown_ms",
        "[outputs.webhook] shutdown_grace_ms: 18446744073709551615ms is out of range (0s to 5m)",
        "[outputs.webhook] max_attempts: 4294967295 is out of range (1 to 100)",
    ];
    check_refuses(&c, &needles);
    replay_refuses(&c, &needles);
}

#[test]
fn allowlist_dev_zero_is_refused_not_read_without_bound() {
    let c = hostile("allowlist_dev_zero.toml");
    let needles = [
        "[allowlist] files",
        "/dev/zero",
        "not a regular file",
        "character device",
    ];
    check_refuses(&c, &needles);
    replay_refuses(&c, &needles[1..]);
}

#[test]
fn allowlist_fifo_is_refused_without_hanging() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("allow.fifo");
    util::mkfifo(&fifo);
    let cfg = dir.path().join("s.toml");
    std::fs::write(
        &cfg,
        "[sensor]\nno_model = true\n[allowlist]\nfiles = [\"allow.fifo\"]\n",
    )
    .unwrap();
    let shown = fifo.display().to_string();
    let needles = [shown.as_str(), "not a regular file (it is a FIFO)"];
    check_refuses(&cfg, &needles);
    replay_refuses(&cfg, &needles);
}

#[cfg(feature = "capture")]
#[test]
fn capture_allowlist_flag_fifo_is_refused_before_capturing() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("allow.fifo");
    util::mkfifo(&fifo);
    let cfg = dir.path().join("s.toml");
    std::fs::write(&cfg, "[sensor]\nno_model = true\n").unwrap();
    let db = dir.path().join("x.db");
    let o = run(
        bin(&[
            os("--config"),
            cfg.as_os_str(),
            os("capture"),
            os("-i"),
            os("lo"),
            os("--db"),
            db.as_os_str(),
            os("--allowlist"),
            fifo.as_os_str(),
        ]),
        PROMPT,
    );
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("not a regular file (it is a FIFO)"), "{err}");
    assert!(!db.exists(), "{err}");
}

#[test]
fn oversize_allowlist_file_is_refused_naming_size_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.txt");
    // Sparse: 64 MiB + 1 byte without writing them.
    std::fs::File::create(&big)
        .unwrap()
        .set_len((64 << 20) + 1)
        .unwrap();
    let cfg = dir.path().join("s.toml");
    std::fs::write(
        &cfg,
        "[sensor]\nno_model = true\n[allowlist]\nfiles = [\"big.txt\"]\n",
    )
    .unwrap();
    let shown = big.display().to_string();
    let needles = [
        shown.as_str(),
        "67108865 bytes is over the limit of 67108864 bytes",
    ];
    check_refuses(&cfg, &needles);
    replay_refuses(&cfg, &needles);
}

#[test]
fn limits_out_of_range_are_refused_by_check_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("s.toml");
    std::fs::write(
        &cfg,
        "[sensor]\nno_model = true\n[limits]\nmax_open_windows = 0\nmax_clock_jump = \"48h\"\n",
    )
    .unwrap();
    let needles = [
        "[limits] max_open_windows: 0 is out of range (1 to 5000000)",
        "[limits] max_clock_jump: 48h is out of range (1s to 24h)",
    ];
    check_refuses(&cfg, &needles);
    replay_refuses(&cfg, &needles);
}

#[test]
fn webhook_flags_are_held_to_the_file_ranges() {
    // `--webhook-timeout` is not clamped by clap: the same validation refuses it.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    std::fs::write(&input, "").unwrap();
    let db = dir.path().join("x.db");
    let o = run(
        bin(&[
            os("replay"),
            os("--no-model"),
            os("--db"),
            db.as_os_str(),
            os("--webhook"),
            os("http://127.0.0.1:9/x"),
            os("--webhook-timeout"),
            os("2h"),
            input.as_os_str(),
        ]),
        PROMPT,
    );
    let err = stderr(&o);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("[outputs.webhook] timeout: 2h is out of range (1ms to 1h)"),
        "{err}"
    );
    assert!(!db.exists(), "{err}");
}

#[test]
fn limits_reach_the_replay_pipeline() {
    // 20 hosts in one window against `max_open_windows = 2`: the cap is
    // reached (and reported); with the default of 50000 it would not be.
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut text = String::new();
    for h in 0..20 {
        text.push_str(&format!(
            "{{\"ts\": {}, \"host\": \"10.0.1.{h}\", \"domain\": \"www.example.com\", \"qtype\": \"A\", \"rcode\": \"NOERROR\"}}\n",
            1_700_000_000 + h
        ));
    }
    std::fs::write(&input, text).unwrap();
    let db = dir.path().join("x.db");
    let replay = |limits: &str| {
        let cfg = dir.path().join("s.toml");
        std::fs::write(&cfg, format!("[sensor]\nno_model = true\n{limits}")).unwrap();
        let _ = std::fs::remove_file(&db);
        let o = run(
            bin(&[
                os("--config"),
                cfg.as_os_str(),
                os("replay"),
                os("--db"),
                db.as_os_str(),
                input.as_os_str(),
            ]),
            Duration::from_secs(120),
        );
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };
    let capped = replay("[limits]\nmax_open_windows = 2\n");
    assert!(capped.contains("memory bounds reached"), "{capped}");
    assert!(capped.contains("host_windows"), "{capped}");
    let free = replay("");
    assert!(!free.contains("memory bounds reached"), "{free}");
    // Every line is ~110 bytes: a 1024-byte line cap from the file leaves them
    // alone; the same cap is reached by one padded line.
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.push_str(&format!(
        "{{\"ts\": 1700000030, \"host\": \"10.0.1.1\", \"pad\": \"{}\", \"domain\": \"a.example\", \"qtype\": \"A\", \"rcode\": \"NOERROR\"}}\n",
        "x".repeat(2000)
    ));
    std::fs::write(&input, text).unwrap();
    let lines = replay("[limits]\njsonl_line_bytes = 1024\n");
    assert!(lines.contains("jsonl_line_too_long 1"), "{lines}");
    assert!(lines.contains("jsonl_line 1"), "{lines}");
    let lines = replay("");
    assert!(!lines.contains("jsonl_line_too_long"), "{lines}");
}
