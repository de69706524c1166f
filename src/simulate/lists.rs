//! Domain lists the simulator draws names from.
//!
//! * `benign`: popular registrable domains in rank order (Zipf popularity).
//! * `benign_tail`: rarely visited real domains, used for the trickle of
//!   never-seen-before benign lookups.
//! * `dga`: real DGA samples grouped by malware family.
//! * `tunnel_names`: subdomain parts (the encoded payload, without the tunnel
//!   zone) of real tunnelling tools' queries, grouped by tool.
//!
//! [`DomainLists::embedded`] uses the small lists shipped in `data/sim/`
//! (regenerate them with `cargo run -p sentineldns-tools --bin build_sim_lists`);
//! [`DomainLists::from_dir`] loads the full lists from a directory laid out like
//! `shared/data/domains` (`benign/`, `dga/`, `tunneling/`).

use super::SimError;
use std::collections::BTreeMap;
use std::path::Path;

const EMBEDDED_TOP: &str = include_str!("../../data/sim/benign_top.txt");
const EMBEDDED_TAIL: &str = include_str!("../../data/sim/benign_tail.txt");
const EMBEDDED_DGA: &str = include_str!("../../data/sim/dga.csv");
const EMBEDDED_TUNNEL: &str = include_str!("../../data/sim/tunnel.csv");

/// Name lists for the simulator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DomainLists {
    /// Popular benign registrable domains, most popular first.
    pub benign: Vec<String>,
    /// Rare benign domains (newly-seen candidates).
    pub benign_tail: Vec<String>,
    /// DGA samples per family: `(family, domains)`, families sorted by name.
    pub dga: Vec<(String, Vec<String>)>,
    /// Tunnel payload parts per tool: `(tool, subdomain parts)`, tools sorted.
    pub tunnel_names: Vec<(String, Vec<String>)>,
}

impl DomainLists {
    /// The small lists compiled into the binary from `data/sim/`.
    pub fn embedded() -> Self {
        let benign = parse_plain(EMBEDDED_TOP);
        let benign_tail = parse_plain(EMBEDDED_TAIL);
        let mut dga: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (fam, d) in parse_pairs(EMBEDDED_DGA) {
            if let Some(d) = clean_domain(&d) {
                dga.entry(fam).or_default().push(d);
            }
        }
        let mut tun: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (tool, sub) in parse_pairs(EMBEDDED_TUNNEL) {
            if let Some(s) = sanitize_payload(&sub) {
                tun.entry(tool).or_default().push(s);
            }
        }
        DomainLists {
            benign,
            benign_tail,
            dga: dga.into_iter().collect(),
            tunnel_names: tun.into_iter().collect(),
        }
    }

    /// Load the full lists from `dir` (layout of `shared/data/domains`):
    /// `benign/top50k_*.csv` (`rank,domain`) or `benign/opendns-top-domains.txt`
    /// for the ranked list, `benign/opendns-random-domains.txt` for the tail,
    /// `dga/baderj_dga_examples.csv` (`family,domain,source_file`) and
    /// `dga/andrewaeva_<family>_1000.txt`, and
    /// `tunneling/netrack_<tool>_names.csv` (`label,qname`, label 1 = tunnel).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self, SimError> {
        let dir = dir.as_ref();
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|source| SimError::Io {
                path: p.display().to_string(),
                source,
            })
        };
        let list_dir = |sub: &str| -> Result<Vec<std::path::PathBuf>, SimError> {
            let d = dir.join(sub);
            let rd = std::fs::read_dir(&d).map_err(|source| SimError::Io {
                path: d.display().to_string(),
                source,
            })?;
            let mut v: Vec<_> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            v.sort();
            Ok(v)
        };
        let fname = |p: &Path| {
            p.file_name()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default()
        };

        // Ranked benign list.
        let mut benign = Vec::new();
        for p in list_dir("benign")? {
            let n = fname(&p);
            if n.starts_with("top50k") && n.ends_with(".csv") {
                let text = read(&p)?;
                let mut ranked: Vec<(u64, String)> = text
                    .lines()
                    .filter_map(|l| {
                        let (r, d) = l.split_once(',')?;
                        Some((r.trim().parse().ok()?, clean_domain(d)?))
                    })
                    .collect();
                ranked.sort();
                benign = ranked.into_iter().map(|(_, d)| d).collect();
            }
        }
        if benign.is_empty() {
            benign = parse_plain(&read(&dir.join("benign/opendns-top-domains.txt"))?);
        }
        dedup_keep_order(&mut benign);
        let mut benign_tail = Vec::new();
        for f in ["opendns-random-domains.txt", "andrewaeva_alexa_1000.txt"] {
            let p = dir.join("benign").join(f);
            if p.exists() {
                benign_tail.extend(parse_plain(&read(&p)?));
            }
        }
        dedup_keep_order(&mut benign_tail);

        // DGA families.
        let mut dga: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in list_dir("dga")? {
            let n = fname(&p);
            if n == "baderj_dga_examples.csv" {
                for line in read(&p)?.lines().skip(1) {
                    let mut it = line.split(',');
                    if let (Some(f), Some(d)) = (it.next(), it.next()) {
                        if let Some(d) = clean_domain(d) {
                            dga.entry(f.trim().to_string()).or_default().push(d);
                        }
                    }
                }
            } else if let Some(fam) = n
                .strip_prefix("andrewaeva_")
                .and_then(|s| s.strip_suffix("_1000.txt"))
            {
                let v = dga.entry(fam.to_string()).or_default();
                v.extend(parse_plain(&read(&p)?));
            }
        }
        for v in dga.values_mut() {
            dedup_keep_order(v);
        }
        dga.retain(|_, v| !v.is_empty());

        // Tunnel tools.
        let mut tun: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for p in list_dir("tunneling")? {
            let n = fname(&p);
            let Some(tool) = n
                .strip_prefix("netrack_")
                .and_then(|s| s.strip_suffix("_names.csv"))
            else {
                continue;
            };
            if tool == "plain" {
                continue;
            }
            let names: Vec<String> = read(&p)?
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let (lab, q) = l.split_once(',')?;
                    (lab.trim() == "1").then(|| q.trim().trim_end_matches('.').to_string())
                })
                .collect();
            let subs = strip_common_zone(&names);
            let v: Vec<String> = subs.iter().filter_map(|s| sanitize_payload(s)).collect();
            if !v.is_empty() {
                tun.insert(tool.to_string(), v);
            }
        }

        Ok(DomainLists {
            benign,
            benign_tail,
            dga: dga.into_iter().collect(),
            tunnel_names: tun.into_iter().collect(),
        })
    }

    /// Check the lists the simulator needs are non-empty.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.benign.is_empty() {
            return Err(SimError::EmptyList("benign"));
        }
        if self.benign_tail.is_empty() {
            return Err(SimError::EmptyList("benign_tail"));
        }
        if self.dga.is_empty() || self.dga.iter().any(|(_, v)| v.is_empty()) {
            return Err(SimError::EmptyList("dga"));
        }
        if self.tunnel_names.iter().any(|(_, v)| v.is_empty()) {
            return Err(SimError::EmptyList("tunnel_names"));
        }
        Ok(())
    }
}

fn dedup_keep_order(v: &mut Vec<String>) {
    let mut seen = rustc_hash::FxHashSet::default();
    v.retain(|d| seen.insert(d.clone()));
}

/// One domain per line (`#` comments and blanks skipped), cleaned.
fn parse_plain(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(clean_domain)
        .collect()
}

/// `a,b` lines (first comma splits; `#` comments skipped).
fn parse_pairs(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (a, b) = l.split_once(',')?;
            Some((a.trim().to_string(), b.trim().to_string()))
        })
        .collect()
}

/// Lowercase, strip quotes/dots/whitespace; `None` unless it looks like a
/// hostname with at least two labels.
pub(crate) fn clean_domain(s: &str) -> Option<String> {
    let d = s
        .trim()
        .trim_matches('"')
        .trim()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let ok = d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    ok.then_some(d)
}

/// The tunnel zone is the longest label suffix shared by at least 90% of
/// `names` (captures carry a little unrelated, mislabelled traffic); names
/// under it are returned without it, the others are dropped.
fn strip_common_zone(names: &[String]) -> Vec<String> {
    let mut zone: Option<String> = None;
    for k in 1..=4usize {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for n in names {
            let labels: Vec<&str> = n.rsplit('.').take(k).collect();
            if labels.len() == k {
                let suf: Vec<&str> = labels.into_iter().rev().collect();
                *counts.entry(suf.join(".")).or_default() += 1;
            }
        }
        match counts
            .into_iter()
            .max_by_key(|(s, c)| (*c, std::cmp::Reverse(s.clone())))
        {
            Some((suf, c)) if c * 10 >= names.len() * 9 => zone = Some(suf),
            _ => break,
        }
    }
    let Some(zone) = zone else {
        return Vec::new();
    };
    let dotted = format!(".{zone}");
    names
        .iter()
        .filter_map(|n| n.strip_suffix(&dotted).map(str::to_string))
        .collect()
}

/// Make a captured tunnel payload a valid lowercase name part: lowercase
/// ASCII, bytes outside `[a-z0-9-_+/=]` mapped onto the base32 alphabet, empty
/// labels dropped, labels capped at 63. `None` when nothing is left.
pub(crate) fn sanitize_payload(s: &str) -> Option<String> {
    const B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut labels = Vec::new();
    for l in s.split('.') {
        let mut out = String::new();
        for ch in l.chars() {
            let c = ch.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '+' | '/' | '=') {
                out.push(c);
            } else {
                out.push(char::from(B32[(u32::from(ch) % 32) as usize]));
            }
            if out.len() >= 63 {
                break;
            }
        }
        if !out.is_empty() {
            labels.push(out);
        }
    }
    (!labels.is_empty()).then(|| labels.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_lists_are_usable() {
        let l = DomainLists::embedded();
        l.validate().unwrap();
        assert!(l.benign.len() >= 1000, "{}", l.benign.len());
        assert_eq!(l.benign[0], "google.com");
        assert!(l.dga.len() >= 5);
        assert!(l.dga.iter().all(|(_, v)| v.len() >= 100));
        assert!(l.tunnel_names.len() >= 2);
        for (_, v) in &l.tunnel_names {
            for s in v {
                assert!(!s.ends_with("hidemyself.org"), "{s}");
                assert!(s.split('.').all(|x| !x.is_empty() && x.len() <= 63));
            }
        }
    }

    #[test]
    fn full_lists_load() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/domains");
        assert!(
            dir.is_dir(),
            "shared domain lists missing at {}",
            dir.display()
        );
        let l = DomainLists::from_dir(&dir).unwrap();
        l.validate().unwrap();
        assert!(l.benign.len() > 40_000);
        assert!(l.dga.iter().any(|(f, _)| f == "conficker"));
        assert!(l.tunnel_names.iter().any(|(t, _)| t == "iodine"));
    }

    #[test]
    fn zone_stripping_and_sanitising() {
        let names = vec![
            "abc.1.t.example.org".to_string(),
            "de.2.t.example.org".to_string(),
        ];
        assert_eq!(strip_common_zone(&names), vec!["abc.1", "de.2"]);
        assert_eq!(sanitize_payload("Ab\u{3bc}..Cd").as_deref(), Some("ab4.cd"));
        assert_eq!(sanitize_payload(".."), None);
        assert_eq!(clean_domain("\"Foo.COM.\"").as_deref(), Some("foo.com"));
        assert_eq!(clean_domain("localhost"), None);
    }
}
