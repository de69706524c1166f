//! ECS that validates (issue 17 item 1): the NDJSON of a replay of every
//! shared capture (and of the shipped simulation, for incidents and every
//! kind of reason) is checked field by field against the published ECS 8.11
//! definitions vendored in tests/fixtures/ecs (see its README), and against
//! the Elasticsearch index template shipped in packaging/elasticsearch.

use crate::util::{assert_success, json_lines, repo_file, run_with_deadline, sensor, shared};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

const ECS_VERSION: &str = "8.11.0";

fn ecs_fields() -> Map<String, Value> {
    let p = repo_file("tests/fixtures/ecs/ecs_flat-8.11.json");
    let text = std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("ECS field list {} is missing: {e}", p.display()));
    serde_json::from_str::<Value>(&text)
        .expect("ECS field list is JSON")
        .as_object()
        .cloned()
        .expect("ECS field list is an object")
}

/// Every shared capture file.
fn captures() -> Vec<PathBuf> {
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(d)
            .unwrap_or_else(|e| panic!("{}: {e}", d.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng" || e == "gz")
            {
                out.push(p);
            }
        }
    }
    let root = shared("pcap");
    assert!(
        root.is_dir(),
        "shared captures {} are missing",
        root.display()
    );
    let mut v = Vec::new();
    walk(&root, &mut v);
    assert!(v.len() > 200, "only {} shared captures found", v.len());
    v
}

fn replay_ndjson(dir: &Path, name: &str, inputs: &[PathBuf]) -> Vec<Value> {
    let nd = dir.join(format!("{name}.ndjson"));
    let mut c = sensor();
    c.args(["replay", "--format", "none", "--db"])
        .arg(dir.join(format!("{name}.db")))
        .arg("--ndjson")
        .arg(&nd)
        .arg("--ndjson-lookups")
        .args(inputs);
    let o = run_with_deadline(c, Duration::from_secs(300));
    assert_success(&o, &format!("replay {name}"));
    json_lines(std::fs::read(&nd).unwrap())
}

/// (dotted path, leaf value) of every non-null leaf; arrays are walked with
/// the path of the array (ECS names no index).
fn leaves<'a>(path: &str, v: &'a Value, out: &mut Vec<(String, &'a Value, bool)>, in_array: bool) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(&p, x, out, false);
            }
        }
        Value::Array(a) => {
            for x in a {
                leaves(path, x, out, true);
            }
        }
        Value::Null => {}
        _ => out.push((path.to_string(), v, in_array)),
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && s.ends_with('Z')
}

/// Whether `v` is a value of ECS/Elasticsearch type `t`.
fn fits(t: &str, v: &Value) -> bool {
    match t {
        "keyword" | "constant_keyword" | "wildcard" | "match_only_text" | "text" => v.is_string(),
        "long" | "integer" | "short" | "byte" | "unsigned_long" => v.is_i64() || v.is_u64(),
        "float" | "double" | "scaled_float" | "half_float" => v.is_number(),
        "boolean" => v.is_boolean(),
        "ip" => v.as_str().is_some_and(|s| s.parse::<IpAddr>().is_ok()),
        "date" => v.as_str().is_some_and(is_date),
        _ => false,
    }
}

fn allowed<'a>(f: &'a Map<String, Value>, field: &str) -> BTreeMap<&'a str, Vec<&'a str>> {
    f[field]["allowed_values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap(),
                a["expected_event_types"]
                    .as_array()
                    .map(|t| t.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

/// Every problem of one record against ECS (empty: it validates).
fn problems(rec: &Value, f: &Map<String, Value>) -> Vec<String> {
    let mut p = Vec::new();
    if rec["ecs"]["version"] != ECS_VERSION {
        p.push(format!(
            "ecs.version is {}, not {ECS_VERSION}",
            rec["ecs"]["version"]
        ));
    }
    for k in ["type", "vendor", "product", "name", "hostname", "version"] {
        if !rec["observer"][k].is_string() {
            p.push(format!("observer.{k} is missing"));
        }
    }
    if rec["source"]["ip"].is_string()
        && rec["related"]["ip"].as_array().is_none_or(|a| a.is_empty())
    {
        p.push("related.ip is missing".into());
    }
    if !rec["@timestamp"].as_str().is_some_and(is_date) {
        p.push("@timestamp is missing".into());
    }
    let mut ls = Vec::new();
    leaves("", rec, &mut ls, false);
    for (path, v, in_array) in &ls {
        if path.starts_with("sentineldns.") {
            continue;
        }
        let Some(def) = f.get(path) else {
            p.push(format!("{path} is not an ECS field"));
            continue;
        };
        let t = def["type"].as_str().unwrap_or_default();
        if !fits(t, v) {
            p.push(format!("{path} = {v} is not a {t}"));
        }
        let array = def["normalize"]
            .as_array()
            .is_some_and(|n| n.iter().any(|x| x == "array"));
        if *in_array && !array && !path.starts_with("dns.answers.") {
            p.push(format!(
                "{path} is an array but ECS does not normalise it to one"
            ));
        }
    }
    // Fields ECS normalises to arrays must be arrays.
    for path in [
        "event.category",
        "event.type",
        "related.ip",
        "related.hosts",
        "dns.header_flags",
        "dns.resolved_ip",
        "dns.answers",
    ] {
        let v = path.split('.').fold(rec, |v, k| &v[k]);
        if !v.is_null() && !v.is_array() {
            p.push(format!("{path} must be an array"));
        }
    }
    let kinds = allowed(f, "event.kind");
    let cats = allowed(f, "event.category");
    let types: BTreeSet<&str> = allowed(f, "event.type").into_keys().collect();
    let kind = rec["event"]["kind"].as_str().unwrap_or("(missing)");
    if !kinds.contains_key(kind) {
        p.push(format!("event.kind {kind} is not allowed"));
    }
    let ev_types: Vec<&str> = rec["event"]["type"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if ev_types.is_empty() {
        p.push("event.type is missing".into());
    }
    for t in &ev_types {
        if !types.contains(t) {
            p.push(format!("event.type {t} is not allowed"));
        }
    }
    let ev_cats: Vec<&str> = rec["event"]["category"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if ev_cats.is_empty() {
        p.push("event.category is missing".into());
    }
    for c in &ev_cats {
        match cats.get(c) {
            None => p.push(format!("event.category {c} is not allowed")),
            Some(expected) => {
                for t in &ev_types {
                    if !expected.contains(t) {
                        p.push(format!(
                            "event.type {t} is not expected with event.category {c}"
                        ));
                    }
                }
            }
        }
    }
    p
}

/// The mapped type of every leaf path of an index template.
fn template_types(props: &Map<String, Value>, prefix: &str, out: &mut BTreeMap<String, String>) {
    for (k, m) in props {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        if let Some(sub) = m["properties"].as_object() {
            template_types(sub, &path, out);
        } else if let Some(t) = m["type"].as_str() {
            out.insert(path, t.to_string());
        }
    }
}

/// The records of the captures' replay, then those of the simulation's and
/// the flow alerts of the real lab flows.
fn all_records() -> (Vec<Value>, Vec<Value>) {
    let dir = tempfile::tempdir().unwrap();
    let caps = replay_ndjson(dir.path(), "captures", &captures());
    let sample = repo_file("simulations/sample.jsonl");
    assert!(sample.exists(), "{} is missing", sample.display());
    let mut other = replay_ndjson(dir.path(), "sample", &[sample]);
    let lab = repo_file("tests/fixtures/flows-lab");
    let nd = dir.path().join("flows.ndjson");
    let mut c = sensor();
    c.current_dir(&lab)
        .args(["flows", "run", "-q", "--window", "50", "--db"])
        .arg(dir.path().join("flows.db"))
        .args([
            "--benign",
            "seed1/benign.csv.gz",
            "seed3/ddos.csv.gz",
            "seed3/portscan.csv.gz",
            "--ndjson",
        ])
        .arg(&nd);
    let o = run_with_deadline(c, Duration::from_secs(300));
    assert_success(&o, "flows run on the lab flows");
    let flows = json_lines(std::fs::read(&nd).unwrap());
    assert!(flows.len() > 50, "only {} flow alerts", flows.len());
    other.extend(flows);
    (caps, other)
}

#[test]
fn ndjson_of_every_shared_capture_validates_against_ecs_8_11_and_the_template_maps_it() {
    let f = ecs_fields();
    let (caps, sim) = all_records();
    let recs: Vec<Value> = caps.iter().chain(&sim).cloned().collect();
    let mut by_dataset: BTreeMap<String, usize> = BTreeMap::new();
    let mut bad: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for r in &recs {
        *by_dataset
            .entry(r["event"]["dataset"].as_str().unwrap_or("?").to_string())
            .or_default() += 1;
        for pr in problems(r, &f) {
            bad.entry(pr).or_insert((0, r.to_string())).0 += 1;
        }
    }
    for (d, min) in [
        ("sentineldns.lookup", 5000),
        ("sentineldns.window", 300),
        ("sentineldns.incident", 10),
    ] {
        assert!(
            by_dataset.get(d).copied().unwrap_or(0) >= min,
            "too few {d} records: {by_dataset:?}"
        );
    }
    assert!(
        bad.is_empty(),
        "{} kinds of ECS violation:\n{}",
        bad.len(),
        bad.iter()
            .map(|(p, (n, ex))| format!("  {p} ({n} records), e.g. {}", &ex[..ex.len().min(400)]))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // What ECS asks of DNS lookups is there, on real captures.
    let lookups: Vec<&Value> = caps
        .iter()
        .filter(|r| r["event"]["dataset"] == "sentineldns.lookup")
        .collect();
    let with = |pred: &dyn Fn(&Value) -> bool| lookups.iter().filter(|r| pred(r)).count();
    assert!(
        with(&|r| r["network"]["community_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("1:")))
            > lookups.len() / 2
    );
    assert!(
        with(&|r| r["source"]["port"].is_u64() && r["destination"]["port"].is_u64())
            > lookups.len() / 2
    );
    assert!(
        with(&|r| r["dns"]["id"].is_string() && r["dns"]["header_flags"].is_array())
            > lookups.len() / 2
    );
    assert!(with(&|r| r["dns"]["question"]["class"] == "IN") > lookups.len() / 2);
    // Every answer record, of every type, with its own name, type, class and TTL.
    let answer_types: BTreeSet<String> = lookups
        .iter()
        .flat_map(|r| r["dns"]["answers"].as_array().into_iter().flatten())
        .filter(|a| a["name"].is_string() && a["class"].is_string() && a["ttl"].is_u64())
        .filter_map(|a| a["type"].as_str().map(str::to_string))
        .collect();
    for t in ["A", "AAAA", "CNAME", "PTR", "TXT", "MX"] {
        assert!(
            answer_types.contains(t),
            "no {t} answer shown; types seen: {answer_types:?}"
        );
    }
    // More than four addresses are shown when the response had them.
    assert!(
        with(&|r| r["dns"]["resolved_ip"]
            .as_array()
            .is_some_and(|a| a.len() > 4))
            > 0
    );

    // The shipped index template maps every emitted field, ECS fields with
    // ECS's type.
    let tp = repo_file("packaging/elasticsearch/sentineldns-index-template.json");
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&tp).unwrap()).unwrap();
    assert_eq!(t["_meta"]["ecs_version"], ECS_VERSION);
    let mut mapped = BTreeMap::new();
    template_types(
        t["template"]["mappings"]["properties"]
            .as_object()
            .expect("template has mappings"),
        "",
        &mut mapped,
    );
    let mut unmapped = BTreeSet::new();
    let mut wrong = BTreeSet::new();
    for r in &recs {
        let mut ls = Vec::new();
        leaves("", r, &mut ls, false);
        for (path, v, _) in ls {
            match mapped.get(&path) {
                None => {
                    unmapped.insert(path);
                }
                Some(mt) => {
                    let ecs_t = f.get(&path).and_then(|d| d["type"].as_str());
                    if ecs_t.is_some_and(|e| e != mt) || !fits(mt, v) {
                        wrong.insert(format!("{path}: mapped {mt}, value {v}"));
                    }
                }
            }
        }
    }
    assert!(
        unmapped.is_empty() && wrong.is_empty(),
        "the index template does not map {unmapped:?} / maps wrongly {wrong:?}; regenerate it with scripts/es-template.py (see its header)"
    );
}

#[test]
fn the_validator_catches_what_ecs_forbids() {
    let f = ecs_fields();
    let good: Value = serde_json::json!({
        "@timestamp": "2024-03-04T08:00:00.000000Z",
        "ecs": {"version": ECS_VERSION},
        "event": {"kind": "alert", "category": ["intrusion_detection", "network"], "type": ["info"]},
        "observer": {"type": "sensor", "vendor": "v", "product": "p", "name": "n", "hostname": "h", "version": "1"},
        "related": {"ip": ["10.0.0.1"]},
        "source": {"ip": "10.0.0.1", "port": 53}
    });
    assert_eq!(problems(&good, &f), Vec::<String>::new());
    let mut bad = good.clone();
    bad["event"]["type"] = serde_json::json!(["indicator"]);
    bad["source"]["port"] = "53".into();
    bad["source"]["nonsense"] = 1.into();
    bad["ecs"]["version"] = "1.0".into();
    bad["related"]["hosts"] = "x".into();
    let p = problems(&bad, &f);
    for want in [
        "event.type indicator is not expected with event.category intrusion_detection",
        "source.port = \"53\" is not a long",
        "source.nonsense is not an ECS field",
        "ecs.version",
        "related.hosts must be an array",
    ] {
        assert!(p.iter().any(|x| x.contains(want)), "{want:?} not in {p:?}");
    }
}

/// The shipped Vector pipeline reads the file the packaged configuration
/// writes and sends it to indices the index template covers. (Vector itself
/// is not packaged for Debian, so this checks the file, not a run.)
#[test]
fn the_vector_pipeline_reads_the_packaged_ndjson_path_into_templated_indices() {
    let v: toml::Table = toml::from_str(
        &std::fs::read_to_string(repo_file("packaging/vector/sentineldns.toml")).unwrap(),
    )
    .expect("packaging/vector/sentineldns.toml is TOML");
    let cfg = std::fs::read_to_string(repo_file("packaging/sentineldns.toml")).unwrap();
    let path = v["sources"]["sentineldns"]["include"][0].as_str().unwrap();
    assert!(
        cfg.contains(&format!("path = \"{path}\"")),
        "{path} is not the packaged NDJSON path"
    );
    assert_eq!(v["transforms"]["parse"]["type"].as_str(), Some("remap"));
    assert_eq!(
        v["sinks"]["elasticsearch"]["inputs"][0].as_str(),
        Some("parse")
    );
    let index = v["sinks"]["elasticsearch"]["bulk"]["index"]
        .as_str()
        .unwrap();
    let t: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file(
            "packaging/elasticsearch/sentineldns-index-template.json",
        ))
        .unwrap(),
    )
    .unwrap();
    let covered = t["index_patterns"].as_array().unwrap().iter().any(|p| {
        let p = p.as_str().unwrap();
        index.starts_with(p.trim_end_matches('*'))
    });
    assert!(
        covered,
        "index {index} is not covered by the template's patterns"
    );
}
