//! Golden tests of what an analyst reads after the README's quick start
//! (`sentineldns replay simulations/sample.jsonl`, shipped model):
//!
//! * `tests/golden/alerts.txt`: `sentineldns alerts` (the table with each
//!   alert's explanation);
//! * `tests/golden/alerts_json.txt`: `sentineldns alerts --format json`, each
//!   line pretty-printed (same keys, same order) so a diff shows the field that
//!   moved;
//! * `tests/golden/explanation_{normal,unusual,likely_compromise}.txt`: the
//!   explanation of the first window of each verdict level
//!   (`sentineldns windows --format json`).
//!
//! A change in any of them fails with a line diff (`-` expected, `+` actual).
//! When the change is intended, rewrite the files and review the diff before
//! committing it:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test --test integration golden::
//! git diff tests/golden
//! ```
//!
//! The compared text must be deterministic: the sample is replayed twice and
//! must give the same output, and the temp directory's path (the database) is
//! masked as `<TMP>` wherever it appears. The output carries no wall-clock
//! time or run id (window times come from the sample).

use crate::util::{self, golden::assert_golden};
use serde_json::Value;
use std::path::Path;
use std::sync::OnceLock;

/// What the quick start shows, masked.
struct QuickStart {
    alerts: String,
    alerts_json: String,
    windows: Vec<Value>,
}

/// `replay` of the shipped sample, then `alerts` and `windows` on its
/// database; stdout of each, the temp directory masked.
fn run_quick_start(dir: &Path, db: &str) -> [String; 3] {
    let db = dir.join(db);
    let run = |args: &[&str]| {
        let o = util::sensor()
            .args(args)
            .arg("--db")
            .arg(&db)
            .output()
            .expect("run sentineldns");
        util::assert_success(&o, &format!("sentineldns {args:?}"));
        util::stdout(&o).replace(&*dir.to_string_lossy(), "<TMP>")
    };
    run(&["replay", "--progress", "never", "simulations/sample.jsonl"]);
    [
        run(&["alerts"]),
        run(&["alerts", "--format", "json"]),
        run(&["windows", "--format", "json"]),
    ]
}

/// The quick start, run once for the tests of this module (twice, to prove
/// the output deterministic).
fn quick_start() -> &'static QuickStart {
    static Q: OnceLock<QuickStart> = OnceLock::new();
    Q.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = run_quick_start(dir.path(), "a.db");
        let second = run_quick_start(dir.path(), "b.db");
        for (what, a, b) in [
            ("alerts", &first[0], &second[0]),
            ("alerts --format json", &first[1], &second[1]),
            ("windows --format json", &first[2], &second[2]),
        ] {
            assert!(
                a == b,
                "`{what}` differs between two replays of the same sample:\n{}",
                util::golden::line_diff(a, b)
            );
        }
        let [alerts, alerts_json, windows] = first;
        QuickStart {
            alerts,
            alerts_json,
            windows: util::json_lines(windows),
        }
    })
}

#[test]
fn alerts_table_of_the_quick_start() {
    let q = quick_start();
    assert!(q.alerts.contains("Likely Compromise"), "{}", q.alerts);
    assert_golden("alerts.txt", &q.alerts);
}

#[test]
fn alerts_json_of_the_quick_start() {
    let q = quick_start();
    let alerts = util::json_lines(&q.alerts_json);
    assert!(!alerts.is_empty(), "no alert in the quick start");
    let mut text = String::new();
    for a in &alerts {
        text.push_str(&serde_json::to_string_pretty(a).expect("JSON"));
        text.push('\n');
    }
    assert_golden("alerts_json.txt", &text);
}

/// The explanation of the first stored window labelled `label`.
fn explanation(label: &str) -> String {
    let w = quick_start()
        .windows
        .iter()
        .find(|w| w["label"] == label)
        .unwrap_or_else(|| panic!("the quick start has no {label} window"));
    format!(
        "{} {} {}\n{}\n",
        w["label"].as_str().expect("label"),
        w["host"].as_str().expect("host"),
        w["window_start"].as_str().expect("window_start"),
        w["explanation"].as_str().expect("explanation")
    )
}

#[test]
fn explanation_of_a_normal_window() {
    assert_golden("explanation_normal.txt", &explanation("Normal"));
}

#[test]
fn explanation_of_an_unusual_window() {
    assert_golden("explanation_unusual.txt", &explanation("Unusual"));
}

#[test]
fn explanation_of_a_likely_compromise_window() {
    assert_golden(
        "explanation_likely_compromise.txt",
        &explanation("Likely Compromise"),
    );
}

/// The diff a failing golden test prints: the changed line with context.
#[test]
fn golden_diff_shows_the_changed_line_with_context() {
    let d = util::golden::line_diff("a\nb\nc\nd\n", "a\nb\nX\nd\n");
    assert_eq!(
        d,
        "@@ from line 1 (expected 4 lines, actual 4 lines) @@\n  a\n  b\n- c\n+ X\n  d\n"
    );
}
