//! Packet time, shared by the DNS sensor and the flow detectors.
//!
//! Everything that runs on a clock runs on the clock of its input (packet
//! timestamps, flow or event times), never on the wall clock, so replay and
//! live capture agree. One representation, [`TsMicros`]; one parser,
//! [`parse_ts`], for every text timestamp the inputs carry; and every
//! formatter, all UTC: NDJSON ([`write_rfc3339_micros`]), simulated JSONL and
//! flow alerts ([`rfc3339_millis`]), command JSON ([`rfc3339_secs`]),
//! evaluation reports ([`datetime_secs`], [`tick_label_secs`]) and
//! explanation / webhook text ([`minute_micros`], [`hour_minute_micros`]).

use chrono::{DateTime, Utc};
use std::io::Write as _;

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
    } else if let Some(n) = t.strip_suffix('d') {
        (n, 86_400 * MICROS)
    } else {
        (t, MICROS)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a duration (examples: 300, 300s, 5m, 1h, 7d)"))?;
    if !v.is_finite() || v < 0.0 || v * mult as f64 > i64::MAX as f64 / 2.0 {
        return Err(format!("{s:?} is out of range"));
    }
    Ok((v * mult as f64).round() as TsMicros)
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian
/// calendar (H. Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Write `ts` as RFC 3339 UTC with microseconds
/// (`2024-03-04T08:00:00.250000Z`), unquoted. No allocation (the NDJSON hot
/// path).
pub fn write_rfc3339_micros(out: &mut Vec<u8>, ts: TsMicros) {
    let secs = ts.div_euclid(MICROS);
    let micros = ts.rem_euclid(MICROS);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "{y:04}-{mo:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
}

/// [`write_rfc3339_micros`] as a string.
pub fn rfc3339_micros(ts: TsMicros) -> String {
    let mut b = Vec::with_capacity(32);
    write_rfc3339_micros(&mut b, ts);
    String::from_utf8_lossy(&b).into_owned()
}

/// RFC 3339 UTC with milliseconds (`2024-03-04T08:00:00.123Z`); the epoch
/// when out of range.
pub fn rfc3339_millis(ts: TsMicros) -> String {
    DateTime::<Utc>::from_timestamp_micros(ts)
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `secs` (Unix seconds) in the chrono `pattern`, `None` when out of range.
///
/// For years 0 to 9999 (every packet time) a pattern of `%Y`, `%m`, `%d`,
/// `%H`, `%M`, `%S` and plain characters is written by hand: chrono's
/// formatter parses the pattern on every call, about 4,500 instructions a
/// timestamp against a few hundred, and explanation text formats two for
/// every window. Other years (signs, five digits) and other specifiers go
/// to chrono. A test holds the two together across the four-digit range.
fn format_secs(secs: i64, pattern: &str) -> Option<String> {
    // 0000-01-01T00:00:00Z and 10000-01-01T00:00:00Z in Unix seconds.
    const FIRST: i64 = -62_167_219_200;
    const END: i64 = 253_402_300_800;
    let chrono = || DateTime::<Utc>::from_timestamp(secs, 0).map(|t| t.format(pattern).to_string());
    if !(FIRST..END).contains(&secs) {
        return chrono();
    }
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let sod = secs.rem_euclid(86_400);
    let mut out = String::with_capacity(pattern.len() + 4);
    let push2 = |out: &mut String, v: i64| {
        out.push(char::from(b'0' + (v / 10 % 10) as u8));
        out.push(char::from(b'0' + (v % 10) as u8));
    };
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('Y') => {
                push2(&mut out, y / 100);
                push2(&mut out, y % 100);
            }
            Some('m') => push2(&mut out, i64::from(mo)),
            Some('d') => push2(&mut out, i64::from(d)),
            Some('H') => push2(&mut out, sod / 3600),
            Some('M') => push2(&mut out, sod / 60 % 60),
            Some('S') => push2(&mut out, sod % 60),
            _ => return chrono(),
        }
    }
    Some(out)
}

/// RFC 3339 UTC for Unix seconds (`2024-03-04T08:00:00Z`); the number when
/// out of range.
pub fn rfc3339_secs(secs: i64) -> String {
    format_secs(secs, "%Y-%m-%dT%H:%M:%SZ").unwrap_or_else(|| secs.to_string())
}

/// `YYYY-MM-DD HH:MM:SS` for Unix seconds; the number when out of range.
pub fn datetime_secs(secs: i64) -> String {
    format_secs(secs, "%Y-%m-%d %H:%M:%S").unwrap_or_else(|| secs.to_string())
}

/// A chart tick for Unix seconds: `HH:MM`, or `MM-DD HH:MM` for a long
/// span; the number when out of range.
pub fn tick_label_secs(secs: i64, long_span: bool) -> String {
    let pattern = if long_span { "%m-%d %H:%M" } else { "%H:%M" };
    format_secs(secs, pattern).unwrap_or_else(|| secs.to_string())
}

/// `YYYY-MM-DD HH:MM` for `ts` (seconds rounded down); empty when out of
/// range.
pub fn minute_micros(ts: TsMicros) -> String {
    format_secs(ts.div_euclid(MICROS), "%Y-%m-%d %H:%M").unwrap_or_default()
}

/// `HH:MM` for `ts` (seconds rounded down); empty when out of range.
pub fn hour_minute_micros(ts: TsMicros) -> String {
    format_secs(ts.div_euclid(MICROS), "%H:%M").unwrap_or_default()
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

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn timestamps_match_chrono() {
        for ts in [
            0i64,
            1_709_539_200_250_000,
            951_782_400 * MICROS + 1, // 2000-02-29
            4_102_444_799 * MICROS + 999_999,
            -1,
        ] {
            let mut b = Vec::new();
            write_rfc3339_micros(&mut b, ts);
            let want = chrono::DateTime::from_timestamp_micros(ts)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            assert_eq!(String::from_utf8(b).unwrap(), want);
            assert_eq!(rfc3339_micros(ts), want);
        }
    }

    #[test]
    fn hand_written_formats_are_chronos_across_four_digit_years_and_other_specifiers_go_to_chrono()
    {
        let chrono = |secs: i64, pattern: &str| {
            DateTime::<Utc>::from_timestamp(secs, 0).map(|t| t.format(pattern).to_string())
        };
        let first = -62_167_219_200i64;
        let end = 253_402_300_800i64;
        // Both edges of the range, leap days, and a spread of ordinary
        // times (an odd stride, so every field takes many values).
        let mut secs: Vec<i64> = vec![
            first - 1,
            first,
            first + 86_399,
            end - 1,
            end,
            0,
            -1,
            951_782_400,
            951_868_799,
        ];
        secs.extend((first..end).step_by(1_234_567_891));
        secs.extend((0..4_200_000_000i64).step_by(86_400 * 17 + 3_607));
        for s in secs {
            for p in [
                "%Y-%m-%dT%H:%M:%SZ",
                "%Y-%m-%d %H:%M:%S",
                "%m-%d %H:%M",
                "%Y-%m-%d %H:%M",
                "%H:%M",
                // Not written by hand: chrono's, whole.
                "%Y-%m-%d %H:%M:%S%.3f",
                "%a %e %b",
            ] {
                assert_eq!(format_secs(s, p), chrono(s, p), "{s} as {p}");
            }
        }
    }

    #[test]
    fn every_format_and_its_fallback() {
        let ts = 1_709_539_200_250_000; // 2024-03-04T08:00:00.25Z
        let s = ts / MICROS;
        assert_eq!(rfc3339_millis(ts), "2024-03-04T08:00:00.250Z");
        assert_eq!(rfc3339_millis(TsMicros::MAX), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_secs(s), "2024-03-04T08:00:00Z");
        assert_eq!(datetime_secs(s), "2024-03-04 08:00:00");
        assert_eq!(tick_label_secs(s, false), "08:00");
        assert_eq!(tick_label_secs(s, true), "03-04 08:00");
        assert_eq!(minute_micros(ts), "2024-03-04 08:00");
        assert_eq!(hour_minute_micros(ts), "08:00");
        for f in [rfc3339_secs, datetime_secs] {
            assert_eq!(f(i64::MAX), i64::MAX.to_string());
        }
        assert_eq!(tick_label_secs(i64::MAX, true), i64::MAX.to_string());
        assert_eq!(minute_micros(TsMicros::MAX), "");
        assert_eq!(hour_minute_micros(TsMicros::MAX), "");
    }
}
