//! Online scoring for `POST /api/v1/predict` and `POST /api/v1/predict/flows`,
//! through the same library code as `replay`:
//!
//! * `lookups` — each object is one line of the JSONL input format
//!   ([`crate::source::jsonl::parse_line`]); the batch runs through a fresh
//!   [`Pipeline`] (enricher with the configured allow-list and intel, first-seen
//!   state empty as on a new sensor) and every window it closes is judged by
//!   [`Detector::judge`] with the configured model;
//! * `features` — one model input vector ([`MODEL_FEATURES`] by name), judged
//!   by [`Detector::judge_features`];
//! * `flows` — UNSW-NB15 records scored by a [`FlowScorer`] the binary
//!   supplies (the library names no flow detector: the binary wraps the
//!   `sentineldns-flows` classifier of `flows train-classifier`).
//!
//! Parsing is strict and every error names the JSON path at fault.

use super::error::ApiError;
use crate::config::Settings;
use crate::detect::{Detector, Verdict, MODEL_FEATURES, N_MODEL_FEATURES};
use crate::event::MICROS;
use crate::pipeline::{Pipeline, PipelineConfig, VecSink};
use crate::source::jsonl::{parse_line, JsonEvent};
use crate::store::read::{rfc3339, ReasonRow};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// Most lookups one request may carry.
pub const MAX_LOOKUPS: usize = 100_000;
/// Most flow records one request may carry.
pub const MAX_FLOWS: usize = 10_000;

/// What the predict endpoints score with.
pub struct Predictor {
    /// The model, as loaded by `replay` from the same configuration.
    pub detector: Detector,
    /// Window, grace and limits of the configuration.
    pub pipeline: PipelineConfig,
    /// For the enricher (allow-list, intel).
    pub settings: Settings,
    /// The UNSW-NB15 flow scorer, when a flow model is configured.
    pub flows: Option<Box<dyn FlowScorer>>,
}

/// Scores one flow record given as a JSON object (`field` names it in errors).
pub trait FlowScorer: Send + Sync {
    /// Score and label of the record.
    fn score(
        &self,
        field: &str,
        record: &serde_json::Map<String, Value>,
    ) -> Result<FlowVerdict, ApiError>;
}

impl std::fmt::Debug for Predictor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Predictor")
            .field("model", self.detector.id())
            .field("flows", &self.flows.is_some())
            .finish()
    }
}

/// `POST /api/v1/predict` body: exactly one of `features` or `lookups`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // describes the body to the OpenAPI document
pub enum PredictRequest {
    /// One window's model input.
    Features(FeaturesRequest),
    /// A batch of lookups.
    Lookups(LookupsRequest),
}

/// One window's model input.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the body to the OpenAPI document
pub struct FeaturesRequest {
    /// Every model input feature by name.
    features: ModelInput,
}

/// A batch of lookups (objects of the JSONL input format).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the body to the OpenAPI document
pub struct LookupsRequest {
    /// The lookups, any order.
    #[schema(min_items = 1, max_items = 10000)]
    lookups: Vec<LookupIn>,
}

/// The model input features ([`MODEL_FEATURES`]); all required, each a
/// number of at least 0 (rates are 0 to 1, logs and name lengths small).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the body to the OpenAPI document
pub struct ModelInput {
    #[schema(minimum = 0.0)]
    log_queries_per_min: f64,
    #[schema(minimum = 0.0)]
    nxdomain_name_rate_s: f64,
    #[schema(minimum = 0.0)]
    servfail_rate_s: f64,
    #[schema(minimum = 0.0)]
    high_risk_registrable_ratio_s: f64,
    #[schema(minimum = 0.0)]
    log_unique_registrable: f64,
    #[schema(minimum = 0.0)]
    log_max_subdomains: f64,
    #[schema(minimum = 0.0)]
    mean_qname_len_s: f64,
    #[schema(minimum = 0.0)]
    mean_label_entropy_s: f64,
    #[schema(minimum = 0.0)]
    mean_risk_s: f64,
    #[schema(minimum = 0.0)]
    log_high_risk_registrable: f64,
    #[schema(minimum = 0.0)]
    txt_ratio_s: f64,
    #[schema(minimum = 0.0)]
    null_ratio_s: f64,
    #[schema(minimum = 0.0)]
    rare_qtype_ratio_s: f64,
    #[schema(minimum = 0.0)]
    distinct_name_ratio_s: f64,
    #[schema(minimum = 0.0)]
    log_risky_lure_names: f64,
}

/// One lookup: the keys of the JSONL input format (README, *JSONL events*)
/// with numbers for `ts` (epoch seconds), `qtype` and `rcode`. Checked
/// exactly as documented here before it enters the same
/// reader as `replay`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the body to the OpenAPI document
pub struct LookupIn {
    /// Time: epoch seconds (at most 2^32).
    #[schema(minimum = 0.0, maximum = 4_294_967_296.0)]
    ts: f64,
    /// Client address (IPv6 is accepted too).
    #[schema(format = "ipv4")]
    host: String,
    /// Queried name: printable ASCII labels of 1 to 63 characters.
    #[schema(
        max_length = 253,
        pattern = "^[!-\\-/-~]{1,63}(\\.[!-\\-/-~]{1,63})*\\.?$"
    )]
    domain: String,
    /// Query type number (1 = A, 16 = TXT, 28 = AAAA …).
    #[schema(minimum = 0, maximum = 65535)]
    qtype: u32,
    /// Response code number (0 = NOERROR, 2 = SERVFAIL, 3 = NXDOMAIN);
    /// `null` or absent: no response.
    #[schema(minimum = 0, maximum = 4095)]
    rcode: Option<u32>,
    /// Answer addresses.
    #[schema(inline, max_items = 16)]
    answers: Option<Vec<Ipv4Text>>,
    /// Answer TTL, seconds.
    #[schema(minimum = 0, maximum = 2147483647)]
    ttl: Option<u32>,
    /// Resolver address.
    #[schema(format = "ipv4")]
    server: Option<String>,
    /// Response size, bytes.
    #[schema(minimum = 0, maximum = 2147483647)]
    response_bytes: Option<u32>,
    /// Query → response latency, milliseconds.
    #[schema(minimum = 0.0)]
    latency_ms: Option<f64>,
    /// Ground-truth label (evaluation input; ignored by scoring).
    #[schema(max_length = 64)]
    label: Option<String>,
    /// Ground-truth scenario (ignored by scoring).
    #[schema(max_length = 64)]
    scenario: Option<String>,
}

/// An IPv4 address as text.
#[derive(Debug, Serialize, ToSchema)]
#[schema(format = "ipv4")]
#[allow(dead_code)] // describes the body to the OpenAPI document
pub struct Ipv4Text(String);

/// Latest accepted `ts` (2^32 epoch seconds, year 2106). A power of two, so
/// the smallest number above it prints with few enough digits that it never
/// parses back onto the bound.
const MAX_TS: f64 = 4_294_967_296.0;

/// Keys a lookup object may have.
const LOOKUP_KEYS: [&str; 12] = [
    "ts",
    "host",
    "domain",
    "qtype",
    "rcode",
    "answers",
    "ttl",
    "server",
    "label",
    "scenario",
    "response_bytes",
    "latency_ms",
];

/// A whole number in `0..=max` (JSON Schema also counts `4.0` as one).
fn whole(v: &Value, max: u64) -> Option<u64> {
    match v.as_u64() {
        Some(n) => (n <= max).then_some(n),
        None => v
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= max as f64)
            .map(|f| f as u64),
    }
}

/// `domain` as the document describes it: printable ASCII without spaces,
/// labels of 1 to 63 characters, an optional final dot, at most 253 characters.
fn domain_ok(d: &str) -> bool {
    let name = d.strip_suffix('.').unwrap_or(d);
    d.len() <= 253
        && !name.is_empty()
        && name
            .split('.')
            .all(|l| (1..=63).contains(&l.len()) && l.bytes().all(|b| (b'!'..=b'~').contains(&b)))
}

/// The JSONL line of one lookup object, every key checked against
/// [`LookupIn`] (errors name `FIELD.key`).
fn lookup_line(field: &str, obj: &serde_json::Map<String, Value>) -> Result<String, ApiError> {
    let bad = |k: &str, msg: &str| ApiError::bad(&format!("{field}.{k}"), msg);
    if let Some(k) = obj.keys().find(|k| !LOOKUP_KEYS.contains(&k.as_str())) {
        return Err(bad(
            k,
            &format!("unknown key; a lookup has {}", LOOKUP_KEYS.join(", ")),
        ));
    }
    let present = |k: &str| obj.get(k).filter(|v| !v.is_null());
    let mut out = serde_json::Map::new();
    let ts = obj
        .get("ts")
        .ok_or_else(|| bad("ts", "missing"))?
        .as_f64()
        .filter(|t| (0.0..=MAX_TS).contains(t))
        .ok_or_else(|| bad("ts", "must be epoch seconds from 0 to 4294967296"))?;
    out.insert("ts".into(), Value::from(ts));
    for k in ["host", "server"] {
        match obj.get(k) {
            None if k == "host" => return Err(bad(k, "missing")),
            None | Some(Value::Null) if k == "server" => {}
            Some(Value::String(a)) if a.parse::<std::net::IpAddr>().is_ok() => {
                out.insert(k.into(), Value::from(a.as_str()));
            }
            _ => return Err(bad(k, "must be an IP address")),
        }
    }
    match obj.get("domain") {
        Some(Value::String(d)) if domain_ok(d) => {
            out.insert("domain".into(), Value::from(d.as_str()));
        }
        None => return Err(bad("domain", "missing")),
        _ => {
            return Err(bad(
                "domain",
                "must be printable ASCII labels of 1 to 63 characters, at most 253 in all",
            ))
        }
    }
    let qtype = obj
        .get("qtype")
        .ok_or_else(|| bad("qtype", "missing"))
        .and_then(|v| {
            whole(v, 65535).ok_or_else(|| bad("qtype", "must be a number from 0 to 65535"))
        })?;
    out.insert("qtype".into(), Value::from(qtype));
    match obj.get("rcode") {
        None | Some(Value::Null) => {
            out.insert("rcode".into(), Value::Null);
        }
        Some(v) => {
            let r = whole(v, 4095)
                .ok_or_else(|| bad("rcode", "must be a number from 0 to 4095 or null"))?;
            out.insert("rcode".into(), Value::from(r));
        }
    }
    if let Some(a) = present("answers") {
        let list = a
            .as_array()
            .filter(|l| l.len() <= 16)
            .ok_or_else(|| bad("answers", "must be at most 16 IP addresses"))?;
        if list.iter().any(|x| {
            x.as_str()
                .and_then(|s| s.parse::<std::net::IpAddr>().ok())
                .is_none()
        }) {
            return Err(bad("answers", "must be IP addresses"));
        }
        out.insert("answers".into(), a.clone());
    }
    for k in ["ttl", "response_bytes"] {
        if let Some(v) = present(k) {
            let n = whole(v, i32::MAX as u64)
                .ok_or_else(|| bad(k, "must be a number from 0 to 2147483647"))?;
            out.insert(k.into(), Value::from(n));
        }
    }
    if let Some(v) = present("latency_ms") {
        let l = v
            .as_f64()
            .filter(|l| l.is_finite() && *l >= 0.0)
            .ok_or_else(|| bad("latency_ms", "must be a number of at least 0"))?;
        out.insert("latency_ms".into(), Value::from(l));
    }
    for k in ["label", "scenario"] {
        match present(k) {
            None => {}
            Some(Value::String(t)) if t.chars().count() <= 64 => {
                out.insert(k.into(), Value::from(t.as_str()));
            }
            Some(_) => return Err(bad(k, "must be a string of at most 64 characters")),
        }
    }
    Ok(Value::Object(out).to_string())
}

/// `POST /api/v1/predict/flows` body.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the body to the OpenAPI document
pub struct FlowsRequest {
    /// UNSW-NB15 records: the 36 numeric columns and `proto`, `service`,
    /// `state` by name (the CSV header names).
    #[schema(min_items = 1, max_items = 10000)]
    flows: Vec<BTreeMap<String, Value>>,
}

/// The verdict on one window.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PredictedWindow {
    /// Client address (`null` for a bare feature vector).
    pub host: Option<String>,
    /// Window start (RFC 3339).
    pub window_start: Option<String>,
    /// Window end (RFC 3339).
    pub window_end: Option<String>,
    /// Lookups in the window.
    pub lookups: Option<u32>,
    /// Calibrated anomaly score in [0, 1].
    pub score: f64,
    /// `Normal`, `Unusual` or `Likely Compromise`.
    pub label: String,
    /// Reasons, strongest first.
    pub reasons: Vec<ReasonRow>,
    /// One paragraph for an analyst.
    pub explanation: String,
}

/// `POST /api/v1/predict` response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct PredictResponse {
    /// Model that scored.
    pub model_id: String,
    /// One verdict per window (per host and window of the lookups), in
    /// window order.
    pub windows: Vec<PredictedWindow>,
    /// Lookups of the batch.
    pub lookups: u64,
}

/// The score of one flow record.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FlowVerdict {
    /// Attack score in [0, 1] (fraction of trees voting attack).
    pub score: f64,
    /// 1: attack (score at or above the model's threshold), 0: normal.
    pub label: u8,
}

/// `POST /api/v1/predict/flows` response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct FlowsResponse {
    /// One verdict per record, in order.
    pub flows: Vec<FlowVerdict>,
}

/// `x` with infinities clamped to the largest finite values and NaN as 0
/// (JSON has no such numbers; the document promises numbers).
fn finite(x: f64) -> f64 {
    if x.is_nan() {
        0.0
    } else {
        x.clamp(f64::MIN, f64::MAX)
    }
}

fn verdict_row(
    v: &Verdict,
    host: Option<String>,
    span: Option<(i64, i64)>,
    lookups: Option<u32>,
) -> PredictedWindow {
    PredictedWindow {
        host,
        window_start: span.map(|s| rfc3339(s.0)),
        window_end: span.map(|s| rfc3339(s.1)),
        lookups,
        score: finite(v.score),
        label: v.label.as_str().to_string(),
        reasons: v
            .reasons
            .iter()
            .map(|r| ReasonRow {
                tag: r.tag.to_string(),
                feature: r.feature.to_string(),
                value: finite(r.value),
                usual: finite(r.usual),
                deviation: finite(r.deviation),
            })
            .collect(),
        explanation: v.explanation.clone(),
    }
}

/// The body as a JSON object with exactly one of `keys`: that key and its value.
pub fn one_key(body: &[u8], keys: &[&str]) -> Result<(String, Value), ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad("body", format!("not JSON: {e}")))?;
    let Value::Object(m) = v else {
        return Err(ApiError::bad("body", "must be a JSON object"));
    };
    if let Some(k) = m.keys().find(|k| !keys.contains(&k.as_str())) {
        return Err(ApiError::bad(
            k,
            format!("unknown key; the body takes one of {}", keys.join(", ")),
        ));
    }
    if m.len() != 1 {
        return Err(ApiError::bad(
            "body",
            format!("must have exactly one of {}", keys.join(", ")),
        ));
    }
    let (k, v) = m
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::bad("body", "empty"))?;
    Ok((k, v))
}

impl Predictor {
    /// Score a `POST /api/v1/predict` body.
    pub fn predict(&self, body: &[u8]) -> Result<PredictResponse, ApiError> {
        let (key, v) = one_key(body, &["features", "lookups"])?;
        if key == "features" {
            let x = features(&v)?;
            let verdict = self.detector.judge_features(&x);
            return Ok(PredictResponse {
                model_id: self.detector.id().to_string(),
                windows: vec![verdict_row(&verdict, None, None, None)],
                lookups: 0,
            });
        }
        let Value::Array(items) = v else {
            return Err(ApiError::bad("lookups", "must be an array of lookups"));
        };
        if items.is_empty() {
            return Err(ApiError::bad("lookups", "must not be empty"));
        }
        if items.len() > MAX_LOOKUPS {
            return Err(ApiError::bad(
                "lookups",
                format!("{} lookups; at most {MAX_LOOKUPS} per request", items.len()),
            ));
        }
        let mut events = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("lookups[{i}]");
            let Value::Object(obj) = item else {
                return Err(ApiError::bad(&field, "must be a lookup object"));
            };
            let line = lookup_line(&field, obj)?;
            let mut ev = JsonEvent::default();
            parse_line(&line, &mut ev).map_err(|e| ApiError::bad(&field, e))?;
            events.push(ev);
        }
        events.sort_by_key(|e| e.ts);
        let mut cfg = self.pipeline.clone();
        let enricher = crate::sensor::build_enricher(&self.settings, &mut cfg).map_err(|e| {
            ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                None,
                e.to_string(),
            )
        })?;
        let mut p = Pipeline::new(&cfg, enricher, VecSink::default());
        for (i, ev) in events.iter().enumerate() {
            match p.event(ev, "predict", i as u64 + 1) {
                Ok(()) => {}
                Err(never) => match never {},
            }
        }
        match p.finish() {
            Ok(()) => {}
            Err(never) => match never {},
        }
        let mut windows = p.into_sink().windows;
        windows.sort_by(|a, b| a.start.cmp(&b.start).then(a.host.cmp(&b.host)));
        let out = windows
            .iter()
            .map(|w| {
                let v = self.detector.judge(w);
                verdict_row(
                    &v,
                    Some(w.host.to_string()),
                    Some((w.start.div_euclid(MICROS), w.end.div_euclid(MICROS))),
                    Some(w.lookups),
                )
            })
            .collect();
        Ok(PredictResponse {
            model_id: self.detector.id().to_string(),
            windows: out,
            lookups: events.len() as u64,
        })
    }

    /// Score a `POST /api/v1/predict/flows` body.
    pub fn predict_flows(&self, body: &[u8]) -> Result<FlowsResponse, ApiError> {
        let Some(model) = &self.flows else {
            return Err(ApiError::not_found("path", "no flow model is configured"));
        };
        let (_, v) = one_key(body, &["flows"])?;
        let Value::Array(items) = v else {
            return Err(ApiError::bad("flows", "must be an array of flow records"));
        };
        if items.is_empty() {
            return Err(ApiError::bad("flows", "must not be empty"));
        }
        if items.len() > MAX_FLOWS {
            return Err(ApiError::bad(
                "flows",
                format!("{} records; at most {MAX_FLOWS} per request", items.len()),
            ));
        }
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("flows[{i}]");
            let Value::Object(m) = item else {
                return Err(ApiError::bad(&field, "must be an object"));
            };
            out.push(model.score(&field, m)?);
        }
        Ok(FlowsResponse { flows: out })
    }
}

/// The model input vector of a `features` object.
fn features(v: &Value) -> Result<[f64; N_MODEL_FEATURES], ApiError> {
    let Value::Object(m) = v else {
        return Err(ApiError::bad(
            "features",
            "must be an object of feature values",
        ));
    };
    if let Some(k) = m.keys().find(|k| !MODEL_FEATURES.contains(&k.as_str())) {
        return Err(ApiError::bad(
            &format!("features.{k}"),
            format!(
                "not a model feature; they are {}",
                MODEL_FEATURES.join(", ")
            ),
        ));
    }
    let mut x = [0.0; N_MODEL_FEATURES];
    for (i, name) in MODEL_FEATURES.iter().enumerate() {
        let field = format!("features.{name}");
        x[i] = m
            .get(*name)
            .ok_or_else(|| ApiError::bad(&field, "missing"))?
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0)
            .ok_or_else(|| ApiError::bad(&field, "must be a number of at least 0"))?;
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(v: Value) -> Result<String, ApiError> {
        let Value::Object(m) = v else { panic!() };
        lookup_line("lookups[0]", &m)
    }

    #[test]
    fn a_lookup_is_held_to_its_documented_schema() {
        let ok = serde_json::json!({"ts": 1700000000, "host": "10.0.0.1", "domain": "a.example.com",
            "qtype": 1.0, "rcode": 3, "ttl": 300.0, "answers": ["192.0.2.1"], "label": "benign"});
        let l: Value = serde_json::from_str(&line(ok).unwrap()).unwrap();
        assert_eq!(
            (l["qtype"].as_u64(), l["ttl"].as_u64()),
            (Some(1), Some(300))
        );
        let mut ev = JsonEvent::default();
        parse_line(&l.to_string(), &mut ev).unwrap();
        assert_eq!(ev.rcode, Some(3));
        // rcode absent: no response.
        let l =
            line(serde_json::json!({"ts": 0, "host": "::1", "domain": "x.", "qtype": 28})).unwrap();
        assert!(l.contains("\"rcode\":null"), "{l}");
        for (bad, field) in [
            (
                serde_json::json!({"ts": -1, "host": "10.0.0.1", "domain": "a.b", "qtype": 1}),
                "ts",
            ),
            (
                serde_json::json!({"ts": 0, "host": "x", "domain": "a.b", "qtype": 1}),
                "host",
            ),
            (
                serde_json::json!({"ts": 0, "host": "10.0.0.1", "domain": "a..b", "qtype": 1}),
                "domain",
            ),
            (
                serde_json::json!({"ts": 0, "host": "10.0.0.1", "domain": "a b", "qtype": 1}),
                "domain",
            ),
            (
                serde_json::json!({"ts": 0, "host": "10.0.0.1", "domain": "a.b", "qtype": "A"}),
                "qtype",
            ),
            (
                serde_json::json!({"ts": 0, "host": "10.0.0.1", "domain": "a.b", "qtype": 1, "rcode": 1.5}),
                "rcode",
            ),
            (
                serde_json::json!({"ts": 0, "host": "10.0.0.1", "domain": "a.b", "qtype": 1, "qname": "a.b"}),
                "qname",
            ),
            (
                serde_json::json!({"ts": 0, "host": "10.0.0.1", "domain": "a.b", "qtype": 1, "latency_ms": -1}),
                "latency_ms",
            ),
        ] {
            let e = line(bad).unwrap_err();
            assert_eq!(
                e.body.field.as_deref(),
                Some(&*format!("lookups[0].{field}"))
            );
        }
        assert!(domain_ok(&"a".repeat(63)) && !domain_ok(&"a".repeat(64)));
        assert!(!domain_ok(&format!("{}.", ["abc"; 64].join("."))));
    }
}
