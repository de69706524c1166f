//! `[store]`: how long the SQLite database keeps windows (retention); read
//! by [`crate::sensor::open_store`], applied by [`crate::store::Store`] in
//! each batch's transaction.

use super::super::{Duration, KeyRange};
use crate::event::{TsMicros, MICROS};
use serde::{Deserialize, Serialize};

/// Longest allowed `keep`: ten years.
const MAX_KEEP: TsMicros = 3650 * 86_400 * MICROS;
/// Shortest non-zero `keep`: one hour (shorter would delete the windows an
/// open incident or a learning horizon is still reading).
const MIN_KEEP: TsMicros = 3600 * MICROS;

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// Packet time a window is kept after its start (e.g. `"30d"`); each
    /// batch deletes, in its own transaction, the windows that started more
    /// than `keep` before the newest window it writes, and the closed
    /// incidents left without windows. `"0s"` (the default) keeps
    /// everything; otherwise 1 hour to 3650 days.
    pub keep: Duration,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { keep: Duration(0) }
    }
}

impl StoreConfig {
    /// The allowed range of every key (`keep`: 0 to 3650 days; the 1-hour
    /// floor of a non-zero `keep` is [`problem`](Self::problem)'s).
    pub fn bounds(&self) -> Vec<KeyRange> {
        vec![KeyRange::duration("store.keep", self.keep.0, 0, MAX_KEEP)]
    }

    /// A non-zero `keep` under one hour, as (key, message).
    pub fn problem(&self) -> Option<(&'static str, String)> {
        (self.keep.0 > 0 && self.keep.0 < MIN_KEEP).then(|| {
            (
                "store.keep",
                format!(
                    "{} is too short: \"0s\" keeps everything, otherwise at least {}",
                    self.keep,
                    Duration(MIN_KEEP)
                ),
            )
        })
    }

    /// The retention to give [`crate::store::Store::set_keep`]: `None` keeps
    /// everything.
    pub fn keep(&self) -> Option<TsMicros> {
        (self.keep.0 > 0).then_some(self.keep.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn keep_parses_and_is_bounded() {
        let c = Config::parse("[store]\nkeep = \"30d\"\n").unwrap();
        assert_eq!(c.store.keep(), Some(30 * 86_400 * MICROS));
        assert_eq!(Config::default().store.keep(), None);
        let e = Config::parse("[store]\nkeep = \"10m\"\n").unwrap_err();
        assert!(
            e.to_string().contains("[store] keep: 10m is too short"),
            "{e}"
        );
        let e = Config::parse("[store]\nkeep = \"3651d\"\n").unwrap_err();
        assert!(e.to_string().contains("[store] keep"), "{e}");
        let e = Config::parse("[store]\nkeep = \"thirty days\"\n").unwrap_err();
        assert!(e.to_string().contains("not a duration"), "{e}");
        let e = Config::parse("[store]\nkeeep = \"30d\"\n").unwrap_err();
        assert!(e.to_string().contains("keeep"), "{e}");
    }
}
