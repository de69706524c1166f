//! Follow-ups of a resolved brand lookalike: per host, the time of its latest
//! resolved lookalike ([`LURE_HOSTS_CAP`] hosts at most) and the never-seen
//! domains it looked up within [`FOLLOW_UP`] after it.

use super::Aggregator;
use crate::enrich::Enrichment;
use crate::event::{rcode, Lookup, TsMicros, MICROS};

/// How long after resolving a brand lookalike a host's never-seen domains
/// count as follow-ups ([`HostWindow::follow_up_domains`](super::HostWindow::follow_up_domains)).
pub const FOLLOW_UP: TsMicros = 5 * 60 * MICROS;

/// A host's latest resolved lookalike and the follow-up domains seen since.
#[derive(Debug, Clone, Copy)]
pub(super) struct LureState {
    pub(super) ts: TsMicros,
    /// Registrable-domain hashes of the follow-ups (first four).
    domains: [u64; 4],
    n: u8,
}

impl Default for LureState {
    fn default() -> Self {
        LureState {
            ts: TsMicros::MIN,
            domains: [0; 4],
            n: 0,
        }
    }
}

/// Most hosts whose last lookalike is remembered at once (memory bound).
pub const LURE_HOSTS_CAP: usize = 65_536;

impl Aggregator {
    /// Track resolved brand lookalikes per host; whether `l` is a follow-up
    /// (see [`HostWindow::follow_up_domains`](super::HostWindow::follow_up_domains)): a never-seen domain within
    /// [`FOLLOW_UP`] of the host's latest lookalike, or a later lookup of a
    /// domain that was one (a reload of the drop page in the next window).
    pub(super) fn follow_up(&mut self, l: &Lookup<'_>, e: &Enrichment) -> bool {
        if l.rcode != Some(rcode::NOERROR) {
            return false;
        }
        if e.impersonation.is_some() {
            if self.lures.len() < LURE_HOSTS_CAP || self.lures.contains_key(&l.client) {
                let s = self.lures.entry(l.client).or_default();
                s.ts = s.ts.max(l.ts);
            }
            return false;
        }
        if e.popular || e.allowed || e.infra || e.registrable_len == 0 {
            return false;
        }
        let Some(s) = self.lures.get_mut(&l.client) else {
            return false;
        };
        if l.ts < s.ts || l.ts - s.ts > FOLLOW_UP {
            return false;
        }
        if s.domains[..s.n as usize].contains(&e.registrable_hash) {
            return true;
        }
        if e.new_global {
            if (s.n as usize) < s.domains.len() {
                s.domains[s.n as usize] = e.registrable_hash;
                s.n += 1;
            }
            return true;
        }
        false
    }
}
