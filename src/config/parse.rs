//! From TOML text to a [`Config`] and every [`Problem`] in it: one section at
//! a time (so a mistake in one section does not hide those in the others),
//! each problem located by file, line, column and dotted key.

use super::{display_key, Config};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// One thing wrong with a configuration, located as precisely as known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, when the configuration came from one.
    pub file: Option<PathBuf>,
    /// 1-based line and column.
    pub position: Option<(usize, usize)>,
    /// Dotted key, e.g. `sensor.window`, when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(p) = &self.file {
            write!(f, "{}", p.display())?;
            sep = ": ";
        }
        if let Some((l, c)) = self.position {
            write!(f, "{sep}line {l}, column {c}")?;
            sep = ": ";
        }
        if let Some(k) = &self.key {
            write!(f, "{sep}{}", display_key(k))?;
            sep = ": ";
        }
        write!(f, "{sep}{}", self.message)
    }
}

/// Problems, one per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Line and column (1-based) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Where each dotted key (`sensor`, `sensor.window`, `outputs.webhook.url`)
/// starts in the source.
type KeyPositions = BTreeMap<String, (usize, usize)>;

fn collect_positions(
    text: &str,
    prefix: &str,
    table: &toml::de::DeTable<'_>,
    out: &mut KeyPositions,
) {
    for (k, v) in table.iter() {
        let key = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        out.insert(key.clone(), line_col(text, k.span().start));
        if let toml::de::DeValue::Table(t) = v.get_ref() {
            collect_positions(text, &key, t, out);
        }
    }
}

/// A parsed file: the configuration (when it is valid), every problem, and
/// key positions for locating later problems.
pub(crate) struct Parsed {
    pub(crate) config: Config,
    pub(crate) problems: Vec<Problem>,
    positions: KeyPositions,
    file: Option<PathBuf>,
}

impl Parsed {
    pub(crate) fn problem(&self, key: &str, message: String) -> Problem {
        Problem {
            file: self.file.clone(),
            position: self.positions.get(key).copied(),
            key: Some(key.to_string()),
            message,
        }
    }
}

pub(crate) fn parse_text(text: &str, file: Option<&Path>) -> Parsed {
    let mut p = Parsed {
        config: Config::default(),
        problems: Vec::new(),
        positions: KeyPositions::new(),
        file: file.map(Path::to_path_buf),
    };
    let root = match toml::de::DeTable::parse(text) {
        Ok(r) => r,
        Err(e) => {
            p.problems.push(Problem {
                file: p.file.clone(),
                position: e.span().map(|s| line_col(text, s.start)),
                key: None,
                message: e.message().trim().to_string(),
            });
            return p;
        }
    };
    collect_positions(text, "", root.get_ref(), &mut p.positions);
    // One section at a time, so a mistake in one section does not hide the
    // mistakes in the others. Spans stay positions in `text`.
    for (k, v) in root.into_inner() {
        let name = k.get_ref().to_string();
        let span = k.span().start..v.span().end;
        let mut one = toml::de::DeTable::new();
        one.insert(k, v);
        let de = toml::de::Deserializer::from(toml::Spanned::new(span, one));
        match Config::deserialize(de) {
            Ok(part) => match name.as_str() {
                "sensor" => p.config.sensor = part.sensor,
                "capture" => p.config.capture = part.capture,
                "outputs" => p.config.outputs = part.outputs,
                "allowlist" => p.config.allowlist = part.allowlist,
                "intel" => p.config.intel = part.intel,
                "learning" => p.config.learning = part.learning,
                "log" => p.config.log = part.log,
                "limits" => p.config.limits = part.limits,
                "incidents" => p.config.incidents = part.incidents,
                "serve" => p.config.serve = part.serve,
                "store" => p.config.store = part.store,
                "triage" => p.config.triage = part.triage,
                _ => {}
            },
            Err(e) => {
                let position = e.span().map(|s| line_col(text, s.start));
                // The key the error is in: the last key of this section
                // that starts at or before the error.
                let key = position
                    .and_then(|pos| {
                        let prefix = format!("{name}.");
                        p.positions
                            .iter()
                            .filter(|(k, at)| k.starts_with(&prefix) && **at <= pos)
                            .max_by_key(|(_, at)| **at)
                            .map(|(k, _)| k.clone())
                    })
                    .unwrap_or_else(|| name.clone());
                p.problems.push(Problem {
                    file: p.file.clone(),
                    position: position.or_else(|| p.positions.get(&name).copied()),
                    key: Some(key),
                    message: e.message().trim().to_string(),
                })
            }
        }
    }
    let values = p.config.value_problems();
    for (key, msg) in values {
        let pr = p.problem(key, msg);
        p.problems.push(pr);
    }
    p.problems.sort_by_key(|p| p.position);
    if let Some(dir) = file.and_then(Path::parent) {
        // The default database stays relative to the working directory.
        let db_set = p.positions.contains_key("sensor.db");
        p.config.relative_to(dir, db_set);
    }
    p
}

pub(crate) fn rebase(dir: &Path, p: &mut PathBuf) {
    if p.is_relative() && !p.as_os_str().is_empty() {
        *p = dir.join(&*p);
    }
}
