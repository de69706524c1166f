//! The fleet database (issue 14, feature `postgres`) against a real
//! PostgreSQL server: the window verdicts and incidents two sensors write
//! with `replay --ndjson` are upserted into `sentineldns::store::pg` in
//! batches, redelivered, and read back: every window exactly once, with the
//! labels the SQLite store of the same replay holds; day partitions are
//! created ahead and dropped by retention; migrations run once.
//!
//! The server comes from `SENTINELDNS_TEST_POSTGRES` (a `postgres://` URL of
//! a role that may create databases); each test works in a database of its
//! own. Without the variable the tests FAIL, saying how to start one.

use crate::util::{assert_success, json_lines, repo_file, sensor, simulate, stored_windows};
use sentineldns::store::pg::{IncidentRecord, PgStore, WindowRecord, DAY_S, PG_SCHEMA_VERSION};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const ENV: &str = "SENTINELDNS_TEST_POSTGRES";

pub(crate) fn server_url() -> String {
    std::env::var(ENV).unwrap_or_else(|_| {
        panic!(
            "{ENV} is not set: the fleet tests need a PostgreSQL server. Start one with \
             `eval \"$(scripts/fleet-servers.sh start)\"` (needs Debian's postgresql package; \
             .ci/run does this) and run the tests from that shell"
        )
    })
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A new, empty database `sentineldns_<tag>_<pid>` on the test server; its URL.
pub(crate) async fn fresh_database(tag: &str) -> String {
    let url = server_url();
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "{ENV}={url}: cannot connect ({e}); is the server from \
                 `scripts/fleet-servers.sh start` still running?"
            )
        });
    tokio::spawn(conn);
    let name = format!("sentineldns_{tag}_{}", std::process::id());
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .await
        .unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let (base, _) = url
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .unwrap_or_else(|| panic!("{ENV}={url}: expected postgres://USER@HOST:PORT/DB"));
    format!("{base}/{name}")
}

/// `replay --ndjson` of `input` into `dir/<name>.db`: the NDJSON objects and
/// the database.
fn replay(dir: &Path, name: &str, input: &Path) -> (Vec<Value>, PathBuf) {
    let db = dir.join(format!("{name}.db"));
    let nd = dir.join(format!("{name}.ndjson"));
    let o = sensor()
        .args(["replay", "-q", "--format", "none", "--ndjson"])
        .arg(&nd)
        .arg("--db")
        .arg(&db)
        .arg(input)
        .output()
        .unwrap();
    assert_success(&o, "replay --ndjson");
    (json_lines(std::fs::read(&nd).unwrap()), db)
}

/// (host, window start in unix seconds, label) of a SQLite replay.
fn sqlite_labels(db: &Path) -> BTreeSet<(String, i64, Option<String>)> {
    stored_windows(db)
        .iter()
        .map(|w| {
            (
                w["host"].as_str().unwrap().to_string(),
                sentineldns_model::time::parse_ts(w["window_start"].as_str().unwrap()).unwrap()
                    / 1_000_000,
                w["label"].as_str().map(str::to_string),
            )
        })
        .collect()
}

#[test]
fn fleet_pg_two_sensors_every_window_once_with_sqlite_verdicts_despite_redelivery() {
    let dir = tempfile::tempdir().unwrap();
    let other = simulate(
        dir.path(),
        "b.jsonl",
        &["--hosts", "5", "--hours", "1", "--seed", "11"],
    );
    let (a_lines, a_db) = replay(dir.path(), "a", &repo_file("simulations/sample.jsonl"));
    let (b_lines, b_db) = replay(dir.path(), "b", &other);
    let rt = runtime();
    rt.block_on(async {
        let url = fresh_database("redelivery").await;
        let mut pg = PgStore::connect(&url).await.unwrap();
        let mut expect_windows = 0;
        let mut expect_incidents = BTreeSet::new();
        for (sensor, lines) in [("a", &a_lines), ("b", &b_lines)] {
            let windows: Vec<WindowRecord> = lines
                .iter()
                .filter_map(|v| WindowRecord::from_ndjson(sensor, v))
                .collect();
            let incidents: Vec<IncidentRecord> = lines
                .iter()
                .filter_map(|v| IncidentRecord::from_ndjson(sensor, v))
                .collect();
            assert!(!windows.is_empty(), "{sensor}: no window lines");
            expect_windows += windows.len() as i64;
            expect_incidents.extend(incidents.iter().map(|i| (sensor, i.id)));
            // Batches of 37, then the first half again (a redelivery after
            // a collector died between its commit and the offset commit).
            for w in windows.chunks(37) {
                pg.upsert(w, &[]).await.unwrap();
            }
            pg.upsert(&[], &incidents).await.unwrap();
            pg.upsert(
                &windows[..windows.len() / 2],
                &incidents[..incidents.len() / 2],
            )
            .await
            .unwrap();
        }
        assert_eq!(pg.count_windows().await.unwrap(), expect_windows);
        assert_eq!(
            pg.count_incidents().await.unwrap(),
            expect_incidents.len() as i64
        );
        let stored = pg.window_labels().await.unwrap();
        for (sensor, db) in [("a", &a_db), ("b", &b_db)] {
            let pg_set: BTreeSet<(String, i64, Option<String>)> = stored
                .iter()
                .filter(|r| r.0 == sensor)
                .map(|r| (r.1.clone(), r.2, r.3.clone()))
                .collect();
            assert_eq!(pg_set, sqlite_labels(db), "sensor {sensor}");
        }
        assert!(
            stored
                .iter()
                .any(|r| r.3.as_deref() == Some("Likely Compromise")),
            "the sample's incidents are in the fleet database"
        );
    });
}

fn window_at(sensor: &str, host: &str, start_s: i64) -> WindowRecord {
    WindowRecord {
        sensor: sensor.into(),
        host: host.into(),
        start: start_s * 1_000_000,
        end: (start_s + 300) * 1_000_000,
        label: Some("Normal".into()),
        score: Some(0.1),
        record: serde_json::json!({"n": start_s}),
    }
}

#[test]
fn fleet_pg_partitions_by_day_ahead_and_retention_drops_old_days() {
    let rt = runtime();
    rt.block_on(async {
        let url = fresh_database("partitions").await;
        let mut pg = PgStore::connect(&url).await.unwrap();
        pg.ahead(2);
        let day0 = 20_000 * DAY_S;
        let rows: Vec<WindowRecord> = (0..4)
            .flat_map(|d| {
                [
                    window_at("s", "10.0.0.1", day0 + d * DAY_S),
                    window_at("s", "10.0.0.2", day0 + d * DAY_S + 600),
                ]
            })
            .collect();
        pg.upsert(&rows, &[]).await.unwrap();
        let days = pg.partitions().await.unwrap();
        // Four days of data and two days ahead of the newest.
        let want: Vec<i64> = (0..6).map(|d| day0 + d * DAY_S).collect();
        assert_eq!(days, want);
        assert_eq!(pg.count_windows().await.unwrap(), 8);
        // Keep the last two days of data: the first two partitions go.
        let dropped = pg.drop_partitions_before(day0 + 2 * DAY_S).await.unwrap();
        assert_eq!(dropped, vec![day0, day0 + DAY_S]);
        assert_eq!(pg.count_windows().await.unwrap(), 4);
        // A late window for a dropped day gets its partition back.
        pg.upsert(&[window_at("s", "10.0.0.3", day0 + 5)], &[])
            .await
            .unwrap();
        assert_eq!(pg.count_windows().await.unwrap(), 5);
    });
}

#[test]
fn fleet_pg_migrations_run_once_even_when_collectors_start_together() {
    let rt = runtime();
    rt.block_on(async {
        let url = fresh_database("migrate").await;
        let (a, b) = tokio::join!(PgStore::connect(&url), PgStore::connect(&url));
        assert_eq!(
            a.unwrap().schema_version().await.unwrap(),
            PG_SCHEMA_VERSION
        );
        assert_eq!(
            b.unwrap().schema_version().await.unwrap(),
            PG_SCHEMA_VERSION
        );
        let again = PgStore::connect(&url).await.unwrap();
        assert_eq!(again.schema_version().await.unwrap(), PG_SCHEMA_VERSION);
    });
}
