//! From TOML text to a [`Config`] and every [`Problem`] in it: one section at
//! a time (so a mistake in one section does not hide those in the others),
//! each problem located by file, line, column and dotted key.

use super::env::{kind_of, EnvSource, Kind};
use super::values::DEPRECATED_MS;
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
    /// Dotted key, e.g. `sensor.window`, when known (as written: a
    /// deprecated spelling stays as it is).
    pub key: Option<String>,
    /// The environment variable the value came from (then `file` and
    /// `position` are empty).
    pub env: Option<String>,
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
        if let Some(v) = &self.env {
            write!(f, "{sep}{v}")?;
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

/// Where an effective value came from (`config show`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// The configuration file, at this line.
    File(usize),
    /// This environment variable.
    Env(String),
    /// A command-line flag.
    Flag,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => write!(f, "default"),
            Origin::File(line) => write!(f, "file, line {line}"),
            Origin::Env(v) => write!(f, "environment, {v}"),
            Origin::Flag => write!(f, "command line"),
        }
    }
}

/// The origin of every key set by a layer above the defaults (dotted key →
/// origin); a key not in it, nor under a key in it, has its default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins(pub BTreeMap<String, Origin>);

impl Origins {
    /// Where `key` came from: its own entry, else its closest table's, else
    /// [`Origin::Default`].
    pub fn of(&self, key: &str) -> &Origin {
        let mut k = key;
        loop {
            if let Some(o) = self.0.get(k) {
                return o;
            }
            match k.rsplit_once('.') {
                Some((parent, _)) => k = parent,
                None => return &Origin::Default,
            }
        }
    }

    /// Record that `key` (and everything under it) came from `origin`.
    pub fn set(&mut self, key: &str, origin: Origin) {
        let below = format!("{key}.");
        self.0.retain(|k, _| !k.starts_with(&below));
        self.0.insert(key.to_string(), origin);
    }
}

fn collect_positions(text: &str, prefix: &str, table: &toml::de::DeTable<'_>, p: &mut Parsed) {
    for (k, v) in table.iter() {
        let key = if prefix.is_empty() {
            k.get_ref().to_string()
        } else {
            format!("{prefix}.{}", k.get_ref())
        };
        let at = line_col(text, k.span().start);
        p.positions.insert(key.clone(), at);
        // Tables are not values: a key under a table header has its own
        // origin, one not written has its default.
        if !v.get_ref().is_table() {
            p.origins.0.insert(key.clone(), Origin::File(at.0));
        }
        p.ranges
            .push((k.span().start..v.span().end.max(k.span().end), key.clone()));
        if let toml::de::DeValue::Table(t) = v.get_ref() {
            collect_positions(text, &key, t, p);
        }
    }
}

/// A parsed file: the configuration (when it is valid), every problem, and
/// key positions for locating later problems.
pub(crate) struct Parsed {
    pub(crate) config: Config,
    pub(crate) problems: Vec<Problem>,
    pub(crate) origins: Origins,
    positions: KeyPositions,
    /// Source ranges of every key (file keys: key start to value end;
    /// variables: a range past the end of the text, one per variable).
    ranges: Vec<(std::ops::Range<usize>, String)>,
    /// Deprecated spellings written in the file: key → what was written.
    aliases: BTreeMap<String, String>,
    file: Option<PathBuf>,
}

impl Parsed {
    pub(crate) fn problem(&self, key: &str, message: String) -> Problem {
        let env = match self.origins.of(key) {
            Origin::Env(v) => Some(v.clone()),
            _ => None,
        };
        let shown = self.aliases.get(key).map_or(key, String::as_str);
        Problem {
            file: if env.is_some() {
                None
            } else {
                self.file.clone()
            },
            position: if env.is_some() {
                None
            } else {
                self.positions.get(shown).copied()
            },
            key: Some(shown.to_string()),
            env,
            message,
        }
    }

    /// The key a deserialisation error at byte `offset` is in: the
    /// innermost key of `section` whose source range holds it, else the
    /// last key of the section that starts before it, else the section.
    fn key_at(&self, section: &str, offset: Option<usize>) -> String {
        let prefix = format!("{section}.");
        let in_section = |k: &str| k == section || k.starts_with(&prefix);
        let Some(at) = offset else {
            return section.to_string();
        };
        let holding = self
            .ranges
            .iter()
            .filter(|(r, k)| in_section(k) && r.contains(&at))
            .max_by_key(|(r, _)| (r.start, std::cmp::Reverse(r.end)));
        if let Some((_, k)) = holding {
            return k.clone();
        }
        self.ranges
            .iter()
            .filter(|(r, k)| in_section(k) && r.start <= at)
            .max_by_key(|(r, _)| r.start)
            .map_or_else(|| section.to_string(), |(_, k)| k.clone())
    }
}

type DeTable<'a> = toml::de::DeTable<'a>;
type DeValue<'a> = toml::de::DeValue<'a>;
type Spanned<T> = toml::Spanned<T>;

/// The table at dotted `path` below `root`, created (with `span`) where
/// missing; `None` when a part is not a table.
fn table_at<'a, 'b>(
    root: &'b mut DeTable<'a>,
    path: &[&str],
    span: &std::ops::Range<usize>,
) -> Option<&'b mut DeTable<'a>> {
    let Some((first, rest)) = path.split_first() else {
        return Some(root);
    };
    if !root.contains_key(*first) {
        root.insert(
            Spanned::new(span.clone(), std::borrow::Cow::Owned((*first).to_string())),
            Spanned::new(span.clone(), DeValue::Table(DeTable::new())),
        );
    }
    match root.get_mut(*first).map(Spanned::get_mut) {
        Some(DeValue::Table(t)) => table_at(t, rest, span),
        _ => None,
    }
}

/// Remove dotted `path` below `table`; whether it was there.
fn remove_at(table: &mut DeTable<'_>, path: &[&str]) -> bool {
    match path {
        [] => false,
        [last] => table.remove(*last).is_some(),
        [first, rest @ ..] => match table.get_mut(*first).map(Spanned::get_mut) {
            Some(DeValue::Table(t)) => remove_at(t, rest),
            _ => false,
        },
    }
}

/// Every span inside `v` set to `span` (a variable's value has no place in
/// the file).
fn respan<'a>(v: DeValue<'a>, span: &std::ops::Range<usize>) -> Spanned<DeValue<'a>> {
    let v = match v {
        DeValue::Array(a) => DeValue::Array(
            a.into_iter()
                .map(|e| respan(e.into_inner(), span))
                .collect(),
        ),
        DeValue::Table(t) => DeValue::Table(
            t.into_iter()
                .map(|(k, e)| {
                    (
                        Spanned::new(span.clone(), k.into_inner()),
                        respan(e.into_inner(), span),
                    )
                })
                .collect(),
        ),
        other => other,
    };
    Spanned::new(span.clone(), v)
}

/// A variable's value as a TOML value of the key's kind (see
/// [`super::env`]): as written, or parsed, else as written.
fn env_value(raw: &str, kind: Kind) -> DeValue<'_> {
    let text = || DeValue::String(std::borrow::Cow::Borrowed(raw));
    let parsed = || DeValue::parse(raw.trim()).ok().map(Spanned::into_inner);
    match kind {
        Kind::Text => text(),
        Kind::Number => parsed()
            .filter(|v| v.is_integer() || v.is_float())
            .unwrap_or_else(text),
        Kind::Bool => parsed().filter(DeValue::is_bool).unwrap_or_else(text),
        Kind::Table => parsed().filter(DeValue::is_table).unwrap_or_else(text),
        Kind::List => parsed().filter(DeValue::is_array).unwrap_or_else(|| {
            DeValue::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Spanned::new(0..0, DeValue::String(std::borrow::Cow::Borrowed(s))))
                    .collect(),
            )
        }),
    }
}

/// Rewrite the deprecated `KEY_ms = N` spellings of the file to `KEY =
/// "Nms"`, remembering what was written.
fn rename_deprecated(prefix: &str, table: &mut DeTable<'_>, p: &mut Parsed) {
    let old: Vec<String> = table
        .keys()
        .map(|k| k.get_ref().to_string())
        .filter(|k| {
            k.strip_suffix("_ms")
                .is_some_and(|stem| DEPRECATED_MS.contains(&format!("{prefix}.{stem}").as_str()))
        })
        .collect();
    for k in old {
        let stem = k.trim_end_matches("_ms").to_string();
        let (new_key, old_key) = (format!("{prefix}.{stem}"), format!("{prefix}.{k}"));
        let Some((ks, v)) = table.remove_entry(k.as_str()) else {
            continue;
        };
        if table.contains_key(stem.as_str()) {
            let mut pr = p.problem(&old_key, String::new());
            pr.message = format!("set either {stem} or {k} (deprecated), not both");
            p.problems.push(pr);
            continue;
        }
        let span = v.span();
        let value = match v.into_inner() {
            DeValue::Integer(i) if i.radix() == 10 => {
                DeValue::String(std::borrow::Cow::Owned(format!("{}ms", i.as_str())))
            }
            other => other,
        };
        table.insert(
            Spanned::new(ks.span(), std::borrow::Cow::Owned(stem)),
            Spanned::new(span, value),
        );
        for (_, key) in p.ranges.iter_mut().filter(|(_, key)| *key == old_key) {
            key.clone_from(&new_key);
        }
        if let Some(o) = p.origins.0.remove(&old_key) {
            p.origins.0.insert(new_key.clone(), o);
        }
        p.aliases.insert(new_key, old_key);
    }
    for (k, v) in table.iter_mut() {
        if let DeValue::Table(t) = v.get_mut() {
            let key = if prefix.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{prefix}.{}", k.get_ref())
            };
            rename_deprecated(&key, t, p);
        }
    }
}

/// Lay the environment variables over the file's table.
/// `set` is [`super::env::set_values`]: (key, variable, value).
fn overlay_env<'a>(
    root: &mut DeTable<'a>,
    end: usize,
    set: &'a [(String, String, String)],
    env: &dyn EnvSource,
    p: &mut Parsed,
) {
    let sets_no_model = set.iter().any(|(k, _, _)| k == "sensor.no_model");
    let mut values: Vec<(String, String, DeValue<'a>)> = Vec::new();
    for (key, var, raw) in set {
        let var = var.clone();
        let (key, value) = match key.strip_suffix("_ms") {
            Some(stem) if DEPRECATED_MS.contains(&stem) => {
                let v = match raw.trim().parse::<u64>() {
                    Ok(n) => format!("{n}ms"),
                    Err(_) => raw.clone(),
                };
                (
                    stem.to_string(),
                    DeValue::String(std::borrow::Cow::Owned(v)),
                )
            }
            _ => {
                let kind = kind_of(key).unwrap_or(Kind::Text);
                (key.clone(), env_value(raw, kind))
            }
        };
        // A model named in the environment clears the file's `no_model`,
        // as `--model` does.
        if key == "sensor.model" && !sets_no_model {
            values.push((
                "sensor.no_model".into(),
                var.clone(),
                DeValue::Boolean(false),
            ));
        }
        values.push((key, var, value));
    }
    for (i, (key, var, value)) in values.into_iter().enumerate() {
        let span = end + 1 + 2 * i..end + 2 + 2 * i;
        let parts: Vec<&str> = key.split('.').collect();
        let Some((last, path)) = parts.split_last() else {
            continue;
        };
        match table_at(root, path, &span) {
            Some(t) => {
                t.insert(
                    Spanned::new(span.clone(), std::borrow::Cow::Owned((*last).to_string())),
                    respan(value, &span),
                );
            }
            None => {
                p.problems.push(Problem {
                    file: None,
                    position: None,
                    key: Some(key.clone()),
                    env: Some(var),
                    message: "cannot be set: the file gives its table a value that is not a table"
                        .into(),
                });
                continue;
            }
        }
        p.ranges
            .retain(|(_, k)| *k != key && !k.starts_with(&format!("{key}.")));
        p.ranges.push((span, key.clone()));
        p.aliases.remove(&key);
        p.origins.set(&key, Origin::Env(var));
    }
    for (var, near) in super::env::unknown_vars(env) {
        p.problems.push(Problem {
            file: None,
            position: None,
            key: None,
            message: match near {
                Some(n) => format!("no setting has this variable (did you mean {n}?)"),
                None => "no setting has this variable".into(),
            },
            env: Some(var),
        });
    }
}

/// Parse `text` (the file, when `file` is given) without the environment.
pub(crate) fn parse_text(text: &str, file: Option<&Path>) -> Parsed {
    parse_layers(text, file, &|_: &str| None)
}

/// Parse `text` (the file, when `file` is given), lay the variables of `env`
/// over it, and deserialise: every problem found, each with its key.
pub(crate) fn parse_layers(text: &str, file: Option<&Path>, env: &dyn EnvSource) -> Parsed {
    let mut p = Parsed {
        config: Config::default(),
        problems: Vec::new(),
        origins: Origins::default(),
        positions: KeyPositions::new(),
        ranges: Vec::new(),
        aliases: BTreeMap::new(),
        file: file.map(Path::to_path_buf),
    };
    let set = super::env::set_values(env);
    let mut root = match toml::de::DeTable::parse(text) {
        Ok(r) => r.into_inner(),
        Err(e) => {
            p.problems.push(Problem {
                file: p.file.clone(),
                position: e.span().map(|s| line_col(text, s.start)),
                key: None,
                env: None,
                message: e.message().trim().to_string(),
            });
            return p;
        }
    };
    collect_positions(text, "", &root, &mut p);
    rename_deprecated("", &mut root, &mut p);
    overlay_env(&mut root, text.len(), &set, env, &mut p);
    // One section at a time, so a mistake in one section does not hide the
    // mistakes in the others; within a section, the key at fault is taken
    // out and the rest deserialised again, so every mistake is listed.
    // Spans stay positions in `text`.
    for (k, v) in root {
        let name = k.get_ref().to_string();
        let key_span = k.span();
        let mut value = v;
        let mut tries = p.ranges.len() + 1;
        loop {
            let span = key_span.start..value.span().end.max(key_span.end);
            let mut one = toml::de::DeTable::new();
            one.insert(k.clone(), value.clone());
            let de = toml::de::Deserializer::from(toml::Spanned::new(span, one));
            match Config::deserialize(de) {
                Ok(part) => {
                    p.assign(&name, part);
                    break;
                }
                Err(e) => {
                    let key = p.key_at(&name, e.span().map(|s| s.start));
                    let mut pr = p.problem(&key, e.message().trim().to_string());
                    if pr.env.is_none() {
                        if let Some(at) = e.span().filter(|s| s.start <= text.len()) {
                            pr.position = Some(line_col(text, at.start));
                        }
                    }
                    p.problems.push(pr);
                    let path: Vec<&str> = key.split('.').skip(1).collect();
                    let removed = match value.get_mut() {
                        DeValue::Table(t) => remove_at(t, &path),
                        _ => false,
                    };
                    tries -= 1;
                    if !removed || tries == 0 {
                        break;
                    }
                }
            }
        }
    }
    let values = p.config.value_problems();
    for (key, msg) in values {
        let pr = p.problem(key, msg);
        p.problems.push(pr);
    }
    p.problems
        .sort_by_key(|p| (p.position.is_none(), p.position, p.env.clone()));
    if let Some(dir) = file.and_then(Path::parent) {
        // Paths the file gives are relative to it; the default database and
        // paths from the environment stay relative to the working directory.
        let origins = p.origins.clone();
        p.config
            .relative_to(dir, &|key| matches!(origins.of(key), Origin::File(_)));
    }
    p
}

impl Parsed {
    fn assign(&mut self, name: &str, part: Config) {
        let c = &mut self.config;
        match name {
            "sensor" => c.sensor = part.sensor,
            "capture" => c.capture = part.capture,
            "outputs" => c.outputs = part.outputs,
            "allowlist" => c.allowlist = part.allowlist,
            "intel" => c.intel = part.intel,
            "learning" => c.learning = part.learning,
            "log" => c.log = part.log,
            "limits" => c.limits = part.limits,
            "incidents" => c.incidents = part.incidents,
            "serve" => c.serve = part.serve,
            "store" => c.store = part.store,
            "triage" => c.triage = part.triage,
            _ => {}
        }
    }
}

pub(crate) fn rebase(dir: &Path, p: &mut PathBuf) {
    if p.is_relative() && !p.as_os_str().is_empty() {
        *p = dir.join(&*p);
    }
}
