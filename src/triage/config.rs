//! `[triage]`: which language-model API triages incidents (`provider`,
//! `url`, `model`, where the API key comes from), and the queue, batching,
//! timeout, retry, breaker and shutdown numbers, each held to its range.
//! The key itself is read by [`TriageConfig::api_key`] into an [`ApiKey`],
//! whose `Debug` never shows it.

use super::TriageError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which API answers triage requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// No triage (default): incidents carry `triage_status = off`.
    #[default]
    Off,
    /// Ollama's `POST /api/chat` with `format` = the verdict schema.
    Ollama,
    /// An OpenAI-compatible `POST /v1/chat/completions` with
    /// `response_format` = `json_schema` (OpenAI, llama.cpp's server, vLLM,
    /// LM Studio).
    Openai,
    /// Anthropic's Messages API, `POST /v1/messages`, answering through a
    /// forced tool call whose input schema is the verdict schema.
    Anthropic,
}

impl Provider {
    /// Stable name (`off`, `ollama`, `openai`, `anthropic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Off => "off",
            Provider::Ollama => "ollama",
            Provider::Openai => "openai",
            Provider::Anthropic => "anthropic",
        }
    }

    /// The provider's usual address.
    pub fn default_url(self) -> &'static str {
        match self {
            Provider::Off => "",
            Provider::Ollama => "http://127.0.0.1:11434",
            Provider::Openai => "https://api.openai.com",
            Provider::Anthropic => "https://api.anthropic.com",
        }
    }

    /// The model asked when `model` is empty.
    pub fn default_model(self) -> &'static str {
        match self {
            Provider::Off => "",
            Provider::Ollama => "llama3.2",
            Provider::Openai => "gpt-4o-mini",
            Provider::Anthropic => "claude-3-5-haiku-latest",
        }
    }

    /// The environment variable read for the key when `api_key_env` is empty.
    pub fn default_key_env(self) -> &'static str {
        match self {
            Provider::Off | Provider::Ollama => "",
            Provider::Openai => "OPENAI_API_KEY",
            Provider::Anthropic => "ANTHROPIC_API_KEY",
        }
    }
}

/// An API key. Its `Debug` and `Display` print `***`; only the worker reads
/// it, to set a request header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wrap a key (surrounding whitespace removed).
    pub fn new(k: &str) -> Self {
        ApiKey(k.trim().to_string())
    }

    /// The key, for a request header.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

/// `[triage]` settings. Durations are held in milliseconds and written in
/// the file as duration strings (`timeout = "1m"`); the old `*_ms` integer
/// keys are still read ([`crate::config::DEPRECATED_MS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriageConfig {
    /// `off` (default), `ollama`, `openai` or `anthropic`.
    pub provider: Provider,
    /// Base URL; empty = the provider's usual address
    /// ([`Provider::default_url`]). The API path is appended.
    pub url: String,
    /// Model name; empty = [`Provider::default_model`].
    pub model: String,
    /// Environment variable holding the API key; empty = `OPENAI_API_KEY` or
    /// `ANTHROPIC_API_KEY` (none for Ollama).
    pub api_key_env: String,
    /// File holding the API key (read at start; wins over `api_key_env`).
    pub api_key_file: Option<PathBuf>,
    /// Incidents that may wait for triage; more are dropped and counted
    /// (default 64).
    pub queue: usize,
    /// Most incidents collected into one batch (default 8).
    pub batch_max: usize,
    /// How long the worker waits for more incidents after the first of a
    /// batch, key `batch_wait` (default `"2s"`).
    #[serde(rename = "batch_wait", with = "crate::config::millis")]
    pub batch_wait_ms: u64,
    /// Whole-request timeout, key `timeout` (default `"1m"`: models are slow).
    #[serde(rename = "timeout", with = "crate::config::millis")]
    pub timeout_ms: u64,
    /// Attempts per request, the first included (default 3).
    pub max_attempts: u32,
    /// Backoff before the first retry, key `backoff_initial` (default `"1s"`).
    #[serde(rename = "backoff_initial", with = "crate::config::millis")]
    pub backoff_initial_ms: u64,
    /// Backoff cap, also the cap on a server's `retry-after`, key
    /// `backoff_max` (default `"30s"`).
    #[serde(rename = "backoff_max", with = "crate::config::millis")]
    pub backoff_max_ms: u64,
    /// Consecutive failed attempts that open the breaker (default 5).
    pub breaker_failures: u32,
    /// How long the breaker stays open before a half-open probe, key
    /// `breaker_cooldown` (default `"1m"`).
    #[serde(rename = "breaker_cooldown", with = "crate::config::millis")]
    pub breaker_cooldown_ms: u64,
    /// How long queued incidents may still be triaged at shutdown, key
    /// `shutdown_grace` (default `"5s"`).
    #[serde(rename = "shutdown_grace", with = "crate::config::millis")]
    pub shutdown_grace_ms: u64,
    /// `max_tokens` of an Anthropic request; `num_predict`/`max_tokens` of the
    /// others (default 1024).
    pub max_tokens: u32,
}

impl Default for TriageConfig {
    fn default() -> Self {
        TriageConfig {
            provider: Provider::Off,
            url: String::new(),
            model: String::new(),
            api_key_env: String::new(),
            api_key_file: None,
            queue: 64,
            batch_max: 8,
            batch_wait_ms: 2000,
            timeout_ms: 60_000,
            max_attempts: 3,
            backoff_initial_ms: 1000,
            backoff_max_ms: 30_000,
            breaker_failures: 5,
            breaker_cooldown_ms: 60_000,
            shutdown_grace_ms: 5000,
            max_tokens: 1024,
        }
    }
}

/// Largest `timeout_ms`, `batch_wait_ms`, backoff and cooldown (1 hour).
pub const MAX_WAIT_MS: u64 = 3_600_000;

impl TriageConfig {
    /// The allowed range of every numeric key.
    pub fn bounds(&self) -> Vec<crate::config::KeyRange> {
        use crate::config::KeyRange;
        vec![
            KeyRange::new("triage.queue", self.queue, 1, 100_000),
            KeyRange::new("triage.batch_max", self.batch_max, 1, 1000),
            KeyRange::millis("triage.batch_wait", self.batch_wait_ms, 0, MAX_WAIT_MS),
            KeyRange::millis("triage.timeout", self.timeout_ms, 1, MAX_WAIT_MS),
            KeyRange::new("triage.max_attempts", self.max_attempts, 1, 100),
            KeyRange::millis(
                "triage.backoff_initial",
                self.backoff_initial_ms,
                0,
                MAX_WAIT_MS,
            ),
            KeyRange::millis("triage.backoff_max", self.backoff_max_ms, 0, MAX_WAIT_MS),
            KeyRange::new("triage.breaker_failures", self.breaker_failures, 1, 1000),
            KeyRange::millis(
                "triage.breaker_cooldown",
                self.breaker_cooldown_ms,
                0,
                MAX_WAIT_MS,
            ),
            KeyRange::millis("triage.shutdown_grace", self.shutdown_grace_ms, 0, 300_000),
            KeyRange::new("triage.max_tokens", self.max_tokens, 16, 65_536),
        ]
    }

    /// The base URL asked: `url`, or the provider's usual one, without a
    /// trailing `/`.
    pub fn base_url(&self) -> String {
        let u = if self.url.is_empty() {
            self.provider.default_url()
        } else {
            &self.url
        };
        u.trim_end_matches('/').to_string()
    }

    /// The model asked.
    pub fn model_name(&self) -> &str {
        if self.model.is_empty() {
            self.provider.default_model()
        } else {
            &self.model
        }
    }

    /// Check the URL (when triage is on): `http://` or `https://` with a host.
    pub fn validate_url(&self) -> Result<(), TriageError> {
        if self.provider == Provider::Off {
            return Ok(());
        }
        let u = self.base_url();
        let lower = u.to_ascii_lowercase();
        let ok_scheme = lower.starts_with("http://") || lower.starts_with("https://");
        let ok_host = u
            .parse::<ureq::http::Uri>()
            .ok()
            .is_some_and(|x| x.host().is_some_and(|h| !h.is_empty()));
        if ok_scheme && ok_host {
            Ok(())
        } else {
            Err(TriageError::Config(format!(
                "triage URL {u:?} must be an http:// or https:// URL with a host"
            )))
        }
    }

    /// Check every number and the URL.
    pub fn validate(&self) -> Result<(), TriageError> {
        self.validate_url()?;
        match self.bounds().into_iter().find(|b| !b.ok()) {
            Some(b) => Err(TriageError::Config(b.to_string())),
            None => Ok(()),
        }
    }

    /// Read the API key: `api_key_file` if set, else the variable
    /// `api_key_env` (or the provider's usual one). Ollama needs none; an
    /// OpenAI-compatible local server may need none either (no key is sent
    /// then); Anthropic requires one.
    pub fn api_key(&self) -> Result<Option<ApiKey>, TriageError> {
        if let Some(p) = &self.api_key_file {
            let s = crate::config::read_limited_text(p, crate::config::FileKind::Config)
                .map_err(|e| TriageError::Key(format!("reading {}: {e}", p.display())))?;
            let k = ApiKey::new(&s);
            if k.0.is_empty() {
                return Err(TriageError::Key(format!("{} is empty", p.display())));
            }
            return Ok(Some(k));
        }
        let var = if self.api_key_env.is_empty() {
            self.provider.default_key_env()
        } else {
            &self.api_key_env
        };
        let key = (!var.is_empty())
            .then(|| std::env::var(var).ok())
            .flatten()
            .map(|v| ApiKey::new(&v))
            .filter(|k| !k.0.is_empty());
        if key.is_none() && self.provider == Provider::Anthropic {
            return Err(TriageError::Key(format!(
                "Anthropic needs an API key: set {var} or [triage] api_key_file"
            )));
        }
        Ok(key)
    }
}
