//! `config check`: everything a sensor would need, every problem collected
//! (parse errors, value ranges, environment values, the model, allow-list
//! files, the capture accounts) into one [`Report`].

use super::load_model;
use crate::config::files::read_config;
use crate::config::parse::parse_layers;
use crate::config::{discover, Config, ConfigError, EnvSource, Origins, Problem};
use std::path::{Path, PathBuf};

/// What [`check`] found.
#[derive(Debug)]
pub struct Report {
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    /// The effective configuration (file and environment applied), when it parsed.
    pub config: Option<Config>,
    /// Where each value of `config` came from.
    pub origins: Origins,
    /// Every problem found; empty = valid.
    pub problems: Vec<Problem>,
}

/// Validate everything a sensor would need: parse (unknown keys, value
/// ranges), environment values (and set `SENTINELDNS_<SECTION>_...`
/// variables that name no key), the model loads (unless `no_model`), every
/// allow-list file parses, output settings, the capture user and group exist
/// in `passwd` / `group`.
pub fn check(
    explicit: Option<&Path>,
    env: &dyn EnvSource,
    system: &Path,
    passwd: &Path,
    group: &Path,
) -> Report {
    let mut report = Report {
        file: None,
        config: None,
        origins: Origins::default(),
        problems: Vec::new(),
    };
    let whole = |message: String, file: Option<PathBuf>| Problem {
        file,
        position: None,
        key: None,
        env: None,
        message,
    };
    let file = match discover(explicit, env, system) {
        Ok(f) => f,
        Err(e) => {
            report.problems.push(whole(e.to_string(), None));
            return report;
        }
    };
    report.file = file.clone();
    let mut parsed = match &file {
        None => parse_layers("", None, env),
        Some(p) => match read_config(p) {
            Ok(text) => parse_layers(&text, Some(p), env),
            Err(e) => {
                report.problems.push(whole(e.to_string(), None));
                return report;
            }
        },
    };
    report.problems.append(&mut parsed.problems);
    let c = &parsed.config;
    if let Err(msg) = load_model(&c.sensor.model_choice(), c.sensor.thresholds) {
        let key = if c.sensor.model.is_some() {
            "sensor.model"
        } else {
            "sensor"
        };
        report.problems.push(parsed.problem(key, msg));
    }
    if let Err(e) = c.allowlist.extra() {
        report
            .problems
            .push(parsed.problem("allowlist.files", e.to_string()));
    }
    if let Err(e) = c.intel.build() {
        report
            .problems
            .push(parsed.problem("intel.files", e.to_string()));
    }
    if let Err(e) = c.capture.ids_from(passwd, group) {
        let key = match e {
            ConfigError::Account(ref m) if m.contains("group") => "capture.group",
            _ => "capture.user",
        };
        report.problems.push(parsed.problem(key, e.to_string()));
    }
    report.origins = parsed.origins;
    report.config = Some(parsed.config);
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::no_env;

    #[test]
    fn check_lists_every_problem_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[sensor]\nmodel = \"missing.bin\"\n[capture]\nuser = \"ghost\"\n[allowlist]\nfiles = [\"nope.txt\"]\n[log]\nlevl = \"info\"\n",
        )
        .unwrap();
        let passwd = dir.path().join("passwd");
        std::fs::write(&passwd, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let r = check(Some(&path), &no_env, &path, &passwd, &passwd);
        let text: Vec<String> = r.problems.iter().map(ToString::to_string).collect();
        assert_eq!(r.problems.len(), 4, "{text:#?}");
        let has = |needle: &str, line: usize| {
            r.problems
                .iter()
                .any(|p| p.to_string().contains(needle) && p.position.map(|x| x.0) == Some(line))
        };
        assert!(has("levl", 8), "{text:#?}");
        assert!(has("missing.bin", 2), "{text:#?}");
        assert!(has("ghost", 4), "{text:#?}");
        assert!(has("nope.txt", 6), "{text:#?}");
        // A valid file with no model needed checks clean.
        std::fs::write(
            &path,
            "[sensor]\nno_model = true\n[capture]\nuser = \"root\"\n",
        )
        .unwrap();
        let r = check(Some(&path), &no_env, &path, &passwd, &passwd);
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert!(r.config.unwrap().sensor.no_model);
    }
}
