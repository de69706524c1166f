//! Burst alerts: at least `N` anomalies within `W` of event time raise one alert.
//!
//! [`BurstDetector::observe`] takes every scored record (event time, score,
//! context values such as proto/state/service, or a domain for DNS) and counts
//! the records whose score is at or above the threshold. When the anomalies in
//! the sliding window `(t − W, t]` reach `min_hits`, a [`BurstAlert`] is raised
//! carrying the window's context: hits in the window, window length in minutes,
//! the most frequent value of each context field (and the top three with their
//! counts), and the threshold.
//!
//! **One burst is one alert.** After an alert the detector is *in burst* and
//! stays silent while the window keeps at least `min_hits` anomalies. It re-arms
//! when an anomaly arrives and finds fewer than `min_hits` (itself included) in
//! its window, and it never alerts again before `cooldown` has passed since the
//! last alert (default: one window). Time is the records' own (replays give the
//! same alerts as live runs); a record older than the newest seen is placed in
//! order and still counts if it falls in the window.

use sentineldns_model::time::{TsMicros, MICROS};
use std::collections::{BTreeMap, VecDeque};

/// Burst detector parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct BurstConfig {
    /// Anomalies needed within `window` (`N`, ≥ 1).
    pub min_hits: usize,
    /// Window length (`W`), microseconds of event time, > 0.
    pub window: TsMicros,
    /// Minimum time between two alerts, microseconds (≥ 0).
    pub cooldown: TsMicros,
    /// A record is an anomaly when its score is ≥ this.
    pub threshold: f64,
    /// Names of the context fields passed to `observe`, in order.
    pub context_fields: Vec<String>,
}

impl BurstConfig {
    /// `min_hits` anomalies (score ≥ `threshold`) within `window`, cooldown of one window.
    pub fn new(min_hits: usize, window: TsMicros, threshold: f64, fields: &[&str]) -> Self {
        Self {
            min_hits,
            window,
            cooldown: window,
            threshold,
            context_fields: fields.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Errors from burst parameters.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BurstError {
    /// A parameter is out of range.
    #[error("bad burst parameter: {0}")]
    BadParam(String),
}

/// The alert payload.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BurstAlert {
    /// Always `"burst"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Anomalies in the window when the alert was raised.
    pub hits_in_window: usize,
    /// Window length in minutes.
    pub window_min: f64,
    /// Most frequent value of each context field among the window's anomalies.
    pub top_context: BTreeMap<String, String>,
    /// Up to three most frequent values per context field, with counts.
    pub top_values: BTreeMap<String, Vec<(String, usize)>>,
    /// Score threshold that defines an anomaly.
    pub threshold: f64,
    /// `min_hits` that triggered the alert.
    pub min_hits: usize,
    /// Event time of the oldest anomaly in the window (µs).
    pub first_ts: TsMicros,
    /// Event time of the anomaly that raised the alert (µs).
    pub ts: TsMicros,
}

#[derive(Debug, Clone)]
struct Hit {
    ts: TsMicros,
    context: Vec<String>,
}

/// Sliding-window burst detector (see the module docs).
#[derive(Debug, Clone)]
pub struct BurstDetector {
    cfg: BurstConfig,
    hits: VecDeque<Hit>,
    newest: TsMicros,
    in_burst: bool,
    last_alert: Option<TsMicros>,
    alerts: u64,
}

impl BurstDetector {
    /// A detector; checks `min_hits ≥ 1`, `window > 0`, `cooldown ≥ 0`, finite threshold.
    pub fn new(cfg: BurstConfig) -> Result<Self, BurstError> {
        if cfg.min_hits == 0 {
            return Err(BurstError::BadParam("min_hits must be at least 1".into()));
        }
        if cfg.window <= 0 || cfg.cooldown < 0 {
            return Err(BurstError::BadParam(format!(
                "window ({} µs) must be > 0 and cooldown ({} µs) >= 0",
                cfg.window, cfg.cooldown
            )));
        }
        if !cfg.threshold.is_finite() {
            return Err(BurstError::BadParam(format!(
                "threshold {} must be finite",
                cfg.threshold
            )));
        }
        Ok(Self {
            cfg,
            hits: VecDeque::new(),
            newest: TsMicros::MIN,
            in_burst: false,
            last_alert: None,
            alerts: 0,
        })
    }

    /// Alerts raised so far.
    pub fn alerts(&self) -> u64 {
        self.alerts
    }

    /// Anomalies currently in the window.
    pub fn hits_in_window(&self) -> usize {
        self.hits.len()
    }

    /// Feeds one scored record. `context` holds the values of the configured
    /// context fields, in order (missing trailing values count as `"-"`).
    /// Records scoring below the threshold (or `NaN`) only move nothing.
    pub fn observe(&mut self, ts: TsMicros, score: f64, context: &[&str]) -> Option<BurstAlert> {
        if score.is_nan() || score < self.cfg.threshold {
            return None;
        }
        self.newest = self.newest.max(ts);
        let oldest_kept = self.newest.saturating_sub(self.cfg.window);
        if ts <= oldest_kept {
            return None; // too late to matter
        }
        while self.hits.front().is_some_and(|h| h.ts <= oldest_kept) {
            self.hits.pop_front();
        }
        let ctx = (0..self.cfg.context_fields.len())
            .map(|i| context.get(i).copied().unwrap_or("-").to_owned())
            .collect();
        let pos = self.hits.partition_point(|h| h.ts <= ts);
        self.hits.insert(pos, Hit { ts, context: ctx });

        let n = self.hits.len();
        if n < self.cfg.min_hits {
            self.in_burst = false;
            return None;
        }
        let cooled = self
            .last_alert
            .is_none_or(|t| self.newest.saturating_sub(t) >= self.cfg.cooldown);
        if self.in_burst || !cooled {
            return None;
        }
        self.in_burst = true;
        self.last_alert = Some(self.newest);
        self.alerts += 1;
        Some(self.alert())
    }

    fn alert(&self) -> BurstAlert {
        let mut top_context = BTreeMap::new();
        let mut top_values = BTreeMap::new();
        for (i, field) in self.cfg.context_fields.iter().enumerate() {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for h in &self.hits {
                *counts.entry(h.context[i].as_str()).or_insert(0) += 1;
            }
            let mut ranked: Vec<(String, usize)> =
                counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            ranked.truncate(3);
            if let Some((v, _)) = ranked.first() {
                top_context.insert(field.clone(), v.clone());
            }
            top_values.insert(field.clone(), ranked);
        }
        BurstAlert {
            kind: "burst",
            hits_in_window: self.hits.len(),
            window_min: self.cfg.window as f64 / (60 * MICROS) as f64,
            top_context,
            top_values,
            threshold: self.cfg.threshold,
            min_hits: self.cfg.min_hits,
            first_ts: self.hits.front().map_or(self.newest, |h| h.ts),
            ts: self.newest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: TsMicros = 60 * MICROS;

    fn det(n: usize, w_min: i64) -> BurstDetector {
        BurstDetector::new(BurstConfig::new(
            n,
            w_min * MIN,
            0.5,
            &["proto", "state", "service"],
        ))
        .unwrap()
    }

    #[test]
    fn n_hits_within_w_raise_one_alert_with_context() {
        let mut d = det(5, 5);
        let mut alerts = Vec::new();
        // 12 anomalies 20 s apart (one burst), mixed with normal records
        for i in 0..12i64 {
            let t = i * 20 * MICROS;
            let ctx: &[&str] = if i % 3 == 0 {
                &["udp", "INT", "dns"]
            } else {
                &["tcp", "CON", "http"]
            };
            alerts.extend(d.observe(t, 0.9, ctx));
            assert!(d.observe(t + 1, 0.1, &["arp", "INT", "-"]).is_none());
        }
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        let a = &alerts[0];
        assert_eq!(a.hits_in_window, 5);
        assert_eq!(a.ts, 4 * 20 * MICROS);
        assert_eq!(a.first_ts, 0);
        assert_eq!(a.window_min, 5.0);
        assert_eq!(a.threshold, 0.5);
        assert_eq!(a.top_context["proto"], "tcp");
        assert_eq!(a.top_context["service"], "http");
        assert_eq!(
            a.top_values["proto"],
            vec![("tcp".into(), 3), ("udp".into(), 2)]
        );
        let json = serde_json::to_value(a).unwrap();
        assert_eq!(json["type"], "burst");
        assert_eq!(json["hits_in_window"], 5);
        assert_eq!(d.alerts(), 1);
    }

    #[test]
    fn spread_out_anomalies_never_alert() {
        let mut d = det(5, 5);
        // one anomaly every 2 minutes: at most 3 in any 5-minute window
        for i in 0..100i64 {
            assert!(d.observe(i * 2 * MIN, 1.0, &["tcp", "FIN", "-"]).is_none());
        }
        assert!(d.hits_in_window() <= 3);
    }

    #[test]
    fn a_second_burst_after_a_quiet_gap_alerts_again() {
        let mut d = det(3, 5);
        let mut n = 0;
        for burst in 0..3i64 {
            let t0 = burst * 60 * MIN;
            for i in 0..10i64 {
                n += d.observe(t0 + i * MICROS, 0.7, &["udp"]).iter().count();
            }
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn cooldown_holds_back_a_quickly_repeated_burst() {
        let mut cfg = BurstConfig::new(3, 5 * MIN, 0.5, &[]);
        cfg.cooldown = 30 * MIN;
        let mut d = BurstDetector::new(cfg).unwrap();
        let mut alerts = 0;
        // bursts at t = 0 and t = 10 min (window cleared in between): cooldown blocks the second
        for t0 in [0, 10 * MIN, 40 * MIN] {
            for i in 0..4i64 {
                alerts += d.observe(t0 + i * MICROS, 0.9, &[]).iter().count();
            }
        }
        assert_eq!(alerts, 2);
    }

    #[test]
    fn late_records_are_placed_in_order_and_too_old_ones_ignored() {
        let mut d = det(3, 5);
        assert!(d.observe(10 * MIN, 1.0, &[]).is_none());
        assert!(d.observe(2 * MIN, 1.0, &[]).is_none()); // older than the window
        assert!(d.observe(9 * MIN, 1.0, &[]).is_none());
        let a = d.observe(8 * MIN, 1.0, &[]).expect("third hit in window");
        assert_eq!(a.first_ts, 8 * MIN);
        assert_eq!(a.ts, 10 * MIN);
        assert_eq!(a.top_context["proto"], "-");
    }

    #[test]
    fn bad_parameters_are_refused() {
        assert!(BurstDetector::new(BurstConfig::new(0, MIN, 0.5, &[])).is_err());
        assert!(BurstDetector::new(BurstConfig::new(3, 0, 0.5, &[])).is_err());
        assert!(BurstDetector::new(BurstConfig::new(3, MIN, f64::NAN, &[])).is_err());
    }
}
