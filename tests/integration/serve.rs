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
    // An oversized body: the server answers 413 without reading it and
    // closes the connection (RFC 9110 15.5.14 allows that), so a client
    // still writing it may see the connection reset before it reads the
    // answer (seen on a loaded machine). A reset is retried; the answer,
    // when read, must be the 413 naming `body`, and one of five tries must
    // read it.
    let big = vec![b' '; 2 << 20];
    let mut resets = Vec::new();
    let r = loop {
        let sent = agent()
            .post(format!("{}/api/v1/predict", s.base))
            .header("Content-Type", "application/json")
            .send(&big[..]);
        match sent {
            Err(e) if resets.len() < 4 => resets.push(e.to_string()),
            other => break finish(other),
        }
    };
    assert_eq!(
        (r.status, r.field()),
        (413, "body".into()),
        "{} (resets: {resets:?})",
        r.body
    );
    assert_eq!(s.get("/healthz").status, 200, "the server lives on");
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
        "/api/v1/hosts/{host}/profile",
        "/api/v1/verdicts",
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

// ------------------------------------------------------------ the dashboard

/// The dashboard's Content-Security-Policy, exactly.
const DASHBOARD_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A response with every header (names lower-case, in order).
struct Full {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Full {
    fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }
    fn all(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// `method path` with `headers` (and a body for POST).
fn request(base: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Full {
    let url = format!("{base}{path}");
    let a = agent();
    let r = if method == "POST" {
        let mut b = a.post(&url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.send(body)
    } else {
        let mut b = a.get(&url);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.call()
    };
    let mut r = r.unwrap();
    let headers = r
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    Full {
        status: r.status().as_u16(),
        headers,
        body: r.body_mut().read_to_string().unwrap_or_default(),
    }
}

#[test]
fn serve_dashboard_pages_and_assets_are_embedded_with_a_strict_csp() {
    let s = shared();
    let mut shell = None;
    for page in [
        "/",
        "/incidents",
        &format!("/hosts/{XSS_HOST}"),
        "/hosts/%3Cscript%3E",
    ] {
        let r = request(&s.base, "GET", page, &[], b"");
        assert_eq!(r.status, 200, "{page}: {}", r.body);
        assert_eq!(
            r.header("content-type"),
            "text/html; charset=utf-8",
            "{page}"
        );
        assert_eq!(r.header("content-security-policy"), DASHBOARD_CSP, "{page}");
        assert_eq!(r.header("x-content-type-options"), "nosniff");
        assert_eq!(r.header("cache-control"), "no-store");
        // One constant shell: no data, no inline script or style, no
        // outside origin.
        let b = r.body.clone();
        assert_eq!(shell.get_or_insert_with(|| b.clone()), &b, "{page}");
        assert!(!b.contains(XSS_HOST) && !b.contains("evil-example") && !b.contains("10.20."));
        assert!(!b.contains("<script>") && !b.contains("<style") && !b.contains(" style="));
        assert!(!b.contains("http://") && !b.contains("https://"), "{b}");
        assert!(b.contains(r#"<script src="/assets/app.js" defer></script>"#));
    }
    for (file, ct) in [
        ("app.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("login.js", "text/javascript; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ] {
        let r = request(&s.base, "GET", &format!("/assets/{file}"), &[], b"");
        assert_eq!(r.status, 200, "{file}");
        assert_eq!(r.header("content-type"), ct, "{file}");
        assert_eq!(r.header("x-content-type-options"), "nosniff");
        assert_eq!(r.header("cache-control"), "no-cache", "{file}");
        let tag = r.header("etag");
        assert!(tag.starts_with('"') && tag.len() == 18, "{file}: {tag}");
        // No outside origin (the SVG namespace is a name, not a fetch).
        let body = r.body.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !body.contains("https://") && !body.contains("http://"),
            "{file}: no CDN"
        );
        // Revalidation: 304 while the tag matches, the file again when not.
        let again = request(
            &s.base,
            "GET",
            &format!("/assets/{file}"),
            &[("If-None-Match", &tag)],
            b"",
        );
        assert_eq!(again.status, 304, "{file}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("etag"), tag);
        let stale = request(
            &s.base,
            "GET",
            &format!("/assets/{file}"),
            &[("If-None-Match", "\"0\"")],
            b"",
        );
        assert_eq!(stale.status, 200);
    }
    // The script never parses data as markup.
    let js = request(&s.base, "GET", "/assets/app.js", &[], b"").body;
    assert!(
        !js.contains("innerHTML")
            && !js.contains("outerHTML")
            && !js.contains("insertAdjacentHTML")
    );
    assert!(!js.contains("document.write") && !js.contains("eval("));
    assert!(js.contains("textContent") && js.contains("createElementNS"));
    for bad in ["/assets/nope.js", "/assets/..%2FCargo.toml", "/assets/"] {
        let r = request(&s.base, "GET", bad, &[], b"");
        assert_eq!(r.status, 404, "{bad}: {}", r.body);
        assert_eq!(r.header("content-type"), "application/json", "{bad}");
        assert!(r.json()["error"].is_string(), "{bad}");
    }
    assert_eq!(
        request(&s.base, "GET", "/assets/nope.js", &[], b"").json()["field"],
        "file"
    );
    let r = request(&s.base, "GET", "/login", &[], b"");
    assert_eq!(
        (r.status, r.header("content-security-policy").as_str()),
        (200, DASHBOARD_CSP)
    );
    // Nothing to log in to without a token.
    let r = request(
        &s.base,
        "POST",
        "/login",
        &[("Content-Type", "application/json")],
        br#"{"token": "x"}"#,
    );
    assert_eq!(r.status, 404, "{}", r.body);
}

#[test]
fn serve_dashboard_needs_the_token_when_one_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let tf = dir.path().join("token");
    let token = "dash-token-0123456789abcdef";
    std::fs::write(&tf, format!("{token}\n")).unwrap();
    let s = start(
        database(),
        &[
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            tf.to_str().unwrap(),
        ],
    );
    let b = s.base.as_str();
    // Pages answer 401 with the login page (same CSP), the API 401 JSON.
    for page in ["/", "/incidents", &format!("/hosts/{XSS_HOST}")] {
        let r = request(b, "GET", page, &[], b"");
        assert_eq!(r.status, 401, "{page}");
        assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
        assert_eq!(r.header("content-security-policy"), DASHBOARD_CSP);
        assert!(r.body.contains("/assets/login.js"), "{}", r.body);
    }
    let r = request(b, "GET", "/api/v1/hosts", &[], b"");
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (401, Some("authorization"))
    );
    assert_eq!(request(b, "GET", "/nothing", &[], b"").status, 401);
    // What the login page needs is open.
    assert_eq!(request(b, "GET", "/login", &[], b"").status, 200);
    assert_eq!(request(b, "GET", "/assets/login.js", &[], b"").status, 200);
    assert_eq!(request(b, "GET", "/assets/app.css", &[], b"").status, 200);
    // Logging in: JSON only, the right token only.
    let json = [("Content-Type", "application/json")];
    let r = request(
        b,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        format!("token={token}").as_bytes(),
    );
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (415, Some("content-type"))
    );
    let r = request(
        b,
        "POST",
        "/login",
        &json,
        br#"{"token": "dash-token-0123456789abcdeX"}"#,
    );
    assert_eq!(
        (r.status, r.json()["field"].as_str()),
        (401, Some("token")),
        "{}",
        r.body
    );
    assert!(r.all("set-cookie").is_empty());
    let r = request(b, "POST", "/login", &json, br#"{"tok": 1}"#);
    assert_eq!((r.status, r.json()["field"].as_str()), (400, Some("body")));
    let r = request(
        b,
        "POST",
        "/login",
        &json,
        format!(r#"{{"token": "{token}"}}"#).as_bytes(),
    );
    assert_eq!(r.status, 204, "{}", r.body);
    let cookies = r.all("set-cookie");
    let session = cookies
        .iter()
        .find(|c| c.starts_with("sentineldns_session="))
        .unwrap_or_else(|| panic!("{cookies:?}"));
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
        assert!(session.contains(attr), "{session}");
    }
    assert!(
        !session.contains("Secure"),
        "plain HTTP on loopback: {session}"
    );
    let pair = session.split(';').next().unwrap().to_string();
    let id = pair.strip_prefix("sentineldns_session=").unwrap();
    assert_eq!(id.len(), 64, "256 random bits: {id}");
    assert!(
        !pair.contains(token) && !pair.contains(&hex_of(token)),
        "the cookie names a session, not the token"
    );
    // A second login is another session.
    let other = request(
        b,
        "POST",
        "/login",
        &json,
        format!(r#"{{"token": "{token}"}}"#).as_bytes(),
    );
    assert_ne!(other.all("set-cookie")[0], *session);
    // With the cookie: pages and reads.
    let cookie = [("Cookie", pair.as_str())];
    let r = request(b, "GET", "/", &cookie, b"");
    assert_eq!(
        (r.status, r.header("content-security-policy").as_str()),
        (200, DASHBOARD_CSP)
    );
    let r = request(
        b,
        "GET",
        &format!("/api/v1/windows?host={XSS_HOST}"),
        &cookie,
        b"",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Never for a write: predict needs the bearer token.
    let r = request(b, "POST", "/api/v1/predict", &[cookie[0], json[0]], b"{}");
    assert_eq!(r.status, 401, "{}", r.body);
    // A forged or foreign session is refused.
    let forged = format!("sentineldns_session={}", "ab".repeat(32));
    assert_eq!(
        request(b, "GET", "/api/v1/hosts", &[("Cookie", &forged)], b"").status,
        401
    );
    let raw = format!("sentineldns_session={token}");
    assert_eq!(
        request(b, "GET", "/api/v1/hosts", &[("Cookie", &raw)], b"").status,
        401
    );
    // Behind a TLS proxy the cookies are Secure.
    let r = request(
        b,
        "POST",
        "/login",
        &[json[0], ("X-Forwarded-Proto", "https")],
        format!(r#"{{"token": "{token}"}}"#).as_bytes(),
    );
    assert!(
        r.all("set-cookie").iter().all(|c| c.contains("; Secure")),
        "{:?}",
        r.all("set-cookie")
    );
    // Logging out ends the session; the bearer token still works.
    let r = request(b, "POST", "/logout", &[cookie[0], json[0]], b"{}");
    assert_eq!(r.status, 204);
    assert!(r.all("set-cookie").iter().all(|c| c.contains("Max-Age=0")));
    assert_eq!(request(b, "GET", "/", &cookie, b"").status, 401);
    assert_eq!(request(b, "GET", "/api/v1/hosts", &cookie, b"").status, 401);
    let bearer = format!("Bearer {token}");
    let r = request(
        b,
        "GET",
        "/api/v1/hosts",
        &[("Authorization", &bearer)],
        b"",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        request(b, "GET", "/incidents", &[("Authorization", &bearer)], b"").status,
        200
    );
}

fn hex_of(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn serve_dashboard_data_verdicts_over_time_and_host_profiles() {
    let s = shared();
    let total = s.get("/healthz").json()["store"]["windows"]
        .as_i64()
        .unwrap();
    // Verdicts over time: 5-minute windows over two hours, 5-minute buckets.
    let v = s.get("/api/v1/verdicts").json();
    assert_eq!(v["bucket_secs"], 300, "{v}");
    let buckets = v["buckets"].as_array().unwrap();
    assert!(buckets.len() >= 20, "{v}");
    let sum = |k: &str| -> i64 { buckets.iter().map(|b| b[k].as_i64().unwrap()).sum() };
    assert_eq!(
        sum("normal") + sum("unusual") + sum("likely") + sum("unscored"),
        total
    );
    let likely = s.get("/api/v1/windows?min_label=likely&limit=1000").json();
    assert_eq!(
        sum("likely"),
        likely["items"].as_array().unwrap().len() as i64
    );
    assert!(buckets
        .windows(2)
        .all(|p| p[0]["start"].as_str() < p[1]["start"].as_str()));
    let hourly = s
        .get("/api/v1/verdicts?bucket=3600&since=2024-03-04T09:00:00Z")
        .json();
    assert_eq!(hourly["bucket_secs"], 3600);
    assert_eq!(hourly["buckets"][0]["start"], "2024-03-04T09:00:00Z");
    let one = s.get(&format!("/api/v1/verdicts?host={XSS_HOST}")).json();
    let n: i64 = one["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            b["normal"].as_i64().unwrap()
                + b["unusual"].as_i64().unwrap()
                + b["likely"].as_i64().unwrap()
                + b["unscored"].as_i64().unwrap()
        })
        .sum();
    assert_eq!(
        n,
        s.get(&format!("/api/v1/windows?host={XSS_HOST}")).json()["items"]
            .as_array()
            .unwrap()
            .len() as i64
    );
    let none = s.get("/api/v1/verdicts?since=2030-01-01T00:00:00Z").json();
    assert_eq!(none["buckets"], json!([]));
    for (path, field) in [
        ("/api/v1/verdicts?bucket=59", "bucket"),
        ("/api/v1/verdicts?bucket=x", "bucket"),
        ("/api/v1/verdicts?since=now", "since"),
        ("/api/v1/verdicts?colour=red", "colour"),
        ("/api/v1/hosts/10.99.0.1/profile?top=0", "top"),
        ("/api/v1/hosts/10.255.255.254/profile", "host"),
        ("/api/v1/hosts?min_label=bad", "min_label"),
        ("/api/v1/hosts?min_score=2", "min_score"),
        ("/api/v1/hosts/10.99.0.1/timeline?order=up", "order"),
    ] {
        let r = s.get(path);
        assert!(r.status == 400 || r.status == 404, "{path}: {}", r.body);
        assert_eq!(r.field(), field, "{path}: {}", r.body);
    }

    // Every window carries its query-type and response-code counts, each
    // adding up to its lookups.
    let page = s.get("/api/v1/windows?limit=1000").json();
    for w in page["items"].as_array().unwrap() {
        let add = |m: &Value| -> i64 {
            m.as_object()
                .unwrap()
                .values()
                .map(|x| x.as_i64().unwrap())
                .sum()
        };
        assert_eq!(add(&w["qtypes"]), w["lookups"].as_i64().unwrap(), "{w}");
        assert_eq!(add(&w["rcodes"]), w["lookups"].as_i64().unwrap(), "{w}");
    }

    // The hostile host's profile: its five A lookups of the markup name,
    // answered; the name comes back JSON-escaped, the same text once parsed.
    let r = s.get(&format!("/api/v1/hosts/{XSS_HOST}/profile"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        !r.body.contains('<') && r.body.contains("\\u003cscript\\u003e"),
        "{}",
        r.body
    );
    let p = r.json();
    assert_eq!(p["host"], XSS_HOST);
    assert_eq!(p["top_domains"][0]["name"], XSS_NAME);
    assert_eq!(p["top_domains"][0]["lookups"], 5);
    assert_eq!(
        p["qtypes"]["normal"]["a"].as_i64().unwrap()
            + p["qtypes"]["flagged"]["a"].as_i64().unwrap(),
        5
    );
    assert_eq!(
        p["rcodes"]["normal"]["noerror"].as_i64().unwrap()
            + p["rcodes"]["flagged"]["noerror"].as_i64().unwrap(),
        5
    );
    assert_eq!(p["truncated"], false);

    // A flagged host: the flagged half is counted apart, and the windows
    // add up to the host's.
    let hosts = s.get("/api/v1/hosts?min_label=likely").json();
    let hosts = hosts.as_array().unwrap();
    assert!(
        !hosts.is_empty() && hosts.iter().all(|h| h["label"] == "Likely Compromise"),
        "{hosts:?}"
    );
    let h = hosts[0]["host"].as_str().unwrap();
    let only = s.get(&format!("/api/v1/hosts?host={h}")).json();
    assert_eq!(only.as_array().unwrap().len(), 1);
    assert_eq!(only[0]["host"], h);
    let p = s.get(&format!("/api/v1/hosts/{h}/profile?top=5")).json();
    assert!(p["flagged_windows"].as_i64().unwrap() > 0, "{p}");
    assert_eq!(p["windows"], hosts[0]["windows"]);
    assert!(p["top_domains"].as_array().unwrap().len() <= 5);
    let flagged_lookups: i64 = p["qtypes"]["flagged"]
        .as_object()
        .unwrap()
        .values()
        .map(|x| x.as_i64().unwrap())
        .sum();
    assert!(flagged_lookups > 0, "{p}");
    assert!(p["top_domains"]
        .as_array()
        .unwrap()
        .windows(2)
        .all(|d| d[0]["lookups"].as_i64() >= d[1]["lookups"].as_i64()));
    // The timeline, newest first on request.
    let asc = s.get(&format!("/api/v1/hosts/{h}/timeline")).json();
    let desc = s
        .get(&format!("/api/v1/hosts/{h}/timeline?order=desc&limit=3"))
        .json();
    let asc = asc.as_array().unwrap();
    assert_eq!(desc[0]["window_start"], asc[asc.len() - 1]["window_start"]);
    assert!(desc[0]["window_start"].as_str() > desc[2]["window_start"].as_str());
}
