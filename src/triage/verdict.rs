//! The verdict a model must return: its JSON Schema ([`schema`], sent to
//! each API) and the strict check of an answer against it ([`parse`]).
//! Anything off-schema is an [`TriageError::InvalidResponse`]: counted,
//! never stored as a verdict.
//!
//! `confidence` is one of `low`, `medium`, `high` (words, not a number:
//! small models calibrate words no worse than decimals, and the three values
//! are easy to filter on).

use super::TriageError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The categories a verdict may name.
pub const CATEGORIES: &[&str] = &[
    "exfiltration",
    "c2",
    "dga",
    "reconnaissance",
    "phishing",
    "misconfiguration",
    "false_positive",
];
/// The confidence words.
pub const CONFIDENCES: &[&str] = &["low", "medium", "high"];
/// Longest summary accepted, in characters.
pub const MAX_SUMMARY: usize = 2000;
/// Most recommended actions accepted.
pub const MAX_ACTIONS: usize = 10;
/// Longest recommended action accepted, in characters.
pub const MAX_ACTION: usize = 300;

/// A model's verdict on one incident, as checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageVerdict {
    /// One of [`CATEGORIES`].
    pub category: String,
    /// 0 to 100.
    pub threat_score: u8,
    /// One of [`CONFIDENCES`].
    pub confidence: String,
    /// Short text.
    pub summary: String,
    /// Short steps for an analyst.
    pub recommended_actions: Vec<String>,
}

/// The JSON Schema of a verdict (also valid for OpenAI's strict mode: every
/// property required, no additional properties).
pub fn schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "category": {"type": "string", "enum": CATEGORIES},
            "threat_score": {"type": "integer", "minimum": 0, "maximum": 100},
            "confidence": {"type": "string", "enum": CONFIDENCES},
            "summary": {"type": "string"},
            "recommended_actions": {"type": "array", "items": {"type": "string"}}
        },
        "required": ["category", "threat_score", "confidence", "summary", "recommended_actions"],
        "additionalProperties": false
    })
}

/// Check a model's JSON answer against [`schema`] (and the length caps).
pub fn check(v: &Value) -> Result<TriageVerdict, TriageError> {
    let bad = |m: String| Err(TriageError::InvalidResponse(m));
    let Some(o) = v.as_object() else {
        return bad("the verdict is not a JSON object".into());
    };
    for k in o.keys() {
        if !matches!(
            k.as_str(),
            "category" | "threat_score" | "confidence" | "summary" | "recommended_actions"
        ) {
            return bad(format!("unexpected field {:?}", super::evidence::clean(k)));
        }
    }
    let category = match o.get("category").and_then(Value::as_str) {
        Some(c) if CATEGORIES.contains(&c) => c.to_string(),
        _ => return bad("category missing or not one of the categories".into()),
    };
    let threat_score = match o.get("threat_score").and_then(Value::as_u64) {
        Some(s) if s <= 100 => s as u8,
        _ => return bad("threat_score missing or not an integer 0-100".into()),
    };
    let confidence = match o.get("confidence").and_then(Value::as_str) {
        Some(c) if CONFIDENCES.contains(&c) => c.to_string(),
        _ => return bad("confidence missing or not low, medium or high".into()),
    };
    let summary = match o.get("summary").and_then(Value::as_str) {
        Some(s) if s.chars().count() <= MAX_SUMMARY => s.to_string(),
        Some(_) => return bad(format!("summary longer than {MAX_SUMMARY} characters")),
        None => return bad("summary missing or not a string".into()),
    };
    let Some(actions) = o.get("recommended_actions").and_then(Value::as_array) else {
        return bad("recommended_actions missing or not an array".into());
    };
    if actions.len() > MAX_ACTIONS {
        return bad(format!("more than {MAX_ACTIONS} recommended_actions"));
    }
    let mut recommended_actions = Vec::with_capacity(actions.len());
    for a in actions {
        match a.as_str() {
            Some(s) if s.chars().count() <= MAX_ACTION => recommended_actions.push(s.to_string()),
            _ => return bad("a recommended action is not a short string".into()),
        }
    }
    Ok(TriageVerdict {
        category,
        threat_score,
        confidence,
        summary,
        recommended_actions,
    })
}

/// Parse a model's text answer (the JSON object, possibly inside a ```json
/// fence) and [`check`] it.
pub fn parse(text: &str) -> Result<TriageVerdict, TriageError> {
    let t = text.trim();
    let t = t
        .strip_prefix("```json")
        .or_else(|| t.strip_prefix("```"))
        .and_then(|s| s.strip_suffix("```"))
        .unwrap_or(t)
        .trim();
    let v: Value = serde_json::from_str(t)
        .map_err(|e| TriageError::InvalidResponse(format!("the answer is not JSON: {e}")))?;
    check(&v)
}
