//! Store tests: schema and migrations, round trips, first-seen caps, crashed runs, flow alerts.

use super::first_seen::FIRST_SEEN_PRELOAD_SQL;
use super::*;
use crate::aggregate::{AggregateConfig, Aggregator, HostWindow};
use crate::enrich::{Enrichment, FirstSeenDelta, FirstSeenRecord, FirstSeenSnapshot, Part};
use crate::event::Lookup;
use crate::features::{FEATURE_NAMES, N_FEATURES};
use rusqlite::params;

fn some_windows() -> Vec<HostWindow> {
    let mut a = Aggregator::new(AggregateConfig::default());
    for (t, h) in [(10, "10.0.0.1"), (20, "10.0.0.2"), (400, "10.0.0.1")] {
        let l = Lookup {
            label: Some("benign"),
            ..Lookup::new(t * MICROS, h.parse().unwrap(), "www.example.com")
        };
        a.record(
            &l,
            &Enrichment {
                qname_hash: 1,
                registrable_len: 11,
                registrable_hash: 2,
                ..Default::default()
            },
        );
    }
    let mut out = Vec::new();
    a.flush_all(&mut out);
    out
}

#[test]
fn schema_has_a_column_per_feature_and_migrates_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.db");
    let s = Store::open(&p).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let mut st = s
        .conn
        .prepare("SELECT name FROM pragma_table_info('windows')")
        .unwrap();
    let cols: Vec<String> = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for f in FEATURE_NAMES {
        assert!(cols.iter().any(|c| c == f), "missing column {f}");
    }
    drop(st);
    drop(s);
    // Reopening does not re-run migrations.
    let s = Store::open(&p).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    let mode: String = s
        .conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn permission_message_names_path_once_user_and_fix() {
    let e = StoreError::PermissionDenied {
        path: "/var/lib/sentineldns/sentineldns.db".into(),
        what: "creating files in its directory",
        user: "user nobody (65534), group nogroup (65534)".into(),
        owner: "nobody:nogroup".into(),
        dir: "/var/lib/sentineldns".into(),
    }
    .to_string();
    assert_eq!(
        e,
        "database /var/lib/sentineldns/sentineldns.db: permission denied creating files in its directory \
         as user nobody (65534), group nogroup (65534); chown the directory and the database files to \
         that user (e.g. `chown -R nobody:nogroup /var/lib/sentineldns`) or choose another database path with --db"
    );
    assert_eq!(e.matches("/var/lib/sentineldns/sentineldns.db").count(), 1);
    // Not a permission problem: SQLite's error stands.
    let dir = tempfile::tempdir().unwrap();
    assert!(permission_problem(&dir.path().join("fine.db")).is_none());
    let e = Store::open(&dir.path().join("missing-dir/x.db")).unwrap_err();
    assert!(matches!(e, StoreError::Sqlite { .. }), "{e}");
}

#[test]
fn too_new_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.db");
    Connection::open(&p)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let e = Store::open(&p).unwrap_err().to_string();
    assert!(e.contains("schema version 99"), "{e}");
}

/// A delta with `n` sensor-wide log records (keys `from..from + n`).
fn log_delta(from: u64, n: u64) -> FirstSeenDelta {
    let mut d = FirstSeenDelta::default();
    for k in from..from + n {
        d.log.extend_from_slice(&k.to_le_bytes());
        d.log.extend_from_slice(&k.to_le_bytes());
        d.log.extend_from_slice(&7u32.to_le_bytes());
    }
    d
}

/// Rows of `first_seen_state` as (part, records, bytes), in id order.
fn state_rows(s: &Store) -> Vec<(String, i64, usize)> {
    let mut st = s
        .conn
        .prepare("SELECT part, records, length(data) FROM first_seen_state ORDER BY id")
        .unwrap();
    st.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as usize))
    })
    .unwrap()
    .map(|r| r.unwrap())
    .collect()
}

fn loaded(s: &Store) -> (Vec<(Part, Vec<u8>)>, FirstSeenLoad) {
    let mut got = Vec::new();
    let l = s
        .load_first_seen_state(|p, d| {
            got.push((p, d.to_vec()));
            d.len() / p.record_len()
        })
        .unwrap();
    (got, l)
}

#[test]
fn windows_and_first_seen_round_trip() {
    let mut s = Store::open_in_memory().unwrap();
    let run = s.begin_run("replay", &["a.pcap".into()], 300).unwrap();
    let ws = some_windows();
    let fs = log_delta(1, 2);
    s.write_batch(run, &ws, &[], &fs).unwrap();
    s.finish_run(run, "complete", "{}").unwrap();
    assert_eq!(s.count_windows(run).unwrap(), 3);
    let got = s
        .query_windows(&WindowQuery {
            host: Some("10.0.0.1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].window_start, 0);
    assert_eq!(got[1].window_start, 300);
    assert_eq!(got[0].features.len(), N_FEATURES);
    assert_eq!(got[0].truth_label.as_deref(), Some("benign"));
    let got = s
        .query_windows(&WindowQuery {
            limit: Some(1),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].window_start, 300);
    assert_eq!(s.run_status(run).unwrap().as_deref(), Some("complete"));
    // One row for the batch's log, whatever its size; loaded back in order.
    s.write_batch(run, &[], &[], &log_delta(3, 100_000))
        .unwrap();
    assert_eq!(
        state_rows(&s),
        vec![
            ("log".into(), 2, 40),
            ("log".into(), 52_428, 1_048_560),
            ("log".into(), 47_572, 951_440)
        ],
        "one row per MiB"
    );
    let (parts, l) = loaded(&s);
    assert_eq!((l.rows, l.records, l.ignored), (3, 100_002, 0));
    assert_eq!(parts[0], (Part::Log, fs.log.clone()));
    let keys: Vec<u64> = parts
        .iter()
        .flat_map(|(_, d)| {
            crate::enrich::persist::log_records(d)
                .map(|r| r.key)
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(keys, (1..100_003).collect::<Vec<u64>>());
    assert_ne!(first_seen_key("", "a.com"), first_seen_key("a.com", ""));
    // Keys of the v1 table must never change.
    assert_eq!(first_seen_key("", "a.com"), -3_618_781_549_185_398_895);
    assert_eq!(
        first_seen_key("10.0.0.1", "example.com"),
        -7_514_576_336_545_952_752
    );
}

#[test]
fn a_snapshot_replaces_every_row_before_it_and_the_v1_table() {
    let mut s = Store::open_in_memory().unwrap();
    let run = s.begin_run("replay", &[], 300).unwrap();
    legacy_insert(&s, &[rec(None, "old.com", 1, 1)]);
    s.write_batch(run, &[], &[], &log_delta(1, 5)).unwrap();
    let mut d = log_delta(10, 2);
    d.snapshot = Some(FirstSeenSnapshot {
        sensor: vec![1; 24],
        host: vec![2; 12],
        prevalence: vec![3; 10],
    });
    d.dropped = 4;
    s.write_batch(run, &[], &[], &d).unwrap();
    assert_eq!(
        state_rows(&s),
        vec![
            ("sensor".into(), 2, 24),
            ("host".into(), 1, 12),
            ("prevalence".into(), 1, 10),
            ("log".into(), 2, 40)
        ]
    );
    assert_eq!(
        (s.legacy_first_seen_rows().unwrap(), s.first_seen_pruned()),
        (0, 4)
    );
    // A failed batch writes nothing of its first-seen state.
    let mut bad = some_windows();
    bad.truncate(1);
    let e = s.write_batch(run + 100, &bad, &[], &log_delta(50, 3));
    assert!(
        e.is_err(),
        "a window of an unknown run violates the foreign key"
    );
    assert_eq!(state_rows(&s).len(), 4);
    // Rows of another key scheme, an unknown part or a torn length are
    // skipped, counted, and the rest still loads.
    s.conn
        .execute_batch(
            "INSERT INTO first_seen_state (scheme, part, records, data) VALUES (1, 'log', 0, x'');
             INSERT INTO first_seen_state (scheme, part, records, data) SELECT scheme, 'bogus', 0, x'' FROM first_seen_state LIMIT 1;
             INSERT INTO first_seen_state (scheme, part, records, data) SELECT scheme, 'log', 1, x'0102' FROM first_seen_state LIMIT 1;",
        )
        .unwrap();
    let (parts, l) = loaded(&s);
    assert_eq!((l.rows, l.records, l.ignored), (4, 6, 3));
    assert_eq!(parts.len(), 4);
}

fn rec(host: Option<&str>, domain: &str, first_ts: i64, last_ts: i64) -> FirstSeenRecord {
    FirstSeenRecord {
        host: host.map(|h| h.parse().unwrap()),
        domain: domain.into(),
        first_ts,
        last_ts,
    }
}

/// Rows of the v1 table, as a sensor before schema v11 wrote them.
fn legacy_insert(s: &Store, recs: &[FirstSeenRecord]) {
    for r in recs {
        let scope = r.host.map(|h| h.to_string()).unwrap_or_default();
        s.conn
            .execute(
                "INSERT INTO first_seen (key, scope, domain, first_ts, last_ts) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![first_seen_key(&scope, &r.domain), scope, r.domain, r.first_ts, r.last_ts],
            )
            .unwrap();
    }
}

fn first_seen_rows(s: &Store) -> Vec<(String, String, i64, i64)> {
    let mut st = s
        .conn
        .prepare("SELECT scope, domain, first_ts, last_ts FROM first_seen ORDER BY domain, scope")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

#[test]
fn preload_is_newest_last_ts_first_within_each_limit() {
    let s = Store::open_in_memory().unwrap();
    let mut b = Vec::new();
    for i in 0..10 {
        b.push(rec(None, &format!("g{i}.com"), 0, 100 + i));
        b.push(rec(Some("10.0.0.1"), &format!("h{i}.com"), 0, 200 + i));
    }
    b.push(rec(Some("::1"), "v6.com", 0, 150));
    legacy_insert(&s, &b);
    let mut got = Vec::new();
    let n = s
        .load_first_seen(3, 4, |r| got.push((r.host.is_some(), r.domain, r.last_ts)))
        .unwrap();
    assert_eq!(n, 7);
    let want: Vec<(bool, String, i64)> = [
        (true, "h9.com", 209),
        (true, "h8.com", 208),
        (true, "h7.com", 207),
        (true, "h6.com", 206),
        (false, "g9.com", 109),
        (false, "g8.com", 108),
        (false, "g7.com", 107),
    ]
    .into_iter()
    .map(|(h, d, t)| (h, d.to_string(), t))
    .collect();
    assert_eq!(got, want);
    let mut all = 0;
    assert_eq!(s.load_first_seen(100, 100, |_| all += 1).unwrap(), 21);
    assert_eq!(all, 21);
    assert_eq!(s.load_first_seen(0, 0, |_| ()).unwrap(), 0);
}

#[test]
fn first_seen_preload_walks_the_index_without_sorting() {
    let s = Store::open_in_memory().unwrap();
    let sql = FIRST_SEEN_PRELOAD_SQL;
    let mut st = s
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let plan: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(3))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let plan = plan.join(" | ");
    assert!(plan.contains("first_seen_last_ts"), "{sql}: {plan}");
    assert!(!plan.contains("TEMP B-TREE"), "{sql} sorts: {plan}");
}

#[test]
fn migration_from_v2_keeps_first_seen_rows() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v2.db");
    {
        let c = Connection::open(&p).unwrap();
        for sql in &MIGRATIONS[..2] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 2).unwrap();
        c.execute(
            "INSERT INTO first_seen (key, scope, domain, first_ts) VALUES (?, '', 'old.com', 42), (?, '10.0.0.1', 'old.com', 43)",
            params![first_seen_key("", "old.com"), first_seen_key("10.0.0.1", "old.com")],
        )
        .unwrap();
        c.execute(
            "INSERT INTO runs (command, inputs, window_secs, started_at, status) VALUES ('replay', '[]', 300, 'x', 'complete')",
            [],
        )
        .unwrap();
    }
    let mut s = Store::open(&p).unwrap();
    assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION);
    assert_eq!(
        first_seen_rows(&s),
        vec![
            (String::new(), "old.com".into(), 42, 42),
            ("10.0.0.1".into(), "old.com".into(), 43, 43)
        ]
    );
    assert_eq!(s.legacy_first_seen_rows().unwrap(), 2);
    let mut got = Vec::new();
    s.load_first_seen(10, 10, |r| got.push(r)).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].last_ts, 43, "newest first");
    // The first snapshot replaces them.
    let d = FirstSeenDelta {
        snapshot: Some(FirstSeenSnapshot::default()),
        ..Default::default()
    };
    s.write_batch(1, &[], &[], &d).unwrap();
    assert!(first_seen_rows(&s).is_empty());
    assert_eq!(s.run_status(1).unwrap().as_deref(), Some("complete"));
}

#[test]
fn runs_of_dead_processes_are_marked_crashed_at_the_next_start() {
    let mut s = Store::open_in_memory().unwrap();
    let me = procinfo::current().expect("/proc is mounted (Linux)");
    let mine = s.begin_run("replay", &[], 300).unwrap();
    let (pid, start, boot, host): (i64, i64, String, String) = s
        .conn
        .query_row(
            "SELECT pid, proc_start, boot_id, hostname FROM runs WHERE id = ?",
            [mine],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap();
    assert_eq!(
        (pid, start as u64, boot, host),
        (
            me.pid as i64,
            me.start_ticks,
            me.boot_id.clone(),
            me.hostname.clone()
        )
    );
    let add = |s: &Store, pid: Option<i64>, start: i64, boot: &str, host: &str| {
        s.conn
            .execute(
                "INSERT INTO runs (command, inputs, window_secs, started_at, status, pid, proc_start, boot_id, hostname) VALUES ('replay', '[]', 300, 'x', 'running', ?, ?, ?, ?)",
                params![pid, start, boot, host],
            )
            .unwrap();
        s.conn.last_insert_rowid()
    };
    let st = me.start_ticks as i64;
    let reused = add(&s, Some(me.pid as i64), st + 1, &me.boot_id, &me.hostname);
    let rebooted = add(&s, Some(me.pid as i64), st, "other-boot", &me.hostname);
    let gone = add(&s, Some(i64::from(u32::MAX)), 5, &me.boot_id, &me.hostname);
    let other_host = add(&s, Some(i64::from(u32::MAX)), 5, &me.boot_id, "elsewhere");
    let legacy = add(&s, None, 0, &me.boot_id, &me.hostname);
    let next = s.begin_run("replay", &[], 300).unwrap();
    for (id, want) in [
        (mine, "running"),
        (reused, "crashed"),
        (rebooted, "crashed"),
        (gone, "crashed"),
        (other_host, "running"),
        (legacy, "running"),
        (next, "running"),
    ] {
        assert_eq!(s.run_status(id).unwrap().as_deref(), Some(want), "run {id}");
    }
    let finished: Option<String> = s
        .conn
        .query_row("SELECT finished_at FROM runs WHERE id = ?", [gone], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(finished.is_some());
    assert!(s.mark_crashed_runs().unwrap().is_empty(), "nothing left");
}

fn flow_alert(file: &str, window: i64, decision: &str) -> FlowAlertRecord {
    FlowAlertRecord {
        detector: "cicids".into(),
        source_file: file.into(),
        window_index: window,
        first_flow: window * 100,
        flows: 100,
        decision: decision.into(),
        severity: "CRITICAL".into(),
        anomaly_index: 36.5,
        forest_score: Some(0.8),
        pattern: "DDoS".into(),
        confidence: "Medium".into(),
        action: "rate-limit".into(),
        indicators: "[]".into(),
        features: "{}".into(),
        attack_ratio: None,
    }
}

#[test]
fn flow_alerts_round_trip_and_filter() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.db");
    let mut s = Store::open(&p).unwrap();
    let run = s.begin_run("flows monitor", &["a.csv".into()], 0).unwrap();
    let batch = vec![
        flow_alert("a.csv", 0, "CONFIRMED"),
        flow_alert("a.csv", 1, "SUSPICIOUS"),
    ];
    assert_eq!(s.insert_flow_alerts(Some(run), &batch).unwrap(), 2);
    let mut other = flow_alert("b.csv", 0, "CONFIRMED");
    other.detector = "zscore".into();
    other.forest_score = None;
    other.attack_ratio = Some(1.0);
    s.insert_flow_alerts(None, std::slice::from_ref(&other))
        .unwrap();
    drop(s);
    let s = Store::open(&p).unwrap();
    assert_eq!(s.list_flow_alerts(Some(run), None).unwrap(), batch);
    assert_eq!(
        s.list_flow_alerts(None, Some("zscore")).unwrap(),
        vec![other]
    );
    assert_eq!(s.list_flow_alerts(None, None).unwrap().len(), 3);
    assert!(s.list_flow_alerts(Some(run + 7), None).unwrap().is_empty());
}

#[test]
fn flow_alert_batch_is_all_or_nothing() {
    let mut s = Store::open_in_memory().unwrap();
    assert_eq!(
        s.insert_flow_alerts(None, &[flow_alert("a.csv", 0, "CONFIRMED")])
            .unwrap(),
        1
    );
    // SQLite stores NaN as NULL, so the second row of this batch violates
    // NOT NULL after the first row was written: the first must roll back.
    let mut bad = flow_alert("a.csv", 2, "CONFIRMED");
    bad.anomaly_index = f64::NAN;
    let e = s.insert_flow_alerts(None, &[flow_alert("a.csv", 1, "CONFIRMED"), bad]);
    assert!(e.is_err());
    let stored = s.list_flow_alerts(None, None).unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].window_index, 0);
}

fn an_incident_batch(windows: &[HostWindow]) -> crate::incident::IncidentBatch {
    use crate::incident::{IncidentConfig, Observation, Tracker};
    use crate::model::Label;
    let mut t = Tracker::new(IncidentConfig::default());
    let mut b = crate::incident::IncidentBatch::default();
    for w in windows {
        let host = w.host.to_string();
        let o = Observation {
            host: &host,
            start: w.start / MICROS,
            end: w.end / MICROS,
            score: 0.8,
            label: Label::LikelyCompromise,
            tags: &["nxdomain_spike"],
            domains: &["bad.example"],
            model_id: "m",
            explanation: "why",
        };
        let id = t.observe(&o, &mut b.events);
        b.window_ids.push(id);
    }
    b
}

#[test]
fn incidents_round_trip_with_their_windows_and_reopen_as_open() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.db");
    let mut s = Store::open(&p).unwrap();
    let run = s.begin_run("replay", &[], 300).unwrap();
    let ws = some_windows();
    let batch = an_incident_batch(&ws);
    s.write_batch_with_incidents(run, &ws, &[], &FirstSeenDelta::default(), &batch)
        .unwrap();
    drop(s);
    let s = Store::open(&p).unwrap();
    let open = s.open_incidents().unwrap();
    // 10.0.0.1 has two consecutive windows (one incident), 10.0.0.2 one.
    assert_eq!(open.len(), 2);
    let last = |id: i64| {
        batch
            .events
            .iter()
            .rev()
            .find(|e| e.incident.id == id)
            .unwrap()
            .incident
            .clone()
    };
    for i in &open {
        assert_eq!(*i, last(i.id), "stored as the last event left it");
        assert_eq!(s.incident_window_count(i.id).unwrap(), i64::from(i.windows));
    }
    assert_eq!(s.max_incident_id().unwrap(), 2);
    let q = s
        .query_incidents(&IncidentQuery {
            host: Some("10.0.0.1".into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!((q[0].run_id, q[0].incident.windows), (run, 2));
}

#[test]
fn a_failing_batch_stores_neither_windows_nor_incidents() {
    let mut s = Store::open_in_memory().unwrap();
    let run = s.begin_run("replay", &[], 300).unwrap();
    let ws = some_windows();
    let mut batch = an_incident_batch(&ws);
    // A window naming an incident the batch does not hold breaks the
    // foreign key after the incidents were upserted: all of it rolls back.
    batch.window_ids[0] = Some(999);
    assert!(s
        .write_batch_with_incidents(run, &ws, &[], &FirstSeenDelta::default(), &batch)
        .is_err());
    assert_eq!(s.max_incident_id().unwrap(), 0);
    assert_eq!(s.count_windows(run).unwrap(), 0);
}

/// The plan of a query: the `detail` column of `EXPLAIN QUERY PLAN`.
fn plan(s: &Store, sql: &str, args: &[rusqlite::types::Value]) -> String {
    let mut st = s
        .conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap();
    let rows = st
        .query_map(rusqlite::params_from_iter(args.iter()), |r| {
            r.get::<_, String>(3)
        })
        .unwrap();
    rows.map(Result::unwrap).collect::<Vec<_>>().join(" | ")
}

/// `serve`'s busiest reads stay on their indexes (schema v8): the host
/// overview reads the covering index alone, flagged-only window pages the
/// partial index of flagged windows, one host's pages its prefix. A plan
/// that falls back to reading every window row fails here (measured in
/// BENCHMARKS.md: 150 -> 800 requests/s for the overview).
#[test]
fn the_api_reads_stay_on_their_indexes() {
    let s = Store::open_in_memory().unwrap();
    let (sql, args) = read::hosts_sql(&read::HostFilter {
        limit: 100,
        ..Default::default()
    });
    let hosts = plan(&s, &sql, &args);
    assert!(
        hosts.contains("COVERING INDEX windows_host_cover"),
        "{hosts}"
    );
    for desc in [false, true] {
        let f = read::WindowFilter {
            min_rank: Some(1),
            desc,
            limit: 100,
            ..Default::default()
        };
        let (sql, args) = read::windows_sql(&f);
        let p = plan(&s, &sql, &args);
        assert!(p.contains("windows_flagged"), "desc {desc}: {p}");
        assert!(
            !p.contains("TEMP B-TREE"),
            "desc {desc}: sorted in memory: {p}"
        );
    }
    let f = read::WindowFilter {
        host: Some("10.0.0.1".into()),
        limit: 100,
        ..Default::default()
    };
    let (sql, args) = read::windows_sql(&f);
    let p = plan(&s, &sql, &args);
    assert!(p.contains("windows_host_cover"), "{p}");
    // The incident index is partial (v12: flagged windows only); lookups by
    // incident still use it.
    for sql in [
        "SELECT COUNT(*) FROM windows WHERE incident_id = ?",
        "SELECT id FROM incidents WHERE NOT EXISTS (SELECT 1 FROM windows w WHERE w.incident_id = incidents.id)",
    ] {
        let args = if sql.contains('?') {
            vec![rusqlite::types::Value::Integer(1)]
        } else {
            vec![]
        };
        let p = plan(&s, sql, &args);
        assert!(p.contains("windows_incident"), "{sql}: {p}");
    }
}

/// `some_windows` moved `days` later in packet time.
fn windows_later(days: i64) -> Vec<HostWindow> {
    let d = days * 86_400 * MICROS;
    some_windows()
        .into_iter()
        .map(|mut w| {
            w.start += d;
            w.end += d;
            w.first_ts += d;
            w.last_ts += d;
            w
        })
        .collect()
}

#[test]
fn retention_prunes_old_windows_and_closed_incidents_in_the_batch_transaction() {
    let mut s = Store::open_in_memory().unwrap();
    s.set_keep(Some(30 * 86_400 * MICROS));
    let run = s.begin_run("replay", &[], 300).unwrap();
    let ws = some_windows();
    let batch = an_incident_batch(&ws);
    s.write_batch_with_incidents(run, &ws, &[], &FirstSeenDelta::default(), &batch)
        .unwrap();
    // One incident closed, one still open.
    s.conn
        .execute(
            "UPDATE incidents SET status = 'closed' WHERE host = '10.0.0.2'",
            [],
        )
        .unwrap();
    // 29 days later: everything is younger than 30 days.
    s.write_batch(run, &windows_later(29), &[], &FirstSeenDelta::default())
        .unwrap();
    assert_eq!(s.count_windows(run).unwrap(), 6);
    assert_eq!(s.retention_pruned(), Pruned::default());
    // 31 days later: the first batch's windows go, and the closed incident
    // with them; the open one stays (a restart continues it).
    s.write_batch(run, &windows_later(31), &[], &FirstSeenDelta::default())
        .unwrap();
    assert_eq!(s.count_windows(run).unwrap(), 6);
    assert_eq!(
        s.retention_pruned(),
        Pruned {
            windows: 3,
            incidents: 1
        }
    );
    let left: Vec<String> = {
        let mut st = s.conn.prepare("SELECT host FROM incidents").unwrap();
        st.query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect()
    };
    assert_eq!(left, ["10.0.0.1"]);
    let oldest: i64 = s
        .conn
        .query_row("SELECT MIN(window_start) FROM windows", [], |r| r.get(0))
        .unwrap();
    assert_eq!(oldest, 29 * 86_400);
}

#[test]
fn retention_off_keeps_everything() {
    let mut s = Store::open_in_memory().unwrap();
    s.set_keep(Some(0));
    assert_eq!(s.keep(), None);
    let run = s.begin_run("replay", &[], 300).unwrap();
    s.write_batch(run, &some_windows(), &[], &FirstSeenDelta::default())
        .unwrap();
    s.write_batch(run, &windows_later(3650), &[], &FirstSeenDelta::default())
        .unwrap();
    assert_eq!(s.count_windows(run).unwrap(), 6);
    assert_eq!(s.retention_pruned(), Pruned::default());
}

/// `sqlite_master` of a connection: (type, name, table, sql), by name.
fn schema_rows(c: &Connection) -> Vec<(String, String, String, Option<String>)> {
    let mut st = c
        .prepare("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn fresh_schema_is_the_migrated_schema() {
    // Every migration step, one by one, as a file at version 0 was upgraded
    // before the fresh script existed.
    let stepped = Connection::open_in_memory().unwrap();
    for sql in MIGRATIONS {
        stepped.execute_batch(sql).unwrap();
    }
    let fresh = Store::open_in_memory().unwrap();
    assert_eq!(fresh.schema_version().unwrap(), SCHEMA_VERSION);
    let want = schema_rows(&stepped);
    let got = schema_rows(&fresh.conn);
    if want != got {
        let mut st = stepped
            .prepare("SELECT sql || ';' FROM sqlite_master WHERE sql IS NOT NULL ORDER BY rowid")
            .unwrap();
        let text: Vec<String> = st
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        panic!(
            "src/store/fresh.sql is not what MIGRATIONS build; after its three comment lines it must read:\n{}",
            text.join("\n")
        );
    }
}

#[test]
fn every_upgrade_path_ends_at_the_fresh_schema() {
    let fresh = Store::open_in_memory().unwrap();
    let want = schema_rows(&fresh.conn);
    for from in 1..SCHEMA_VERSION as usize {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.db");
        {
            let c = Connection::open(&p).unwrap();
            for sql in &MIGRATIONS[..from] {
                c.execute_batch(sql).unwrap();
            }
            c.pragma_update(None, "user_version", from as i64).unwrap();
        }
        let s = Store::open(&p).unwrap();
        assert_eq!(s.schema_version().unwrap(), SCHEMA_VERSION, "from v{from}");
        assert_eq!(schema_rows(&s.conn), want, "upgraded from v{from}");
    }
}

#[test]
fn detector_state_rows_survive_the_v13_upgrade_and_upsert_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("v12.db");
    let big = format!("{{\"hour\":[{}]}}", vec!["1.5"; 600].join(","));
    {
        let c = Connection::open(&p).unwrap();
        for sql in &MIGRATIONS[..12] {
            c.execute_batch(sql).unwrap();
        }
        c.pragma_update(None, "user_version", 12).unwrap();
        c.execute(
            "INSERT INTO detector_state (detector, key, updated, state) VALUES
             ('slow_signals', '10.0.0.1', 100, ?1), ('slow_signals', '10.0.0.2', 200, '{}')",
            [&big],
        )
        .unwrap();
    }
    let mut s = Store::open(&p).unwrap();
    let read = |s: &Store| {
        let mut rows = Vec::new();
        s.detector_states("slow_signals", i64::MIN, 10, |k, t, v| {
            rows.push((k.to_string(), t, v.to_string()))
        })
        .unwrap();
        rows
    };
    assert_eq!(
        read(&s),
        vec![
            ("10.0.0.2".to_string(), 200, "{}".to_string()),
            ("10.0.0.1".to_string(), 100, big.clone()),
        ]
    );
    // The (detector, key) uniqueness the store's upsert relies on survived:
    // a second write of a key replaces its row instead of adding one.
    let states = StateRows {
        rows: vec![("slow_signals", "10.0.0.1".into(), 300, "new".into())],
        prune_before: Vec::new(),
    };
    s.write_batch_with_state(
        0,
        &[],
        &[],
        &FirstSeenDelta::default(),
        &crate::incident::IncidentBatch::default(),
        &states,
    )
    .unwrap();
    let rows = read(&s);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], ("10.0.0.1".to_string(), 300, "new".to_string()));
}
