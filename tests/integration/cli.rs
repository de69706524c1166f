//! End-to-end tests of the `sentineldns` binary on temp directories: JSONL
//! replay, output formats, determinism, first-seen persistence, bad input,
//! signals, and the `windows` query command.

use crate::util::{self, bin, event_line as line, json_lines};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};

/// 20 minutes of traffic from three hosts; host .3 looks up random NXDOMAIN names.
fn sample_jsonl(dir: &Path, name: &str) -> PathBuf {
    let mut s = String::new();
    let t0 = 1_700_000_000.0;
    for i in 0..1200 {
        let t = t0 + i as f64;
        s.push_str(&line(
            t,
            "10.0.0.1",
            ["www.google.com", "mail.bbc.co.uk", "api.github.com"][i % 3],
            "A",
            "NOERROR",
        ));
        if i % 2 == 0 {
            s.push_str(&line(
                t + 0.2,
                "10.0.0.2",
                "outlook.office365.com",
                "AAAA",
                "NOERROR",
            ));
        }
        if i % 4 == 0 {
            let name = format!("x{:x}q{}.info", i * 7919, i % 97);
            s.push_str(&line(t + 0.5, "10.0.0.3", &name, "A", "NXDOMAIN"));
        }
    }
    let p = dir.join(name);
    std::fs::write(&p, s).unwrap();
    p
}

#[test]
fn replay_jsonl_writes_windows_and_json_has_every_feature() {
    let d = tempfile::tempdir().unwrap();
    let input = sample_jsonl(d.path(), "events.jsonl");
    let db = d.path().join("s.db");
    let out = bin()
        .args(["replay", "--format", "json", "--db"])
        .arg(&db)
        .arg(&input)
        .assert()
        .success()
        .get_output()
        .clone();
    let windows = json_lines(&out.stdout);
    // 20 minutes of three hosts = 4 or 5 five-minute windows each.
    assert!(
        windows.len() >= 12 && windows.len() <= 15,
        "{}",
        windows.len()
    );
    for f in sentineldns::features::FEATURE_NAMES {
        assert!(windows[0].get(f).is_some(), "missing {f}");
    }
    let h3: Vec<&Value> = windows.iter().filter(|w| w["host"] == "10.0.0.3").collect();
    assert!(h3.iter().all(|w| w["nxdomain_rate"].as_f64() == Some(1.0)));
    let h1 = windows.iter().find(|w| w["host"] == "10.0.0.1").unwrap();
    assert_eq!(h1["nxdomain_rate"].as_f64(), Some(0.0));
    assert_eq!(h1["unique_registrable_domains"].as_f64(), Some(3.0));
    let total: i64 = windows.iter().map(|w| w["lookups"].as_i64().unwrap()).sum();
    assert_eq!(total, 1200 + 600 + 300);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("complete") && stderr.contains("events 2100"),
        "{stderr}"
    );

    // Stored windows read back identically.
    let listed = bin()
        .args(["windows", "--format", "json", "--db"])
        .arg(&db)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let listed = json_lines(&listed);
    assert_eq!(listed.len(), windows.len());
    for (a, b) in listed.iter().zip(&windows) {
        assert_eq!(a, b, "stored window differs from printed window");
    }
}

#[test]
fn same_input_gives_identical_windows() {
    let d = tempfile::tempdir().unwrap();
    let input = sample_jsonl(d.path(), "events.jsonl");
    let run = |db: &str| {
        bin()
            .args(["replay", "--format", "json", "--db"])
            .arg(d.path().join(db))
            .arg(&input)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone()
    };
    assert_eq!(run("a.db"), run("b.db"));
}

#[test]
fn first_seen_survives_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let input = sample_jsonl(d.path(), "events.jsonl");
    let db = d.path().join("s.db");
    let run = || {
        json_lines(
            &bin()
                .args(["replay", "--format", "json", "--db"])
                .arg(&db)
                .arg(&input)
                .assert()
                .success()
                .get_output()
                .stdout,
        )
    };
    let first = run();
    assert!(first
        .iter()
        .any(|w| w["newly_seen_ratio"].as_f64().unwrap() > 0.0));
    let second = run();
    assert!(
        second
            .iter()
            .all(|w| w["newly_seen_ratio"].as_f64() == Some(0.0)),
        "a restart must not make every domain new again"
    );
}

#[test]
fn bad_lines_are_counted_with_line_numbers_and_do_not_stop_the_run() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("mixed.jsonl");
    let mut s = line(1_700_000_000.0, "10.0.0.1", "a.example.com", "A", "NOERROR");
    s.push_str("this is not json\n");
    s.push_str("{\"ts\":1700000001,\"host\":\"not-an-ip\",\"domain\":\"x.com\",\"qtype\":\"A\",\"rcode\":0}\n");
    s.push_str(&line(
        1_700_000_002.0,
        "10.0.0.1",
        "b.example.com",
        "A",
        "NOERROR",
    ));
    s.push_str("{\"truncated\": \n");
    std::fs::write(&p, s).unwrap();
    let out = bin()
        .args(["replay", "--format", "json", "--db"])
        .arg(d.path().join("s.db"))
        .arg(&p)
        .assert()
        .success()
        .get_output()
        .clone();
    let w = json_lines(&out.stdout);
    assert_eq!(w.len(), 1);
    assert_eq!(w[0]["lookups"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("jsonl_bad_line 3"), "{err}");
    assert!(err.contains("mixed.jsonl line 2"), "{err}");
    assert!(
        err.contains("mixed.jsonl line 3") && err.contains("not an IP"),
        "{err}"
    );
    assert!(err.contains("mixed.jsonl line 5"), "{err}");
}

#[test]
fn unreadable_input_is_a_clear_error_naming_the_file_and_writes_nothing() {
    let d = tempfile::tempdir().unwrap();
    let good = sample_jsonl(d.path(), "good.jsonl");
    let bad = d.path().join("notes.txt");
    std::fs::write(&bad, "hello, I am not a capture\n").unwrap();
    let db = d.path().join("s.db");
    let out = bin()
        .args(["replay", "--db"])
        .arg(&db)
        .arg(&good)
        .arg(&bad)
        .assert()
        .code(2)
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("notes.txt") && err.contains("not a pcap, pcapng or JSONL"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let out = bin()
        .args(["replay", "--db"])
        .arg(&db)
        .arg(d.path().join("nope.pcap"))
        .assert()
        .code(2)
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.pcap"));
}

#[test]
fn gzip_and_several_files_merge_in_time_order() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.jsonl.gz");
    let f = std::fs::File::create(&a).unwrap();
    let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::default());
    // Host .1 in the first and third five-minute windows; file b fills the second.
    gz.write_all(line(1_700_000_100.0, "10.0.0.1", "a.com", "A", "NOERROR").as_bytes())
        .unwrap();
    gz.write_all(line(1_700_000_700.0, "10.0.0.1", "c.com", "A", "NOERROR").as_bytes())
        .unwrap();
    gz.finish().unwrap();
    let b = d.path().join("b.data");
    std::fs::write(
        &b,
        line(1_700_000_400.0, "10.0.0.1", "b.com", "A", "NOERROR"),
    )
    .unwrap();
    let out = bin()
        .args(["replay", "--format", "json", "--db"])
        .arg(d.path().join("s.db"))
        .arg(&a)
        .arg(&b)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let w = json_lines(&out);
    let tops: Vec<&str> = w
        .iter()
        .map(|w| w["top_domains"][0]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        tops,
        ["a.com", "b.com", "c.com"],
        "no lookup may be dropped as late"
    );
}

#[test]
fn window_length_is_configurable() {
    let d = tempfile::tempdir().unwrap();
    let input = sample_jsonl(d.path(), "events.jsonl");
    let out = bin()
        .args([
            "replay", "--format", "json", "--window", "1m", "--grace", "15s", "--db",
        ])
        .arg(d.path().join("s.db"))
        .arg(&input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let w = json_lines(&out);
    let h1 = w.iter().filter(|w| w["host"] == "10.0.0.1").count();
    assert!((20..=21).contains(&h1), "{h1}");
    bin()
        .args(["replay", "--window", "1m", "--grace", "5m", "--db"])
        .arg(d.path().join("s.db"))
        .arg(&input)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("grace"));
}

#[test]
fn windows_query_filters_by_host_and_time() {
    let d = tempfile::tempdir().unwrap();
    let input = sample_jsonl(d.path(), "events.jsonl");
    let db = d.path().join("s.db");
    bin()
        .args(["replay", "--format", "none", "--db"])
        .arg(&db)
        .arg(&input)
        .assert()
        .success();
    let q = |args: &[&str]| {
        json_lines(
            &bin()
                .args(["windows", "--format", "json", "--db"])
                .arg(&db)
                .args(args)
                .assert()
                .success()
                .get_output()
                .stdout,
        )
    };
    let all = q(&[]);
    let h2 = q(&["--host", "10.0.0.2"]);
    assert!(!h2.is_empty() && h2.iter().all(|w| w["host"] == "10.0.0.2"));
    assert!(h2.len() < all.len());
    let since = q(&["--since", "2023-11-14T22:25:00Z"]);
    assert!(!since.is_empty() && since.len() < all.len());
    assert!(since
        .iter()
        .all(|w| w["window_start"].as_str().unwrap() >= "2023-11-14T22:25:00Z"));
    let until = q(&["--until", "1700000100"]);
    assert!(until
        .iter()
        .all(|w| w["window_start"].as_str().unwrap() < "2023-11-14T22:15:00Z"));
    assert_eq!(q(&["--limit", "2"]).len(), 2);
    let table = bin()
        .args(["windows", "--db"])
        .arg(&db)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let t = String::from_utf8_lossy(&table);
    assert!(
        t.starts_with("WINDOW_START") && t.lines().count() == all.len() + 1,
        "{t}"
    );
    bin()
        .args(["windows", "--host", "nope", "--db"])
        .arg(&db)
        .assert()
        .code(2);
    bin()
        .args(["windows", "--db"])
        .arg(d.path().join("missing.db"))
        .assert()
        .code(2)
        .stderr(predicates::str::contains("does not exist"));
}

#[test]
fn every_subcommand_has_help() {
    for sub in [
        vec!["--help"],
        vec!["replay", "--help"],
        vec!["windows", "--help"],
    ] {
        let out = bin()
            .args(&sub)
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let s = String::from_utf8_lossy(&out);
        assert!(s.contains("Usage:"), "{s}");
    }
    let s = String::from_utf8_lossy(
        &bin()
            .args(["replay", "--help"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .to_string();
    assert!(s.contains("--window") && s.contains("--db") && s.contains("--format"));
}

/// SIGTERM while reading: the run stops, flushes every open window, marks the
/// run interrupted and exits 130. The input is a FIFO so the timing is exact:
/// the replay is blocked on the pipe when the signal arrives.
#[cfg(unix)]
#[test]
fn sigterm_flushes_open_windows() {
    use std::process::{Command as Std, Stdio};
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("live.jsonl");
    util::mkfifo(&fifo);
    let db = d.path().join("s.db");
    let child = util::sensor()
        .args(["replay", "--format", "json", "--db"])
        .arg(&db)
        .arg(&fifo)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    // > 64 KiB so the content sniffer is satisfied; 15 minutes of two hosts.
    let mut n = 0;
    let mut body = String::new();
    while body.len() < 100_000 {
        let t = 1_700_000_000.0 + n as f64 * 0.5;
        body.push_str(&line(
            t,
            if n % 2 == 0 { "10.9.0.1" } else { "10.9.0.2" },
            "www.example.com",
            "A",
            "NOERROR",
        ));
        n += 1;
    }
    w.write_all(body.as_bytes()).unwrap();
    w.flush().unwrap();
    // Wait until the run is registered (the pipeline is reading).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Ok(c) = rusqlite::Connection::open(&db) {
            if c.query_row("SELECT COUNT(*) FROM runs", [], |r| r.get::<_, i64>(0))
                .unwrap_or(0)
                > 0
            {
                break;
            }
        }
        assert!(std::time::Instant::now() < deadline, "replay did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    Std::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    // One more line wakes the blocked read; the loop then sees the flag.
    let _ = w.write_all(
        line(
            1_700_009_000.0,
            "10.9.0.3",
            "late.example.com",
            "A",
            "NOERROR",
        )
        .as_bytes(),
    );
    drop(w);
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = json_lines(&out.stdout);
    let c = rusqlite::Connection::open(&db).unwrap();
    let stored: i64 = c
        .query_row("SELECT COUNT(*) FROM windows", [], |r| r.get(0))
        .unwrap();
    let lookups: i64 = c
        .query_row(
            "SELECT SUM(lookups) FROM windows WHERE host LIKE '10.9.0.%' AND host <> '10.9.0.3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let status: String = c
        .query_row("SELECT status FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "interrupted");
    assert_eq!(stored as usize, printed.len());
    assert_eq!(
        lookups, n as i64,
        "every line read before the signal is in a stored window"
    );
}

#[test]
fn one_and_two_threads_give_identical_windows_on_real_captures() {
    let d = tempfile::tempdir().unwrap();
    let fx = util::repo_file("tests/fixtures");
    let files = [
        "dnscap-dns.pcap.gz",
        "dnscap-vlan11.pcap",
        "dnscap-dnso1tcp.pcap",
        "dnscap-frags-rawip.pcap",
        "zeek-pcapng-multi-interface.pcapng",
        "dnscap-sll2.pcap",
    ];
    let run = |threads: &str, db: &str| {
        let out = bin()
            .args(["replay", "--format", "json", "--threads", threads, "--db"])
            .arg(d.path().join(db))
            .args(files.iter().map(|f| fx.join(f)))
            .assert()
            .success()
            .get_output()
            .clone();
        (out.stdout, String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (one, err_one) = run("1", "one.db");
    let (two, err_two) = run("2", "two.db");
    assert!(!one.is_empty());
    assert_eq!(one, two);
    // The counters agree too (the timing line differs).
    let counters = |s: &str| {
        s.lines()
            .skip(1)
            .filter(|l| !l.contains("written to") && !l.contains(".db"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(counters(&err_one), counters(&err_two));
    assert!(err_one.contains("dns messages 336"), "{err_one}");
}

#[test]
fn shipped_sample_matches_its_generating_command() {
    let d = tempfile::tempdir().unwrap();
    let out = d.path().join("sample.jsonl");
    bin()
        .args([
            "simulate", "--hosts", "8", "--hours", "2", "--seed", "7", "--out",
        ])
        .arg(&out)
        .assert()
        .success();
    let shipped = util::repo_file("simulations/sample.jsonl");
    assert!(
        std::fs::read(&out).unwrap() == std::fs::read(&shipped).unwrap(),
        "simulations/sample.jsonl is stale: regenerate it with the command in simulations/README.md"
    );
}

/// The packet path (simulated pcap → decode → pair) and the event path
/// (the same simulation as JSONL) must give the same windows.
#[test]
fn simulated_pcap_and_jsonl_give_the_same_windows() {
    let d = tempfile::tempdir().unwrap();
    let jsonl = d.path().join("sim.jsonl");
    let pcap = d.path().join("sim.pcap");
    bin()
        .args([
            "simulate", "--hosts", "6", "--hours", "1.5", "--seed", "11", "--out",
        ])
        .arg(&jsonl)
        .arg("--pcap")
        .arg(&pcap)
        .assert()
        .success();
    let run = |input: &Path, db: &str| {
        json_lines(
            &bin()
                .args(["replay", "--format", "json", "--db"])
                .arg(d.path().join(db))
                .arg(input)
                .assert()
                .success()
                .get_output()
                .stdout,
        )
    };
    let a = run(&jsonl, "a.db");
    let b = run(&pcap, "b.db");
    assert_eq!(a.len(), b.len());
    assert!(a.len() > 50);
    for (x, y) in a.iter().zip(&b) {
        for k in ["host", "window_start", "lookups", "top_domains"] {
            assert_eq!(x[k], y[k], "{k} differs");
        }
        for f in sentineldns::features::FEATURE_NAMES {
            let (p, q) = (x[f].as_f64().unwrap(), y[f].as_f64().unwrap());
            let tol = match f {
                // The pcap writer pads responses in 4-byte EDNS steps.
                "response_bytes_per_lookup" => 0.02 * p.max(q) + 4.0,
                // Latency is rounded to microseconds in the pcap.
                "mean_latency_ms" => 0.01,
                // JSONL timestamps have millisecond precision, pcap microsecond.
                "beacon_score" => 5e-3,
                _ => 1e-6,
            };
            assert!(
                (p - q).abs() <= tol,
                "{f}: jsonl {p} vs pcap {q} in {} {}",
                x["host"],
                x["window_start"]
            );
        }
    }
}

/// Logs going to a pipe (a file, the journal) are plain text: no ANSI colour
/// escapes for a log shipper to choke on.
#[test]
fn logs_on_a_pipe_have_no_colour_escapes() {
    let d = tempfile::tempdir().unwrap();
    let out = bin()
        .args(["--log-level", "info", "replay", "--format", "none", "--db"])
        .arg(d.path().join("l.db"))
        .arg("simulations/sample.jsonl")
        .assert()
        .success()
        .get_output()
        .stderr
        .clone();
    let err = String::from_utf8_lossy(&out);
    assert!(err.contains("INFO"), "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
}

/// The table commands fit `COLUMNS` (display columns, cells cut with `…`,
/// explanations wrapped on words); without a width (stdout is a pipe here)
/// or with `--wide`, the full text is printed, as `--format json` holds it.
#[test]
fn tables_fit_the_terminal_width() {
    use unicode_width::UnicodeWidthStr;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("t.db");
    let run = |args: &[&str], columns: Option<&str>| -> String {
        let mut c = util::sensor();
        c.args(args).arg("--db").arg(&db);
        if let Some(n) = columns {
            c.env("COLUMNS", n);
        }
        let o = c.output().unwrap();
        util::assert_success(&o, &format!("{args:?} COLUMNS={columns:?}"));
        util::stdout(&o)
    };
    run(
        &[
            "replay",
            "--progress",
            "never",
            "--format",
            "none",
            "simulations/sample.jsonl",
        ],
        None,
    );
    let explanations: Vec<String> = json_lines(run(&["alerts", "--format", "json"], None))
        .iter()
        .filter_map(|w| w["explanation"].as_str().map(str::to_string))
        .collect();
    assert!(!explanations.is_empty(), "the sample raises alerts");
    let long = explanations.iter().max_by_key(|e| e.len()).unwrap();
    assert!(long.width() > 80, "{long}");
    for cmd in ["windows", "alerts", "incidents"] {
        let narrow = run(&[cmd], Some("80"));
        assert!(narrow.lines().count() > 1, "{cmd}: {narrow}");
        for l in narrow.lines() {
            assert!(
                l.width() <= 80,
                "{cmd} at 80 columns: {} wide: {l}",
                l.width()
            );
        }
        if cmd != "incidents" {
            assert!(narrow.contains('…'), "{cmd}: a long cell is cut: {narrow}");
        }
        // Whole lines without a width, and with --wide whatever COLUMNS says.
        let whole = run(&[cmd], None);
        let wide = run(&[cmd, "--wide"], Some("80"));
        if cmd == "incidents" {
            // Off a terminal `incidents` wraps at 100 columns; --wide not at all.
            assert!(whole.lines().all(|l| l.width() <= 100), "{whole}");
            assert!(wide.lines().any(|l| l.width() > 100), "{wide}");
        } else {
            assert_eq!(wide, whole, "{cmd} --wide");
        }
        assert!(whole.lines().any(|l| l.width() > 80), "{cmd}: {whole}");
        if cmd == "alerts" {
            assert!(whole.contains(long.as_str()), "the explanation on one line");
            assert!(!narrow.contains(long.as_str()), "wrapped at 80");
            // Wrapped on words: the words of every explanation are all there.
            let words = |t: &str| t.split_whitespace().map(str::to_string).collect::<Vec<_>>();
            let narrow_words = words(&narrow);
            for w in words(long) {
                assert!(narrow_words.contains(&w), "{w} was cut");
            }
        }
    }
    // A terminal wider than the explanation shows it whole too.
    let wide = run(&["alerts"], Some(&(long.width() + 4).to_string()));
    assert!(wide.contains(long.as_str()));
}

#[test]
fn a_closed_pipe_ends_listing_commands_quietly() {
    // `sentineldns windows | head -1`: once the reader is gone the command
    // stops with exit 0 and says nothing (no "Broken pipe" error, no exit 2).
    let dir = tempfile::tempdir().unwrap();
    let input = sample_jsonl(dir.path(), "in.jsonl");
    let db = dir.path().join("p.db");
    bin()
        .arg("replay")
        .arg(&input)
        .arg("--db")
        .arg(&db)
        .assert()
        .success();
    for args in [
        vec!["windows"],
        vec!["windows", "--format", "json"],
        vec!["alerts"],
        vec!["incidents"],
    ] {
        let mut child = util::sensor()
            .args(&args)
            .arg("--db")
            .arg(&db)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away before the first line
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

#[test]
fn completions_and_man_pages_are_generated_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    // bash: a script bash itself accepts, offering every subcommand.
    let out = bin().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let script = String::from_utf8(out.stdout).unwrap();
    let path = dir.path().join("sentineldns.bash");
    std::fs::write(&path, &script).unwrap();
    let syntax = std::process::Command::new("bash")
        .arg("-n")
        .arg(&path)
        .output()
        .expect("bash runs");
    assert!(
        syntax.status.success(),
        "{}",
        String::from_utf8_lossy(&syntax.stderr)
    );
    for word in ["replay", "capture", "serve", "flows", "--db", "--ndjson"] {
        assert!(script.contains(word), "bash completion lacks {word}");
    }
    for shell in ["zsh", "fish"] {
        let out = bin().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("replay"),
            "{shell}"
        );
    }
    // man: one page per command, each a roff page titled with its name.
    let man = dir.path().join("man");
    bin().args(["man", "--out"]).arg(&man).assert().success();
    for page in [
        "sentineldns",
        "sentineldns-replay",
        "sentineldns-capture",
        "sentineldns-serve",
        "sentineldns-config-check",
        "sentineldns-flows-run",
    ] {
        let text = std::fs::read_to_string(man.join(format!("{page}.1")))
            .unwrap_or_else(|e| panic!("{page}.1: {e}"));
        assert!(
            text.contains(&format!(".TH {page} 1")),
            "{page}: {}",
            &text[..200.min(text.len())]
        );
        assert!(text.contains(".SH SYNOPSIS"), "{page}");
    }
    let out = bin().arg("man").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains(".TH sentineldns 1"));
}
