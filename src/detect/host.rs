//! Per-host baselines (issue 12, item 2): normal differs per host. A mail
//! server checks SPF and DMARC records (TXT) all day, a domain member asks
//! SRV records, a media box fans out over CDN shards. A site model fitted on
//! every host's windows still finds such a host's busier windows odd.
//!
//! [`HostBaselines`] keeps, per host, the largest value of every model input
//! ([`super::MODEL_FEATURES`]) over the host's windows that did not alert —
//! from its first window on, so its baseline period (the learning period)
//! counts. A window whose only case for an alert is the model's score (no
//! evidence) and whose every reason lies within the host's own usual range
//! (at most [`MARGIN`] × the host's largest value, and the host has at
//! least [`MIN_WINDOWS`] windows) is held Normal, its explanation saying the
//! values are usual for this host. Evidence is never held.
//!
//! Memory: at most [`MAX_HOSTS`] hosts (least recently seen dropped,
//! counted), 15 floats and two counters each: about 10 MB at the cap.
//! Persisted through the store: every window's model input and label are
//! in SQLite, and a sensor rebuilds the baselines at start from the
//! non-alerting windows of the last [`RESTORE_HORIZON`] (at most
//! [`RESTORE_ROWS`] of them, newest first).

use super::N_MODEL_FEATURES;
use crate::event::TsMicros;
use rustc_hash::FxHashMap;
use std::net::IpAddr;

/// Hosts followed at most.
pub const MAX_HOSTS: usize = 65_536;
/// A reason is usual for the host up to this multiple of its largest value.
pub const MARGIN: f64 = 1.25;
/// How far back a restart rebuilds the baselines from stored windows.
pub const RESTORE_HORIZON: i64 = 7 * 86_400;
/// Most stored windows a restart reads for the baselines.
pub const RESTORE_ROWS: usize = 1_000_000;

/// The per-host baseline unit's registry entry.
pub static UNIT: super::unit::UnitInfo = super::unit::UnitInfo {
    name: "host_baselines",
    file: "src/detect/host.rs",
    summary: "each host's usual range of every model input over its windows that did not alert; a model-only alert within 1.25 x that range is held Normal (evidence never is)",
    findings: Vec::new,
    memory: "65,536 hosts x 15 floats: about 10 MB",
    persisted: "rebuilt at start from the stored windows' model inputs and labels of the last 7 days",
};

/// Windows a host needs before its baseline is used.
pub const MIN_WINDOWS: u32 = 4;

#[derive(Debug, Clone)]
struct Baseline {
    max: [f64; N_MODEL_FEATURES],
    windows: u32,
    last: TsMicros,
}

/// The per-host baseline unit (see the module docs).
#[derive(Debug, Default)]
pub struct HostBaselines {
    hosts: FxHashMap<IpAddr, Baseline>,
    evicted: u64,
}

impl HostBaselines {
    /// An empty unit.
    pub fn new() -> Self {
        Self::default()
    }

    /// Hosts dropped at [`MAX_HOSTS`].
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The host's usual range (largest value per model input), once it has
    /// [`MIN_WINDOWS`] windows.
    pub fn usual(&self, host: &IpAddr) -> Option<&[f64; N_MODEL_FEATURES]> {
        self.hosts
            .get(host)
            .filter(|b| b.windows >= MIN_WINDOWS)
            .map(|b| &b.max)
    }

    /// Learn from a window of `host` that did not alert (model input `x`).
    pub fn learn(&mut self, host: IpAddr, x: &[f64; N_MODEL_FEATURES], at: TsMicros) {
        if !self.hosts.contains_key(&host) && self.hosts.len() >= MAX_HOSTS {
            if let Some(oldest) = self
                .hosts
                .iter()
                .min_by_key(|(_, b)| b.last)
                .map(|(k, _)| *k)
            {
                self.hosts.remove(&oldest);
                self.evicted += 1;
            }
        }
        let b = self.hosts.entry(host).or_insert(Baseline {
            max: [f64::MIN; N_MODEL_FEATURES],
            windows: 0,
            last: at,
        });
        for (m, v) in b.max.iter_mut().zip(x) {
            if v.is_finite() {
                *m = m.max(*v);
            }
        }
        b.windows += 1;
        b.last = b.last.max(at);
    }
}

impl HostBaselines {
    /// Rebuild from `store`: the non-alerting windows of the last
    /// [`RESTORE_HORIZON`] before its latest window. Returns the windows read.
    pub fn restore(
        &mut self,
        store: &crate::store::Store,
    ) -> Result<usize, crate::store::StoreError> {
        let Some(last) = store.last_window_start()? else {
            return Ok(0);
        };
        store.usual_rows(last - RESTORE_HORIZON, RESTORE_ROWS, |host, x, end| {
            if let Ok(x) = <[f64; N_MODEL_FEATURES]>::try_from(x) {
                self.learn(host, &x, end * crate::event::MICROS);
            }
        })
    }
}

impl super::unit::HostUnit for HostBaselines {
    fn info(&self) -> &'static super::unit::UnitInfo {
        &UNIT
    }
    fn observe(&mut self, w: &crate::aggregate::HostWindow, ctx: &mut super::unit::Context) {
        ctx.usual = self.usual(&w.host).copied();
    }
    fn judged(&mut self, w: &crate::aggregate::HostWindow, v: &super::Verdict) {
        if v.label == crate::model::Label::Normal && w.lookups > 0 {
            self.learn(w.host, &super::model_input(w), w.end);
        }
    }
    fn restore(
        &mut self,
        store: &crate::store::Store,
    ) -> Result<(usize, usize), crate::store::StoreError> {
        Ok((HostBaselines::restore(self, store)?, 0))
    }
    fn evicted(&self) -> u64 {
        self.evicted
    }
}

/// Whether `value` of model input `i` lies within the usual range `usual`.
pub fn within(usual: &[f64; N_MODEL_FEATURES], i: usize, value: f64) -> bool {
    usual
        .get(i)
        .is_some_and(|m| *m > f64::MIN && value <= m.max(0.0) * MARGIN + 1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_learns_its_range_and_others_do_not_share_it() {
        let mut h = HostBaselines::new();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let mut x = [0.0; N_MODEL_FEATURES];
        x[10] = 0.3;
        for t in 0..MIN_WINDOWS - 1 {
            h.learn(a, &x, t as i64);
            assert!(h.usual(&a).is_none(), "too few windows yet");
        }
        h.learn(a, &x, 9);
        let u = h.usual(&a).unwrap();
        assert!(within(u, 10, 0.3 * MARGIN));
        assert!(!within(u, 10, 0.3 * MARGIN + 0.01));
        assert!(h.usual(&"10.0.0.2".parse().unwrap()).is_none());
    }

    #[test]
    fn baselines_come_back_from_the_store() {
        use crate::aggregate::HostWindow;
        use crate::event::MICROS;
        let mut store = crate::store::Store::open_in_memory().unwrap();
        let run = store.begin_run("test", &[], 300).unwrap();
        let (det, _) = crate::sensor::load_model(&crate::config::ModelChoice::Search, None)
            .unwrap()
            .unwrap();
        let host: IpAddr = "10.0.0.5".parse().unwrap();
        let ws: Vec<HostWindow> = (0..5)
            .map(|i| {
                let mut w = HostWindow::empty(host, i * 300 * MICROS, (i + 1) * 300 * MICROS);
                w.lookups = 20;
                w.with_rcode = 20;
                w.unique_domains = 5;
                w.unique_registrable = 5;
                w.qtypes.txt = i as u32;
                w
            })
            .collect();
        let vs: Vec<_> = ws.iter().map(|w| det.judge(w)).collect();
        assert!(vs.iter().all(|v| v.label == crate::model::Label::Normal));
        store
            .write_batch(run, &ws, &vs, &crate::enrich::FirstSeenDelta::default())
            .unwrap();
        let mut live = HostBaselines::new();
        for w in &ws {
            live.learn(host, &super::super::model_input(w), w.end);
        }
        let mut restored = HostBaselines::new();
        assert_eq!(restored.restore(&store).unwrap(), 5);
        // (JSON keeps each value to within an ulp.)
        let (r, l) = (restored.usual(&host).unwrap(), live.usual(&host).unwrap());
        for (a, b) in r.iter().zip(l) {
            assert!((a - b).abs() <= 1e-12 * b.abs().max(1.0), "{r:?} vs {l:?}");
        }
    }
}
