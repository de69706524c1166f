//! Hand-written JSON for the columns every window writes (`top_domains`,
//! `risky_domains`, `reasons`, `model_input`, `qtypes`, `rcodes`) and for the
//! slow-signal state rows: appended to a reused `String`, byte for byte what
//! `serde_json::to_string` writes for the same values (the tests below
//! compare them, hostile strings included), without serde's per-field
//! machinery and one allocation per column.
//!
//! The rules followed are serde_json's compact ones:
//!
//! * strings: `"` and `\` escaped with a backslash; `\b`, `\f`, `\n`, `\r`,
//!   `\t` in short form; every other byte below 0x20 as `\u00xx` (lower-case
//!   hex); everything else (DEL, `/`, `<`, any non-ASCII character) as is;
//! * floats: the shortest representation that reads back the same value
//!   (`zmij`, as serde_json uses it); NaN and ±infinity as `null`;
//! * integers: decimal (`itoa`);
//! * structs: fields in declaration order, `{"name":value,...}`, no spaces.

use crate::aggregate::DomainCount;
use crate::detect::Reason;

/// Append `s` as a JSON string (quotes included).
#[inline]
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x08 => "\\b",
            0x0c => "\\f",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is at an ASCII byte: a char boundary.
        out.push_str(&s[start..i]);
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        } else {
            out.push_str(short);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// Append `x` as a JSON number (`null` when not finite).
#[inline]
pub fn push_f64(out: &mut String, x: f64) {
    if x.is_finite() {
        out.push_str(zmij::Buffer::new().format_finite(x));
    } else {
        out.push_str("null");
    }
}

/// Append `n` as a JSON number.
#[inline]
pub fn push_int<I: itoa::Integer>(out: &mut String, n: I) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// Append `"key":` (after a comma unless `first`); `key` needs no escaping.
#[inline]
pub fn push_key(out: &mut String, key: &str, first: bool) {
    out.push_str(if first { "\"" } else { ",\"" });
    out.push_str(key);
    out.push_str("\":");
}

/// Append `items` as a JSON array, each written by `each`.
#[inline]
pub fn push_array<T>(
    out: &mut String,
    items: impl IntoIterator<Item = T>,
    mut each: impl FnMut(&mut String, T),
) {
    out.push('[');
    for (i, x) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        each(out, x);
    }
    out.push(']');
}

/// Append a `[DomainCount]` (the `top_domains` / `risky_domains` columns).
pub fn push_domain_counts(out: &mut String, v: &[DomainCount]) {
    push_array(out, v.iter(), |out, d| {
        out.push('{');
        push_key(out, "name", true);
        push_str(out, &d.name);
        push_key(out, "count", false);
        push_int(out, d.count);
        push_key(out, "nxdomain", false);
        push_int(out, d.nxdomain);
        push_key(out, "risk", false);
        push_f64(out, d.risk);
        out.push('}');
    });
}

/// Append a `[Reason]` (the `reasons` column).
pub fn push_reasons(out: &mut String, v: &[Reason]) {
    push_array(out, v.iter(), |out, r| {
        out.push('{');
        push_key(out, "tag", true);
        push_str(out, r.tag);
        push_key(out, "feature", false);
        push_str(out, r.feature);
        push_key(out, "value", false);
        push_f64(out, r.value);
        push_key(out, "usual", false);
        push_f64(out, r.usual);
        push_key(out, "deviation", false);
        push_f64(out, r.deviation);
        out.push('}');
    });
}

/// Append a list of floats (the `model_input` column).
pub fn push_f64s(out: &mut String, v: &[f64]) {
    push_array(out, v.iter(), |out, x| {
        push_f64(out, *x);
    });
}

/// Append an object of unsigned counts, `fields` in order (the `qtypes` and
/// `rcodes` columns).
pub fn push_counts(out: &mut String, fields: &[(&str, u64)]) {
    out.push('{');
    for (i, (k, n)) in fields.iter().enumerate() {
        push_key(out, k, i == 0);
        push_int(out, *n);
    }
    out.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::read::{QtypeMix, RcodeMix};

    /// Strings an attacker controls end up in names: every escape class,
    /// markup, multi-byte characters and the bytes around the escape range.
    pub(crate) fn hostile() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            "example.com",
            "a\"b",
            "back\\slash\\",
            "\\\"",
            "<script>alert('x')</script>",
            "tab\there\nnew\rline",
            "\u{8}\u{c}\u{0}\u{1}\u{1f}\u{7f}\u{80}",
            "ünïcødé.例え.テスト",
            "emoji 🦀 and \u{2028}\u{2029} separators",
            "/slash/",
            "ends with control\u{1b}",
            "\"",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // Every character up to U+00FF alone and in a run.
        let all: String = (0u32..=0xff).filter_map(char::from_u32).collect();
        v.push(all);
        for c in (0u32..=0x80).filter_map(char::from_u32) {
            v.push(format!("x{c}y"));
        }
        v
    }

    fn floats() -> Vec<f64> {
        vec![
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            1e-7,
            1e21,
            123456789.0,
            0.30000000000000004,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            5e-324,
            0.6557,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            std::f64::consts::PI,
        ]
    }

    #[test]
    fn strings_match_serde_json() {
        for s in hostile() {
            let mut out = String::from("prefix");
            push_str(&mut out, &s);
            assert_eq!(
                &out["prefix".len()..],
                serde_json::to_string(&s).unwrap(),
                "{s:?}"
            );
        }
    }

    #[test]
    fn numbers_match_serde_json() {
        for x in floats() {
            let mut out = String::new();
            push_f64(&mut out, x);
            assert_eq!(out, serde_json::to_string(&x).unwrap(), "{x:?}");
        }
        for n in [0u64, 1, 9, 10, u32::MAX as u64, u64::MAX] {
            let mut out = String::new();
            push_int(&mut out, n);
            assert_eq!(out, serde_json::to_string(&n).unwrap());
        }
        for n in [0i64, -1, i64::MIN, i64::MAX] {
            let mut out = String::new();
            push_int(&mut out, n);
            assert_eq!(out, serde_json::to_string(&n).unwrap());
        }
        let mut out = String::new();
        push_f64s(&mut out, &floats());
        assert_eq!(out, serde_json::to_string(&floats()).unwrap());
        let mut out = String::new();
        push_f64s(&mut out, &[]);
        assert_eq!(out, "[]");
    }

    #[test]
    fn domain_counts_match_serde_json() {
        let names = hostile();
        let fl = floats();
        let v: Vec<DomainCount> = names
            .iter()
            .enumerate()
            .map(|(i, n)| DomainCount {
                name: n.clone(),
                count: i as u32 * 7919,
                nxdomain: if i % 3 == 0 { u32::MAX } else { i as u32 },
                risk: fl[i % fl.len()],
            })
            .collect();
        for k in [0, 1, 2, v.len()] {
            let mut out = String::new();
            push_domain_counts(&mut out, &v[..k]);
            assert_eq!(out, serde_json::to_string(&v[..k]).unwrap());
        }
    }

    #[test]
    fn reasons_match_serde_json() {
        let fl = floats();
        let tags = ["nxdomain_spike", "a\"b", "<script>", "\u{1}\\"];
        let v: Vec<Reason> = (0..fl.len())
            .map(|i| Reason {
                tag: tags[i % tags.len()],
                feature: tags[(i + 1) % tags.len()],
                value: fl[i],
                usual: fl[(i + 3) % fl.len()],
                deviation: fl[(i + 7) % fl.len()],
            })
            .collect();
        for k in [0, 1, 2, v.len()] {
            let mut out = String::new();
            push_reasons(&mut out, &v[..k]);
            assert_eq!(out, serde_json::to_string(&v[..k]).unwrap());
        }
    }

    #[test]
    fn mixes_match_serde_json() {
        let q = QtypeMix {
            a: 1,
            aaaa: 0,
            txt: u64::MAX,
            null: 7,
            any: 8,
            ptr: 9,
            other_common: 10,
            rare: 11,
        };
        let r = RcodeMix {
            noerror: 3,
            nxdomain: 0,
            servfail: 5,
            refused: u64::MAX,
            other: 2,
            no_response: 1,
        };
        let mut out = String::new();
        q.push_json(&mut out);
        assert_eq!(out, serde_json::to_string(&q).unwrap());
        out.clear();
        r.push_json(&mut out);
        assert_eq!(out, serde_json::to_string(&r).unwrap());
        out.clear();
        QtypeMix::default().push_json(&mut out);
        assert_eq!(out, serde_json::to_string(&QtypeMix::default()).unwrap());
    }
}
