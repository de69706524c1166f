//! Incident triage through the real binary (`replay --triage ...`) against
//! model servers on loopback: a stalled server does not slow the replay,
//! verdicts land in NDJSON as `incident_triage` records, and a model that
//! answers `false_positive` to everything (as an injected instruction would
//! ask) changes no window label and no incident. `flows rules --triage`
//! gets a `flow_triage` record per flagged source.

use crate::util::{self, bin, json_lines};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

/// A server that accepts connections and never answers.
fn stalled_server() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s);
        }
    });
    addr
}

fn read_request(s: &mut TcpStream) -> Option<Value> {
    let mut r = BufReader::new(s.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    if line.is_empty() {
        return None;
    }
    let mut len = 0usize;
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
    serde_json::from_slice(&body).ok()
}

/// An Ollama `/api/chat` server that calls everything a false positive.
fn gullible_ollama() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                while read_request(&mut s).is_some() {
                    let verdict = json!({
                        "category": "false_positive",
                        "threat_score": 0,
                        "confidence": "high",
                        "summary": "As instructed, nothing to see.",
                        "recommended_actions": []
                    });
                    let body = json!({
                        "model": "llama3.2",
                        "message": {"role": "assistant", "content": verdict.to_string()},
                        "done": true
                    })
                    .to_string();
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                }
            });
        }
    });
    addr
}

/// Replay the sample with `extra` flags and `config`; (seconds, NDJSON lines).
fn replay(dir: &Path, name: &str, config: &str, extra: &[String]) -> (f64, Vec<Value>) {
    let cfg = dir.join(format!("{name}.toml"));
    std::fs::write(&cfg, config).unwrap();
    let nd = dir.join(format!("{name}.ndjson"));
    let t0 = Instant::now();
    let out = bin()
        .args(["replay", "-q", "--format", "none", "--config"])
        .arg(&cfg)
        .arg("--ndjson")
        .arg(&nd)
        .arg("--db")
        .arg(dir.join(format!("{name}.db")))
        .args(extra)
        .arg(util::repo_file("simulations/sample.jsonl"))
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (secs, json_lines(std::fs::read(&nd).unwrap()))
}

fn of_type<'a>(lines: &'a [Value], dataset: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|v| v["event"]["dataset"] == dataset)
        .collect()
}

fn triage_records(lines: &[Value]) -> Vec<&Value> {
    lines
        .iter()
        .filter(|v| v["type"] == "incident_triage")
        .collect()
}

/// Window labels and incident lines: what triage must never change.
fn decisions(lines: &[Value]) -> (Vec<String>, Vec<String>) {
    let w = of_type(lines, "sentineldns.window")
        .iter()
        .map(|v| v["sentineldns"]["label"].to_string())
        .collect();
    let i = of_type(lines, "sentineldns.incident")
        .iter()
        .map(|v| v.to_string())
        .collect();
    (w, i)
}

#[test]
fn triage_against_a_stalled_server_does_not_slow_the_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (off_s, off) = replay(dir.path(), "off", "", &[]);
    let addr = stalled_server();
    let cfg = "[triage]\ntimeout_ms = 3600000\nbatch_wait_ms = 0\nshutdown_grace_ms = 0\n";
    let (on_s, on) = replay(
        dir.path(),
        "on",
        cfg,
        &[
            "--triage".into(),
            "ollama".into(),
            "--triage-url".into(),
            format!("http://{addr}"),
        ],
    );
    // The sensor never waits on the model: a generous bound, not a benchmark.
    assert!(
        on_s < off_s * 3.0 + 10.0,
        "triage on a stalled server: {on_s:.1}s vs {off_s:.1}s off"
    );
    assert_eq!(
        decisions(&on),
        decisions(&off),
        "triage changes no decision"
    );
    assert!(triage_records(&off).is_empty());
    let recs = triage_records(&on);
    let incidents = of_type(&on, "sentineldns.incident").len();
    assert!(incidents > 0);
    // Every incident alert got a record saying why there is no verdict.
    assert_eq!(recs.len(), incidents, "{recs:#?}");
    for r in recs {
        assert!(r["triage"].is_null());
        let s = r["triage_status"].as_str().unwrap();
        assert!(s == "shutdown" || s == "queue_full", "{s}");
    }
}

#[test]
fn verdicts_land_in_ndjson_and_a_gullible_model_changes_no_label() {
    let dir = tempfile::tempdir().unwrap();
    let (_, off) = replay(dir.path(), "off", "", &[]);
    let addr = gullible_ollama();
    let cfg = format!(
        "[triage]\nprovider = \"ollama\"\nurl = \"http://{addr}\"\nbatch_wait_ms = 0\nqueue = 10000\nshutdown_grace_ms = 60000\n"
    );
    let (_, on) = replay(dir.path(), "on", &cfg, &[]);
    assert_eq!(
        decisions(&on),
        decisions(&off),
        "triage changes no decision"
    );
    let recs = triage_records(&on);
    assert_eq!(recs.len(), of_type(&on, "sentineldns.incident").len());
    for r in &recs {
        assert_eq!(r["triage_status"], "ok", "{r}");
        assert_eq!(r["triage"]["category"], "false_positive");
        assert_eq!(r["provider"], "ollama");
    }
    // Stored with the incident (schema v10) and shown by `incidents`; a run
    // with triage off says so.
    let stored = |name: &str| -> Vec<Value> {
        let out = bin()
            .args(["incidents", "--status", "all", "--format", "json", "--db"])
            .arg(dir.path().join(format!("{name}.db")))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json_lines(out.stdout)
    };
    let on_rows = stored("on");
    assert!(!on_rows.is_empty());
    for r in &on_rows {
        assert_eq!(r["triage_status"], "ok", "{r}");
        assert_eq!(r["triage"]["category"], "false_positive", "{r}");
        assert_ne!(r["peak_label"], "Normal", "{r}");
    }
    for r in &stored("off") {
        assert_eq!(r["triage_status"], "off", "{r}");
        assert!(r["triage"].is_null(), "{r}");
    }
    let table = bin()
        .args(["incidents", "--status", "all", "--db"])
        .arg(dir.path().join("on.db"))
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("triage (model, advisory): false_positive"),
        "{table}"
    );
    // `--triage off` on the command line wins over the file.
    let (_, none) = replay(
        dir.path(),
        "forced_off",
        &cfg,
        &["--triage".into(), "off".into()],
    );
    assert!(triage_records(&none).is_empty());
}

/// `flows rules` over the CICIDS2017 port scan with `args`: (JSON lines, stderr).
fn flows_rules(args: &[String]) -> (Vec<Value>, String) {
    let out = bin()
        .args(["flows", "rules", "--max-lateness", "120h"])
        .arg(util::shared("flows/cicids2017/improved_Portscan_2500.csv"))
        .args(args)
        .timeout(Duration::from_secs(120))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{err}");
    if args.iter().any(|a| a == "json") {
        (json_lines(out.stdout), err)
    } else {
        (
            vec![Value::String(String::from_utf8(out.stdout).unwrap())],
            err,
        )
    }
}

#[test]
fn flows_rules_sources_are_triaged_from_the_config_file_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (off, _) = flows_rules(&["--format".into(), "json".into()]);
    assert_eq!(off.len(), 9);
    let addr = gullible_ollama();
    let cfg = dir.path().join("t.toml");
    std::fs::write(
        &cfg,
        format!("[triage]\nprovider = \"ollama\"\nurl = \"http://{addr}\"\nbatch_wait = \"0s\"\n"),
    )
    .unwrap();
    let with_cfg = |extra: &[&str]| -> Vec<String> {
        let mut a = vec!["--config".to_string(), cfg.display().to_string()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };
    // `[triage]` of the configuration file: one verdict per flagged context,
    // the rules' own lines unchanged but for their number.
    let (on, err) = flows_rules(&with_cfg(&["--format", "json"]));
    let ctx: Vec<&Value> = on.iter().filter(|v| v.get("type").is_none()).collect();
    assert_eq!(ctx.len(), off.len());
    for (c, o) in ctx.iter().zip(&off) {
        let mut c = (*c).clone();
        c.as_object_mut().unwrap().remove("context");
        assert_eq!(&c, o, "triage changes no rule output");
    }
    let recs: Vec<&Value> = on.iter().filter(|v| v["type"] == "flow_triage").collect();
    assert_eq!(recs.len(), 9, "{on:#?}");
    for r in &recs {
        assert_eq!(r["triage_status"], "ok", "{r}");
        assert_eq!(r["triage"]["category"], "false_positive");
        assert_eq!(r["rule_class"], "port_scan");
    }
    assert!(
        err.contains("triage (ollama llama3.2, advisory): ok: 9"),
        "{err}"
    );
    // Table output; the flags win over the file.
    let (table, _) = flows_rules(&with_cfg(&["--triage-model", "small"]));
    let table = table[0].as_str().unwrap();
    assert_eq!(
        table
            .lines()
            .filter(|l| l.contains("triage (model, advisory): false_positive 0/100"))
            .count(),
        9,
        "{table}"
    );
    let (none, _) = flows_rules(&with_cfg(&["--format", "json", "--triage", "off"]));
    assert_eq!(none, off, "--triage off: the plain output");
    // Flags alone, against a server that never answers: records say why.
    let stalled = stalled_server();
    let cfg0 = dir.path().join("grace0.toml");
    std::fs::write(&cfg0, "[triage]\nshutdown_grace = \"0s\"\nqueue = 2\n").unwrap();
    let t0 = Instant::now();
    let (lines, _) = flows_rules(&[
        "--config".into(),
        cfg0.display().to_string(),
        "--format".into(),
        "json".into(),
        "--triage".into(),
        "openai".into(),
        "--triage-url".into(),
        format!("http://{stalled}"),
    ]);
    assert!(t0.elapsed() < Duration::from_secs(30), "{:?}", t0.elapsed());
    let recs: Vec<&Value> = lines
        .iter()
        .filter(|v| v["type"] == "flow_triage")
        .collect();
    assert_eq!(recs.len(), 9);
    for r in recs {
        assert!(r["triage"].is_null());
        let s = r["triage_status"].as_str().unwrap();
        assert!(s == "shutdown" || s == "queue_full", "{s}");
        assert_eq!(r["provider"], "openai");
    }
}
