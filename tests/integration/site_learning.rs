//! Site learning (issue 12, item 1): `--learn` fits a site model on packet
//! time from the stored windows, swaps it in, records its provenance and the
//! model id of every verdict; a restart loads it; `train --db` fits the same
//! model offline; windows with evidence are left out of training.

use crate::util::{bin, db_value, simulate};
use std::path::{Path, PathBuf};

fn replay(db: &Path, input: &Path, extra: &[&str]) -> String {
    let out = bin()
        .args([
            "replay",
            "--progress",
            "never",
            "--format",
            "none",
            "--log-level",
            "info",
        ])
        .arg("--db")
        .arg(db)
        .args(extra)
        .arg(input)
        .assert()
        .success()
        .get_output()
        .clone();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn count(db: &Path, sql: &str) -> i64 {
    db_value(db, sql)
}

/// 2 h of 12 simulated hosts (08:00–10:00 UTC on 2024-03-04), with attacks
/// on 3 of them.
fn two_hours(dir: &Path) -> PathBuf {
    simulate(
        dir,
        "site.jsonl",
        &[
            "--hosts",
            "12",
            "--hours",
            "2",
            "--seed",
            "515",
            "--incident-hosts",
            "3",
        ],
    )
}

const START: i64 = 1_709_539_200; // 2024-03-04T08:00:00Z, the simulator's default start

#[test]
fn learn_fits_a_site_model_on_packet_time_and_every_verdict_names_its_model() {
    let d = tempfile::tempdir().unwrap();
    let sim = two_hours(d.path());
    let db = d.path().join("s.db");
    let log = replay(&db, &sim, &["--learn", "30m"]);
    assert!(log.contains("site model fitted"), "{log}");

    // One prior and one site model, with provenance.
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM models WHERE role = 'prior'"),
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM models WHERE role = 'site'"),
        1
    );
    let boundary = START + 1800;
    assert_eq!(
        count(&db, "SELECT fitted_at FROM models WHERE role = 'site'"),
        boundary
    );
    assert_eq!(
        count(&db, "SELECT data_from FROM models WHERE role = 'site'"),
        START
    );
    assert_eq!(
        count(&db, "SELECT data_to FROM models WHERE role = 'site'"),
        boundary
    );
    let used = count(&db, "SELECT windows FROM models WHERE role = 'site'");
    let left_out = count(&db, "SELECT left_out FROM models WHERE role = 'site'");
    let trimmed = count(&db, "SELECT trimmed FROM models WHERE role = 'site'");
    let period_windows = count(
        &db,
        &format!("SELECT COUNT(*) FROM windows WHERE window_start < {boundary} AND lookups > 0"),
    );
    assert_eq!(
        used + left_out + trimmed,
        period_windows,
        "every window of the period is accounted for"
    );
    assert_eq!(
        trimmed,
        (period_windows - left_out) * 20 / 1000,
        "2 % trimmed"
    );

    // Windows of the period are scored by the prior, every later one by the
    // site model.
    let prior: String = db_value(&db, "SELECT id FROM models WHERE role = 'prior'");
    let site: String = db_value(&db, "SELECT id FROM models WHERE role = 'site'");
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM windows WHERE window_start < {boundary} AND model_id != '{prior}'")),
        0
    );
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM windows WHERE window_start >= {boundary} AND model_id != '{site}'")),
        0
    );
    assert!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM windows WHERE model_id = '{site}'")
        ) > 100
    );

    // While learning, only evidence alerts.
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM windows WHERE window_start < {boundary} AND label != 'Normal' AND evidence = 0")),
        0
    );

    // The model file is beside the database and is the model recorded.
    let path: String = db_value(&db, "SELECT path FROM models WHERE role = 'site'");
    assert!(
        path.starts_with(&format!("{}.models/site-", db.display())),
        "{path}"
    );
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(sentineldns::detect::model_id(&bytes), site);
}

#[test]
fn a_restart_scores_with_the_site_model_and_train_db_fits_the_same_model() {
    let d = tempfile::tempdir().unwrap();
    let sim = two_hours(d.path());
    let db = d.path().join("s.db");
    replay(&db, &sim, &["--learn", "30m"]);
    let site: String = db_value(&db, "SELECT id FROM models WHERE role = 'site'");

    // A later day, replayed without --learn: the database's site model
    // scores it, not the prior.
    let later = simulate(
        d.path(),
        "later.jsonl",
        &[
            "--hosts",
            "12",
            "--hours",
            "1",
            "--seed",
            "516",
            "--start",
            "2024-03-05T08:00:00Z",
        ],
    );
    let log = replay(&db, &later, &[]);
    assert!(log.contains("site model of this database loaded"), "{log}");
    let day2 = START + 86_400;
    assert_eq!(
        count(&db, &format!("SELECT COUNT(*) FROM windows WHERE window_start >= {day2} AND model_id != '{site}'")),
        0
    );
    assert!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM windows WHERE window_start >= {day2}")
        ) > 0
    );

    // `train --db` over the same period with the same seed is the same model.
    let boundary = START + 1800;
    let out = bin()
        .args(["train", "--seed", "1", "--db"])
        .arg(&db)
        .args([
            "--since",
            &START.to_string(),
            "--until",
            &boundary.to_string(),
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("site model {site} fitted")), "{err}");

    // A site model file that no longer matches its record is refused, and the
    // sensor falls back to the prior with a warning.
    let path: String = db_value(&db, &format!("SELECT path FROM models WHERE id = '{site}'"));
    std::fs::write(&path, b"not a model").unwrap();
    let log = replay(&db, &later, &[]);
    assert!(
        log.contains("cannot be used; scoring with the prior"),
        "{log}"
    );
}

#[test]
fn windows_with_evidence_are_left_out_of_site_training() {
    let d = tempfile::tempdir().unwrap();
    // Attacks on 4 of 10 hosts from the start: a site that already has
    // something wrong when the sensor is installed.
    let sim = simulate(
        d.path(),
        "dirty.jsonl",
        &[
            "--hosts",
            "10",
            "--hours",
            "1",
            "--seed",
            "99",
            "--incident-hosts",
            "4",
            "--scenarios",
            "dga_beacon,dns_tunnel",
        ],
    );
    let db = d.path().join("s.db");
    replay(&db, &sim, &["--learn", "30m"]);
    let left_out = count(&db, "SELECT left_out FROM models WHERE role = 'site'");
    let evidence = count(
        &db,
        &format!(
            "SELECT COUNT(*) FROM windows WHERE evidence = 1 AND window_start < {}",
            START + 1800
        ),
    );
    assert!(
        left_out > 0,
        "the attacks of the learning period carry evidence"
    );
    assert_eq!(left_out, evidence);
    // Whatever the site model learnt, DGA and tunnel windows after the
    // period are flagged: evidence sets the floor.
    assert_eq!(
        count(
            &db,
            &format!(
                "SELECT COUNT(*) FROM windows WHERE window_start >= {} AND truth_scenario IN ('dga_beacon', 'dns_tunnel') AND malicious_lookups >= 20 AND label = 'Normal'",
                START + 1800
            )
        ),
        0
    );
}

#[test]
fn train_db_without_enough_windows_says_how_many() {
    let d = tempfile::tempdir().unwrap();
    let sim = simulate(
        d.path(),
        "tiny.jsonl",
        &["--hosts", "2", "--hours", "1", "--seed", "3"],
    );
    let db = d.path().join("s.db");
    replay(&db, &sim, &[]);
    let out = bin()
        .args(["train", "--db"])
        .arg(&db)
        .assert()
        .failure()
        .get_output()
        .clone();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("usable windows") && err.contains("at least 32"),
        "{err}"
    );
    let out = bin()
        .args(["train", "--db"])
        .arg(d.path().join("none.db"))
        .assert()
        .failure()
        .get_output()
        .clone();
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not exist"));
}

#[test]
fn a_refit_every_retrain_every_swaps_the_model_on_packet_time() {
    let d = tempfile::tempdir().unwrap();
    let sim = simulate(
        d.path(),
        "three.jsonl",
        &[
            "--hosts",
            "12",
            "--hours",
            "3",
            "--seed",
            "517",
            "--incident-hosts",
            "2",
        ],
    );
    let cfg = d.path().join("s.toml");
    std::fs::write(
        &cfg,
        "[learning]\nperiod = \"30m\"\nretrain_every = \"1h\"\nhorizon = \"2h\"\n",
    )
    .unwrap();
    let db = d.path().join("s.db");
    bin()
        .args(["--config"])
        .arg(&cfg)
        .args(["replay", "--progress", "never", "--format", "none", "--db"])
        .arg(&db)
        .arg(&sim)
        .assert()
        .success();
    // Fits at 08:30, 09:30 and 10:30 (packet time), each on its horizon.
    let fits: Vec<(i64, i64)> = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let mut st = c
            .prepare(
                "SELECT fitted_at, data_from FROM models WHERE role = 'site' ORDER BY fitted_at",
            )
            .unwrap();
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(
        fits,
        vec![
            (START + 1800, START),
            (START + 5400, START),
            (START + 9000, START + 1800)
        ]
    );
    // Each window is scored by the model fitted last before it started.
    let c = rusqlite::Connection::open(&db).unwrap();
    for (i, (at, _)) in fits.iter().enumerate() {
        let next = fits.get(i + 1).map_or(i64::MAX, |f| f.0);
        let id: String = c
            .query_row(
                "SELECT id FROM models WHERE role = 'site' AND fitted_at = ?1",
                [at],
                |r| r.get(0),
            )
            .unwrap();
        let wrong: i64 = c
            .query_row(
                "SELECT COUNT(*) FROM windows WHERE window_start >= ?1 AND window_start < ?2 AND model_id != ?3",
                rusqlite::params![at, next, id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            wrong, 0,
            "windows after the fit at {at} scored by another model"
        );
    }
}

/// A host's slow signals survive a restart (issue 12: "a restart resumes"):
/// a once-a-minute timer whose first contact falls in the last window of
/// one run and whose next five fall in the first window of the next run is
/// flagged there, as in one run. Without the saved hour the second run would
/// see a new host in its baseline period and flag nothing.
#[test]
fn slow_signals_resume_after_a_restart() {
    use crate::util::event_line;
    let dir = tempfile::tempdir().unwrap();
    let t0 = START as f64;
    let host = "10.9.9.9";
    let (mut first, mut second, mut whole) = (String::new(), String::new(), String::new());
    let mut add = |ts: f64, line: String| {
        if ts < t0 + 35.0 * 60.0 {
            first.push_str(&line);
        } else {
            second.push_str(&line);
        }
        whole.push_str(&line);
    };
    // Ordinary browsing for 45 minutes, and from 34:45 a TXT beacon every
    // 60 s to a domain only this host resolves.
    for m in 0..45 {
        let ts = t0 + m as f64 * 60.0 + 7.0;
        add(
            ts,
            event_line(ts, host, "www.wikipedia.org", "A", "NOERROR"),
        );
        let b = t0 + 34.0 * 60.0 + 45.0 + (m as f64 - 34.0) * 60.0;
        if m >= 34 && b < t0 + 45.0 * 60.0 {
            add(
                b,
                event_line(b, host, "c2.relay-sync-edge.net", "TXT", "NOERROR"),
            );
        }
    }
    let write = |name: &str, body: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    let (a, b, all) = (
        write("a.jsonl", &first),
        write("b.jsonl", &second),
        write("all.jsonl", &whole),
    );
    let flagged = |db: &Path| -> Vec<i64> {
        let c = rusqlite::Connection::open(db).unwrap();
        let mut st = c
            .prepare(
                "SELECT window_start FROM windows WHERE host = '10.9.9.9' AND reasons LIKE '%slow_beacon%' ORDER BY window_start",
            )
            .unwrap();
        st.query_map([], |r| r.get::<_, i64>(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    let one = dir.path().join("one.db");
    replay(&one, &all, &[]);
    let expect = START + 35 * 60;
    assert_eq!(
        flagged(&one).first(),
        Some(&expect),
        "one run: {:?}",
        flagged(&one)
    );
    let two = dir.path().join("two.db");
    replay(&two, &a, &[]);
    assert!(flagged(&two).is_empty(), "{:?}", flagged(&two));
    assert!(
        count(
            &two,
            "SELECT COUNT(*) FROM detector_state WHERE detector = 'slow_signals'"
        ) >= 1
    );
    let log = replay(&two, &b, &[]);
    assert!(
        log.contains("detection unit resumed") && log.contains("slow_signals"),
        "{log}"
    );
    assert_eq!(
        flagged(&two).first(),
        Some(&expect),
        "after the restart: {:?}",
        flagged(&two)
    );
}
