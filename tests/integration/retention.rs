//! SQLite retention (issue 14): `[store] keep` in the configuration file
//! reaches the store of `replay`, which deletes the windows that started more
//! than `keep` of packet time before the newest one, in the batch path.

use crate::util::{self, assert_success, db_value, sensor};
use std::path::Path;

fn replay(dir: &Path, name: &str, config: Option<&str>) -> std::path::PathBuf {
    let db = dir.join(format!("{name}.db"));
    let mut c = sensor();
    c.args(["replay", "-q", "--format", "none", "--db"])
        .arg(&db);
    if let Some(text) = config {
        let cfg = dir.join(format!("{name}.toml"));
        std::fs::write(&cfg, text).unwrap();
        c.arg("--config").arg(cfg);
    }
    let o = c
        .arg(util::repo_file("simulations/sample.jsonl"))
        .output()
        .unwrap();
    assert_success(&o, "replay");
    db
}

#[test]
fn store_keep_prunes_windows_older_than_keep_before_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let all = replay(dir.path(), "all", None);
    let kept = replay(dir.path(), "kept", Some("[store]\nkeep = \"1h\"\n"));
    let span = |db: &Path| -> (i64, i64, i64) {
        (
            db_value(db, "SELECT COUNT(*) FROM windows"),
            db_value(db, "SELECT MIN(window_start) FROM windows"),
            db_value(db, "SELECT MAX(window_start) FROM windows"),
        )
    };
    let (n_all, min_all, max_all) = span(&all);
    let (n_kept, min_kept, max_kept) = span(&kept);
    // The sample spans two hours: the first hour's windows are gone.
    assert!(max_all - min_all > 3600, "{min_all}..{max_all}");
    assert_eq!(max_kept, max_all);
    assert_eq!(min_kept, max_all - 3600);
    let expect: i64 = db_value(
        &all,
        &format!(
            "SELECT COUNT(*) FROM windows WHERE window_start >= {}",
            max_all - 3600
        ),
    );
    assert_eq!(n_kept, expect);
    assert!(n_kept < n_all);
    // Incidents left pointing at a pruned window: none (closed ones went
    // with their windows; open ones keep only windows still stored).
    let dangling: i64 = db_value(
        &kept,
        "SELECT COUNT(*) FROM windows w WHERE w.incident_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = w.incident_id)",
    );
    assert_eq!(dangling, 0);
}
