//! `[outputs.webhook]`: the URL, the lowest label alerted ([`MinLabel`]),
//! queue, timeouts, retries, breaker and shutdown grace, each number held to
//! its range.

use crate::model::Label;
use crate::output::OutputError;
use serde::{Deserialize, Serialize};

/// Lowest verdict that raises a webhook alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum MinLabel {
    /// Unusual and Likely Compromise.
    Unusual,
    /// Likely Compromise only (default: a webhook usually pages someone).
    #[default]
    LikelyCompromise,
}

impl MinLabel {
    /// Whether a verdict with label `l` is alerted.
    pub fn admits(self, l: Label) -> bool {
        match self {
            MinLabel::Unusual => l != Label::Normal,
            MinLabel::LikelyCompromise => l == Label::LikelyCompromise,
        }
    }
}

/// Webhook settings. Durations are held in milliseconds and written in the
/// file as duration strings (`timeout = "5s"`); the old `*_ms` integer keys
/// are still read ([`crate::config::DEPRECATED_MS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    /// Endpoint (`http://` or `https://`), e.g. a Slack incoming-webhook URL.
    pub url: String,
    /// Lowest verdict sent (default `likely-compromise`).
    pub min_label: MinLabel,
    /// Alerts that may wait for delivery; more are dropped (default 256).
    pub queue: usize,
    /// Whole-request timeout, key `timeout` (default `"5s"`).
    #[serde(rename = "timeout", with = "crate::config::millis")]
    pub timeout_ms: u64,
    /// Attempts per alert, the first included (default 4).
    pub max_attempts: u32,
    /// Backoff before the first retry, key `backoff_initial` (default `"500ms"`).
    #[serde(rename = "backoff_initial", with = "crate::config::millis")]
    pub backoff_initial_ms: u64,
    /// Backoff cap, key `backoff_max` (default `"30s"`).
    #[serde(rename = "backoff_max", with = "crate::config::millis")]
    pub backoff_max_ms: u64,
    /// Consecutive failed attempts that open the breaker (default 5).
    pub breaker_failures: u32,
    /// How long the breaker stays open before a trial, key
    /// `breaker_cooldown` (default `"1m"`).
    #[serde(rename = "breaker_cooldown", with = "crate::config::millis")]
    pub breaker_cooldown_ms: u64,
    /// How long queued alerts may still be delivered at shutdown, key
    /// `shutdown_grace` (default `"5s"`).
    #[serde(rename = "shutdown_grace", with = "crate::config::millis")]
    pub shutdown_grace_ms: u64,
}

impl Default for WebhookConfig {
    fn default() -> Self {
        WebhookConfig {
            url: String::new(),
            min_label: MinLabel::default(),
            queue: 256,
            timeout_ms: 5000,
            max_attempts: 4,
            backoff_initial_ms: 500,
            backoff_max_ms: 30_000,
            breaker_failures: 5,
            breaker_cooldown_ms: 60_000,
            shutdown_grace_ms: 5000,
        }
    }
}

/// Largest `queue` (alerts waiting; the queue's slots are allocated up front).
pub const MAX_QUEUE: u64 = 1_000_000;
/// Largest `timeout_ms`, `backoff_initial_ms`, `backoff_max_ms` and
/// `breaker_cooldown_ms` (1 hour).
pub const MAX_WAIT_MS: u64 = 3_600_000;
/// Largest `shutdown_grace_ms` (5 minutes).
pub const MAX_SHUTDOWN_GRACE_MS: u64 = 300_000;
/// Largest `max_attempts`.
pub const MAX_ATTEMPTS: u64 = 100;
/// Largest `breaker_failures`.
pub const MAX_BREAKER_FAILURES: u64 = 1000;

impl WebhookConfig {
    /// The allowed range of every numeric key.
    pub fn bounds(&self) -> Vec<crate::config::KeyRange> {
        use crate::config::KeyRange;
        vec![
            KeyRange::new("outputs.webhook.queue", self.queue, 1, MAX_QUEUE),
            KeyRange::millis("outputs.webhook.timeout", self.timeout_ms, 1, MAX_WAIT_MS),
            KeyRange::new(
                "outputs.webhook.max_attempts",
                self.max_attempts,
                1,
                MAX_ATTEMPTS,
            ),
            KeyRange::millis(
                "outputs.webhook.backoff_initial",
                self.backoff_initial_ms,
                0,
                MAX_WAIT_MS,
            ),
            KeyRange::millis(
                "outputs.webhook.backoff_max",
                self.backoff_max_ms,
                0,
                MAX_WAIT_MS,
            ),
            KeyRange::new(
                "outputs.webhook.breaker_failures",
                self.breaker_failures,
                1,
                MAX_BREAKER_FAILURES,
            ),
            KeyRange::millis(
                "outputs.webhook.breaker_cooldown",
                self.breaker_cooldown_ms,
                0,
                MAX_WAIT_MS,
            ),
            KeyRange::millis(
                "outputs.webhook.shutdown_grace",
                self.shutdown_grace_ms,
                0,
                MAX_SHUTDOWN_GRACE_MS,
            ),
        ]
    }

    /// Check the settings: the URL ([`validate_url`](Self::validate_url)) and
    /// every number in its range ([`bounds`](Self::bounds)).
    pub fn validate(&self) -> Result<(), OutputError> {
        self.validate_url()?;
        match self.bounds().into_iter().find(|b| !b.ok()) {
            Some(b) => Err(OutputError::Config(b.to_string())),
            None => Ok(()),
        }
    }

    /// Check the URL's scheme and syntax.
    pub fn validate_url(&self) -> Result<(), OutputError> {
        let bad = |m: String| Err(OutputError::Config(m));
        let lower = self.url.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return bad(format!(
                "webhook URL {:?} must start with http:// or https://",
                self.url
            ));
        }
        match self.url.parse::<ureq::http::Uri>() {
            Ok(u) if u.host().is_some_and(|h| !h.is_empty()) => {}
            _ => return bad(format!("webhook URL {:?} is not a valid URL", self.url)),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::cfg;
    use super::super::Webhook;
    use super::*;
    use crate::output::metrics::Metrics;
    use std::sync::Arc;

    #[test]
    fn config_validation() {
        assert!(cfg("ftp://x".into()).validate().is_err());
        assert!(cfg("http://".into()).validate().is_err());
        assert!(cfg("https://hooks.slack.com/services/T/B/x".into())
            .validate()
            .is_ok());
        let mut c = cfg("http://127.0.0.1:9/x".into());
        c.queue = 0;
        assert!(c.validate().is_err());
        // Every number is held to its range, and the error names the key.
        for (set, key) in [
            (
                (|c: &mut WebhookConfig| c.queue = usize::MAX) as fn(&mut WebhookConfig),
                "[outputs.webhook] queue = 18446744073709551615",
            ),
            (|c| c.queue = 1_000_001, "[outputs.webhook] queue"),
            (|c| c.timeout_ms = u64::MAX, "[outputs.webhook] timeout"),
            (
                |c| c.max_attempts = u32::MAX,
                "[outputs.webhook] max_attempts",
            ),
            (|c| c.backoff_initial_ms = u64::MAX, "backoff_initial"),
            (|c| c.backoff_max_ms = 3_600_001, "backoff_max"),
            (|c| c.breaker_failures = 0, "breaker_failures"),
            (|c| c.breaker_cooldown_ms = u64::MAX, "breaker_cooldown"),
            (
                |c| c.shutdown_grace_ms = 300_001,
                "shutdown_grace = 300001ms",
            ),
        ] {
            let mut c = cfg("http://127.0.0.1:9/x".into());
            set(&mut c);
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(key) && e.contains("out of range"), "{e}");
            assert!(
                Webhook::start(&c, Arc::new(Metrics::default())).is_err(),
                "{key}: start refuses it too"
            );
        }
        let mut c = cfg("http://127.0.0.1:9/x".into());
        (c.queue, c.timeout_ms, c.shutdown_grace_ms) = (1_000_000, 3_600_000, 300_000);
        assert!(c.validate().is_ok(), "the limits themselves are allowed");
        let d: WebhookConfig =
            serde_json::from_str(r#"{"url":"http://a/b","min_label":"unusual"}"#).unwrap();
        assert_eq!(d.min_label, MinLabel::Unusual);
        assert_eq!(d.queue, 256);
        assert!(MinLabel::LikelyCompromise.admits(Label::LikelyCompromise));
        assert!(!MinLabel::LikelyCompromise.admits(Label::Unusual));
        assert!(MinLabel::Unusual.admits(Label::Unusual));
        assert!(!MinLabel::Unusual.admits(Label::Normal));
    }
}
