//! Detection units: one trait, one registry (issue 12, "Structure").
//!
//! Each detector is one unit — a file owning its state, thresholds, memory
//! bound and findings. [`UNITS`] lists them once; `config check`, the docs
//! test and this module's own checks read it. The units that follow a host
//! across its windows implement [`HostUnit`], and [`HostUnits`] runs them in
//! registry order around the verdict of every window, for the live sensor
//! ([`crate::sensor`]) and for `evaluate --learn`
//! ([`crate::learn::score_offline`]) alike.
//!
//! The aggregator ([`crate::aggregate`]) only counts: per host and window the
//! names, the non-existent domains, the encoded names, the lookalikes and
//! what followed them, the contact times of rare domains. The units judge
//! those counts.

use super::{Detector, Evidence, Verdict, N_MODEL_FEATURES};
use crate::aggregate::HostWindow;
use crate::store::{StateRows, Store, StoreError};
use std::net::IpAddr;

/// What a unit is, for the people who run it.
#[derive(Debug, Clone, Copy)]
pub struct UnitInfo {
    /// Its name.
    pub name: &'static str,
    /// The file that owns its state and thresholds.
    pub file: &'static str,
    /// What it does, in one line.
    pub summary: &'static str,
    /// The reason tags it raises, each with its threshold and floor in one
    /// line (empty: it raises none itself).
    pub findings: fn() -> Vec<(&'static str, &'static str)>,
    /// Its memory bound.
    pub memory: &'static str,
    /// Where its state lives across a restart.
    pub persisted: &'static str,
}

/// Every detection unit, in the order a window meets them.
pub static UNITS: &[&UnitInfo] = &[
    &super::evidence::UNIT,
    &super::slow::UNIT,
    &super::host::UNIT,
    &PREVALENCE,
    &SITE_LEARNING,
    &INCIDENTS,
];

/// Site prevalence: how many clients resolve each registrable domain. Its
/// state lives in the enrichment stage ([`crate::enrich::Enrichment::hosts`]),
/// which stamps every lookup with it; the slow signals and the window
/// findings read it.
pub static PREVALENCE: UnitInfo = UnitInfo {
    name: "site_prevalence",
    file: "src/enrich/mod.rs",
    summary: "distinct clients per registrable domain; names one host alone resolves look like C2, DGA or a tunnel, names many resolve do not",
    findings: Vec::new,
    memory: "[limits] host_first_seen_cap (host, domain) pairs",
    persisted: "per-host keys in first_seen_state (compact log rows and snapshots), restored at start",
};

/// Site learning ([`crate::learn`]): the shipped model is a prior; the
/// sensor fits a site model on its own stored windows and refits it. (Listed
/// here: `learn` sits above `detect`.)
pub static SITE_LEARNING: UnitInfo = UnitInfo {
    name: "site_learning",
    file: "src/learn/mod.rs",
    summary: "after [learning] period of packet time, a site model fitted on the stored windows without evidence (most isolated 2 % trimmed), refitted every retrain_every on the last horizon; until then the prior's score alone never alerts",
    findings: Vec::new,
    memory: "the training rows of one horizon while fitting (15 floats per window)",
    persisted: "DB.models/site-ID.bin and the models table; a restart loads the latest",
};

/// Incidents ([`crate::incident`]): consecutive flagged windows of one host
/// with related reasons. (Listed here: `incident` sits below `detect` and
/// names only labels.)
pub static INCIDENTS: UnitInfo = UnitInfo {
    name: "incidents",
    file: "src/incident/mod.rs",
    summary: "flagged windows of one host closer than [incidents] quiet (15 min) form one incident, opened, escalated and closed on packet time; outputs alert once per open or escalation",
    findings: Vec::new,
    memory: "[incidents] max_hosts open incidents (10,000), 32 domains each",
    persisted: "the incidents table, in the window batch's transaction; a restart continues the open ones",
};

/// What the units following a host say about one of its windows before it
/// is judged.
#[derive(Debug, Default)]
pub struct Context {
    /// Findings from the host's history, each with one sentence for the
    /// explanation.
    pub findings: Vec<(Evidence, String)>,
    /// The host's usual range of every model input, when known: a
    /// model-only alert within it is held Normal.
    pub usual: Option<[f64; N_MODEL_FEATURES]>,
}

/// A unit that follows each host across its windows.
pub trait HostUnit: Send + std::fmt::Debug {
    /// The unit's registry entry.
    fn info(&self) -> &'static UnitInfo;
    /// Before `w` is judged: add what the host's history says about it.
    fn observe(&mut self, w: &HostWindow, ctx: &mut Context);
    /// After: the verdict `w` got.
    fn judged(&mut self, _w: &HostWindow, _v: &Verdict) {}
    /// Add the state of `host` to the rows the batch writes, when the unit
    /// is persisted that way.
    fn save(&self, _host: &IpAddr, _rows: &mut StateRows) {}
    /// Rows of no further use at packet time `now_s` (unix s), pruned with
    /// the batch.
    fn prune(&self, _now_s: i64, _rows: &mut StateRows) {}
    /// Resume from the store at start: (restored, skipped).
    fn restore(&mut self, _store: &Store) -> Result<(usize, usize), StoreError> {
        Ok((0, 0))
    }
    /// Hosts dropped at its memory bound.
    fn evicted(&self) -> u64;
}

/// The host units of one sensor, in registry order.
#[derive(Debug)]
pub struct HostUnits {
    units: Vec<Box<dyn HostUnit>>,
}

impl HostUnits {
    /// The slow signals (watching each host for `baseline` of packet time
    /// before its timers stop being its usual ones; `None`: the default)
    /// and the per-host baselines.
    pub fn new(baseline: Option<crate::event::TsMicros>) -> Self {
        let slow = match baseline {
            Some(b) => super::SlowSignals::new().with_baseline(b),
            None => super::SlowSignals::new(),
        };
        HostUnits {
            units: vec![Box::new(slow), Box::new(super::HostBaselines::new())],
        }
    }

    /// Judge `w` with `det` in the context of its host's history, and let
    /// every unit learn from the verdict.
    pub fn judge(&mut self, det: &Detector, w: &HostWindow, model_may_alert: bool) -> Verdict {
        let mut ctx = Context::default();
        for u in &mut self.units {
            u.observe(w, &mut ctx);
        }
        let v = det.judge_in_context(w, model_may_alert, ctx.findings, ctx.usual.as_ref());
        for u in &mut self.units {
            u.judged(w, &v);
        }
        v
    }

    /// Add every unit's state for the hosts of `windows` to `rows`, and the
    /// pruning due at their latest end.
    pub fn save(&self, windows: &[HostWindow], rows: &mut StateRows) {
        let Some(now) = windows.iter().map(|w| w.end).max() else {
            return;
        };
        for u in &self.units {
            for w in windows {
                u.save(&w.host, rows);
            }
            u.prune(now.div_euclid(crate::event::MICROS), rows);
        }
    }

    /// Resume every unit from `store`: (unit, restored, skipped) each.
    pub fn restore(
        &mut self,
        store: &Store,
    ) -> Result<Vec<(&'static str, usize, usize)>, StoreError> {
        self.units
            .iter_mut()
            .map(|u| {
                let (n, bad) = u.restore(store)?;
                Ok((u.info().name, n, bad))
            })
            .collect()
    }

    /// (unit, hosts dropped at its bound) each.
    pub fn evicted(&self) -> Vec<(&'static str, u64)> {
        self.units
            .iter()
            .map(|u| (u.info().name, u.evicted()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The docs read the registry: every unit has its section (name and
    /// file) in docs/detection.md, every finding its row, and no tag is
    /// raised by two units.
    #[test]
    fn every_unit_and_finding_is_documented_once() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let doc = std::fs::read_to_string(root.join("docs/detection.md"))
            .expect("docs/detection.md is part of the checkout");
        let mut tags = Vec::new();
        for u in UNITS {
            assert!(
                doc.contains(&format!("`{}`", u.name)) && doc.contains(u.file),
                "docs/detection.md does not describe unit {} ({})",
                u.name,
                u.file
            );
            assert!(root.join(u.file).exists(), "{}: {} missing", u.name, u.file);
            assert!(!u.summary.is_empty() && !u.memory.is_empty() && !u.persisted.is_empty());
            for (tag, line) in (u.findings)() {
                assert!(
                    doc.contains(&format!("| `{tag}` |")),
                    "docs/detection.md has no row for {tag}"
                );
                assert!(!line.is_empty(), "{tag}");
                tags.push(tag);
            }
        }
        let n = tags.len();
        tags.sort_unstable();
        tags.dedup();
        assert_eq!(tags.len(), n, "a tag raised by two units");
        assert!(n >= 11, "{tags:?}");
    }

    /// The host units run in registry order, the order `config check` lists.
    #[test]
    fn host_units_follow_the_registry_order() {
        let u = HostUnits::new(None);
        let names: Vec<&str> = u.evicted().iter().map(|(n, _)| *n).collect();
        let order: Vec<&str> = UNITS
            .iter()
            .map(|u| u.name)
            .filter(|n| names.contains(n))
            .collect();
        assert_eq!(names, order);
    }
}
