//! The hook between scoring and the incident tracker: a scored batch of
//! [`HostWindow`]s becomes [`Observation`]s for [`Tracker`], and the
//! incidents it touched an [`IncidentBatch`] that the store writes in the
//! windows' transaction and the outputs alert on. Also how a sensor resumes
//! the open incidents of its database.

use crate::aggregate::HostWindow;
use crate::config::Settings;
use crate::detect::Verdict;
use crate::event::MICROS;
use crate::incident::{IncidentBatch, Observation, Tracker};
use crate::store::{Store, StoreError};

/// Domains worth naming in an incident, most specific first: threat-intel
/// hits, lookalikes, the domain carrying encoded names, the beacon's domain;
/// the risky names only when none of these exist, and the top names only
/// when nothing is risky.
fn named_domains(w: &HostWindow) -> Vec<&str> {
    let mut d: Vec<&str> = Vec::new();
    d.extend(w.intel_domains.iter().map(String::as_str));
    d.extend(w.lookalikes.iter().map(|l| l.name.as_str()));
    if !w.encoded_domain.is_empty() && w.encoded_names > 0 {
        d.push(&w.encoded_domain);
    }
    if let Some(b) = &w.beacon {
        d.push(&b.domain);
    }
    if d.is_empty() {
        d.extend(
            w.risky_domains
                .iter()
                .filter(|r| r.risk >= 0.5)
                .map(|r| r.name.as_str()),
        );
    }
    if d.is_empty() {
        d.extend(w.top_domains.iter().take(3).map(|r| r.name.as_str()));
    }
    d
}

/// Feed one scored batch (`verdicts` parallel to `windows`) to `tracker`,
/// then close what went quiet by the batch's latest window end; fills `out`.
pub fn track_batch(
    tracker: &mut Tracker,
    windows: &[HostWindow],
    verdicts: &[Verdict],
    out: &mut IncidentBatch,
) {
    out.clear();
    if verdicts.len() != windows.len() {
        return;
    }
    let mut now = i64::MIN;
    for (w, v) in windows.iter().zip(verdicts) {
        let host = w.host.to_string();
        let tags: Vec<&str> = v.reasons.iter().map(|r| r.tag).collect();
        let domains = named_domains(w);
        let end = w.end.div_euclid(MICROS);
        now = now.max(end);
        let o = Observation {
            host: &host,
            start: w.start.div_euclid(MICROS),
            end,
            score: v.score,
            label: v.label,
            tags: &tags,
            domains: &domains,
            model_id: &v.model_id,
            explanation: &v.explanation,
        };
        let id = tracker.observe(&o, &mut out.events);
        out.window_ids.push(id);
    }
    if now > i64::MIN {
        tracker.close_until(now, &mut out.events);
    }
}

/// A tracker with `settings`' `[incidents]` thresholds holding the open
/// incidents of `store` (a restarted sensor continues them).
pub fn resume_tracker(settings: &Settings, store: &Store) -> Result<Tracker, StoreError> {
    let mut t = Tracker::new(settings.config.incidents.build());
    let open = store.open_incidents()?;
    let n = open.len();
    t.resume(open, store.max_incident_id()?);
    if n > 0 {
        tracing::info!(open = n, "open incidents resumed from the database");
    }
    Ok(t)
}
