//! `serve --postgres` (issue 14 item 4, feature `postgres`) against a real
//! PostgreSQL server: one `replay --ndjson` of shared captures (iodine and
//! sods tunnels) and `simulations/sample.jsonl` fills a SQLite database and
//! an NDJSON file; the NDJSON is upserted into the fleet database with
//! `PgStore::upsert` as a collector does; `serve --db` and `serve --postgres`
//! then answer the same API questions (hosts, windows, incidents, verdicts,
//! a host's profile and timeline) with the same JSON, apart from what the
//! fleet database does not keep (the sensor's run id, model thresholds) and
//! what it adds (the sensor). A qname carrying `<script>` comes back
//! JSON-escaped through PostgreSQL too.
//!
//! The server comes from `SENTINELDNS_TEST_POSTGRES` (see [`super::fleet`]);
//! without it the tests FAIL saying how to start one.

use super::fleet::{fresh_database, runtime};
use crate::util::{assert_success, json_lines, repo_file, sensor, shared};
use sentineldns::store::pg::{IncidentRecord, PgStore, TriageUpdate, WindowRecord};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

/// A running `serve`, killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sentineldns serve` with `args` on a free loopback port.
fn start(args: &[&str]) -> Server {
    let child = sensor()
        .arg("serve")
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut server = Server {
        child,
        base: String::new(),
    };
    let mut err = BufReader::new(server.child.stderr.take().unwrap());
    let mut line = String::new();
    let mut log = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "serve {args:?} exited before listening: {log}"
        );
        if let Some(rest) = line.strip_prefix("serving http://") {
            let addr = rest.split('/').next().unwrap().to_string();
            std::thread::spawn(move || for _ in err.lines() {});
            server.base = format!("http://{addr}");
            return server;
        }
        log.push_str(&line);
    }
}

impl Server {
    /// Status and body of `GET path`.
    fn get(&self, path: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut r = agent
            .get(format!("{}{path}", self.base))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap())
    }

    /// The JSON of a 200 answer to `GET path`.
    fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
    }

    /// Every item of a paged list, following `next_cursor` with `limit`.
    fn all(&self, path: &str, limit: u32) -> Vec<Value> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut p = format!("{path}{sep}limit={limit}");
            if let Some(c) = &cursor {
                p.push_str(&format!("&cursor={c}"));
            }
            let v = self.json(&p);
            out.extend(v["items"].as_array().unwrap().iter().cloned());
            match v["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return out,
            }
        }
    }
}

/// `replay --ndjson` of `inputs` into `dir/s.db`: the NDJSON objects and the database.
fn replay(dir: &Path, inputs: &[PathBuf]) -> (Vec<Value>, PathBuf) {
    let db = dir.join("s.db");
    let nd = dir.join("s.ndjson");
    let o = sensor()
        .args(["replay", "-q", "--format", "none", "--ndjson"])
        .arg(&nd)
        .arg("--db")
        .arg(&db)
        .args(inputs)
        .output()
        .unwrap();
    assert_success(&o, "replay --ndjson");
    (json_lines(std::fs::read(&nd).unwrap()), db)
}

/// Upsert the window and incident objects of `lines` as sensor `name`, in
/// batches as a collector would; the fleet database's URL.
async fn load(tag: &str, name: &str, lines: &[Value]) -> String {
    let url = fresh_database(tag).await;
    let mut pg = PgStore::connect(&url).await.unwrap();
    let windows: Vec<WindowRecord> = lines
        .iter()
        .filter_map(|v| WindowRecord::from_ndjson(name, v))
        .collect();
    let incidents: Vec<IncidentRecord> = lines
        .iter()
        .filter_map(|v| IncidentRecord::from_ndjson(name, v))
        .collect();
    assert!(!windows.is_empty(), "no window lines in the NDJSON");
    for w in windows.chunks(50) {
        pg.upsert(w, &[]).await.unwrap();
    }
    pg.upsert(&[], &incidents).await.unwrap();
    url
}

/// `v` without the keys in `drop` (at any depth), numbers rounded to 4
/// decimals (the NDJSON record carries scores and features rounded so).
fn norm(v: &Value, drop: &[&str]) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| !drop.contains(&k.as_str()))
                .map(|(k, x)| (k.clone(), norm(x, drop)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|x| norm(x, drop)).collect()),
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap();
            json!((x * 10_000.0).round() / 10_000.0)
        }
        _ => v.clone(),
    }
}

/// Assert `a` (SQLite) and `b` (PostgreSQL) equal after [`norm`], naming
/// the first differing item.
fn same(what: &str, a: &Value, b: &Value, drop: &[&str]) {
    let (a, b) = (norm(a, drop), norm(b, drop));
    if let (Some(x), Some(y)) = (a.as_array(), b.as_array()) {
        assert_eq!(x.len(), y.len(), "{what}: item counts differ");
        for (i, (p, q)) in x.iter().zip(y).enumerate() {
            assert_eq!(
                p, q,
                "{what}: item {i} differs (left SQLite, right PostgreSQL)"
            );
        }
    } else {
        assert_eq!(a, b, "{what} differs (left SQLite, right PostgreSQL)");
    }
}

#[test]
fn fleet_serve_postgres_answers_as_sqlite_for_the_same_replay() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = [
        repo_file("simulations/sample.jsonl"),
        shared("pcap/tunneling/iodine_elastic_examples.pcap"),
        shared("pcap/tunneling/dmachard/sods.pcap"),
    ];
    let (lines, db) = replay(dir.path(), &inputs);
    let rt = runtime();
    let url = rt.block_on(load("serve_same", "sensor-a", &lines));
    let lite = start(&["--db", db.to_str().unwrap()]);
    let pg = start(&["--postgres", &url]);

    // Fields the fleet database does not keep (run ids, thresholds from the
    // sensor's models table) or adds (the sensor).
    let drop = [
        "run_id",
        "sensor",
        "sensor_incident_id",
        "unusual",
        "likely",
    ];

    // Windows, oldest first, paged by cursor (small pages cross many cursors).
    let a = lite.all("/api/v1/windows", 7);
    let b = pg.all("/api/v1/windows", 7);
    assert!(a.len() > 100, "{} windows", a.len());
    same(
        "windows",
        &Value::from(a.clone()),
        &Value::from(b.clone()),
        &drop,
    );
    assert!(b.iter().all(|w| w["sensor"] == "sensor-a"), "sensor named");
    assert!(
        b.iter().any(|w| w["label"] == "Likely Compromise"),
        "the replay flagged windows"
    );
    // Newest first, flagged only, by score.
    for q in [
        "/api/v1/windows?order=desc&min_label=unusual",
        "/api/v1/windows?min_score=0.5",
        "/api/v1/windows?host=10.20.1.10&order=desc",
    ] {
        same(q, &lite.json(q)["items"], &pg.json(q)["items"], &drop);
    }
    // The sensor filter: all of this sensor, none of another.
    let mine = pg.all("/api/v1/windows?sensor=sensor-a", 100);
    assert_eq!(mine.len(), b.len());
    assert!(pg.all("/api/v1/windows?sensor=nobody", 100).is_empty());
    // One sensor's file names no sensor: the filter matches nothing there.
    let (status, body) = lite.get("/api/v1/windows?sensor=sensor-a");
    assert_eq!(status, 200, "{body}");
    assert!(lite.all("/api/v1/windows?sensor=sensor-a", 100).is_empty());
    assert!(lite
        .all("/api/v1/incidents?sensor=sensor-a", 100)
        .is_empty());

    // Hosts (open incident counts aside: the NDJSON ships an incident when
    // it opens or escalates, not when it closes; see docs/fleet.md).
    let q = "/api/v1/hosts?limit=1000";
    same("hosts", &lite.json(q), &pg.json(q), &["open_incidents"]);
    let q = "/api/v1/hosts?min_label=unusual&limit=1000";
    same(
        "flagged hosts",
        &lite.json(q),
        &pg.json(q),
        &["open_incidents"],
    );

    // Verdicts over time, automatic and fixed buckets.
    for q in [
        "/api/v1/verdicts",
        "/api/v1/verdicts?since=2024-03-04T00:00:00Z&until=2024-03-05T00:00:00Z&bucket=3600",
    ] {
        let v = lite.json(q);
        assert!(!v["buckets"].as_array().unwrap().is_empty(), "{q}: {v}");
        same(q, &v, &pg.json(q), &[]);
    }

    // Every host's profile and timeline.
    let hosts: Vec<String> = lite
        .json("/api/v1/hosts?limit=1000")
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["host"].as_str().unwrap().to_string())
        .collect();
    assert!(hosts.len() >= 10, "{hosts:?}");
    for h in &hosts {
        let p = format!("/api/v1/hosts/{h}/profile?top=30");
        same(&p, &lite.json(&p), &pg.json(&p), &[]);
        let t = format!("/api/v1/hosts/{h}/timeline?order=desc");
        same(&t, &lite.json(&t), &pg.json(&t), &drop);
    }
    let (status, _) = pg.get("/api/v1/hosts/10.250.250.250/profile");
    assert_eq!(status, 404, "an unknown host is 404 from PostgreSQL too");

    // Incidents: the same ids, hosts and start; each as its latest alert
    // (NDJSON line) had it.
    let a = lite.all("/api/v1/incidents", 2);
    let b = pg.all("/api/v1/incidents", 2);
    assert!(!a.is_empty(), "the replay opened incidents");
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        for k in ["id", "host", "first_seen", "triage_status", "triage"] {
            assert_eq!(x[k], y[k], "incident {}: {k}", x["id"]);
        }
        assert_eq!(y["sensor"], "sensor-a");
        assert_eq!(y["sensor_incident_id"], x["id"]);
        let last = lines
            .iter()
            .rev()
            .find(|l| {
                l["event"]["dataset"] == "sentineldns.incident"
                    && l["sentineldns"]["incident"]["id"] == x["id"]
            })
            .unwrap_or_else(|| panic!("no NDJSON line of incident {}", x["id"]));
        let i = &last["sentineldns"]["incident"];
        assert_eq!(y["state"], i["status"]);
        assert_eq!(y["windows"], i["windows"]);
        assert_eq!(y["peak_label"], i["peak_label"]);
        assert_eq!(y["model_id"], i["model_id"]);
        assert_eq!(y["explanation"], i["explanation"]);
        assert_eq!(
            sentineldns_model::time::parse_ts(y["last_seen"].as_str().unwrap()),
            sentineldns_model::time::parse_ts(i["last_seen"].as_str().unwrap())
        );
        for r in i["reasons"].as_array().unwrap() {
            assert_eq!(y["reasons"][r["tag"].as_str().unwrap()], r["windows"]);
        }
    }
    for q in [
        "/api/v1/incidents?order=desc",
        "/api/v1/incidents?min_label=likely",
    ] {
        let ids = |v: Value| -> Vec<Value> {
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].clone())
                .collect()
        };
        assert_eq!(ids(lite.json(q)), ids(pg.json(q)), "{q}");
    }

    // What the fleet database does not keep answers 501 naming why.
    for p in ["/api/v1/runs", "/api/v1/models", "/api/v1/windows?run=1"] {
        let (status, body) = pg.get(p);
        assert_eq!(status, 501, "{p}: {body}");
        assert!(body.contains("keeps no"), "{p}: {body}");
    }
    let h = pg.json("/healthz");
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["store"]["windows"], a_len(&lite));
    // The dashboard is served from PostgreSQL too.
    let (status, page) = pg.get("/");
    assert_eq!(status, 200);
    assert!(
        page.contains("<html") || page.contains("<!doctype"),
        "{page}"
    );
}

/// Windows the SQLite server stores.
fn a_len(s: &Server) -> Value {
    s.json("/healthz")["store"]["windows"].clone()
}

#[test]
fn fleet_serve_postgres_returns_markup_in_names_json_escaped() {
    const HOST: &str = "10.99.0.1";
    const NAME: &str = "a<script>alert(1)</script>.evil-example.com";
    let dir = tempfile::tempdir().unwrap();
    let xss = dir.path().join("xss.jsonl");
    let mut f = std::fs::File::create(&xss).unwrap();
    for i in 0..5 {
        let line = json!({"ts": format!("2024-03-04T08:0{i}:10Z"), "host": HOST,
            "domain": NAME, "qtype": "A", "rcode": "NOERROR"});
        writeln!(f, "{line}").unwrap();
    }
    drop(f);
    let (lines, _) = replay(dir.path(), &[xss]);
    let rt = runtime();
    let url = rt.block_on(load("serve_xss", "<b>sensor</b>", &lines));
    let pg = start(&["--postgres", &url]);
    for p in [
        format!("/api/v1/windows?host={HOST}"),
        format!("/api/v1/hosts/{HOST}/profile"),
        "/api/v1/hosts".to_string(),
    ] {
        let (status, body) = pg.get(&p);
        assert_eq!(status, 200, "{p}: {body}");
        assert!(!body.contains('<') && !body.contains('>'), "{p}: {body}");
    }
    let v = pg.json(&format!("/api/v1/windows?host={HOST}"));
    let w = &v["items"][0];
    assert_eq!(
        w["sensor"], "<b>sensor</b>",
        "the same text for a JSON parser"
    );
    let names: Vec<&str> = w["top_domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&NAME), "{names:?}");
    // Markup in a filter is a parameter, never SQL: nothing matches.
    let (status, body) =
        pg.get("/api/v1/windows?sensor=%27%3B%20DROP%20TABLE%20fleet_windows%3B--");
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        pg.json("/api/v1/windows")["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn fleet_serve_postgres_keeps_triage_across_later_incident_states() {
    let dir = tempfile::tempdir().unwrap();
    let (lines, _) = replay(dir.path(), &[repo_file("simulations/sample.jsonl")]);
    let first = lines
        .iter()
        .find(|l| l["event"]["dataset"] == "sentineldns.incident")
        .expect("the sample opens an incident")
        .clone();
    let id = first["sentineldns"]["incident"]["id"].as_i64().unwrap();
    let host = first["source"]["ip"].as_str().unwrap().to_string();
    let rt = runtime();
    let url = rt.block_on(async {
        let url = load("serve_triage", "s1", &lines).await;
        let mut pg = PgStore::connect(&url).await.unwrap();
        // The incident_triage record as the sensor writes it (NDJSON, Kafka).
        let verdict = json!({"category": "c2", "threat_score": 91, "confidence": "high",
            "summary": "beacons to <script>alert(1)</script>", "recommended_actions": ["isolate"]});
        let rec = json!({"type": "incident_triage", "incident_id": id, "host": host,
            "event": "opened", "triage_status": "ok", "triage": verdict,
            "provider": "ollama", "model": "m"});
        let t = TriageUpdate::from_ndjson("s1", &rec).expect("an incident_triage record");
        assert_eq!(pg.set_triage(&[t]).await.unwrap(), 1);
        // A result for an incident that is not stored changes nothing.
        let stray = TriageUpdate {
            sensor: "other".into(),
            incident_id: id,
            status: "ok".into(),
            triage: Some(verdict.clone()),
        };
        assert_eq!(pg.set_triage(&[stray]).await.unwrap(), 0);
        // A later state of the incident (an escalation after the triage):
        // upserted, and the triage stays.
        let mut later = first.clone();
        let ts = sentineldns_model::time::parse_ts(first["@timestamp"].as_str().unwrap()).unwrap();
        later["@timestamp"] = json!(sentineldns_model::time::rfc3339_micros(ts + 3_600_000_000));
        later["sentineldns"]["incident"]["windows"] = json!(99);
        let inc = IncidentRecord::from_ndjson("s1", &later).unwrap();
        assert_eq!(pg.upsert(&[], &[inc]).await.unwrap(), 1);
        // The first (older) state redelivered: ignored, triage kept.
        let old = IncidentRecord::from_ndjson("s1", &first).unwrap();
        pg.upsert(&[], &[old]).await.unwrap();
        url
    });
    let pg = start(&["--postgres", &url]);
    let (status, body) = pg.get(&format!("/api/v1/incidents?host={host}"));
    assert_eq!(status, 200, "{body}");
    assert!(!body.contains('<'), "markup escaped: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let i = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sensor_incident_id"] == id)
        .unwrap_or_else(|| panic!("incident {id} of {host}: {body}"));
    assert_eq!(i["windows"], 99, "the later state won: {i}");
    assert_eq!(i["triage_status"], "ok", "{i}");
    assert_eq!(i["triage"]["category"], "c2");
    assert_eq!(i["triage"]["threat_score"], 91);
    assert_eq!(
        i["triage"]["summary"],
        "beacons to <script>alert(1)</script>"
    );
    // Incidents without a triage record say so.
    let others = pg.json("/api/v1/incidents?limit=1000");
    for o in others["items"].as_array().unwrap() {
        if o["sensor_incident_id"] != id {
            assert_eq!(o["triage_status"], "off", "{o}");
            assert!(o["triage"].is_null(), "{o}");
        }
    }
    // A later failure keeps the verdict and says why there is no new one.
    rt.block_on(async {
        let mut store = PgStore::connect(&url).await.unwrap();
        let failed = TriageUpdate {
            sensor: "s1".into(),
            incident_id: id,
            status: "failed: HTTP 500".into(),
            triage: None,
        };
        assert_eq!(store.set_triage(&[failed]).await.unwrap(), 1);
    });
    let v = pg.json(&format!("/api/v1/incidents?host={host}"));
    let i = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sensor_incident_id"] == id)
        .unwrap();
    assert_eq!(i["triage_status"], "failed: HTTP 500");
    assert_eq!(i["triage"]["category"], "c2");
}
