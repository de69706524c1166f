//! `[intel]`: threat-intel domain lists (files and inline entries), in the
//! allow-list's entry format ([`crate::enrich::allowlist`]). A lookup of a
//! listed name makes its window at least Likely Compromise
//! ([`crate::detect`], reason `threat_intel`).

use super::super::{check_file, read_limited_text, ConfigError, FileKind};
use crate::enrich::allowlist::AllowList;
use serde::{Deserialize, Deserializer, Serialize};
use std::path::PathBuf;

fn intel_entries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    for e in &v {
        if e.contains(['\n', '#']) || e.trim().is_empty() {
            return Err(serde::de::Error::custom(format!(
                "{e:?} is not a threat-intel entry"
            )));
        }
        AllowList::parse(e).map_err(|err| {
            serde::de::Error::custom(format!("{e:?} is not a threat-intel entry: {}", err.why))
        })?;
    }
    Ok(v)
}

/// `[intel]`: domains whose lookups are evidence on their own (same entry
/// format as the allow-list: `example.com`, `*.example.com`, `=example.com`).
/// No list by default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntelConfig {
    /// Threat-intel files, one entry per line, `#` comments (default: none).
    pub files: Vec<PathBuf>,
    /// Inline entries (default: none).
    #[serde(deserialize_with = "intel_entries")]
    pub domains: Vec<String>,
}

impl IntelConfig {
    /// Whether no list is configured.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.domains.is_empty()
    }

    /// Check every file without reading it (see
    /// [`AllowlistConfig::check_files`](super::AllowlistConfig::check_files)).
    pub fn check_files(&self) -> Result<(), ConfigError> {
        for f in &self.files {
            check_file(f, FileKind::Intel)?;
        }
        Ok(())
    }

    /// The whole list: the files and the inline entries. This is what a
    /// reload installs.
    pub fn build(&self) -> Result<AllowList, ConfigError> {
        let mut list = AllowList::default();
        for f in &self.files {
            let text = read_limited_text(f, FileKind::Intel)?;
            let parsed = AllowList::parse(&text).map_err(|source| ConfigError::Intel {
                path: f.clone(),
                source,
            })?;
            list.extend(parsed);
        }
        let inline =
            AllowList::parse(&self.domains.join("\n")).map_err(|source| ConfigError::Intel {
                path: PathBuf::from("[intel] domains"),
                source,
            })?;
        list.extend(inline);
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intel_from_files_and_inline() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("intel.txt");
        std::fs::write(&f, "# feed\nevil.example\n").unwrap();
        let c = IntelConfig {
            files: vec![f.clone()],
            domains: vec!["=c2.example".into()],
        };
        let l = c.build().unwrap();
        assert_eq!(l.len(), 2);
        assert!(l.matches("x.evil.example") && l.matches("c2.example"));
        assert!(!l.matches("www.c2.example"));
        std::fs::write(&f, "ok.example\nnot a domain\n").unwrap();
        let e = c.build().unwrap_err().to_string();
        assert!(e.contains("intel.txt") && e.contains("line 2"), "{e}");
        let missing = IntelConfig {
            files: vec![dir.path().join("nope.txt")],
            domains: vec![],
        };
        let e = missing.build().unwrap_err().to_string();
        assert!(e.contains("nope.txt"), "{e}");
    }
}
