//! `[incidents]`: how flagged windows group into incidents (quiet period,
//! host cap); see [`crate::incident`].

use super::super::{Duration, KeyRange};
use crate::event::MICROS;
use crate::incident::{IncidentConfig, DEFAULT_MAX_HOSTS, DEFAULT_QUIET_S};
use serde::{Deserialize, Serialize};

/// `[incidents]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentsConfig {
    /// Packet time without a flagged window after which an incident closes
    /// (default `"15m"`; 1 minute to 1 day).
    pub quiet: Duration,
    /// Hosts with an open incident held in memory (default 10000; 1 to
    /// 1000000); beyond it the incident with the oldest flag is closed early
    /// and counted (`incident_hosts`).
    pub max_hosts: usize,
}

impl Default for IncidentsConfig {
    fn default() -> Self {
        IncidentsConfig {
            quiet: Duration(DEFAULT_QUIET_S * MICROS),
            max_hosts: DEFAULT_MAX_HOSTS,
        }
    }
}

impl IncidentsConfig {
    /// The allowed range of every key.
    pub fn bounds(&self) -> Vec<KeyRange> {
        vec![
            KeyRange::duration(
                "incidents.quiet",
                self.quiet.0,
                60 * MICROS,
                86_400 * MICROS,
            ),
            KeyRange::new("incidents.max_hosts", self.max_hosts, 1, 1_000_000),
        ]
    }

    /// The tracker's thresholds (whole seconds of the quiet period).
    pub fn build(&self) -> IncidentConfig {
        IncidentConfig {
            quiet_s: (self.quiet.0 / MICROS).max(1),
            max_hosts: self.max_hosts.max(1),
        }
    }
}
