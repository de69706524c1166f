//! API errors and JSON responses: every failure the API reports is a JSON
//! body `{"error": "...", "field": "..."}` with a 4xx status naming the
//! request field at fault (or a 503 when the store is unavailable), and
//! every JSON body is written HTML-safe (`<`, `>` and `&` as `\u003c`,
//! `\u003e`, `\u0026`), so attacker-controlled names such as a qname
//! carrying `<script>` can never be read as markup even by a careless client.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, for a person.
    pub error: String,
    /// The request field at fault: a query parameter, a path segment, a
    /// JSON path in the body (`lookups[3]`), `body`, `authorization` …;
    /// `null` when no one field is (the store is unavailable).
    pub field: Option<String>,
}

/// An error response.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The body.
    pub body: ErrorBody,
}

impl ApiError {
    /// `status` with a message about `field`.
    pub fn new(status: StatusCode, field: Option<&str>, error: impl Into<String>) -> Self {
        ApiError {
            status,
            body: ErrorBody {
                error: error.into(),
                field: field.map(str::to_string),
            },
        }
    }

    /// 400 about `field`.
    pub fn bad(field: &str, error: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(field), error)
    }

    /// 404 about `field`.
    pub fn not_found(field: &str, error: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Some(field), error)
    }

    /// 503: the store cannot be read.
    pub fn store(error: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            format!("store unavailable: {error}"),
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        json_response(self.status, &self.body)
    }
}

/// `value` as JSON with `status`, HTML-safe (see the module docs).
pub fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(text) => {
            let mut r = (status, html_safe(&text)).into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Err(e) => {
            let mut r = (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!(
                    "{{\"error\":\"cannot encode the response: {}\",\"field\":null}}",
                    html_safe(&e.to_string()).replace('"', "'")
                ),
            )
                .into_response();
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
    }
}

/// JSON text with `<`, `>` and `&` escaped as `\u003c`, `\u003e`, `\u0026`.
/// They can only occur inside JSON strings, where the escapes mean the same
/// characters, so the document is unchanged for a JSON parser.
pub fn html_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped_and_still_the_same_json() {
        let v = serde_json::json!({"name": "a<script>alert(1)</script>&b.example"});
        let text = html_safe(&serde_json::to_string(&v).unwrap());
        assert!(!text.contains('<') && !text.contains('>') && !text.contains('&'));
        let back: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, v);
    }
}
