//! The environment layer: every key of the file is also a
//! `SENTINELDNS_<SECTION>_<KEY>` variable (dots and the table path become
//! `_`, upper case: `outputs.webhook.url` is `SENTINELDNS_OUTPUTS_WEBHOOK_URL`),
//! plus the five short names kept from before ([`LEGACY`]).
//!
//! The variables are laid over the parsed TOML table before it is
//! deserialised, so a variable's value is checked exactly like the same
//! value in the file, and a problem with it names the variable. Values are
//! read per the key's type ([`Kind`]): strings, paths and durations as
//! written; numbers, booleans, lists and tables as a TOML value (a list may
//! also be written `a,b,c`); a value that does not parse as its type is
//! passed on as a string, so the key's own parser reports it.
//!
//! A set `SENTINELDNS_<SECTION>_...` variable that names no key is a problem
//! (a misspelt variable is not silently ignored); variables that do not start
//! with a section's name (`SENTINELDNS_CONFIG`, `SENTINELDNS_POSTGRES`, test
//! variables) are left alone.

use super::values::DEPRECATED_MS;
use super::Config;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Prefix of every variable.
pub const PREFIX: &str = "SENTINELDNS_";

/// The short variables kept from before the generic names, and the key each
/// sets. The generic name wins when both are set.
pub const LEGACY: &[(&str, &str)] = &[
    ("SENTINELDNS_DB", "sensor.db"),
    ("SENTINELDNS_MODEL", "sensor.model"),
    ("SENTINELDNS_WINDOW", "sensor.window"),
    ("SENTINELDNS_METRICS", "outputs.metrics"),
    ("SENTINELDNS_LOG", "log.level"),
];

/// Where the configuration layers read variables from: the process
/// environment ([`ProcessEnv`]), a fixed list ([`EnvList`]) or any
/// `Fn(&str) -> Option<String>` (which cannot list its names, so unknown
/// variables are not looked for).
pub trait EnvSource {
    /// The value of `name`, if set.
    fn var(&self, name: &str) -> Option<String>;
    /// The names of the set variables that start with `SENTINELDNS_` (for
    /// reporting unknown ones); empty when the source cannot list them.
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

impl<F: Fn(&str) -> Option<String>> EnvSource for F {
    fn var(&self, name: &str) -> Option<String> {
        self(name)
    }
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
    fn names(&self) -> Vec<String> {
        std::env::vars_os()
            .filter_map(|(k, _)| k.into_string().ok())
            .filter(|k| k.starts_with(PREFIX))
            .collect()
    }
}

/// A fixed set of variables (tests, embedding).
#[derive(Debug, Clone, Default)]
pub struct EnvList(pub Vec<(String, String)>);

impl EnvList {
    /// From `(name, value)` pairs.
    pub fn new<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        EnvList(
            pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }
}

impl EnvSource for EnvList {
    fn var(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }
    fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(k, _)| k.clone())
            .filter(|k| k.starts_with(PREFIX))
            .collect()
    }
}

/// How a variable's value is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Taken as written: strings, paths, addresses, durations.
    Text,
    /// A TOML number (sizes may also be written `"100M"`).
    Number,
    /// `true` or `false`.
    Bool,
    /// A TOML array, or `a,b,c`.
    List,
    /// A TOML inline table, e.g. `{ unusual = 0.5, likely = 0.8 }`.
    Table,
}

/// One key that has a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// Dotted key, e.g. `outputs.webhook.url`.
    pub key: String,
    /// Its variable, e.g. `SENTINELDNS_OUTPUTS_WEBHOOK_URL`.
    pub var: String,
    /// How the value is read.
    pub kind: Kind,
}

/// The variable of a dotted key.
pub fn var_name(key: &str) -> String {
    format!("{PREFIX}{}", key.replace('.', "_").to_ascii_uppercase())
}

/// A configuration with every optional part present, so that serialising
/// it shows every key there is.
fn full_example() -> Config {
    let mut c = Config::default();
    c.sensor.model = Some("m".into());
    c.sensor.thresholds = Some(crate::model::Thresholds::default());
    c.capture.bpf = Some(String::new());
    c.capture.group = Some(String::new());
    c.capture.write_pcap = Some(super::WritePcapConfig::new("d".into()));
    c.outputs.ndjson = Some(crate::output::ndjson::NdjsonConfig {
        max_bytes: Some(1),
        ..Default::default()
    });
    c.outputs.webhook = Some(Default::default());
    c.outputs.metrics = Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
    c.outputs.kafka = Some(crate::output::kafka::KafkaConfig {
        sensor: Some(String::new()),
        ..Default::default()
    });
    c.serve.token_file = Some("t".into());
    c.serve.flow_model = Some("f".into());
    c.triage.api_key_file = Some("k".into());
    c
}

fn walk(prefix: &str, t: &toml::Table, out: &mut Vec<Setting>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        let kind = match v {
            toml::Value::String(_) | toml::Value::Datetime(_) => Kind::Text,
            toml::Value::Integer(_) | toml::Value::Float(_) => Kind::Number,
            toml::Value::Boolean(_) => Kind::Bool,
            toml::Value::Array(_) => Kind::List,
            toml::Value::Table(_) => Kind::Table,
        };
        // A whole section is not one variable.
        if !prefix.is_empty() {
            out.push(Setting {
                var: var_name(&key),
                key: key.clone(),
                kind,
            });
        }
        if let toml::Value::Table(sub) = v {
            walk(&key, sub, out);
        }
    }
}

/// Every key that has a variable (tables below a section included, e.g.
/// `sensor.thresholds`), and the deprecated `*_ms` keys, in file order.
pub fn settings() -> &'static [Setting] {
    static ALL: OnceLock<Vec<Setting>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut out = Vec::new();
        // Invariant: a configuration serialises to a table (to_toml relies
        // on it too); an empty list would only switch the layer off.
        if let Ok(t) = toml::Table::try_from(full_example()) {
            walk("", &t, &mut out);
        }
        for k in DEPRECATED_MS {
            let key = format!("{k}_ms");
            out.push(Setting {
                var: var_name(&key),
                key,
                kind: Kind::Number,
            });
        }
        out
    })
}

/// The sections' variable prefixes (`SENTINELDNS_SENSOR_`, ...).
fn section_prefixes() -> Vec<String> {
    let mut v: Vec<String> = settings()
        .iter()
        .filter_map(|s| s.key.split('.').next())
        .map(|s| format!("{PREFIX}{}_", s.to_ascii_uppercase()))
        .collect();
    v.dedup();
    v
}

/// The variables that are set, as (key, variable, value), the generic name
/// over the legacy one. Empty values count as unset.
pub(crate) fn set_values(env: &dyn EnvSource) -> Vec<(String, String, String)> {
    let mut out: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (var, key) in LEGACY {
        if let Some(v) = env.var(var).filter(|v| !v.trim().is_empty()) {
            out.insert((*key).to_string(), ((*var).to_string(), v));
        }
    }
    for s in settings() {
        if let Some(v) = env.var(&s.var).filter(|v| !v.trim().is_empty()) {
            out.insert(s.key.clone(), (s.var.clone(), v));
        }
    }
    out.into_iter().map(|(k, (var, v))| (k, var, v)).collect()
}

/// The set variables that look like settings (they start with a section's
/// prefix) but name no key, each with the closest known variable.
pub(crate) fn unknown_vars(env: &dyn EnvSource) -> Vec<(String, Option<&'static str>)> {
    let prefixes = section_prefixes();
    let known = settings();
    let mut names = env.names();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|n| prefixes.iter().any(|p| n.starts_with(p.as_str())))
        .filter(|n| !known.iter().any(|s| &s.var == n))
        .filter(|n| !LEGACY.iter().any(|(v, _)| v == n))
        .map(|n| {
            let near = known
                .iter()
                .map(|s| (edit_distance(&n, &s.var), s.var.as_str()))
                .min()
                .filter(|(d, _)| *d <= 3)
                .map(|(_, v)| v);
            (n, near)
        })
        .collect()
}

/// The kind of a dotted key, when it has a variable.
pub(crate) fn kind_of(key: &str) -> Option<Kind> {
    settings().iter().find(|s| s.key == key).map(|s| s.kind)
}

/// Levenshtein distance (short ASCII names).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_one_distinct_variable() {
        let all = settings();
        for key in [
            "sensor.window",
            "sensor.pair_timeout",
            "sensor.top",
            "sensor.thresholds",
            "capture.interfaces",
            "capture.write_pcap.dir",
            "outputs.metrics",
            "outputs.webhook.url",
            "outputs.webhook.timeout",
            "outputs.webhook.timeout_ms",
            "outputs.ndjson.max_bytes",
            "outputs.kafka.topics.windows",
            "limits.max_open_windows",
            "triage.api_key_file",
            "store.keep",
        ] {
            assert!(all.iter().any(|s| s.key == key), "{key} has no variable");
        }
        let mut vars: Vec<&str> = all.iter().map(|s| s.var.as_str()).collect();
        vars.sort_unstable();
        let n = vars.len();
        vars.dedup();
        assert_eq!(vars.len(), n, "two keys share a variable");
        assert_eq!(
            var_name("outputs.webhook.url"),
            "SENTINELDNS_OUTPUTS_WEBHOOK_URL"
        );
        assert_eq!(kind_of("capture.interfaces"), Some(Kind::List));
        assert_eq!(kind_of("sensor.window"), Some(Kind::Text));
        assert_eq!(kind_of("sensor.threads"), Some(Kind::Number));
        assert_eq!(kind_of("sensor.no_model"), Some(Kind::Bool));
    }

    #[test]
    fn generic_names_win_over_legacy_and_unknown_ones_are_named() {
        let env = EnvList::new([
            ("SENTINELDNS_DB", "/legacy.db"),
            ("SENTINELDNS_SENSOR_DB", "/generic.db"),
            ("SENTINELDNS_WINDOW", "2m"),
            ("SENTINELDNS_SENSOR_WINDW", "3m"),
            ("SENTINELDNS_CONFIG", "/etc/x.toml"),
            ("SENTINELDNS_TEST_POSTGRES", "postgres://x"),
            ("SENTINELDNS_LOG", " "),
        ]);
        let set = set_values(&env);
        assert!(set.contains(&(
            "sensor.db".into(),
            "SENTINELDNS_SENSOR_DB".into(),
            "/generic.db".into()
        )));
        assert!(set.contains(&(
            "sensor.window".into(),
            "SENTINELDNS_WINDOW".into(),
            "2m".into()
        )));
        assert_eq!(set.len(), 2, "{set:?}");
        assert_eq!(
            unknown_vars(&env),
            [(
                "SENTINELDNS_SENSOR_WINDW".to_string(),
                Some("SENTINELDNS_SENSOR_WINDOW")
            )]
        );
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
