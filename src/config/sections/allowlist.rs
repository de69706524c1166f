//! `[allowlist]`: allow-list files, inline entries and the embedded default.

use super::super::{check_file, read_limited_text, ConfigError, FileKind};
use crate::enrich::allowlist::AllowList;
use serde::{Deserialize, Deserializer, Serialize};
use std::path::PathBuf;

fn allow_entries<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Vec::<String>::deserialize(d)?;
    for e in &v {
        if e.contains(['\n', '#']) || e.trim().is_empty() {
            return Err(serde::de::Error::custom(format!(
                "{e:?} is not an allow-list entry"
            )));
        }
        AllowList::parse(e).map_err(|err| {
            serde::de::Error::custom(format!("{e:?} is not an allow-list entry: {}", err.why))
        })?;
    }
    Ok(v)
}

/// `[allowlist]`: domains whose lookups get no lexical risk and never count
/// as newly seen (format: [`crate::enrich::allowlist`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AllowlistConfig {
    /// Allow-list files, one entry per line (default: none).
    pub files: Vec<PathBuf>,
    /// Inline entries: `example.com`, `*.example.com`, `=example.com` (default: none).
    #[serde(deserialize_with = "allow_entries")]
    pub domains: Vec<String>,
    /// Also use the embedded default list (default `true`).
    pub default: bool,
}

impl Default for AllowlistConfig {
    fn default() -> Self {
        AllowlistConfig {
            files: Vec::new(),
            domains: Vec::new(),
            default: true,
        }
    }
}

impl AllowlistConfig {
    /// The files and inline entries (not the embedded default).
    pub fn extra(&self) -> Result<AllowList, ConfigError> {
        let mut list = AllowList::default();
        for f in &self.files {
            let text = read_limited_text(f, FileKind::AllowList)?;
            let parsed = AllowList::parse(&text).map_err(|source| ConfigError::AllowList {
                path: f.clone(),
                source,
            })?;
            list.extend(parsed);
        }
        let inline = AllowList::parse(&self.domains.join("\n")).map_err(|source| {
            ConfigError::AllowList {
                path: PathBuf::from("[allowlist] domains"),
                source,
            }
        })?;
        list.extend(inline);
        Ok(list)
    }

    /// Check every file without reading it: each is a regular file within
    /// [`MAX_ALLOWLIST_BYTES`](crate::config::MAX_ALLOWLIST_BYTES) (so a command refuses a bad one before doing
    /// any work; [`extra`](Self::extra) checks again as it reads).
    pub fn check_files(&self) -> Result<(), ConfigError> {
        for f in &self.files {
            check_file(f, FileKind::AllowList)?;
        }
        Ok(())
    }

    /// The whole list: the embedded default (when `default`), the files and
    /// the inline entries. This is what a reload installs.
    pub fn build(&self) -> Result<AllowList, ConfigError> {
        let mut list = if self.default {
            AllowList::default_list()
        } else {
            AllowList::default()
        };
        list.extend(self.extra()?);
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowlist_from_files_inline_and_default() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("allow.txt");
        std::fs::write(&f, "# ours\nintranet.example\n").unwrap();
        let a = AllowlistConfig {
            files: vec![f.clone()],
            domains: vec!["*.cdn.example".into(), "=exact.example".into()],
            default: false,
        };
        let l = a.build().unwrap();
        assert_eq!(l.len(), 3);
        assert!(l.matches("host.intranet.example"));
        assert!(l.matches("x.cdn.example") && !l.matches("cdn.example"));
        assert!(l.matches("exact.example") && !l.matches("www.exact.example"));
        assert!(!l.matches("d7leomtv28xjswy.cloudfront.net"));
        let with_default = AllowlistConfig {
            default: true,
            ..a.clone()
        };
        assert!(with_default
            .build()
            .unwrap()
            .matches("d7leomtv28xjswy.cloudfront.net"));
        assert_eq!(with_default.extra().unwrap().len(), 3);
        std::fs::write(&f, "ok.example\nnot a domain\n").unwrap();
        let e = a.build().unwrap_err().to_string();
        assert!(e.contains("allow.txt") && e.contains("line 2"), "{e}");
    }
}
