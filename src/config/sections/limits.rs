//! `[limits]`: the memory bounds (open windows, names, pending queries, flows,
//! first-seen, JSONL line length) and how they reach the pipeline.

use super::super::values::size;
use super::super::{Duration, KeyRange};
use crate::event::MICROS;
use serde::{Deserialize, Serialize};

/// `[limits]`: memory bounds an attacker can push against (spoofed sources,
/// random subdomains, TCP and fragment floods, long JSONL lines). Each table
/// evicts or refuses beyond its bound and counts it in the run summary and in
/// Prometheus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Open (host, window) accumulators (default 50000; 1 to 5000000).
    pub max_open_windows: usize,
    /// Distinct names kept per host window (default 65536; 1 to 1048576).
    pub max_names_per_window: usize,
    /// Distinct names kept over all open windows (default 2000000; 1000 to
    /// 100000000).
    pub max_names_total: usize,
    /// How far ahead of the packet clock one timestamp may jump before it
    /// must be confirmed (default `"10m"`; 1 s to 1 day).
    pub max_clock_jump: Duration,
    /// Queries waiting for their response (default 1048576; 1 to 16777216).
    pub pending_queries: usize,
    /// TCP flow directions being reassembled (default 4096; 1 to 262144).
    pub tcp_flows: usize,
    /// IP datagrams being reassembled from fragments (default 1024; 1 to 65536).
    pub ip_fragment_sets: usize,
    /// Sensor-wide first-seen registrable domains kept in memory (default
    /// 1000000; 1 to 50000000).
    pub first_seen_cap: usize,
    /// First-seen (host, registrable domain) pairs kept in memory (default
    /// 2000000; 1 to 50000000).
    pub host_first_seen_cap: usize,
    /// First-seen keys persisted in the database (snapshot and log records of
    /// `first_seen_state`; default 3000000; 1000 to
    /// 100000000).
    pub first_seen_rows: u64,
    /// Longest JSONL input line in bytes; a number or `"1M"`-style size
    /// (default 1 MiB; 1 KiB to 64 MiB).
    #[serde(deserialize_with = "size")]
    pub jsonl_line_bytes: u64,
}

/// Default of [`LimitsConfig::first_seen_rows`].
pub const DEFAULT_FIRST_SEEN_ROWS: u64 = 3_000_000;
/// Default of [`LimitsConfig::jsonl_line_bytes`] (1 MiB).
pub const DEFAULT_JSONL_LINE_BYTES: u64 = 1 << 20;

impl Default for LimitsConfig {
    fn default() -> Self {
        let p = crate::pipeline::PipelineConfig::default();
        LimitsConfig {
            max_open_windows: p.aggregate.max_open_windows,
            max_names_per_window: p.aggregate.max_names_per_window,
            max_names_total: p.aggregate.max_names_total,
            max_clock_jump: Duration(p.clock.max_jump),
            pending_queries: p.pair.max_pending,
            tcp_flows: p.decode.max_tcp_flows,
            ip_fragment_sets: p.decode.max_fragment_sets,
            first_seen_cap: p.enrich.first_seen_cap,
            host_first_seen_cap: p.enrich.host_first_seen_cap,
            first_seen_rows: DEFAULT_FIRST_SEEN_ROWS,
            jsonl_line_bytes: DEFAULT_JSONL_LINE_BYTES,
        }
    }
}

impl LimitsConfig {
    /// The allowed range of every key.
    pub fn bounds(&self) -> Vec<KeyRange> {
        vec![
            KeyRange::new(
                "limits.max_open_windows",
                self.max_open_windows,
                1,
                5_000_000,
            ),
            KeyRange::new(
                "limits.max_names_per_window",
                self.max_names_per_window,
                1,
                1 << 20,
            ),
            KeyRange::new(
                "limits.max_names_total",
                self.max_names_total,
                1000,
                100_000_000,
            ),
            KeyRange::duration(
                "limits.max_clock_jump",
                self.max_clock_jump.0,
                MICROS,
                86_400 * MICROS,
            ),
            KeyRange::new("limits.pending_queries", self.pending_queries, 1, 1 << 24),
            KeyRange::new("limits.tcp_flows", self.tcp_flows, 1, 1 << 18),
            KeyRange::new("limits.ip_fragment_sets", self.ip_fragment_sets, 1, 1 << 16),
            KeyRange::new("limits.first_seen_cap", self.first_seen_cap, 1, 50_000_000),
            KeyRange::new(
                "limits.host_first_seen_cap",
                self.host_first_seen_cap,
                1,
                50_000_000,
            ),
            KeyRange::new(
                "limits.first_seen_rows",
                self.first_seen_rows,
                1000,
                100_000_000,
            ),
            KeyRange::new(
                "limits.jsonl_line_bytes",
                self.jsonl_line_bytes,
                1 << 10,
                64 << 20,
            ),
        ]
    }

    /// Lay the bounds over a pipeline configuration (the fields that exist
    /// there; `first_seen_rows` and `jsonl_line_bytes` are read by the store
    /// and the JSONL reader).
    pub fn apply_to(&self, cfg: &mut crate::pipeline::PipelineConfig) {
        cfg.aggregate.max_open_windows = self.max_open_windows;
        cfg.aggregate.max_names_per_window = self.max_names_per_window;
        cfg.aggregate.max_names_total = self.max_names_total;
        cfg.clock.max_jump = self.max_clock_jump.0;
        cfg.pair.max_pending = self.pending_queries;
        cfg.decode.max_tcp_flows = self.tcp_flows;
        cfg.decode.max_fragment_sets = self.ip_fragment_sets;
        cfg.enrich.first_seen_cap = self.first_seen_cap;
        cfg.enrich.host_first_seen_cap = self.host_first_seen_cap;
        cfg.source.max_line_bytes = usize::try_from(self.jsonl_line_bytes).unwrap_or(usize::MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::problems;
    use crate::config::Config;

    #[test]
    fn limits_parse_with_defaults_and_reach_the_pipeline_config() {
        let d = LimitsConfig::default();
        let mut pc = crate::pipeline::PipelineConfig::default();
        let before = format!("{pc:?}");
        d.apply_to(&mut pc);
        assert_eq!(
            format!("{pc:?}"),
            before,
            "the defaults are the pipeline's defaults"
        );
        assert_eq!(
            d.max_open_windows,
            crate::aggregate::DEFAULT_MAX_OPEN_WINDOWS
        );
        assert_eq!(d.max_clock_jump.to_string(), "10m");
        assert_eq!(
            (d.first_seen_rows, d.jsonl_line_bytes),
            (3_000_000, 1 << 20)
        );
        let c = Config::parse(
            "[limits]\nmax_open_windows = 10\nmax_names_per_window = 11\nmax_names_total = 1234\nmax_clock_jump = \"30s\"\n\
             pending_queries = 12\ntcp_flows = 13\nip_fragment_sets = 14\nfirst_seen_cap = 15\n\
             host_first_seen_cap = 16\nfirst_seen_rows = 5000\njsonl_line_bytes = \"512K\"\n",
        )
        .unwrap();
        let l = &c.limits;
        assert_eq!((l.first_seen_rows, l.jsonl_line_bytes), (5000, 512 << 10));
        let mut pc = crate::pipeline::PipelineConfig::default();
        l.apply_to(&mut pc);
        assert_eq!(pc.aggregate.max_open_windows, 10);
        assert_eq!(pc.aggregate.max_names_per_window, 11);
        assert_eq!(pc.aggregate.max_names_total, 1234);
        assert_eq!(pc.clock.max_jump, 30 * MICROS);
        assert_eq!(pc.pair.max_pending, 12);
        assert_eq!(pc.decode.max_tcp_flows, 13);
        assert_eq!(pc.decode.max_fragment_sets, 14);
        assert_eq!(pc.enrich.first_seen_cap, 15);
        assert_eq!(pc.enrich.host_first_seen_cap, 16);
        assert_eq!(
            Config::parse("[limits]\njsonl_line_bytes = 2048\n")
                .unwrap()
                .limits
                .jsonl_line_bytes,
            2048
        );
        let p = problems("[limits]\njsonl_line_bytes = \"1G\"\n");
        assert!(
            p[0].to_string().contains(
                "[limits] jsonl_line_bytes: 1073741824 is out of range (1024 to 67108864)"
            ),
            "{}",
            p[0]
        );
        let p = problems("[limits]\njsonl_line_bytes = \"lots\"\n");
        assert!(
            p[0].to_string().contains("[limits] jsonl_line_bytes"),
            "{}",
            p[0]
        );
        // The effective settings show the section and read back.
        let shown = c.to_toml();
        assert!(
            shown.contains("[limits]") && shown.contains("max_open_windows = 10"),
            "{shown}"
        );
        assert_eq!(Config::parse(&shown).unwrap(), c);
    }
}
