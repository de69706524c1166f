//! Incident splitting and detection delays.
//!
//! An incident is the run of positive windows of one (host, scenario) with no gap
//! longer than [`INCIDENT_GAP_S`] between one window's start and the latest end seen
//! so far in the run. Its delay is measured from the earliest malicious lookup to the
//! close (end) of its earliest-closing flagged window, floored at zero. The parent
//! module docs give the full definition.

use super::{Delay, ScoredWindow, INCIDENT_GAP_S};
use std::collections::BTreeMap;

/// One incident: its host, scenario and member windows (in start order).
#[derive(Debug, Clone)]
pub struct Incident<'a> {
    /// Host.
    pub host: &'a str,
    /// Scenario.
    pub scenario: &'a str,
    /// Positive windows of the incident, sorted by (start, end).
    pub windows: Vec<&'a ScoredWindow>,
}

impl Incident<'_> {
    /// Earliest malicious lookup (a window without `first_malicious_ts` contributes
    /// its start).
    pub fn first_malicious(&self) -> i64 {
        self.windows
            .iter()
            .map(|w| w.first_malicious_ts.unwrap_or(w.start))
            .min()
            .unwrap_or(i64::MAX)
    }

    /// End of the earliest-closing flagged window, if any.
    pub fn first_flag(&self) -> Option<i64> {
        self.windows
            .iter()
            .filter(|w| w.flagged())
            .map(|w| w.end)
            .min()
    }

    /// The incident's [`Delay`] record.
    pub fn delay(&self) -> Delay {
        let first_malicious = self.first_malicious();
        let first_flag = self.first_flag();
        Delay {
            host: self.host.to_owned(),
            scenario: self.scenario.to_owned(),
            first_malicious,
            first_flag,
            delay_s: first_flag.map(|f| (f as f64 - first_malicious as f64).max(0.0)),
        }
    }
}

/// Split the positive windows into incidents, ordered by (host, scenario, start).
pub fn incidents(windows: &[ScoredWindow]) -> Vec<Incident<'_>> {
    let mut groups: BTreeMap<(&str, &str), Vec<&ScoredWindow>> = BTreeMap::new();
    for w in windows {
        if let Some(s) = w.scenario() {
            groups.entry((w.host.as_str(), s)).or_default().push(w);
        }
    }
    let mut out = Vec::new();
    for ((host, scenario), mut ws) in groups {
        ws.sort_by_key(|w| (w.start, w.end));
        let mut current: Vec<&ScoredWindow> = Vec::new();
        let mut current_end = i64::MIN;
        for w in ws {
            if !current.is_empty() && w.start.saturating_sub(current_end) > INCIDENT_GAP_S {
                out.push(Incident {
                    host,
                    scenario,
                    windows: std::mem::take(&mut current),
                });
                current_end = i64::MIN;
            }
            current_end = current_end.max(w.end);
            current.push(w);
        }
        if !current.is_empty() {
            out.push(Incident {
                host,
                scenario,
                windows: current,
            });
        }
    }
    out
}

/// One [`Delay`] per incident, ordered by (first malicious, host, scenario).
pub fn detection_delays(windows: &[ScoredWindow]) -> Vec<Delay> {
    let mut delays: Vec<Delay> = incidents(windows).iter().map(Incident::delay).collect();
    delays.sort_by(|a, b| {
        (a.first_malicious, &a.host, &a.scenario).cmp(&(b.first_malicious, &b.host, &b.scenario))
    });
    delays
}
