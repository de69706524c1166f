//! Parsers of option values (clap `value_parser`s).

use sentineldns::event::MICROS;

/// Parse a byte size: `1048576`, `512K`, `100M`, `100MiB`, `2G` (powers of
/// 1024), the same strings the configuration file takes.
pub use sentineldns::config::parse_size;

/// Parse `300`, `300s`, `5m`, `1h30m`, `250ms` into microseconds, the same
/// strings the configuration file takes.
pub use sentineldns::config::parse_duration;

/// Parse `--top`: 1 to 1000 domains per window.
pub fn parse_top(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err(format!("{s:?} is not a number from 1 to 1000")),
    }
}

/// Parse RFC 3339 or epoch seconds into unix seconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    sentineldns::source::jsonl::parse_ts(s)
        .map(|us| us.div_euclid(MICROS))
        .ok_or_else(|| format!("{s:?} is not RFC 3339 (2024-03-01T12:00:00Z) or epoch seconds"))
}
