//! End-to-end tests of the configuration file through the real binary:
//! `config check` (valid, unknown key with its line, every problem listed,
//! missing file), `config default` and the packaged example, and `replay`
//! honouring the file's window, database and allow-list, with the environment
//! and flags overriding it.
//!
//! Every run sets `SENTINELDNS_CONFIG` or `--config` explicitly; the other
//! variables are cleared ([`crate::util::hermetic`]), so a configuration on
//! the test machine cannot leak in.

use crate::util::{bin, repo as root, stderr, stdout, stored_windows as stored};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Two hosts, each with a benign lookup and a random-looking failed lookup of
/// `xkqjzvtrbw.info`, spread over 20 minutes.
fn events(dir: &Path) -> PathBuf {
    let mut text = String::new();
    for i in 0..20 {
        let ts = 1_699_999_200 + i * 60; // on the hour
        for host in ["10.0.0.7", "10.0.0.8"] {
            text.push_str(&format!(
                "{{\"ts\": {ts}, \"host\": \"{host}\", \"domain\": \"www.example.com\", \"qtype\": \"A\", \"rcode\": \"NOERROR\"}}\n\
                 {{\"ts\": {ts}, \"host\": \"{host}\", \"domain\": \"xkqjzvtrbw.info\", \"qtype\": \"A\", \"rcode\": \"NXDOMAIN\"}}\n"
            ));
        }
    }
    write(dir, "events.jsonl", &text)
}

fn window_secs(w: &Value) -> i64 {
    let t = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(w[k].as_str().unwrap())
            .unwrap()
            .timestamp()
    };
    t("window_end") - t("window_start")
}

#[test]
fn check_accepts_a_valid_file_and_prints_effective_settings() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "s.toml",
        "[sensor]\nwindow = \"10m\"\ndb = \"data/s.db\"\n[capture]\nuser = \"root\"\ninterfaces = [\"eth0\"]\n",
    );
    let o = bin()
        .args(["config", "check", "--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["sensor"]["window"], "10m");
    assert_eq!(v["sensor"]["grace"], "30s");
    assert_eq!(
        v["sensor"]["db"],
        dir.path().join("data/s.db").display().to_string(),
        "relative paths are relative to the file"
    );
    assert_eq!(v["capture"]["interfaces"][0], "eth0");
    // The environment layer shows in the effective settings; TOML output reloads.
    let o = bin()
        .env("SENTINELDNS_WINDOW", "2m")
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let again = write(dir.path(), "again.toml", &stdout(&o));
    let o = bin()
        .args(["config", "check", "--format", "json", "--config"])
        .arg(&again)
        .output()
        .unwrap();
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["sensor"]["window"], "2m");
}

#[test]
fn check_reports_an_unknown_key_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "s.toml",
        "# sensor settings\n[sensor]\nwindow = \"5m\"\nwindw = \"10m\"\n",
    );
    let o = bin()
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("{}: line 4, column 1", cfg.display())),
        "{err}"
    );
    assert!(err.contains("windw"), "{err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn check_lists_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "s.toml",
        "[sensor]\nthresholds = { unusual = 0.9, likely = 0.5 }\n\
         [capture]\nuser = \"no-such-user-sentineldns-test\"\n\
         [allowlist]\nfiles = [\"missing-allow.txt\"]\n\
         [outputs.webhook]\nurl = \"ftp://example.com/x\"\n",
    );
    let o = bin()
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for want in [
        "line 2, column 14",
        "0 < unusual < likely",
        "line 4",
        "no-such-user-sentineldns-test",
        "line 6",
        "missing-allow.txt",
        // The URL problem points at the `url` key, not at its table.
        "line 8, column 1: [outputs.webhook] url",
        "http://",
        "4 problem(s)",
    ] {
        assert!(err.contains(want), "{want:?} missing:\n{err}");
    }
}

#[test]
fn a_missing_named_file_is_an_error() {
    let o = bin()
        .args([
            "config",
            "check",
            "--config",
            "/nonexistent/sentineldns.toml",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/sentineldns.toml does not exist"));
    let dir = tempfile::tempdir().unwrap();
    let o = bin()
        .env("SENTINELDNS_CONFIG", "/nonexistent/env.toml")
        .args(["replay", "--no-model", "--db"])
        .arg(dir.path().join("x.db"))
        .arg(events(dir.path()))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("/nonexistent/env.toml does not exist"));
}

#[test]
fn default_config_and_packaged_config_pass_check() {
    let dir = tempfile::tempdir().unwrap();
    let o = bin().args(["config", "default"]).output().unwrap();
    assert!(o.status.success());
    // The default user "nobody" may be missing in a minimal container:
    // check the document with an account that always exists.
    let text = stdout(&o).replace("user = \"nobody\"", "user = \"root\"");
    assert_ne!(text, stdout(&o), "the default names the capture user");
    let cfg = write(dir.path(), "default.toml", &text);
    let o = bin()
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // The packaged file runs as the `sentineldns` user that the package's
    // postinst creates; elsewhere check it with root.
    let packaged = std::fs::read_to_string(root().join("packaging/sentineldns.toml")).unwrap();
    let has_user = std::fs::read_to_string("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("sentineldns:"));
    let text = if has_user {
        packaged.clone()
    } else {
        let t = packaged.replace("user = \"sentineldns\"", "user = \"root\"");
        assert_ne!(t, packaged, "the packaged file names the sentineldns user");
        t
    };
    let cfg = write(dir.path(), "packaged.toml", &text);
    let o = bin()
        .args(["config", "check", "--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["sensor"]["db"], "/var/lib/sentineldns/sentineldns.db");
}

#[test]
fn replay_honours_the_config_window_db_and_allowlist() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    write(dir.path(), "allow.txt", "# ours\nxkqjzvtrbw.info\n");
    let cfg = write(
        dir.path(),
        "s.toml",
        "[sensor]\nwindow = \"10m\"\nno_model = true\ndb = \"cfg.db\"\n[allowlist]\nfiles = [\"allow.txt\"]\n",
    );
    // The config file comes from SENTINELDNS_CONFIG here; the database is
    // relative to the file, not to the working directory.
    let o = bin()
        .env("SENTINELDNS_CONFIG", &cfg)
        .args(["replay", "--format", "none", "-q"])
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let ws = stored(&dir.path().join("cfg.db"));
    assert_eq!(ws.len(), 4, "2 hosts x 20 minutes / 10-minute windows");
    assert!(ws.iter().all(|w| window_secs(w) == 600));
    // Lexical risk of the test domain in each window's top domains.
    let risky =
        |ws: &[Value]| {
            ws.iter()
                .filter(|w| {
                    w["top_domains"].as_array().unwrap().iter().any(|d| {
                        d["name"] == "xkqjzvtrbw.info" && d["risk"].as_f64().unwrap() > 0.0
                    })
                })
                .count()
        };
    assert_eq!(risky(&ws), 0, "allow-listed domain is not risky: {ws:?}");

    // Without the allow-list the same domain is among the risky ones (the
    // assertion above can fail).
    let replay_with = |name: &str, toml: &str, db: &str| -> Vec<Value> {
        let cfg = write(dir.path(), name, toml);
        let o = bin()
            .args(["replay", "--format", "none", "-q", "--config"])
            .arg(&cfg)
            .arg(&input)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stored(&dir.path().join(db))
    };
    let ws = replay_with(
        "s2.toml",
        "[sensor]\nwindow = \"10m\"\nno_model = true\ndb = \"plain.db\"\n",
        "plain.db",
    );
    assert_eq!(risky(&ws), 4, "{ws:?}");

    // Inline entries work the same way.
    let ws = replay_with(
        "s3.toml",
        "[sensor]\nno_model = true\ndb = \"inline.db\"\n[allowlist]\ndomains = [\"=xkqjzvtrbw.info\"]\n",
        "inline.db",
    );
    assert_eq!(risky(&ws), 0);
    assert!(ws.iter().all(|w| window_secs(w) == 300), "default window");
}

#[test]
fn environment_and_flags_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let cfg = write(
        dir.path(),
        "s.toml",
        "[sensor]\nwindow = \"10m\"\nno_model = true\ndb = \"file.db\"\n",
    );
    let run = |env: &[(&str, &str)], flags: &[&str]| {
        let mut c = bin();
        for (k, v) in env {
            c.env(k, v);
        }
        let o = c
            .args(["replay", "--format", "none", "-q", "--config"])
            .arg(&cfg)
            .args(flags)
            .arg(&input)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
    };
    // Environment over file: window and database.
    let env_db = dir.path().join("env.db");
    let env_db_s = env_db.display().to_string();
    run(
        &[("SENTINELDNS_WINDOW", "2m"), ("SENTINELDNS_DB", &env_db_s)],
        &[],
    );
    let ws = stored(&env_db);
    assert!(!ws.is_empty() && ws.iter().all(|w| window_secs(w) == 120));
    assert!(!dir.path().join("file.db").exists());
    // Flags over environment.
    let flag_db = dir.path().join("flag.db");
    run(
        &[("SENTINELDNS_WINDOW", "2m"), ("SENTINELDNS_DB", &env_db_s)],
        &["--window", "1m", "--db", flag_db.to_str().unwrap()],
    );
    let ws = stored(&flag_db);
    assert_eq!(ws.len(), 40);
    assert!(ws.iter().all(|w| window_secs(w) == 60));
    // A flag not given leaves the file alone.
    run(&[], &[]);
    let ws = stored(&dir.path().join("file.db"));
    assert!(ws.iter().all(|w| window_secs(w) == 600));
    // --model beats the file's no_model: windows get verdicts.
    let scored = dir.path().join("scored.db");
    run(
        &[],
        &[
            "--model",
            root().join("models/default.bin").to_str().unwrap(),
            "--db",
            scored.to_str().unwrap(),
        ],
    );
    assert!(stored(&scored).iter().all(|w| w["label"].is_string()));
    assert!(stored(&flag_db).iter().all(|w| w["label"].is_null()));
}

#[test]
fn outputs_come_from_the_file_and_flags_override_them() {
    let dir = tempfile::tempdir().unwrap();
    let input = events(dir.path());
    let cfg = write(
        dir.path(),
        "s.toml",
        "[sensor]\nno_model = true\ndb = \"o.db\"\n[outputs.ndjson]\npath = \"events.ndjson\"\n",
    );
    let o = bin()
        .args(["replay", "--format", "none", "-q", "--config"])
        .arg(&cfg)
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let lines = std::fs::read_to_string(dir.path().join("events.ndjson")).unwrap();
    assert_eq!(lines.lines().count(), 8, "one line per window");
    // --ndjson - sends the same lines to stdout instead of the file's path.
    let o = bin()
        .args(["replay", "-q", "--ndjson", "-", "--db"])
        .arg(dir.path().join("o2.db"))
        .arg("--config")
        .arg(&cfg)
        .arg(&input)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o).lines().count(), 8);
    let after = std::fs::read_to_string(dir.path().join("events.ndjson")).unwrap();
    assert_eq!(after.lines().count(), 8, "the file output was replaced");
}

/// `config check` lists every finding of the detector registry (window
/// findings and slow signals) and says whether site learning is on.
#[test]
fn check_lists_the_findings_registry_and_site_learning() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "l.toml", "[learning]\nperiod = \"30m\"\n");
    let o = bin()
        .args(["config", "check", "--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    for u in sentineldns::detect::UNITS {
        assert!(
            err.contains(&format!("  {} ({}): ", u.name, u.file)),
            "{err}"
        );
        for (tag, _) in (u.findings)() {
            assert!(err.contains(&format!("    {tag}: ")), "{err}");
        }
    }
    for f in sentineldns::detect::FINDINGS {
        assert!(err.contains(&format!("    {}: ", f.tag())), "{err}");
    }
    assert!(err.contains("    slow_beacon: "), "{err}");
    assert!(err.contains("site learning: on, 30m"), "{err}");
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["learning"]["period"], "30m");
}

#[test]
fn check_lists_three_problems_of_one_section_each_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "s.toml",
        "[outputs.webhook]\nurl = \"http://127.0.0.1:9/x\"\ntimeout = \"soon\"\nqueue = 0\nretries = 3\n",
    );
    let o = bin()
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    for want in [
        "line 3, column 11: [outputs.webhook] timeout: \"soon\" is not a duration",
        "line 4, column 1: [outputs.webhook] queue: 0 is out of range (1 to 1000000)",
        "line 5, column 1: [outputs.webhook]",
        "unknown field `retries`",
        "3 problem(s)",
    ] {
        assert!(err.contains(want), "{want:?} missing:\n{err}");
    }
    assert!(stdout(&o).is_empty());
}

#[test]
fn generic_variables_override_the_file_and_config_show_names_the_origin() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "s.toml",
        "[sensor]\nno_model = true\nwindow = \"10m\"\ntop = 7\n[outputs.webhook]\nurl = \"http://127.0.0.1:9/x\"\ntimeout_ms = 3000\n",
    );
    let o = bin()
        .env("SENTINELDNS_SENSOR_TOP", "9")
        .env("SENTINELDNS_OUTPUTS_WEBHOOK_TIMEOUT", "1m30s")
        .args(["config", "check", "--format", "json", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["sensor"]["top"], 9);
    assert_eq!(v["sensor"]["window"], "10m");
    assert_eq!(v["outputs"]["webhook"]["timeout"], "90s");
    let o = bin()
        .env("SENTINELDNS_SENSOR_TOP", "9")
        .args(["config", "show", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for want in [
        "sensor.top = 9  # environment, SENTINELDNS_SENSOR_TOP".to_string(),
        format!("sensor.window = \"10m\"  # {} line 3", cfg.display()),
        format!(
            "outputs.webhook.timeout = \"3s\"  # {} line 7",
            cfg.display()
        ),
        "sensor.grace = \"30s\"  # default".to_string(),
    ] {
        assert!(out.contains(&want), "{want:?} missing:\n{out}");
    }
    // A misspelt variable is named, not ignored.
    let o = bin()
        .env("SENTINELDNS_SENSOR_WINDW", "2m")
        .args(["config", "check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("SENTINELDNS_SENSOR_WINDW: no setting has this variable (did you mean SENTINELDNS_SENSOR_WINDOW?)"),
        "{err}"
    );
}
