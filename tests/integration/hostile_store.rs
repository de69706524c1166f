//! Regression tests for the database under hostile or broken conditions
//! (issue 10, ../shared/data/hostile/README.md): a random-subdomain flood keeps
//! the `first_seen` table under its row cap and the restart preload fast; a
//! run killed with SIGKILL is marked `crashed` by the next start; a database
//! path the user cannot write gives an error that says "permission denied"
//! and names the user. Each drives the real binary on a temp directory.

use crate::util::{self, assert_success as ok, db_value, hostile, sensor as bin};
use rusqlite::Connection;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// First-seen keys persisted (snapshot keys and log records; schema v11
/// stores them as compact records in `first_seen_state`, not a row each).
fn first_seen_count(db: &Path) -> i64 {
    db_value(
        db,
        "SELECT COALESCE(SUM(records), 0) FROM first_seen_state WHERE part <> 'prevalence'",
    )
}

/// Every record persisted, prevalence entries included (what a restart restores).
fn first_seen_records(db: &Path) -> i64 {
    db_value(db, "SELECT COALESCE(SUM(records), 0) FROM first_seen_state")
}

/// Records and seconds of the "first-seen state restored" log line.
fn preload_secs(stderr: &str) -> (u64, f64) {
    let line = stderr
        .lines()
        .find(|l| l.contains("first-seen state restored"))
        .unwrap_or_else(|| panic!("no preload log line in:\n{stderr}"));
    let field = |k: &str| -> String {
        let i = line.find(k).unwrap_or_else(|| panic!("no {k} in {line}")) + k.len();
        line[i..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '-')
            .collect()
    };
    (
        field("records=").parse().unwrap(),
        field("secs=").parse().unwrap(),
    )
}

#[test]
fn random_subdomain_flood_keeps_first_seen_bounded() {
    let gen = hostile("gen_random_subdomain_flood.py");
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("flood.pcap");
    // 6000 queries: 3000 distinct registrable domains (<rand>.<rand>.com),
    // each new sensor-wide and for its client: ~6000 first-seen rows.
    let out = Command::new("python3")
        .arg(&gen)
        .arg(&pcap)
        .args(["6000", "200"])
        .output()
        .expect("python3 runs (needed to generate the flood)");
    ok(&out, "flood generator");
    let db = dir.path().join("t.db");
    let summary = dir.path().join("summary.json");
    let cap = 1000u64;
    let replay = |summary: &Path| {
        bin()
            .args([
                "replay",
                "--no-model",
                "--format",
                "none",
                "--progress",
                "never",
            ])
            .args(["--first-seen-rows", &cap.to_string()])
            .arg("--db")
            .arg(&db)
            .arg("--summary-json")
            .arg(summary)
            .arg(&pcap)
            .env("SENTINELDNS_LOG", "info")
            .output()
            .unwrap()
    };
    let first = replay(&summary);
    ok(&first, "replay of the flood");
    let rows = first_seen_count(&db);
    let records = first_seen_records(&db);
    assert_eq!(
        db_value::<i64>(&db, "SELECT COUNT(*) FROM first_seen"),
        0,
        "the v1 table is not written"
    );
    assert!(rows as u64 <= cap, "{rows} rows over the cap {cap}");
    assert!(rows as u64 >= cap * 9 / 10 - 1, "pruned to 90 %: {rows}");
    let s = util::read_json(&summary);
    let pruned = s["caps"]["first_seen_rows"].as_u64().unwrap_or(0);
    assert!(pruned >= 4000, "pruned count in the summary: {s}");
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(
        stderr.contains(&format!("first_seen_rows {pruned}")),
        "stderr summary reports the pruned rows:\n{stderr}"
    );
    // Restart: the preload reads at most the table (bounded), quickly, and
    // the second replay keeps the bound (all its names are known: nothing new).
    let second = replay(&dir.path().join("summary2.json"));
    ok(&second, "second replay");
    let (restored, secs) = preload_secs(&String::from_utf8_lossy(&second.stderr));
    assert_eq!(restored, records as u64, "restores every kept record");
    assert!(secs < 2.0, "restoring {restored} records took {secs} s");
    assert!(first_seen_count(&db) as u64 <= cap);
}

#[test]
fn killed_run_is_marked_crashed_by_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("endless.jsonl");
    util::mkfifo(&fifo);
    let db = dir.path().join("t.db");
    let mut child = bin()
        .args([
            "replay",
            "--no-model",
            "--format",
            "none",
            "--progress",
            "never",
        ])
        .arg("--db")
        .arg(&db)
        .arg(&fifo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Feed enough lines for the input to be recognised, then keep the FIFO
    // open and silent: the replay waits for more input forever.
    let mut lines = String::new();
    for i in 0..4000 {
        lines.push_str(&format!(
            "{{\"ts\":{},\"host\":\"10.0.0.1\",\"domain\":\"d{i}.example.com\",\"qtype\":\"A\",\"rcode\":\"NOERROR\"}}\n",
            1_700_000_000 + i
        ));
    }
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(fifo)?;
            f.write_all(lines.as_bytes())?;
            Ok::<_, std::io::Error>(f)
        })
    };
    let t0 = Instant::now();
    let running = loop {
        let status: Option<String> = Connection::open(&db).ok().and_then(|c| {
            c.query_row("SELECT status FROM runs WHERE id = 1", [], |r| r.get(0))
                .ok()
        });
        if status.as_deref() == Some("running") {
            break true;
        }
        if t0.elapsed() > Duration::from_secs(60) || child.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap(); // SIGKILL
    let out = child.wait_with_output().unwrap();
    // The writer may still be blocked on a full pipe when the reader dies
    // (broken pipe): only the FIFO staying open until the kill matters.
    let _ = writer.join().unwrap();
    assert!(
        running,
        "the first replay never recorded its run:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let input = dir.path().join("small.jsonl");
    std::fs::write(
        &input,
        "{\"ts\":1700000000,\"host\":\"10.0.0.2\",\"domain\":\"a.example.org\",\"qtype\":\"A\",\"rcode\":\"NOERROR\"}\n",
    )
    .unwrap();
    let next = bin()
        .args([
            "replay",
            "--no-model",
            "--format",
            "none",
            "--progress",
            "never",
        ])
        .arg("--db")
        .arg(&db)
        .arg(&input)
        .output()
        .unwrap();
    ok(&next, "second replay");
    let status: String = db_value(&db, "SELECT status FROM runs WHERE id = 1");
    let finished: Option<String> = db_value(&db, "SELECT finished_at FROM runs WHERE id = 1");
    assert_eq!(status, "crashed");
    assert!(finished.is_some(), "crashed run gets finished_at");
    let status: String = db_value(&db, "SELECT status FROM runs WHERE id = 2");
    assert_eq!(status, "complete");
}

#[test]
fn unwritable_database_says_permission_denied_and_names_the_user() {
    let setpriv = ["/usr/bin/setpriv", "/bin/setpriv"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("setpriv (util-linux) is needed to run the binary as an unprivileged user");
    // A root-owned 0755 directory: nobody can read it but not create files.
    let base = tempfile::Builder::new()
        .prefix("sentineldns-perm")
        .tempdir_in("/tmp")
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(base.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let input = base.path().join("in.jsonl");
    std::fs::write(
        &input,
        "{\"ts\":1700000000,\"host\":\"10.0.0.2\",\"domain\":\"a.example.org\",\"qtype\":\"A\",\"rcode\":\"NOERROR\"}\n",
    )
    .unwrap();
    std::fs::set_permissions(&input, std::fs::Permissions::from_mode(0o644)).unwrap();
    let db = base.path().join("sensor.db");
    let me = Command::new("id").arg("-u").output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&me.stdout).trim(),
        "0",
        "this test runs as root (as CI does) so that it can switch to uid 65534"
    );
    let mut setpriv = Command::new(setpriv);
    let out = util::hermetic(&mut setpriv)
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(util::EXE)
        .args([
            "replay",
            "--no-model",
            "--format",
            "none",
            "--progress",
            "never",
        ])
        .arg("--db")
        .arg(&db)
        .arg(&input)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("permission denied"), "{err}");
    assert_eq!(err.matches(&*db.display().to_string()).count(), 1, "{err}");
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let who = if passwd.lines().any(|l| l.split(':').nth(2) == Some("65534")) {
        passwd
            .lines()
            .find(|l| l.split(':').nth(2) == Some("65534"))
            .and_then(|l| l.split(':').next())
            .unwrap()
            .to_string()
    } else {
        "65534".to_string()
    };
    assert!(err.contains(&who), "names the user {who}: {err}");
    assert!(err.contains("--db") && err.contains("chown"), "{err}");
    assert!(!db.exists());
}

/// `[limits] first_seen_rows` in the configuration file caps the table like
/// the flag does (1,500 new registrable domains from one host: 3,000 rows
/// against a cap of 1,000).
#[test]
fn first_seen_rows_from_the_config_file_caps_the_table() {
    let d = tempfile::tempdir().unwrap();
    let input = d.path().join("names.jsonl");
    let mut text = String::new();
    for i in 0..1500 {
        text.push_str(&format!(
            "{{\"ts\": {}, \"host\": \"10.0.0.9\", \"domain\": \"www.n{i}x.com\", \"qtype\": \"A\", \"rcode\": \"NOERROR\"}}\n",
            1_700_000_000 + i / 10
        ));
    }
    std::fs::write(&input, text).unwrap();
    let cfg = d.path().join("s.toml");
    std::fs::write(
        &cfg,
        "[sensor]\nno_model = true\n[limits]\nfirst_seen_rows = 1000\n",
    )
    .unwrap();
    let db = d.path().join("s.db");
    let out = bin()
        .arg("--config")
        .arg(&cfg)
        .args(["replay", "--format", "none", "--db"])
        .arg(&db)
        .arg(&input)
        .output()
        .unwrap();
    ok(&out, "replay");
    let n = first_seen_count(&db);
    assert!((800..=1000).contains(&n), "first_seen rows {n}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("first_seen_rows"), "{stderr}");
}
