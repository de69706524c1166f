//! Shared helpers of the integration tests, one helper per job:
//!
//! * where data lives: [`paths`] (re-exported here: [`repo_file`],
//!   [`shared`], [`hostile`], [`files_in`], ...), labelled domain lists: [`datasets`];
//! * the binary: [`sensor`] / [`bin`] (hermetic: no `SENTINELDNS_*` from the
//!   caller, the checkout as working directory), [`hermetic`] for a wrapper
//!   such as `prlimit` or `setpriv`, [`run_with_deadline`];
//! * its output: [`json_lines`], [`read_json`], [`stdout`], [`stderr`],
//!   [`assert_success`];
//! * its database: [`db_value`], [`last_run`], [`stored_windows`];
//! * input: [`event_line`], [`mkfifo`];
//! * processes: [`vm_hwm_kib`], [`run_alone`];
//! * golden files: [`golden::assert_golden`] (`UPDATE_GOLDEN=1` rewrites them).
pub mod datasets;
pub mod frames;
pub mod golden;
pub mod paths;

pub use paths::{files_in, files_under, hostile, repo, repo_file, shared};

use serde_json::Value;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The `sentineldns` binary cargo built for these tests.
pub const EXE: &str = env!("CARGO_BIN_EXE_sentineldns");

/// Environment variables the binary reads: cleared for every run so a
/// configuration on the test machine cannot leak in. A test that wants one
/// sets it on its command (`.env(..)` after this).
const SENSOR_ENV: [&str; 7] = [
    "SENTINELDNS_CONFIG",
    "SENTINELDNS_DB",
    "SENTINELDNS_MODEL",
    "SENTINELDNS_WINDOW",
    "SENTINELDNS_METRICS",
    "SENTINELDNS_LOG",
    // the width tables are laid out for (src/cmd/table.rs)
    "COLUMNS",
];

/// Make `c` (the binary, or a wrapper that execs it) hermetic: none of the
/// sensor's environment variables (the short ones and every
/// `SENTINELDNS_<SECTION>_<KEY>`), the checkout as working directory.
pub fn hermetic(c: &mut Command) -> &mut Command {
    for v in SENSOR_ENV {
        c.env_remove(v);
    }
    let sections: Vec<String> = sentineldns::config::env_settings()
        .iter()
        .filter_map(|s| s.key.split('.').next())
        .map(|s| format!("SENTINELDNS_{}_", s.to_ascii_uppercase()))
        .collect();
    for (k, _) in std::env::vars_os() {
        if let Some(name) = k.to_str() {
            if sections.iter().any(|p| name.starts_with(p.as_str())) {
                c.env_remove(name);
            }
        }
    }
    c.current_dir(repo())
}

/// The binary as a `std::process::Command` (to spawn, pipe, signal), hermetic.
pub fn sensor() -> Command {
    let mut c = Command::new(EXE);
    hermetic(&mut c);
    c
}

/// The binary as an `assert_cmd::Command` (to assert on), hermetic.
pub fn bin() -> assert_cmd::Command {
    assert_cmd::Command::from_std(sensor())
}

/// `sentineldns simulate ARGS --out DIR/NAME`; the path written.
pub fn simulate(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let p = dir.join(name);
    bin()
        .arg("simulate")
        .args(args)
        .arg("--out")
        .arg(&p)
        .assert()
        .success();
    p
}

/// Run `c` (stdin empty, stdout and stderr captured) with a deadline: a
/// process still running after `limit` is killed and the test fails, so a
/// hang fails the test instead of hanging the suite.
pub fn run_with_deadline(mut c: Command, limit: Duration) -> Output {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {c:?}: {e}"));
    // Drain both pipes while waiting: a chatty child must not block on a
    // full pipe and look hung.
    let drain = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut r) = r {
                let _ = r.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(child.stdout.take().map(|r| Box::new(r) as _));
    let err = drain(child.stderr.take().map(|r| Box::new(r) as _));
    let t0 = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait for the child") {
            break s;
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            let err = err.join().unwrap_or_default();
            panic!(
                "still running after {limit:?} (killed): {c:?}\nstderr: {}",
                String::from_utf8_lossy(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    }
}

/// stdout as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Fail unless `o` exited 0, showing `what` and its stderr.
pub fn assert_success(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({:?}):\n{}",
        o.status,
        stderr(o)
    );
}

/// One JSON value per line (NDJSON); panics naming a line that is not JSON.
pub fn json_lines(out: impl AsRef<[u8]>) -> Vec<Value> {
    String::from_utf8_lossy(out.as_ref())
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad json line {l}: {e}")))
        .collect()
}

/// A JSON file (a `--summary-json`, a labels file).
pub fn read_json(p: &Path) -> Value {
    let text =
        std::fs::read_to_string(p).unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()))
}

/// The one value `sql` selects from the database `db`.
pub fn db_value<T: rusqlite::types::FromSql>(db: &Path, sql: &str) -> T {
    rusqlite::Connection::open(db)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", db.display()))
        .query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql} on {}: {e}", db.display()))
}

/// Status and stored stats summary of the newest run in `db`.
pub fn last_run(db: &Path) -> (String, Value) {
    let status = db_value(db, "SELECT status FROM runs ORDER BY id DESC LIMIT 1");
    let stats: String = db_value(db, "SELECT stats FROM runs ORDER BY id DESC LIMIT 1");
    (
        status,
        serde_json::from_str(&stats).expect("run stats are JSON"),
    )
}

/// The windows stored in `db` (`windows --format json`), one JSON object each.
pub fn stored_windows(db: &Path) -> Vec<Value> {
    let o = sensor()
        .args(["windows", "--format", "json", "--db"])
        .arg(db)
        .output()
        .expect("run sentineldns windows");
    assert_success(&o, "sentineldns windows");
    json_lines(&o.stdout)
}

/// One JSONL DNS event as the replay reads it (with its newline).
pub fn event_line(ts: f64, host: &str, domain: &str, qtype: &str, rcode: &str) -> String {
    format!(
        "{{\"ts\":{ts},\"host\":\"{host}\",\"domain\":\"{domain}\",\"qtype\":\"{qtype}\",\"rcode\":\"{rcode}\"}}\n"
    )
}

/// Create the named pipe `path` (`mkfifo`, coreutils).
pub fn mkfifo(path: &Path) {
    let st = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo (coreutils) runs");
    assert!(st.success(), "mkfifo {} failed", path.display());
}

/// Peak resident set (`VmHWM`, KiB) of a process, if it can still be read.
pub fn vm_hwm_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// For a test that measures its whole process (peak RSS): every test of this
/// binary shares one process, so the test re-runs itself alone in a fresh
/// process of this binary. `test` is its path (`module::name`). Returns true
/// in that child, where the body runs; in the parent it waits for the child,
/// fails with the child's output if the test failed there, and returns false.
/// The child is told through its environment (`Command::env`), nothing in
/// this process changes.
pub fn run_alone(test: &str) -> bool {
    const VAR: &str = "SENTINELDNS_TEST_ALONE";
    if std::env::var_os(VAR).is_some_and(|v| v == test) {
        return true;
    }
    let exe = std::env::current_exe().expect("path of the test binary");
    let o = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(VAR, test)
        .output()
        .expect("re-run the test binary");
    let out = stdout(&o);
    assert!(
        o.status.success() && out.contains("1 passed"),
        "{test} alone in a child process ({:?}):\n{out}\n{}",
        o.status,
        stderr(&o)
    );
    false
}
