//! `[serve]`: the HTTP API of `sentineldns serve` ([`crate::serve`]): where
//! it listens, the bearer token a non-loopback address requires, whether
//! `POST /api/v1/predict` is on, the request body and page size caps.

use super::super::values::size;
use super::super::KeyRange;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Default listen address: loopback only.
pub const DEFAULT_SERVE_LISTEN: &str = "127.0.0.1:8080";
/// Default request body cap (1 MiB).
pub const DEFAULT_MAX_BODY: u64 = 1 << 20;
/// Largest page a list endpoint returns (and the default `page_max`).
pub const MAX_PAGE: u32 = 1000;

/// `[serve]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address and port (default `127.0.0.1:8080`). Any address that is not
    /// loopback requires `token_file`.
    pub listen: SocketAddr,
    /// File holding the bearer token every `/api` request must present
    /// (`Authorization: Bearer TOKEN`); first line, 16 to 4096 characters.
    pub token_file: Option<PathBuf>,
    /// Serve `POST /api/v1/predict` (default false: read-only).
    pub predict: bool,
    /// UNSW-NB15 flow model (`flows train-classifier`) for
    /// `POST /api/v1/predict/flows`; needs `predict`.
    pub flow_model: Option<PathBuf>,
    /// Largest request body, bytes or "512K"/"1M" (default 1M; 1K to 64M).
    #[serde(deserialize_with = "size")]
    pub max_body: u64,
    /// Largest page a list endpoint returns (default 1000; 1 to 1000).
    pub page_max: u32,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            token_file: None,
            predict: false,
            flow_model: None,
            max_body: DEFAULT_MAX_BODY,
            page_max: MAX_PAGE,
        }
    }
}

impl ServeConfig {
    /// The allowed range of every numeric key.
    pub fn bounds(&self) -> Vec<KeyRange> {
        vec![
            KeyRange::new("serve.max_body", self.max_body, 1024, 64 << 20),
            KeyRange::new("serve.page_max", self.page_max, 1, u64::from(MAX_PAGE)),
        ]
    }

    /// Problems between values: a non-loopback `listen` without a token.
    pub fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if !self.listen.ip().is_loopback() && self.token_file.is_none() {
            out.push((
                "serve.listen",
                format!(
                    "{} is not a loopback address: set [serve] token_file (or --token-file) so every /api request must carry the token",
                    self.listen
                ),
            ));
        }
        if self.flow_model.is_some() && !self.predict {
            out.push((
                "serve.flow_model",
                "a flow model is only used by predict: set [serve] predict = true (or --predict)"
                    .to_string(),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_loopback_read_only_and_valid() {
        let d = ServeConfig::default();
        assert_eq!(d.listen.to_string(), DEFAULT_SERVE_LISTEN);
        assert!(!d.predict);
        assert!(d.bounds().iter().all(|b| b.ok()));
        assert!(d.problems().is_empty());
    }

    #[test]
    fn non_loopback_needs_a_token() {
        let mut c: ServeConfig =
            toml::from_str("listen = \"0.0.0.0:8080\"\nmax_body = \"2M\"\n").unwrap();
        assert_eq!(c.max_body, 2 << 20);
        assert_eq!(c.problems()[0].0, "serve.listen");
        c.token_file = Some("/t".into());
        assert!(c.problems().is_empty());
        let c: ServeConfig = toml::from_str("page_max = 5000\n").unwrap();
        assert!(c.bounds().iter().any(|b| !b.ok()));
    }
}
