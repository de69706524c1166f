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

/// The model input features ([`MODEL_FEATURES`]); all required.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the body to the OpenAPI document
pub struct ModelInput {
    log_queries_per_min: f64,
    nxdomain_name_rate_s: f64,
    servfail_rate_s: f64,
    high_risk_registrable_ratio_s: f64,
    log_unique_registrable: f64,
    log_max_subdomains: f64,
    mean_qname_len_s: f64,
    mean_label_entropy_s: f64,
    mean_risk_s: f64,
    log_high_risk_registrable: f64,
    txt_ratio_s: f64,
    null_ratio_s: f64,
    rare_qtype_ratio_s: f64,
    distinct_name_ratio_s: f64,
    log_risky_lure_names: f64,
}

/// One lookup, as a line of the JSONL input (see docs/api.md for every key).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // describes the body to the OpenAPI document
pub struct LookupIn {
    /// Time: epoch seconds.
    #[schema(minimum = 0.0, maximum = 4_000_000_000.0)]
    ts: f64,
    /// Client address.
    #[schema(format = "ipv4")]
    host: String,
    /// Queried name.
    #[schema(pattern = "^[a-z0-9]{1,20}(\\.[a-z0-9]{1,20}){1,3}$")]
    domain: String,
    /// Query type number (1 = A, 16 = TXT …) or name (`"A"`).
    #[schema(minimum = 1, maximum = 255)]
    qtype: u16,
    /// Response code number (0 = NOERROR, 3 = NXDOMAIN) or name.
    #[schema(minimum = 0, maximum = 5)]
    rcode: u16,
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
        score: v.score,
        label: v.label.as_str().to_string(),
        reasons: v
            .reasons
            .iter()
            .map(|r| ReasonRow {
                tag: r.tag.to_string(),
                feature: r.feature.to_string(),
                value: r.value,
                usual: r.usual,
                deviation: r.deviation,
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
            if !item.is_object() {
                return Err(ApiError::bad(&field, "must be a lookup object"));
            }
            let line = item.to_string();
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
            .filter(|f| f.is_finite())
            .ok_or_else(|| ApiError::bad(&field, "must be a finite number"))?;
    }
    Ok(x)
}
