//! Query parameters, checked by hand so every mistake names its parameter:
//! the query string is read as name/value pairs, an unknown or repeated
//! name is refused, and each value goes through a typed parser here
//! (integer in a range, RFC 3339 time, label, score, cursor). The
//! `*Params` structs only describe the parameters to the OpenAPI document.

use super::error::ApiError;
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

/// Parameters of a query string, by name.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// The pairs of a query string, refusing names not in `allowed` and
    /// names given twice.
    pub fn new(pairs: Vec<(String, String)>, allowed: &[&str]) -> Result<Self, ApiError> {
        let mut m = BTreeMap::new();
        for (k, v) in pairs {
            if !allowed.contains(&k.as_str()) {
                return Err(ApiError::bad(
                    &k,
                    format!(
                        "unknown parameter; this endpoint takes {}",
                        allowed.join(", ")
                    ),
                ));
            }
            if m.contains_key(&k) {
                return Err(ApiError::bad(&k, "given more than once"));
            }
            m.insert(k, v);
        }
        Ok(Params(m))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A string of 1 to `max` characters.
    pub fn text(&self, name: &str, max: usize) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some("") => Err(ApiError::bad(name, "must not be empty")),
            Some(v) if v.chars().count() > max => {
                Err(ApiError::bad(name, format!("longer than {max} characters")))
            }
            Some(v) => Ok(Some(v.to_string())),
        }
    }

    /// An integer in `min..=max`.
    pub fn int(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let n: i64 = v
            .parse()
            .map_err(|_| ApiError::bad(name, format!("{v:?} is not an integer")))?;
        if !(min..=max).contains(&n) {
            return Err(ApiError::bad(
                name,
                format!("{n} is outside {min} to {max}"),
            ));
        }
        Ok(Some(n))
    }

    /// `limit`: 1 to `max`, default `default`.
    pub fn limit(&self, default: u32, max: u32) -> Result<u32, ApiError> {
        Ok(self
            .int("limit", 1, i64::from(max))?
            .map_or(default.min(max), |n| n as u32))
    }

    /// An RFC 3339 time, as unix seconds (rounded down).
    pub fn time(&self, name: &str) -> Result<Option<i64>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        chrono::DateTime::parse_from_rfc3339(v)
            .map(|t| Some(t.timestamp()))
            .map_err(|e| {
                ApiError::bad(
                    name,
                    format!("{v:?} is not an RFC 3339 time such as 2024-03-04T08:00:00Z: {e}"),
                )
            })
    }

    /// A number in `0..=1`.
    pub fn score(&self, name: &str) -> Result<Option<f64>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v.parse::<f64>() {
            Ok(x) if (0.0..=1.0).contains(&x) => Ok(Some(x)),
            _ => Err(ApiError::bad(
                name,
                format!("{v:?} is not a number from 0 to 1"),
            )),
        }
    }

    /// A label rank: `normal` 0, `unusual` 1, `likely` 2.
    pub fn label(&self, name: &str) -> Result<Option<u8>, ApiError> {
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        match v {
            "normal" => Ok(Some(0)),
            "unusual" => Ok(Some(1)),
            "likely" => Ok(Some(2)),
            _ => Err(ApiError::bad(
                name,
                format!("{v:?} is not a label: normal, unusual or likely"),
            )),
        }
    }

    /// `asc` (default) or `desc`: whether newest comes first.
    pub fn desc(&self) -> Result<bool, ApiError> {
        match self.get("order") {
            None | Some("asc") => Ok(false),
            Some("desc") => Ok(true),
            Some(v) => Err(ApiError::bad("order", format!("{v:?} is not asc or desc"))),
        }
    }

    /// `open` or `closed`.
    pub fn state(&self) -> Result<Option<bool>, ApiError> {
        match self.get("state") {
            None => Ok(None),
            Some("open") => Ok(Some(true)),
            Some("closed") => Ok(Some(false)),
            Some(v) => Err(ApiError::bad(
                "state",
                format!("{v:?} is not open or closed"),
            )),
        }
    }

    /// A cursor `KEY_ID` from an earlier page's `next_cursor`.
    pub fn cursor(&self) -> Result<Option<(i64, i64)>, ApiError> {
        let Some(v) = self.get("cursor") else {
            return Ok(None);
        };
        let bad = || ApiError::bad("cursor", format!("{v:?} is not a cursor from next_cursor"));
        let (k, id) = v.split_once('_').ok_or_else(bad)?;
        Ok(Some((
            k.parse().map_err(|_| bad())?,
            id.parse().map_err(|_| bad())?,
        )))
    }
}

/// The cursor text of a `(key, id)` position.
pub fn cursor_text(key: i64, id: i64) -> String {
    format!("{key}_{id}")
}

/// Label filter values.
#[derive(Debug, Clone, Copy, serde::Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // describes the parameter to the OpenAPI document
pub enum MinLabel {
    /// Every scored window.
    Normal,
    /// Unusual or Likely Compromise.
    Unusual,
    /// Likely Compromise only.
    Likely,
}

/// Sort order.
#[derive(Debug, Clone, Copy, serde::Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // describes the parameter to the OpenAPI document
pub enum Order {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

/// Incident state.
#[derive(Debug, Clone, Copy, serde::Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // describes the parameter to the OpenAPI document
pub enum State {
    /// Still collecting windows.
    Open,
    /// Closed after the quiet period.
    Closed,
}

/// `GET /api/v1/windows` parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameters to the OpenAPI document
pub struct WindowsParams {
    /// Only this host (exact address as stored).
    #[param(required = false, min_length = 1, max_length = 64)]
    host: String,
    /// Windows starting at or after this time.
    #[param(required = false, format = DateTime)]
    since: String,
    /// Windows starting before this time.
    #[param(required = false, format = DateTime)]
    until: String,
    /// Only windows labelled at least this.
    #[param(required = false, inline)]
    min_label: MinLabel,
    /// Only windows scored at least this.
    #[param(required = false, minimum = 0.0, maximum = 1.0)]
    min_score: f64,
    /// Only windows of this run.
    #[param(required = false, minimum = 1, maximum = 1_000_000_000_000_i64)]
    run: i64,
    /// Only windows of this sensor (fleet database, `serve --postgres`, only).
    #[param(required = false, min_length = 1, max_length = 256)]
    sensor: String,
    /// Page size (default 100, at most `[serve] page_max`).
    #[param(required = false, minimum = 1, maximum = 1000)]
    limit: u32,
    /// `next_cursor` of the previous page.
    #[param(required = false, pattern = "^[0-9]{1,12}_[0-9]{1,15}$")]
    cursor: String,
    /// `asc` (oldest first, default) or `desc`.
    #[param(required = false, inline)]
    order: Order,
}

/// `GET /api/v1/incidents` parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameters to the OpenAPI document
pub struct IncidentsParams {
    /// Only this host.
    #[param(required = false, min_length = 1, max_length = 64)]
    host: String,
    /// `open` or `closed`.
    #[param(required = false, inline)]
    state: State,
    /// Incidents last seen at or after this time.
    #[param(required = false, format = DateTime)]
    since: String,
    /// Incidents that started before this time.
    #[param(required = false, format = DateTime)]
    until: String,
    /// Only incidents whose peak label is at least this.
    #[param(required = false, inline)]
    min_label: MinLabel,
    /// Only incidents of this sensor (fleet database, `serve --postgres`, only).
    #[param(required = false, min_length = 1, max_length = 256)]
    sensor: String,
    /// Page size (default 100, at most `[serve] page_max`).
    #[param(required = false, minimum = 1, maximum = 1000)]
    limit: u32,
    /// `next_cursor` of the previous page.
    #[param(required = false, pattern = "^[0-9]{1,12}_[0-9]{1,15}$")]
    cursor: String,
    /// `asc` (oldest first, default) or `desc`.
    #[param(required = false, inline)]
    order: Order,
}

/// `GET /api/v1/hosts` parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameters to the OpenAPI document
pub struct HostsParams {
    /// Only this host (exact address as stored).
    #[param(required = false, min_length = 1, max_length = 64)]
    host: String,
    /// Only hosts whose current worst label is at least this.
    #[param(required = false, inline)]
    min_label: MinLabel,
    /// Only hosts whose current highest score is at least this.
    #[param(required = false, minimum = 0.0, maximum = 1.0)]
    min_score: f64,
    /// Page size (default 100, at most `[serve] page_max`).
    #[param(required = false, minimum = 1, maximum = 1000)]
    limit: u32,
    /// Hosts to skip.
    #[param(required = false, minimum = 0, maximum = 1_000_000_000_i64)]
    offset: u64,
}

/// `GET /api/v1/hosts/{host}/timeline` query parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameters to the OpenAPI document
pub struct TimelineParams {
    /// Windows starting at or after this time.
    #[param(required = false, format = DateTime)]
    since: String,
    /// Windows starting before this time.
    #[param(required = false, format = DateTime)]
    until: String,
    /// Most windows returned (default and maximum `[serve] page_max`).
    #[param(required = false, minimum = 1, maximum = 1000)]
    limit: u32,
    /// `asc` (the oldest `limit` windows, oldest first; default) or `desc`
    /// (the newest `limit`, newest first).
    #[param(required = false, inline)]
    order: Order,
}

/// `GET /api/v1/hosts/{host}/profile` query parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameters to the OpenAPI document
pub struct ProfileParams {
    /// Windows starting at or after this time.
    #[param(required = false, format = DateTime)]
    since: String,
    /// Windows starting before this time.
    #[param(required = false, format = DateTime)]
    until: String,
    /// Most domains listed (default 20).
    #[param(required = false, minimum = 1, maximum = 100)]
    top: u32,
}

/// `GET /api/v1/verdicts` parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameters to the OpenAPI document
pub struct VerdictsParams {
    /// Only this host (exact address as stored).
    #[param(required = false, min_length = 1, max_length = 64)]
    host: String,
    /// Windows starting at or after this time.
    #[param(required = false, format = DateTime)]
    since: String,
    /// Windows starting before this time.
    #[param(required = false, format = DateTime)]
    until: String,
    /// Bucket width in seconds (60 to 31,622,400); at most 1000 buckets over
    /// the windows in range, else 400. Default: the narrowest round width
    /// that fits the range in 120 buckets.
    #[param(required = false, minimum = 60, maximum = 31_622_400)]
    bucket: i64,
}

/// `GET /api/v1/runs` parameters.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)] // describes the parameters to the OpenAPI document
pub struct RunsParams {
    /// Most runs returned, newest first (default 100).
    #[param(required = false, minimum = 1, maximum = 1000)]
    limit: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(q: &[(&str, &str)], allowed: &[&str]) -> Result<Params, ApiError> {
        Params::new(
            q.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            allowed,
        )
    }

    #[test]
    fn every_mistake_names_its_parameter() {
        let e = p(&[("colour", "red")], &["limit"]).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("colour"));
        let e = p(&[("limit", "1"), ("limit", "2")], &["limit"]).unwrap_err();
        assert_eq!(e.body.field.as_deref(), Some("limit"));
        let q = p(
            &[
                ("limit", "5000"),
                ("since", "yesterday"),
                ("min_label", "bad"),
                ("cursor", "x"),
            ],
            &["limit", "since", "min_label", "cursor"],
        )
        .unwrap();
        assert_eq!(
            q.limit(100, 1000).unwrap_err().body.field.as_deref(),
            Some("limit")
        );
        assert_eq!(
            q.time("since").unwrap_err().body.field.as_deref(),
            Some("since")
        );
        assert_eq!(
            q.label("min_label").unwrap_err().body.field.as_deref(),
            Some("min_label")
        );
        assert_eq!(
            q.cursor().unwrap_err().body.field.as_deref(),
            Some("cursor")
        );
    }

    #[test]
    fn good_values_parse() {
        let q = p(
            &[
                ("since", "2024-03-04T08:00:00+01:00"),
                ("min_score", "0.5"),
                ("cursor", "17_4"),
            ],
            &["since", "min_score", "cursor"],
        )
        .unwrap();
        assert_eq!(q.time("since").unwrap(), Some(1_709_535_600));
        assert_eq!(q.score("min_score").unwrap(), Some(0.5));
        assert_eq!(q.cursor().unwrap(), Some((17, 4)));
        assert_eq!(q.limit(100, 1000).unwrap(), 100);
    }
}
