//! Packet time, shared by the DNS sensor and the flow detectors.
//!
//! Everything that runs on a clock runs on the clock of its input (packet
//! timestamps, flow or event times), never on the wall clock, so replay and
//! live capture agree. One representation, [`TsMicros`], and one parser,
//! [`parse_ts`], for every text timestamp the inputs carry.

/// Packet time: microseconds since the Unix epoch. Windows run on this clock,
/// never on the wall clock, so replay and live capture agree.
pub type TsMicros = i64;

/// Microseconds per second.
pub const MICROS: i64 = 1_000_000;

/// Parse a text timestamp: Unix epoch seconds, milliseconds or microseconds
/// (told apart by magnitude; fractions allowed) or RFC 3339. `None` for
/// anything else, a negative or non-finite epoch, or one past `i64` micros.
pub fn parse_ts(s: &str) -> Option<TsMicros> {
    let t = s.trim();
    if let Ok(n) = t.parse::<f64>() {
        return epoch_to_micros(n);
    }
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|d| d.timestamp_micros())
}

/// Epoch seconds, milliseconds or microseconds (above 1e11 and 1e14 the
/// value can only be milliseconds or microseconds since 1970) as
/// [`TsMicros`]; `None` when negative, non-finite or past `i64` micros.
pub fn epoch_to_micros(n: f64) -> Option<TsMicros> {
    if !n.is_finite() || n < 0.0 {
        return None;
    }
    let secs = if n > 1e14 {
        n / 1e6
    } else if n > 1e11 {
        n / 1e3
    } else {
        n
    };
    let us = (secs * MICROS as f64).round();
    (us < i64::MAX as f64).then_some(us as i64)
}

/// Parse `300`, `300s`, `5m`, `1h`, `250ms` into microseconds.
///
/// ```
/// assert_eq!(sentineldns_model::time::parse_duration("5m"), Ok(300_000_000));
/// assert!(sentineldns_model::time::parse_duration("soon").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<TsMicros, String> {
    let t = s.trim();
    let (num, mult) = if let Some(n) = t.strip_suffix("ms") {
        (n, MICROS / 1000)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, MICROS)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60 * MICROS)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600 * MICROS)
    } else {
        (t, MICROS)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 300, 300s, 5m, 1h)"))?;
    if !v.is_finite() || v < 0.0 || v * mult as f64 > i64::MAX as f64 / 2.0 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok((v * mult as f64).round() as TsMicros)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_units_are_told_apart_by_magnitude() {
        assert_eq!(parse_ts("1700000000"), Some(1_700_000_000 * MICROS));
        assert_eq!(parse_ts("1700000000000"), Some(1_700_000_000 * MICROS));
        assert_eq!(parse_ts("1700000000000000"), Some(1_700_000_000 * MICROS));
        assert_eq!(parse_ts(" 1700000000.5 "), Some(1_700_000_000_500_000));
    }

    #[test]
    fn rfc3339_and_garbage() {
        assert_eq!(
            parse_ts("2023-11-14T22:13:20Z"),
            Some(1_700_000_000 * MICROS)
        );
        assert_eq!(parse_ts("yesterday"), None);
        assert_eq!(parse_ts("-5"), None);
        assert_eq!(parse_ts("NaN"), None);
        assert_eq!(parse_ts("1e300"), None);
    }
}
