//! End-to-end tests of the outputs through the real binary: NDJSON lines on
//! stdout and in a rotating file, webhook alerts for every incident opened or
//! escalated in a simulation with incidents, a replay whose webhook is down, and `/metrics` +
//! `/healthz` scraped while a FIFO-fed replay is paused half way and after it
//! finished.
//!
//! Synchronisation is by observable state (lines written, counters reached),
//! never by sleeping a guessed amount; every wait is bounded.

use crate::util::{self, bin, json_lines, read_json};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

const SAMPLE: &str = "simulations/sample.jsonl";

fn sample() -> PathBuf {
    util::repo_file(SAMPLE)
}

fn sample_lines() -> usize {
    std::fs::read_to_string(sample()).unwrap().lines().count()
}

fn dataset(v: &Value) -> &str {
    v["event"]["dataset"].as_str().unwrap_or("")
}

#[test]
fn ndjson_on_stdout_every_line_parses_and_carries_ecs_names() {
    let dir = tempfile::tempdir().unwrap();
    let sum = dir.path().join("summary.json");
    let out = bin()
        .args(["replay", "-q", "--ndjson", "-", "--ndjson-lookups", "--db"])
        .arg(dir.path().join("t.db"))
        .arg("--summary-json")
        .arg(&sum)
        .arg(sample())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(String::from_utf8(out.stdout).unwrap());
    let s = read_json(&sum);
    let lookups: Vec<&Value> = lines
        .iter()
        .filter(|v| dataset(v) == "sentineldns.lookup")
        .collect();
    let windows: Vec<&Value> = lines
        .iter()
        .filter(|v| dataset(v) == "sentineldns.window")
        .collect();
    let incidents: Vec<&Value> = lines
        .iter()
        .filter(|v| dataset(v) == "sentineldns.incident")
        .collect();
    assert_eq!(
        lookups.len() + windows.len() + incidents.len(),
        lines.len(),
        "only NDJSON on stdout"
    );
    assert_eq!(lookups.len(), sample_lines());
    assert_eq!(lookups.len() as u64, s["lookups"].as_u64().unwrap());
    assert_eq!(windows.len() as u64, s["windows"].as_u64().unwrap());
    for l in &lookups {
        assert!(l["@timestamp"].as_str().unwrap().ends_with('Z'));
        assert_eq!(l["event"]["kind"], "event");
        assert_eq!(l["event"]["category"][0], "network");
        assert!(l["source"]["ip"].is_string());
        assert!(l["dns"]["question"]["name"].is_string());
        assert!(l["dns"]["question"]["type"].is_string());
        match l["dns"]["type"].as_str() {
            Some("answer") => assert!(l["dns"]["response_code"].is_string(), "{l}"),
            Some("query") => assert!(l["dns"].get("response_code").is_none(), "{l}"),
            other => panic!("dns.type {other:?}"),
        }
    }
    assert!(lookups
        .iter()
        .any(|l| l["dns"]["question"]["registered_domain"].is_string()));
    assert!(lookups
        .iter()
        .any(|l| l["dns"]["answers"][0]["data"].is_string()));
    let mut alerts = 0;
    for w in &windows {
        let sd = &w["sentineldns"];
        assert!(sd["window"]["start"].is_string() && sd["window"]["end"].is_string());
        assert!(sd["score"].is_number(), "scored with the default model");
        assert!(sd["explanation"].is_string());
        assert!(sd["top_domains"].is_array());
        let label = sd["label"].as_str().unwrap();
        if label != "Normal" {
            alerts += 1;
            // The incident line is the alert; the window names it.
            assert_eq!(w["event"]["kind"], "event");
            assert_eq!(w["event"]["category"][1], "intrusion_detection");
            assert!(sd["incident_id"].is_i64(), "{w}");
            let reasons = sd["reasons"].as_array().unwrap();
            assert!(!reasons.is_empty(), "a flagged window says why: {w}");
            for r in reasons {
                assert!(r["tag"].is_string() && r["value"].is_number());
                assert!(r["usual"].is_number() && r["deviation"].is_number());
            }
        }
    }
    assert!(alerts > 0, "the sample has incidents");
    assert!(!incidents.is_empty() && incidents.len() < alerts);
    for i in &incidents {
        assert_eq!(i["event"]["kind"], "alert");
        assert!(i["source"]["ip"].is_string());
        assert!(i["sentineldns"]["incident"]["id"].is_i64());
    }
}

#[test]
fn ndjson_file_rotates_and_keeps_n_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.ndjson");
    let out = bin()
        .args(["replay", "-q", "--format", "none", "--ndjson-lookups"])
        .arg("--ndjson")
        .arg(&path)
        .args(["--ndjson-max-bytes", "256K", "--ndjson-keep", "2", "--db"])
        .arg(dir.path().join("t.db"))
        .arg(sample())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stdout.is_empty(),
        "nothing on stdout with a file output"
    );
    let rotated = |i: usize| PathBuf::from(format!("{}.{i}", path.display()));
    assert!(path.exists() && rotated(1).exists() && rotated(2).exists());
    assert!(!rotated(3).exists(), "only 2 rotated files are kept");
    let mut last = String::new();
    for p in [rotated(2), rotated(1), path.clone()] {
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.len() <= 256 * 1024,
            "{} has {} bytes",
            p.display(),
            text.len()
        );
        let lines = json_lines(&text);
        assert!(!lines.is_empty());
        // Files are in age order: each starts no earlier than the previous ended.
        let first = lines[0]["@timestamp"].as_str().unwrap().to_string();
        assert!(first >= last, "{first} < {last}");
        last = lines.last().unwrap()["@timestamp"]
            .as_str()
            .unwrap()
            .to_string();
    }
}

/// A minimal HTTP server on 127.0.0.1 recording POST bodies and answering
/// with `status`.
struct Hook {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<String>>>,
}

fn read_request(s: &TcpStream) -> Option<String> {
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut len = 0;
    loop {
        line.clear();
        r.read_line(&mut line).ok()?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((k, v)) = l.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

impl Hook {
    fn start(status: u16) -> Hook {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let b = bodies.clone();
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { continue };
                let b = b.clone();
                std::thread::spawn(move || {
                    while let Some(body) = read_request(&s) {
                        b.lock().unwrap().push(body);
                        let _ = write!(s, "HTTP/1.1 {status} X\r\nContent-Length: 2\r\n\r\nok");
                    }
                });
            }
        });
        Hook { addr, bodies }
    }
}

#[test]
fn webhook_receives_one_alert_per_incident_opened_or_escalated() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(200);
    let nd = dir.path().join("o.ndjson");
    let out = bin()
        .args([
            "replay",
            "--format",
            "json",
            "--webhook-min-label",
            "unusual",
        ])
        .arg("--webhook")
        .arg(format!("http://{}/services/T0/B0/x", hook.addr))
        .arg("--ndjson")
        .arg(&nd)
        .arg("--db")
        .arg(dir.path().join("t.db"))
        .arg(sample())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let flagged = json_lines(String::from_utf8(out.stdout).unwrap())
        .iter()
        .filter(|w| w["label"].as_str().is_some_and(|l| l != "Normal"))
        .count();
    // The incident alerts, from the NDJSON output of the same run.
    let mut want: Vec<(String, String)> = json_lines(std::fs::read(&nd).unwrap())
        .iter()
        .filter(|v| dataset(v) == "sentineldns.incident")
        .map(|v| {
            let i = &v["sentineldns"]["incident"];
            (
                v["source"]["ip"].as_str().unwrap().to_string(),
                format!("Incident #{} {}", i["id"], i["action"].as_str().unwrap()),
            )
        })
        .collect();
    assert!(!want.is_empty());
    assert!(want.len() < flagged, "fewer alerts than flagged windows");
    // The process exits only after the queue is drained.
    let bodies = hook.bodies.lock().unwrap().clone();
    let mut got: Vec<(String, String)> = bodies
        .iter()
        .map(|b| {
            let p: Value = serde_json::from_str(b).unwrap();
            let text = p["text"].as_str().unwrap().to_string();
            assert!(p["blocks"].is_array() && p["attachments"].is_array());
            let fields = p["blocks"][1]["fields"].to_string();
            let host = fields
                .split("*Host*\\n`")
                .nth(1)
                .and_then(|s| s.split('`').next())
                .unwrap()
                .to_string();
            assert!(text.contains(&host), "{text}");
            assert!(fields.contains("score"), "{fields}");
            assert!(p["blocks"][2]["text"]["text"]
                .as_str()
                .unwrap()
                .contains(&host));
            assert!(p["blocks"][3].to_string().contains("Domains"));
            let what = text
                .split(" — ")
                .next()
                .and_then(|s| s.split_once(' '))
                .map(|(_, w)| w.to_string())
                .unwrap();
            (host, what)
        })
        .collect();
    want.sort();
    got.sort();
    assert_eq!(
        got, want,
        "one alert per incident opened or escalated, nothing else"
    );
    assert!(
        stderr.contains(&format!("webhook: {} sent, 0 failed", want.len())),
        "{stderr}"
    );
}

#[test]
fn a_dead_webhook_neither_fails_nor_stalls_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let hook = Hook::start(503);
    let nd = dir.path().join("o.ndjson");
    let out = bin()
        .args([
            "replay",
            "--format",
            "none",
            "--webhook-min-label",
            "unusual",
        ])
        .arg("--webhook")
        .arg(format!("http://{}/hook", hook.addr))
        .arg("--ndjson")
        .arg(&nd)
        .arg("--db")
        .arg(dir.path().join("t.db"))
        .arg(sample())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // "verdicts: 170 Normal, 1 Unusual, 15 Likely Compromise (...)"
    let verdicts = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("verdicts:"))
        .unwrap();
    let count_before = |l: &str, tag: &str| -> u64 {
        l.split(tag)
            .next()
            .and_then(|s| s.trim_end().rsplit([' ', '(']).next())
            .and_then(|x| x.parse().ok())
            .unwrap_or_else(|| panic!("{tag} in {l}"))
    };
    let flagged = count_before(verdicts, " Unusual") + count_before(verdicts, " Likely");
    assert!(flagged > 0);
    // Alerts are per incident opened or escalated (the NDJSON alert lines).
    let alerts = json_lines(std::fs::read(&nd).unwrap())
        .iter()
        .filter(|v| dataset(v) == "sentineldns.incident")
        .count() as u64;
    assert!(alerts > 0 && alerts < flagged);
    let line = stderr
        .lines()
        .find(|l| l.trim_start().starts_with("webhook:"))
        .unwrap();
    assert_eq!(count_before(line, " sent"), 0, "{line}");
    let failed = count_before(line, " failed");
    assert!(failed >= 1, "{line}");
    assert!(count_before(line, " breaker open") >= 1, "{line}");
    // Every incident alert is accounted for: failed after retries, or dropped.
    assert_eq!(failed + count_before(line, " dropped"), alerts, "{line}");
    assert!(
        !hook.bodies.lock().unwrap().is_empty(),
        "attempts were made"
    );
}

/// `GET path` → (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let status = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, text.split_once("\r\n\r\n").unwrap().1.to_string())
}

/// Samples of a scrape, `name{labels}` → value; checks HELP/TYPE precede
/// them (a histogram's `_bucket`, `_sum` and `_count` samples under its
/// family's TYPE) and every histogram is well formed ([`check_histograms`]).
fn scrape(addr: SocketAddr) -> HashMap<String, f64> {
    let (st, body) = get(addr, "/metrics");
    assert_eq!(st, 200);
    let mut typed = HashMap::new();
    let mut out = HashMap::new();
    for l in body.lines() {
        if let Some(r) = l.strip_prefix("# TYPE ") {
            let (name, kind) = r.split_once(' ').unwrap();
            typed.insert(name.to_string(), kind.to_string());
        } else if !l.starts_with('#') {
            let (k, v) = l.rsplit_once(' ').unwrap();
            let sample = k.split('{').next().unwrap();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .filter_map(|s| sample.strip_suffix(s))
                .find(|f| typed.get(*f).is_some_and(|t| t == "histogram"))
                .unwrap_or(sample);
            assert!(typed.contains_key(family), "untyped: {l}");
            out.insert(k.to_string(), v.parse().unwrap());
        }
    }
    check_histograms(&out);
    out
}

/// Every histogram in a scrape: `le` bounds increasing, cumulative counts
/// never decreasing, the last bucket `+Inf`, `_count` equal to it.
fn check_histograms(samples: &HashMap<String, f64>) {
    let mut families: HashMap<&str, Vec<(f64, f64)>> = HashMap::new();
    for (k, v) in samples {
        if let Some((name, rest)) = k.split_once("_bucket{le=\"") {
            let le = rest.trim_end_matches("\"}");
            let le = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            families.entry(name).or_default().push((le, *v));
        }
    }
    assert!(families.len() >= 2, "{families:?}");
    for (name, mut b) in families {
        b.sort_by(|x, y| x.0.total_cmp(&y.0));
        assert!(b.windows(2).all(|w| w[0].1 <= w[1].1), "{name}: {b:?}");
        assert_eq!(b[b.len() - 1].0, f64::INFINITY, "{name}");
        assert_eq!(
            samples[&format!("{name}_count")],
            b[b.len() - 1].1,
            "{name}"
        );
        assert!(samples[&format!("{name}_sum")] >= 0.0, "{name}");
    }
}

/// A replayed capture moves the latency and scoring histograms; the
/// process metrics are served beside them.
#[test]
fn histograms_move_after_a_replay_with_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = util::sensor()
        .args(["replay", "--format", "none", "--progress", "never"])
        .args(["--metrics", "127.0.0.1:0", "--metrics-hold", "--db"])
        .arg(dir.path().join("h.db"))
        .arg(util::repo_file("tests/fixtures/dnscap-dns.pcap.gz"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let addr: SocketAddr = loop {
        let mut l = String::new();
        assert!(
            stderr.read_line(&mut l).unwrap() > 0,
            "metrics address printed"
        );
        if let Some(rest) = l.trim().strip_prefix("metrics: serving http://") {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
    wait_for("the end of the input", || {
        scrape(addr)["sentineldns_input_finished"] == 1.0
    });
    let m = scrape(addr);
    let answered = m["sentineldns_lookups_total{outcome=\"answered\"}"];
    let latency = m["sentineldns_lookup_latency_seconds_count"];
    assert!(answered > 0.0, "the capture has answered lookups");
    assert_eq!(latency, answered, "one latency per paired lookup");
    assert!(m["sentineldns_lookup_latency_seconds_sum"] > 0.0);
    assert_eq!(
        m["sentineldns_window_scoring_duration_seconds_count"],
        sum(&m, "sentineldns_verdicts_total"),
        "one scoring time per verdict"
    );
    assert!(m["sentineldns_window_scoring_duration_seconds_count"] > 0.0);
    // CPU time comes in clock ticks (10 ms): a replay this short may not
    // have used one, so it must be present, not positive.
    assert!(
        m.get("process_cpu_seconds_total")
            .is_some_and(|v| *v >= 0.0),
        "process_cpu_seconds_total"
    );
    for p in [
        "process_resident_memory_bytes",
        "process_virtual_memory_bytes",
        "process_open_fds",
        "process_start_time_seconds",
    ] {
        assert!(m.get(p).is_some_and(|v| *v > 0.0), "{p}");
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn sum(m: &HashMap<String, f64>, prefix: &str) -> f64 {
    m.iter()
        .filter(|(k, _)| k.starts_with(prefix))
        .map(|(_, v)| v)
        .sum()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(60);
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn metrics_move_during_a_fifo_fed_replay_and_are_served_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("events.fifo");
    util::mkfifo(&fifo);
    let text = std::fs::read_to_string(sample()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let half = 6000;
    let mut child = util::sensor()
        .args([
            "replay",
            "--threads",
            "1",
            "--format",
            "none",
            "--progress",
            "never",
        ])
        .args(["--metrics", "127.0.0.1:0", "--metrics-hold", "--db"])
        .arg(dir.path().join("t.db"))
        .arg(&fifo)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stderr on a thread: the address line, then everything else.
    let (tx, rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    // Opening the write end waits for the replay to open the read end.
    let mut w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    for l in &lines[..half] {
        writeln!(w, "{l}").unwrap();
    }
    w.flush().unwrap();
    let addr: SocketAddr = loop {
        let l = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("metrics address printed");
        if let Some(rest) = l.strip_prefix("metrics: serving http://") {
            break rest.split('/').next().unwrap().parse().unwrap();
        }
    };
    // Half the input is in and the replay waits for more.
    wait_for("the first half of the lookups", || {
        sum(&scrape(addr), "sentineldns_lookups_total") == half as f64
    });
    let mid = scrape(addr);
    assert_eq!(mid["sentineldns_input_finished"], 0.0);
    let mid_windows = mid["sentineldns_windows_total"];
    assert!(mid_windows > 0.0, "windows of the first half closed");
    assert_eq!(
        sum(&mid, "sentineldns_verdicts_total"),
        mid_windows,
        "each closed window was scored"
    );
    let (st, health) = get(addr, "/healthz");
    assert_eq!(st, 200);
    let h: Value = serde_json::from_str(&health).unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["input_finished"], false);
    // The rest, then end of input.
    for l in &lines[half..] {
        writeln!(w, "{l}").unwrap();
    }
    drop(w);
    wait_for("the end of the input", || {
        scrape(addr)["sentineldns_input_finished"] == 1.0
    });
    let end = scrape(addr);
    assert_eq!(sum(&end, "sentineldns_lookups_total"), lines.len() as f64);
    assert_eq!(
        end["sentineldns_lookups_total{outcome=\"event\"}"],
        lines.len() as f64
    );
    assert_eq!(end["sentineldns_jsonl_lines_total"], lines.len() as f64);
    assert_eq!(end["sentineldns_input_files_total"], 1.0);
    assert!(end["sentineldns_windows_total"] > mid_windows);
    assert_eq!(
        sum(&end, "sentineldns_verdicts_total"),
        end["sentineldns_windows_total"]
    );
    assert!(end["sentineldns_verdicts_total{label=\"likely_compromise\"}"] > 0.0);
    assert_eq!(sum(&end, "sentineldns_malformed_total"), 0.0);
    assert!(end["sentineldns_last_window_end_seconds"] > 1.7e9);
    // Still serving after the run; SIGTERM ends the hold with the run's status.
    let (_, health) = get(addr, "/healthz");
    assert_eq!(
        serde_json::from_str::<Value>(&health).unwrap()["input_finished"],
        true
    );
    let st = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("replay did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        rest.iter()
            .any(|l| l.contains("windows") && l.contains("written")),
        "{rest:?}"
    );
}

#[test]
fn bad_output_settings_fail_before_the_run_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let cases: [(Vec<String>, &str); 3] = [
        (
            vec!["--metrics".into(), taken.local_addr().unwrap().to_string()],
            "metrics server on",
        ),
        (
            vec!["--webhook".into(), "ftp://example.com/x".into()],
            "must start with http:// or https://",
        ),
        (
            vec!["--ndjson".into(), "/nonexistent-dir/e.ndjson".into()],
            "/nonexistent-dir/e.ndjson",
        ),
    ];
    for (args, want) in cases {
        let out = bin()
            .args(["replay", "--format", "none", "--db"])
            .arg(dir.path().join("t.db"))
            .args(&args)
            .arg(sample())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
        assert!(!stderr.contains("windows"), "nothing ran: {stderr}");
    }
}
