//! `[learning]`: site learning (see [`crate::learn`]): how long the sensor
//! learns its network before a site model replaces the shipped prior, how
//! often it refits and on how much history.

use super::super::{Duration, KeyRange};
use crate::event::MICROS;
use serde::{Deserialize, Serialize};

/// Longest learning period.
const MAX_PERIOD: i64 = 30 * 86_400 * MICROS;

/// `[learning]`. Off until `period` is set (or `--learn DURATION` is given).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LearningConfig {
    /// Packet time to learn before the first site model is fitted (default
    /// `"0s"`: off; 5 min to 30 days). During it only model-independent
    /// evidence alerts.
    pub period: Duration,
    /// Refit this often on packet time once a site model exists (default
    /// `"1d"`; `"0s"`: never; at least 5 min).
    pub retrain_every: Duration,
    /// History a refit uses: the windows of the last `horizon` (default
    /// `"7d"`; 5 min to 365 days; a horizon shorter than the period counts
    /// as the period).
    pub horizon: Duration,
    /// Fewest usable windows (without evidence) a fit needs (default 32;
    /// 32–1,000,000). With fewer, the sensor keeps the prior and tries again
    /// one window later.
    pub min_windows: u64,
    /// Share of the most isolated training windows trimmed before the final
    /// fit, in per mille (default 20 = 2 %; 0–200).
    pub trim_permille: u64,
    /// Forest seed (default 1): the same windows give the same model.
    pub seed: u64,
}

impl Default for LearningConfig {
    fn default() -> Self {
        LearningConfig {
            period: Duration(0),
            retrain_every: Duration(86_400 * MICROS),
            horizon: Duration(7 * 86_400 * MICROS),
            min_windows: 32,
            trim_permille: 20,
            seed: 1,
        }
    }
}

impl LearningConfig {
    /// Whether site learning is on.
    pub fn enabled(&self) -> bool {
        self.period.0 > 0
    }

    /// The history a refit uses: `horizon`, at least one `period`.
    pub fn effective_horizon(&self) -> i64 {
        self.horizon.0.max(self.period.0)
    }

    /// Ranges of the keys (checked with every other section's).
    pub fn bounds(&self) -> Vec<KeyRange> {
        let mut b = vec![
            KeyRange::new("learning.min_windows", self.min_windows, 32, 1_000_000),
            KeyRange::new("learning.trim_permille", self.trim_permille, 0, 200),
        ];
        if self.enabled() {
            b.push(KeyRange::duration(
                "learning.period",
                self.period.0,
                300 * MICROS,
                MAX_PERIOD,
            ));
            b.push(KeyRange::duration(
                "learning.horizon",
                self.horizon.0,
                300 * MICROS,
                365 * 86_400 * MICROS,
            ));
            if self.retrain_every.0 != 0 {
                b.push(KeyRange::duration(
                    "learning.retrain_every",
                    self.retrain_every.0,
                    300 * MICROS,
                    365 * 86_400 * MICROS,
                ));
            }
        }
        b
    }
}
