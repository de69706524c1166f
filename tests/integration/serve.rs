//! `sentineldns serve` end to end (issue 13): a database made by a real
//! `replay` of `simulations/sample.jsonl` (plus one host whose qname carries
//! `<script>`), served by the binary on a free loopback port and queried
//! with a real HTTP client (ureq): every endpoint, filters, cursor paging,
//! 4xx JSON errors naming the field, the body cap, token enforcement,
//! predict on a DGA-like batch, HTML-safe JSON, health of an unreadable
//! store, metrics and the OpenAPI document.

use crate::util::{bin, repo_file, sensor};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

const XSS_HOST: &str = "10.99.0.1";
const XSS_NAME: &str = "a<script>alert(1)</script>.evil-example.com";

/// The replayed database, made once: sample.jsonl and a few lookups of
/// [`XSS_HOST`] whose name carries markup.
fn database() -> &'static Path {
    static DB: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    let (_, p) = DB.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let xss = dir.path().join("xss.jsonl");
        let mut f = std::fs::File::create(&xss).unwrap();
        for i in 0..5 {
            let line = json!({"ts": format!("2024-03-04T08:0{i}:10Z"), "host": XSS_HOST,
                "domain": XSS_NAME, "qtype": "A", "rcode": "NOERROR"});
            writeln!(f, "{line}").unwrap();
        }
        drop(f);
        let db = dir.path().join("s.db");
        bin()
            .arg("replay")
            .arg(repo_file("simulations/sample.jsonl"))
            .arg(&xss)
            .arg("--db")
            .arg(&db)
            .assert()
            .success();
        (dir, db)
    });
    p
}

/// A running `serve`, killed on drop.
struct Server {
    child: Child,
    base: String,
    /// What it logged before listening.
    log: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(db: &Path, args: &[&str]) -> Server {
    let child = sensor()
        .arg("serve")
        .arg("--db")
        .arg(db)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Owned by the guard at once: killed and waited for on every path.
    let mut server = Server {
        child,
        base: String::new(),
        log: String::new(),
    };
    let mut err = BufReader::new(server.child.stderr.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            err.read_line(&mut line).unwrap() > 0,
            "serve exited before listening"
        );
        if let Some(rest) = line.strip_prefix("serving http://") {
            let addr = rest.split('/').next().unwrap().to_string();
            // Keep draining stderr so the server never blocks on it.
            std::thread::spawn(move || for _ in err.lines() {});
            server.base = format!("http://{addr}");
            return server;
        }
        server.log.push_str(&line);
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// A response: status, content type, selected headers, body text.
struct Resp {
    status: u16,
    content_type: String,
    nosniff: bool,
    csp: String,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
    fn field(&self) -> String {
        self.json()["field"].as_str().unwrap_or("").to_string()
    }
}

fn finish(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
    let mut r = r.unwrap();
    let h = |n: &str| {
        r.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    };
    let (content_type, nosniff, csp) = (
        h("content-type"),
        h("x-content-type-options") == "nosniff",
        h("content-security-policy"),
    );
    Resp {
        status: r.status().as_u16(),
        content_type,
        nosniff,
        csp,
        body: r.body_mut().read_to_string().unwrap(),
    }
}

impl Server {
    fn get(&self, path: &str) -> Resp {
        finish(agent().get(format!("{}{path}", self.base)).call())
    }
    fn get_with(&self, path: &str, auth: &str) -> Resp {
        finish(
            agent()
                .get(format!("{}{path}", self.base))
                .header("Authorization", auth)
                .call(),
        )
    }
    fn post(&self, path: &str, content_type: &str, body: &[u8]) -> Resp {
        finish(
            agent()
                .post(format!("{}{path}", self.base))
                .header("Content-Type", content_type)
                .send(body),
        )
    }
}

/// A server of the replayed database with predict on, owned by the test
/// (a server in a static would outlive the test process: statics are never
/// dropped).
fn shared() -> Server {
    start(database(), &["--listen", "127.0.0.1:0", "--predict"])
}

#[test]
fn serve_lists_hosts_windows_incidents_runs_and_models() {
    let s = shared();
    let r = s.get("/api/v1/hosts");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.content_type.starts_with("application/json"));
    let hosts = r.json();
    let hosts = hosts.as_array().unwrap();
    assert!(hosts.len() > 5, "{hosts:?}");
    let rank = |h: &Value| match h["label"].as_str() {
        Some("Likely Compromise") => 2,
        Some("Unusual") => 1,
        _ => 0,
    };
    assert!(
        hosts.windows(2).all(|p| rank(&p[0]) >= rank(&p[1])),
        "worst first"
    );

    // Windows: a page, then the next one after the cursor.
    let p1 = s.get("/api/v1/windows?limit=50").json();
    let items = p1["items"].as_array().unwrap();
    assert_eq!(items.len(), 50);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let p2 = s
        .get(&format!("/api/v1/windows?limit=50&cursor={cursor}"))
        .json();
    let ids = |p: &Value| -> Vec<i64> {
        p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["id"].as_i64().unwrap())
            .collect()
    };
    let (a, b) = (ids(&p1), ids(&p2));
    assert!(
        !b.is_empty() && a.iter().all(|i| !b.contains(i)),
        "pages overlap"
    );
    let starts: Vec<String> = p1["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(p2["items"].as_array().unwrap())
        .map(|w| w["window_start"].as_str().unwrap().to_string())
        .collect();
    assert!(
        starts.windows(2).all(|p| p[0] <= p[1]),
        "time order across pages"
    );

    // Filters.
    let flagged = s.get("/api/v1/windows?min_label=unusual&limit=1000").json();
    let flagged = flagged["items"].as_array().unwrap();
    assert!(!flagged.is_empty());
    for w in flagged {
        assert!(
            matches!(w["label"].as_str(), Some("Unusual" | "Likely Compromise")),
            "{w}"
        );
        assert!(w["explanation"].as_str().is_some_and(|e| !e.is_empty()));
        assert!(w["model_id"].is_string());
        assert!(!w["reasons"].as_array().unwrap().is_empty(), "{w}");
    }
    let host = flagged[0]["host"].as_str().unwrap();
    let mine = s
        .get(&format!("/api/v1/windows?host={host}&limit=1000"))
        .json();
    assert!(mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["host"] == host));
    let hi = s.get("/api/v1/windows?min_score=0.7&limit=1000").json();
    assert!(hi["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|w| w["score"].as_f64().unwrap() >= 0.7));
    let late = s
        .get("/api/v1/windows?since=2024-03-04T09:00:00Z&until=2024-03-04T09:30:00%2B00:00&limit=1000")
        .json();
    let late = late["items"].as_array().unwrap();
    assert!(!late.is_empty());
    assert!(late.iter().all(|w| {
        let t = w["window_start"].as_str().unwrap();
        ("2024-03-04T09:00:00Z".."2024-03-04T09:30:00Z").contains(&t)
    }));
    let desc = s.get("/api/v1/windows?order=desc&limit=3").json();
    let d = desc["items"].as_array().unwrap();
    assert!(d[0]["window_start"].as_str() >= d[2]["window_start"].as_str());
    assert_eq!(
        s.get("/api/v1/windows?run=999999").json()["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    // Incidents, runs, models, a timeline with thresholds.
    let inc = s.get("/api/v1/incidents?limit=1000").json();
    let inc = inc["items"].as_array().unwrap();
    assert!(!inc.is_empty());
    for state in ["open", "closed"] {
        let only = s
            .get(&format!("/api/v1/incidents?state={state}&limit=1000"))
            .json();
        assert!(only["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["state"] == state));
    }
    let runs = s.get("/api/v1/runs").json();
    assert_eq!(runs[0]["command"], "replay");
    assert_eq!(runs[0]["status"], "complete");
    let models = s.get("/api/v1/models").json();
    let m = &models[0];
    assert!(m["unusual"].as_f64().unwrap() < m["likely"].as_f64().unwrap());
    assert!(m["windows_scored"].as_i64().unwrap() > 0);
    let tl = s.get(&format!("/api/v1/hosts/{host}/timeline")).json();
    let tl = tl.as_array().unwrap();
    assert!(tl.len() > 1);
    assert!(tl
        .windows(2)
        .all(|p| p[0]["window_start"].as_str() <= p[1]["window_start"].as_str()));
    for p in tl {
        assert_eq!(p["unusual"], m["unusual"], "{p}");
        assert_eq!(p["likely"], m["likely"], "{p}");
    }
    assert!(tl.iter().any(|p| p["incident_id"].is_i64()));
}

#[test]
fn serve_bad_requests_are_4xx_json_naming_the_field() {
    let s = shared();
    for (path, status, field) in [
        ("/api/v1/windows?min_label=bad", 400, "min_label"),
        ("/api/v1/windows?since=yesterday", 400, "since"),
        ("/api/v1/windows?until=2024-13-01T00:00:00Z", 400, "until"),
        ("/api/v1/windows?limit=5000", 400, "limit"),
        ("/api/v1/windows?limit=0", 400, "limit"),
        ("/api/v1/windows?min_score=2", 400, "min_score"),
        ("/api/v1/windows?cursor=nope", 400, "cursor"),
        ("/api/v1/windows?colour=red", 400, "colour"),
        ("/api/v1/windows?limit=1&limit=2", 400, "limit"),
        ("/api/v1/incidents?state=ajar", 400, "state"),
        ("/api/v1/hosts?offset=-1", 400, "offset"),
        ("/api/v1/hosts/10.255.255.254/timeline", 404, "host"),
        ("/api/v1/nothing", 404, "path"),
    ] {
        let r = s.get(path);
        assert_eq!(r.status, status, "{path}: {}", r.body);
        assert!(r.content_type.starts_with("application/json"), "{path}");
        assert_eq!(r.field(), field, "{path}: {}", r.body);
        assert!(r.json()["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // Wrong method: 405 in the same shape.
    let r = s.post("/api/v1/windows", "application/json", b"{}");
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.field(), "method");
    // Bodies: not JSON, wrong type, a bad lookup, over the cap.
    let r = s.post("/api/v1/predict", "application/json", b"{not json");
    assert_eq!((r.status, r.field()), (400, "body".into()), "{}", r.body);
    let r = s.post("/api/v1/predict", "text/plain", b"{}");
    assert_eq!(
        (r.status, r.field()),
        (415, "content-type".into()),
        "{}",
        r.body
    );
    let r = s.post("/api/v1/predict", "application/json", br#"{"lookups": [
        {"ts": 1700000000, "host": "10.0.0.1", "domain": "a.example.com", "qtype": 1, "rcode": 0},
        {"ts": 1700000001, "host": "not-an-ip", "domain": "b.example.com", "qtype": 1, "rcode": 0}]}"#);
    assert_eq!(
        (r.status, r.field()),
        (400, "lookups[1].host".into()),
        "{}",
        r.body
    );
    let r = s.post(
        "/api/v1/predict",
        "application/json",
        br#"{"features": {"log_queries_per_min": 1}}"#,
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.field().starts_with("features."), "{}", r.body);
    let r = s.post("/api/v1/predict", "application/json", br#"{"colour": 1}"#);
    assert_eq!((r.status, r.field()), (400, "colour".into()), "{}", r.body);
    let big = vec![b' '; 2 << 20];
    let r = s.post("/api/v1/predict", "application/json", &big);
    assert_eq!((r.status, r.field()), (413, "body".into()), "{}", r.body);
    // Predict is off unless asked for.
    let ro = start(database(), &["--listen", "127.0.0.1:0"]);
    let r = ro.post("/api/v1/predict", "application/json", b"{}");
    assert_eq!((r.status, r.field()), (404, "path".into()), "{}", r.body);
}

#[test]
fn serve_predict_scores_a_dga_batch_as_alerting() {
    let s = shared();
    let names = [
        "xkqjzvtrbw",
        "qwpzmvhtlk",
        "zjvxqmwtrp",
        "plmqzxkvwj",
        "vbqxzjkwtm",
        "rtzkqvxmjp",
        "mqxzvjwpkt",
        "jwzqxvkmtr",
        "tkvzqxmwjp",
        "hxqzvkjwmt",
        "wqzxvjmktp",
        "kzqxvwjmtr",
        "nqzxvkwjmt",
        "pzqxvjkwmt",
        "bxqzvkjwmt",
        "cqzxvjkwmt",
    ];
    let lookups: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            json!({"ts": 1_700_000_000 + i as i64 * 7, "host": "10.0.0.66",
                   "domain": format!("{n}.com"), "qtype": 1, "rcode": 3})
        })
        .collect();
    let body = json!({ "lookups": lookups }).to_string();
    let r = s.post("/api/v1/predict", "application/json", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    assert_eq!(v["lookups"], 16);
    let w = &v["windows"][0];
    assert_eq!(w["host"], "10.0.0.66");
    assert!(
        matches!(w["label"].as_str(), Some("Unusual" | "Likely Compromise")),
        "{w}"
    );
    assert!(
        w["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["tag"] == "dga_like_names"),
        "{w}"
    );
    assert!(w["explanation"].as_str().unwrap().len() > 20);
    // A bare feature vector of a quiet window scores Normal.
    let features: serde_json::Map<String, Value> = sentineldns::detect::MODEL_FEATURES
        .iter()
        .map(|f| (f.to_string(), json!(0.1)))
        .collect();
    let r = s.post(
        "/api/v1/predict",
        "application/json; charset=utf-8",
        json!({ "features": features }).to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let w = &r.json()["windows"][0];
    assert!(
        w["score"]
            .as_f64()
            .is_some_and(|s| (0.0..=1.0).contains(&s)),
        "{w}"
    );
    assert!(w["host"].is_null());
}

#[test]
fn serve_returns_markup_in_names_json_escaped() {
    let s = shared();
    let r = s.get(&format!("/api/v1/windows?host={XSS_HOST}"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.content_type, "application/json");
    assert!(r.nosniff);
    assert!(r.csp.contains("default-src 'none'"), "{}", r.csp);
    assert!(!r.body.contains('<') && !r.body.contains('>'), "{}", r.body);
    assert!(r.body.contains("\\u003cscript\\u003e"), "{}", r.body);
    // Still the same name for a JSON parser.
    let v = r.json();
    let names: Vec<&str> = v["items"][0]["top_domains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&XSS_NAME), "{names:?}");
    // Errors never echo markup either.
    let r = s.get("/api/v1/windows?min_label=%3Cscript%3E");
    assert_eq!(r.status, 400);
    assert!(!r.body.contains('<'), "{}", r.body);
}

#[test]
fn serve_requires_a_token_off_loopback_and_checks_it() {
    // No token: refused before binding.
    let o = bin()
        .args(["serve", "--listen", "0.0.0.0:0", "--db"])
        .arg(database())
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("token_file") && err.contains("loopback"),
        "{err}"
    );
    // With a token every /api route but the document needs it.
    let dir = tempfile::tempdir().unwrap();
    let tf = dir.path().join("token");
    std::fs::write(&tf, "s3cret-token-0123456789\n").unwrap();
    let s = start(
        database(),
        &[
            "--listen",
            "127.0.0.2:0",
            "--token-file",
            tf.to_str().unwrap(),
        ],
    );
    let r = s.get("/api/v1/hosts");
    assert_eq!(
        (r.status, r.field()),
        (401, "authorization".into()),
        "{}",
        r.body
    );
    let r = s.get_with("/api/v1/hosts", "Bearer s3cret-token-0123456780");
    assert_eq!(r.status, 401);
    let r = s.get_with("/api/v1/hosts", "Bearer s3cret-token-0123456789");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.get("/healthz").status, 200);
    // Any address with the token; off loopback it says so at startup.
    let wide = start(
        database(),
        &[
            "--listen",
            "0.0.0.0:0",
            "--token-file",
            tf.to_str().unwrap(),
        ],
    );
    assert!(wide.log.contains("non-loopback"), "{}", wide.log);
    assert_eq!(wide.get("/api/v1/runs").status, 401);
    drop(wide);
    let doc = s.get("/api/v1/openapi.json").json();
    assert!(
        doc["components"]["securitySchemes"]["bearer"].is_object(),
        "{doc}"
    );
    // A token that is too short is refused at start.
    std::fs::write(&tf, "short\n").unwrap();
    let o = bin()
        .args(["serve", "--listen", "127.0.0.1:0", "--token-file"])
        .arg(&tf)
        .arg("--db")
        .arg(database())
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("token"));
}

#[test]
fn serve_health_reports_an_unreadable_store_and_metrics_count_requests() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("copy.db");
    std::fs::copy(database(), &db).unwrap();
    let s = start(&db, &["--listen", "127.0.0.1:0"]);
    let r = s.get("/healthz");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "ok");
    assert!(r.json()["store"]["windows"].as_i64().unwrap() > 0);
    assert_eq!(r.json()["warnings"], json!([]));
    // The sensor writing it died: still served, with a warning.
    rusqlite::Connection::open(&db)
        .unwrap()
        .execute("UPDATE runs SET status = 'crashed'", [])
        .unwrap();
    let r = s.get("/healthz");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.json()["warnings"][0]
            .as_str()
            .unwrap()
            .contains("crashed"),
        "{}",
        r.body
    );
    assert_eq!(s.get("/api/v1/windows?limit=1").status, 200);
    assert_eq!(s.get("/api/v1/windows?limit=x").status, 400);
    // The file is replaced by something that is not a database.
    std::fs::remove_file(&db).unwrap();
    std::fs::write(&db, vec![0x42u8; 8192]).unwrap();
    let mut unhealthy = None;
    for _ in 0..10 {
        let r = s.get("/healthz");
        if r.status == 503 {
            unhealthy = Some(r);
            break;
        }
    }
    let r = unhealthy.expect("healthz never reported the broken store");
    assert_eq!(r.json()["status"], "unavailable");
    assert!(
        r.json()["reason"].as_str().unwrap().contains("store"),
        "{}",
        r.body
    );
    let r = s.get("/api/v1/hosts");
    assert_eq!(r.status, 503, "{}", r.body);
    let m = s.get("/metrics");
    assert!(m.content_type.starts_with("text/plain"));
    assert!(
        m.body.contains(
            "sentineldns_api_requests_total{route=\"/api/v1/windows\",method=\"GET\",status=\"200\"} 1"
        ),
        "{}",
        m.body
    );
    assert!(m.body.contains("status=\"400\"} 1"), "{}", m.body);
    let errors: f64 = m
        .body
        .lines()
        .find_map(|l| l.strip_prefix("sentineldns_api_store_errors_total "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(errors >= 1.0, "{}", m.body);
}

#[test]
fn serve_publishes_an_openapi_document_and_a_docs_page() {
    let s = shared();
    let r = s.get("/api/v1/openapi.json");
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{doc}");
    for p in [
        "/api/v1/hosts",
        "/api/v1/windows",
        "/api/v1/incidents",
        "/api/v1/hosts/{host}/timeline",
        "/api/v1/runs",
        "/api/v1/models",
        "/api/v1/predict",
        "/healthz",
        "/metrics",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} missing");
    }
    // No flow model configured: that endpoint is neither routed nor documented.
    assert!(doc["paths"]["/api/v1/predict/flows"].is_null());
    assert!(doc["components"]["securitySchemes"].is_null());
    let page = s.get("/api/v1/docs");
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    assert!(page.body.contains("/api/v1/docs.js") && !page.body.contains("http"));
    assert!(page.csp.contains("script-src 'self'"), "{}", page.csp);
    let js = s.get("/api/v1/docs.js");
    assert!(js.body.contains("textContent") && !js.body.contains("innerHTML"));
}

#[test]
fn serve_predict_scores_unsw_flow_records() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("unsw.bin");
    let csv_path = crate::util::shared("flows/unsw-nb15/UNSW_NB15_testing-set_subset4528.csv");
    bin()
        .args(["flows", "train-classifier"])
        .arg(&csv_path)
        .arg("--out")
        .arg(&model)
        .args(["--trees", "8", "--seed", "1"])
        .assert()
        .success();
    let mut rd = csv::Reader::from_path(&csv_path).unwrap();
    let headers: Vec<String> = rd
        .headers()
        .unwrap()
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}').to_string())
        .collect();
    let records: Vec<Value> = rd
        .records()
        .take(3)
        .map(|r| {
            let r = r.unwrap();
            let m: serde_json::Map<String, Value> = headers
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.clone(), json!(v)))
                .collect();
            Value::Object(m)
        })
        .collect();
    let s = start(
        database(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--predict",
            "--flow-model",
            model.to_str().unwrap(),
        ],
    );
    let body = json!({ "flows": records }).to_string();
    let r = s.post("/api/v1/predict/flows", "application/json", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let flows = v["flows"].as_array().unwrap();
    assert_eq!(flows.len(), 3);
    for f in flows {
        assert!(
            f["score"]
                .as_f64()
                .is_some_and(|s| (0.0..=1.0).contains(&s)),
            "{f}"
        );
        assert!(matches!(f["label"].as_u64(), Some(0 | 1)), "{f}");
    }
    let mut broken = records[0].clone();
    broken.as_object_mut().unwrap().remove("sbytes");
    let r = s.post(
        "/api/v1/predict/flows",
        "application/json",
        json!({ "flows": [broken] }).to_string().as_bytes(),
    );
    assert_eq!(
        (r.status, r.field()),
        (400, "flows[0].sbytes".into()),
        "{}",
        r.body
    );
    let doc = s.get("/api/v1/openapi.json").json();
    assert!(doc["paths"]["/api/v1/predict/flows"].is_object());
}

#[test]
fn serve_reads_while_a_replay_writes_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    std::fs::copy(database(), &db).unwrap();
    let s = start(&db, &["--listen", "127.0.0.1:0"]);
    let before = s.get("/api/v1/runs").json().as_array().unwrap().len();
    // A second sensor run writes the database the server is reading.
    let mut writer = sensor()
        .arg("replay")
        .arg(repo_file("simulations/sample.jsonl"))
        .arg("--db")
        .arg(&db)
        .args(["--format", "none"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut reads = 0;
    let done = loop {
        for path in [
            "/api/v1/hosts",
            "/api/v1/windows?order=desc&limit=20",
            "/healthz",
        ] {
            let r = s.get(path);
            assert_eq!(r.status, 200, "{path} during the write: {}", r.body);
            reads += 1;
        }
        if let Some(status) = writer.try_wait().unwrap() {
            break status;
        }
    };
    assert!(done.success());
    assert!(reads >= 3);
    let runs = s.get("/api/v1/runs").json();
    assert_eq!(runs.as_array().unwrap().len(), before + 1, "{runs}");
    assert_eq!(runs[0]["status"], "complete");
    assert!(runs[0]["windows"].as_i64().unwrap() > 0);
}
