//! Incidents end to end (issue 12 item 5): a multi-window attack gives one
//! NDJSON alert per incident opened and one per escalation, not one per
//! window; incidents are stored with their windows and a restarted sensor
//! continues an open one; `sentineldns incidents` filters them.

use crate::util::{self, assert_success, bin, db_value, json_lines, sensor};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn sample() -> PathBuf {
    let p = util::repo_file("simulations/sample.jsonl");
    assert!(p.exists(), "test data missing: {}", p.display());
    p
}

fn dataset(v: &Value) -> &str {
    v["event"]["dataset"].as_str().unwrap_or("")
}

/// Replay `inputs` into `db`, NDJSON to `ndjson`; extra args before inputs.
fn replay(db: &Path, ndjson: &Path, extra: &[&str], inputs: &[&Path]) {
    let o = sensor()
        .args(["replay", "-q", "--format", "none", "--db"])
        .arg(db)
        .arg("--ndjson")
        .arg(ndjson)
        .args(extra)
        .args(inputs)
        .output()
        .unwrap();
    assert_success(&o, "replay");
}

fn lines(path: &Path) -> Vec<Value> {
    json_lines(std::fs::read(path).unwrap())
}

/// `sentineldns incidents --format json` with `args`.
fn incidents(db: &Path, args: &[&str]) -> Vec<Value> {
    let o = sensor()
        .args(["incidents", "--format", "json", "--db"])
        .arg(db)
        .args(args)
        .output()
        .unwrap();
    assert_success(&o, "incidents");
    json_lines(&o.stdout)
}

#[test]
fn ndjson_alerts_once_per_incident_open_and_escalation_over_a_multi_window_attack() {
    let dir = tempfile::tempdir().unwrap();
    let (db, nd) = (dir.path().join("t.db"), dir.path().join("o.ndjson"));
    replay(&db, &nd, &[], &[&sample()]);
    let all = lines(&nd);
    let windows: Vec<&Value> = all
        .iter()
        .filter(|v| dataset(v) == "sentineldns.window")
        .collect();
    let alerts: Vec<&Value> = all
        .iter()
        .filter(|v| dataset(v) == "sentineldns.incident")
        .collect();
    assert_eq!(windows.len() + alerts.len(), all.len());
    let flagged: Vec<&&Value> = windows
        .iter()
        .filter(|w| w["sentineldns"]["label"] != "Normal")
        .collect();
    assert!(
        flagged.len() >= 10,
        "the sample's attack spans many windows"
    );
    // Windows are events; incidents are the alerts.
    assert!(windows.iter().all(|w| w["event"]["kind"] == "event"));
    assert!(alerts.iter().all(|a| a["event"]["kind"] == "alert"));
    // Per incident: exactly one "opened", then only escalations, each with
    // a higher label or a new reason family than before.
    let mut by_id: BTreeMap<i64, Vec<&Value>> = BTreeMap::new();
    for a in &alerts {
        by_id
            .entry(a["sentineldns"]["incident"]["id"].as_i64().unwrap())
            .or_default()
            .push(a);
    }
    assert!(!by_id.is_empty());
    for (id, evs) in &by_id {
        let actions: Vec<&str> = evs
            .iter()
            .map(|e| e["sentineldns"]["incident"]["action"].as_str().unwrap())
            .collect();
        assert_eq!(actions[0], "opened", "incident {id}: {actions:?}");
        assert!(
            actions[1..].iter().all(|a| *a == "escalated"),
            "{actions:?}"
        );
        for pair in evs.windows(2) {
            let (a, b) = (
                &pair[0]["sentineldns"]["incident"],
                &pair[1]["sentineldns"]["incident"],
            );
            let fams = |v: &Value| -> Vec<String> {
                v["families"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap().to_string())
                    .collect()
            };
            assert!(
                b["label_id"].as_i64() > a["label_id"].as_i64()
                    || fams(b).iter().any(|f| !fams(a).contains(f)),
                "an escalation raises the label or adds a family: {a} -> {b}"
            );
        }
    }
    assert!(
        alerts.len() < flagged.len(),
        "{} incident alerts for {} flagged windows: alerts are per incident",
        alerts.len(),
        flagged.len()
    );
    // Every flagged window names a stored incident that counts it.
    for w in &flagged {
        let id = w["sentineldns"]["incident_id"]
            .as_i64()
            .expect("incident_id");
        assert!(
            by_id.contains_key(&id),
            "window names unknown incident {id}"
        );
    }
    for id in by_id.keys() {
        let stored: i64 = db_value(
            &db,
            &format!("SELECT windows FROM incidents WHERE id = {id}"),
        );
        let linked: i64 = db_value(
            &db,
            &format!("SELECT COUNT(*) FROM windows WHERE incident_id = {id}"),
        );
        let in_ndjson = flagged
            .iter()
            .filter(|w| w["sentineldns"]["incident_id"].as_i64() == Some(*id))
            .count() as i64;
        assert_eq!((stored, linked), (in_ndjson, in_ndjson), "incident {id}");
    }
    let n: i64 = db_value(&db, "SELECT COUNT(*) FROM incidents");
    assert_eq!(n as usize, by_id.len());
}

/// The lines of `src` whose `ts` is before (`first`) or at/after `cut`.
fn split(src: &Path, cut: &str, dir: &Path) -> (PathBuf, PathBuf) {
    let text = std::fs::read_to_string(src).unwrap();
    let (mut a, mut b) = (String::new(), String::new());
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).unwrap();
        let ts = v["ts"].as_str().expect("ts is RFC 3339 text");
        let out = if ts < cut { &mut a } else { &mut b };
        out.push_str(l);
        out.push('\n');
    }
    assert!(
        !a.is_empty() && !b.is_empty(),
        "cut {cut} splits the sample"
    );
    let (pa, pb) = (dir.join("first.jsonl"), dir.join("second.jsonl"));
    std::fs::write(&pa, a).unwrap();
    std::fs::write(&pb, b).unwrap();
    (pa, pb)
}

fn facts(v: &Value) -> (String, i64, i64, i64, String) {
    (
        v["host"].as_str().unwrap().to_string(),
        v["first_seen"].as_i64().unwrap(),
        v["last_seen"].as_i64().unwrap(),
        v["windows"].as_i64().unwrap(),
        v["peak_label"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_restarted_sensor_continues_an_open_incident() {
    let dir = tempfile::tempdir().unwrap();
    // One run over the whole sample: the reference.
    let whole = dir.path().join("whole.db");
    replay(&whole, &dir.path().join("w.ndjson"), &[], &[&sample()]);
    let want: Vec<_> = incidents(&whole, &[]).iter().map(facts).collect();
    assert!(!want.is_empty());
    // The same traffic in two runs, cut in the middle of the attack
    // (08:30–10:00): the first run ends with the incident open.
    let (first, second) = split(&sample(), "2024-03-04T09:05:00", dir.path());
    let db = dir.path().join("split.db");
    let (nd1, nd2) = (dir.path().join("1.ndjson"), dir.path().join("2.ndjson"));
    replay(&db, &nd1, &[], &[&first]);
    let open = incidents(&db, &["--status", "open"]);
    assert_eq!(open.len(), 1, "{open:?}");
    let id = open[0]["id"].as_i64().unwrap();
    assert_eq!(open[0]["run_id"], 1);
    replay(&db, &nd2, &[], &[&second]);
    let got: Vec<_> = incidents(&db, &[]).iter().map(facts).collect();
    assert_eq!(got, want, "a restart changes no incident");
    // The second run opened nothing for that incident: it continued it.
    let second_alerts: Vec<Value> = lines(&nd2)
        .into_iter()
        .filter(|v| dataset(v) == "sentineldns.incident")
        .collect();
    assert!(second_alerts.iter().all(|a| {
        let i = &a["sentineldns"]["incident"];
        i["id"] != id || i["action"] == "escalated"
    }));
    let in_run2: i64 = db_value(
        &db,
        &format!("SELECT COUNT(*) FROM windows WHERE run_id = 2 AND incident_id = {id}"),
    );
    assert!(in_run2 > 0, "run 2 windows joined incident {id}");
    let row_run: i64 = db_value(
        &db,
        &format!("SELECT run_id FROM incidents WHERE id = {id}"),
    );
    assert_eq!(row_run, 1, "the incident keeps the run that opened it");
}

/// A 3-hour simulation with 4 attacked hosts, replayed with a lower
/// Likely threshold so that some incidents peak at Unusual.
fn simulated_db(dir: &Path) -> PathBuf {
    let jsonl = dir.join("s.jsonl");
    let o = sensor()
        .args(["simulate", "--hosts", "12", "--hours", "3", "--seed", "11"])
        .args(["--incident-hosts", "4", "--out"])
        .arg(&jsonl)
        .output()
        .unwrap();
    assert_success(&o, "simulate");
    let cfg = dir.join("th.toml");
    std::fs::write(
        &cfg,
        "[sensor]\nthresholds = { unusual = 0.45, likely = 0.95 }\n",
    )
    .unwrap();
    let db = dir.join("s.db");
    let o = sensor()
        .args(["replay", "-q", "--format", "none", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .arg(&jsonl)
        .output()
        .unwrap();
    assert_success(&o, "replay");
    db
}

#[test]
fn incidents_cli_filters_by_host_time_label_status_and_limit() {
    let dir = tempfile::tempdir().unwrap();
    let db = simulated_db(dir.path());
    let all = incidents(&db, &[]);
    assert!(all.len() >= 4, "{all:?}");
    let ids = |v: &[Value]| -> Vec<i64> { v.iter().map(|i| i["id"].as_i64().unwrap()).collect() };
    // Status.
    let open = incidents(&db, &["--status", "open"]);
    let closed = incidents(&db, &["--status", "closed"]);
    assert_eq!(open.len() + closed.len(), all.len());
    assert!(!closed.is_empty());
    assert!(open
        .iter()
        .all(|i| i["status"] == "open" && i["closed_at"].is_null()));
    assert!(closed.iter().all(|i| {
        i["status"] == "closed"
            && i["closed_at"].as_i64().unwrap() >= i["last_seen"].as_i64().unwrap()
    }));
    // Host.
    let host = all[0]["host"].as_str().unwrap();
    let of_host = incidents(&db, &["--host", host]);
    assert!(!of_host.is_empty());
    assert!(of_host.iter().all(|i| i["host"] == host));
    assert_eq!(
        of_host.len(),
        all.iter().filter(|i| i["host"] == host).count()
    );
    // Label: --min-label likely leaves out the Unusual-peak incidents.
    let likely = incidents(&db, &["--min-label", "likely"]);
    let unusual = all.iter().filter(|i| i["peak_label"] == "Unusual").count();
    assert!(unusual > 0, "the low threshold leaves an Unusual incident");
    assert_eq!(likely.len(), all.len() - unusual);
    assert!(likely
        .iter()
        .all(|i| i["peak_label"] == "Likely Compromise"));
    // Time: since = last_seen >= t, until = first_seen < t.
    let t = all[all.len() / 2]["first_seen"].as_i64().unwrap();
    let since = incidents(&db, &["--since", &t.to_string()]);
    assert_eq!(
        ids(&since),
        ids(&all
            .iter()
            .filter(|i| i["last_seen"].as_i64().unwrap() >= t)
            .cloned()
            .collect::<Vec<_>>())
    );
    let until = incidents(&db, &["--until", &t.to_string()]);
    assert!(until.iter().all(|i| i["first_seen"].as_i64().unwrap() < t));
    assert_eq!(
        until.len(),
        all.iter()
            .filter(|i| i["first_seen"].as_i64().unwrap() < t)
            .count()
    );
    // Limit: the newest two, oldest first.
    let last2 = incidents(&db, &["--limit", "2"]);
    assert_eq!(ids(&last2), ids(&all[all.len() - 2..]));
    // The table fits 100 columns and names every incident.
    let o = bin().args(["incidents", "--db"]).arg(&db).output().unwrap();
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    assert!(o.status.success());
    for l in text.lines() {
        assert!(
            l.chars().count() <= 100,
            "{} columns: {l}",
            l.chars().count()
        );
    }
    for i in &all {
        assert!(text.contains(i["host"].as_str().unwrap()));
    }
    // A bad host is refused.
    let o = bin()
        .args(["incidents", "--host", "nope", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not an IP address"));
}

#[test]
fn evaluate_reports_false_incidents_per_host_day() {
    let o = bin()
        .args(["evaluate", "--format", "json"])
        .arg(sample())
        .output()
        .unwrap();
    assert_success(&o, "evaluate");
    let e: Value = serde_json::from_slice(&o.stdout).unwrap();
    let i = &e["incidents"];
    // The sample: one attacked host, one incident, no false incident.
    assert_eq!(i["incidents"], 1, "{i}");
    assert_eq!(i["false_incidents"], 0);
    assert_eq!(i["false_incidents_per_host_day"], 0.0);
    assert_eq!(i["quiet_s"], 900);
    assert!(i["alerts"].as_u64().unwrap() >= 1);
    let hd = e["host_days"].as_f64().unwrap();
    assert!(hd > 0.0);
    assert_eq!(
        i["false_incidents_per_host_day"].as_f64().unwrap(),
        i["false_incidents"].as_f64().unwrap() / hd
    );
    let o = bin().arg("evaluate").arg(sample()).output().unwrap();
    assert_success(&o, "evaluate");
    assert!(String::from_utf8_lossy(&o.stdout).contains("false incidents/host-day: 0.00"));
}

#[test]
fn the_quiet_period_comes_from_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let count = |quiet: &str| {
        let cfg = dir.path().join(format!("q{quiet}.toml"));
        std::fs::write(&cfg, format!("[incidents]\nquiet = \"{quiet}\"\n")).unwrap();
        let db = dir.path().join(format!("q{quiet}.db"));
        replay(
            &db,
            &dir.path().join(format!("q{quiet}.ndjson")),
            &["--config", cfg.to_str().unwrap()],
            &[&sample()],
        );
        incidents(&db, &[]).len()
    };
    // The sample's attack has quiet windows inside it (09:05–09:10, 09:15–09:20):
    // one incident at the default 15 minutes, more when the quiet period is
    // shorter than a window.
    assert_eq!(count("15m"), 1);
    assert!(count("1m") > 1);
}
