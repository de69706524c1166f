//! The three APIs, written from their references: the request each sends
//! (path, headers, body) and how its answer becomes a [`TriageVerdict`].
//!
//! * **Ollama** `POST /api/chat`: `{model, messages, stream: false, format:
//!   <schema>, options: {temperature: 0, num_predict}}`; the answer is
//!   `message.content`, a JSON string shaped by `format`.
//! * **OpenAI-compatible** `POST /v1/chat/completions`: `{model, messages,
//!   temperature: 0, max_tokens, response_format: {type: "json_schema",
//!   json_schema: {name, schema, strict: true}}}`, `Authorization: Bearer`
//!   when a key is set; the answer is `choices[0].message.content` (a
//!   `refusal` or `finish_reason: "length"` is a failure).
//! * **Anthropic** `POST /v1/messages` with `x-api-key` and
//!   `anthropic-version: 2023-06-01`: `{model, max_tokens, system, messages,
//!   tools: [{name: "record_verdict", input_schema: <schema>}], tool_choice:
//!   {type: "tool", name: "record_verdict"}}`. The verdict is the `input` of
//!   the `tool_use` block: a forced tool call is how the Messages API returns
//!   JSON shaped by a schema, so no text has to be parsed.

use super::config::{ApiKey, Provider, TriageConfig};
use super::evidence::{user_prompt, Evidence, SYSTEM_PROMPT};
use super::verdict::{check, parse, schema, TriageVerdict};
use super::TriageError;
use serde_json::{json, Value};

/// The `anthropic-version` header sent.
pub const ANTHROPIC_VERSION: &str = "2023-06-01";
/// The tool an Anthropic model is made to call.
pub const TOOL_NAME: &str = "record_verdict";

/// One HTTP request to make.
#[derive(Debug)]
pub struct Request {
    /// Full URL.
    pub url: String,
    /// Headers besides `Content-Type: application/json` (values may hold the
    /// key: never log them).
    pub headers: Vec<(&'static str, String)>,
    /// JSON body.
    pub body: Value,
}

/// The request asking for a verdict on `e`.
pub fn request(cfg: &TriageConfig, key: Option<&ApiKey>, e: &Evidence) -> Request {
    let base = cfg.base_url();
    let model = cfg.model_name();
    let user = user_prompt(e);
    let mut headers = Vec::new();
    let (path, body) = match cfg.provider {
        Provider::Off | Provider::Ollama => (
            "/api/chat",
            json!({
                "model": model,
                "messages": [
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": user}
                ],
                "stream": false,
                "format": schema(),
                "options": {"temperature": 0, "num_predict": cfg.max_tokens}
            }),
        ),
        Provider::Openai => {
            if let Some(k) = key {
                headers.push(("Authorization", format!("Bearer {}", k.expose())));
            }
            (
                "/v1/chat/completions",
                json!({
                    "model": model,
                    "messages": [
                        {"role": "system", "content": SYSTEM_PROMPT},
                        {"role": "user", "content": user}
                    ],
                    "temperature": 0,
                    "max_tokens": cfg.max_tokens,
                    "response_format": {
                        "type": "json_schema",
                        "json_schema": {"name": "triage_verdict", "schema": schema(), "strict": true}
                    }
                }),
            )
        }
        Provider::Anthropic => {
            if let Some(k) = key {
                headers.push(("x-api-key", k.expose().to_string()));
            }
            headers.push(("anthropic-version", ANTHROPIC_VERSION.to_string()));
            (
                "/v1/messages",
                json!({
                    "model": model,
                    "max_tokens": cfg.max_tokens,
                    "system": SYSTEM_PROMPT,
                    "messages": [{"role": "user", "content": user}],
                    "tools": [{
                        "name": TOOL_NAME,
                        "description": "Record the triage verdict for the incident.",
                        "input_schema": schema()
                    }],
                    "tool_choice": {"type": "tool", "name": TOOL_NAME}
                }),
            )
        }
    };
    Request {
        url: format!("{base}{path}"),
        headers,
        body,
    }
}

/// The verdict in a 2xx answer of `provider`.
pub fn verdict(provider: Provider, body: &[u8]) -> Result<TriageVerdict, TriageError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| TriageError::InvalidResponse(format!("the response is not JSON: {e}")))?;
    let missing = |what: &str| TriageError::InvalidResponse(format!("the response has no {what}"));
    match provider {
        Provider::Off | Provider::Ollama => {
            let c = v
                .pointer("/message/content")
                .and_then(Value::as_str)
                .ok_or_else(|| missing("message.content"))?;
            parse(c)
        }
        Provider::Openai => {
            let m = v
                .pointer("/choices/0/message")
                .ok_or_else(|| missing("choices[0].message"))?;
            if let Some(r) = m.get("refusal").and_then(Value::as_str) {
                return Err(TriageError::InvalidResponse(format!(
                    "the model refused: {}",
                    super::evidence::clean(r)
                )));
            }
            if v.pointer("/choices/0/finish_reason")
                .and_then(Value::as_str)
                == Some("length")
            {
                return Err(TriageError::InvalidResponse(
                    "the answer was cut at max_tokens".into(),
                ));
            }
            let c = m
                .get("content")
                .and_then(Value::as_str)
                .ok_or_else(|| missing("choices[0].message.content"))?;
            parse(c)
        }
        Provider::Anthropic => {
            let blocks = v
                .get("content")
                .and_then(Value::as_array)
                .ok_or_else(|| missing("content"))?;
            let tool = blocks.iter().find(|b| {
                b.get("type").and_then(Value::as_str) == Some("tool_use")
                    && b.get("name").and_then(Value::as_str) == Some(TOOL_NAME)
            });
            match tool.and_then(|b| b.get("input")) {
                Some(input) => check(input),
                None => Err(missing("record_verdict tool_use block")),
            }
        }
    }
}

/// A short description of an error answer: the HTTP status and, when the
/// body has the provider's error shape (`{"error": {"type", "message"}}` or
/// `{"error": "text"}`), its type and message, cleaned and cut.
pub fn error_text(status: u16, body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let e = v.get("error");
    let detail = match e {
        Some(Value::String(s)) => super::evidence::clean(s),
        Some(o) => {
            let t = o.get("type").and_then(Value::as_str).unwrap_or("");
            let m = o.get("message").and_then(Value::as_str).unwrap_or("");
            super::evidence::clean(&format!("{t}: {m}"))
        }
        None => String::new(),
    };
    if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status} ({detail})")
    }
}
