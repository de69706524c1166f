//! `[sensor]`: window, grace, model, thresholds, database, threads.

use super::super::Duration;
use crate::event::MICROS;
use crate::model::Thresholds;
use serde::{Deserialize, Deserializer, Serialize};
use std::path::PathBuf;

/// Where the model is looked for when none is configured, in order; when none
/// exists the copy built into the binary is used
/// ([`crate::sensor::EMBEDDED_MODEL`]).
pub fn default_model_paths() -> Vec<PathBuf> {
    vec![
        PathBuf::from("models/default.bin"),
        PathBuf::from("/usr/share/sentineldns/default.bin"),
    ]
}

fn thresholds<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Thresholds>, D::Error> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Raw {
        unusual: f64,
        likely: f64,
    }
    let r = Raw::deserialize(d)?;
    let t = Thresholds {
        unusual: r.unusual,
        likely: r.likely,
    };
    if t.validate().is_err() {
        return Err(serde::de::Error::custom(format!(
            "thresholds must satisfy 0 < unusual < likely <= 1, found unusual {}, likely {}",
            t.unusual, t.likely
        )));
    }
    Ok(Some(t))
}

/// `[sensor]`: how lookups become scored windows, and where they are stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SensorConfig {
    /// Window length (default `"5m"`; 1 s to 1 day).
    pub window: Duration,
    /// How long after a window ends late packets still count (default `"30s"`;
    /// at least the 10 s pairing timeout, shorter than the window).
    pub grace: Duration,
    /// Model bundle (default: none configured, so [`default_model_paths`] are
    /// searched, then the embedded default is used).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<PathBuf>,
    /// Store windows without scoring them (default `false`).
    pub no_model: bool,
    /// SQLite database (default `"sentineldns.db"`).
    pub db: PathBuf,
    /// Override the model bundle's label thresholds (default: the bundle's);
    /// `0 < unusual < likely ≤ 1`.
    #[serde(
        deserialize_with = "thresholds",
        skip_serializing_if = "Option::is_none"
    )]
    pub thresholds: Option<Thresholds>,
    /// Pipeline threads, 1 or 2 (default 2; results are identical).
    pub threads: u8,
    /// How long a query waits for its response before it counts as
    /// unanswered (default `"10s"`; 1 ms to 1 h, and at most `grace`).
    pub pair_timeout: Duration,
    /// Top and riskiest domains kept per window (default 5; 1 to 1000).
    pub top: usize,
}

impl Default for SensorConfig {
    fn default() -> Self {
        SensorConfig {
            window: Duration(300 * MICROS),
            grace: Duration(30 * MICROS),
            model: None,
            no_model: false,
            db: PathBuf::from("sentineldns.db"),
            thresholds: None,
            threads: 2,
            pair_timeout: Duration(10 * MICROS),
            top: 5,
        }
    }
}

/// Which model a command uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelChoice {
    /// No scoring.
    Off,
    /// This bundle.
    Path(PathBuf),
    /// The first of [`default_model_paths`] that exists, else the embedded
    /// default ([`crate::sensor::EMBEDDED_MODEL`]).
    Search,
}

impl SensorConfig {
    /// The model this configuration asks for.
    pub fn model_choice(&self) -> ModelChoice {
        match (&self.model, self.no_model) {
            (_, true) => ModelChoice::Off,
            (Some(p), false) => ModelChoice::Path(p.clone()),
            (None, false) => ModelChoice::Search,
        }
    }
}
