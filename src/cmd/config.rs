//! `sentineldns config check` and `sentineldns config default`.
//!
//! `check` runs [`sentineldns::sensor::check`] on the configuration `--config`
//! names (else the discovered one), prints the effective settings (file and
//! environment applied) as TOML or JSON on stdout and exits 0, or lists every
//! problem on stderr, one per line with `file: line N, column M:` where known,
//! and exits 2. `show` prints every effective setting with its origin.

use crate::cli::{ConfigArgs, ConfigCommand, ConfigFormat};
use anyhow::Context;
use sentineldns::config::{self as conf, Config};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Run `config`; `config` is the global `--config` flag.
pub fn run(a: ConfigArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    match a.command {
        ConfigCommand::Default => {
            print(conf::DEFAULT_TOML)?;
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Show => {
            let report = check(config);
            if let Some(code) = problems(&report) {
                return Ok(code);
            }
            let cfg = report.config.clone().unwrap_or_default();
            let table = toml::Table::try_from(&cfg).context("rendering the configuration")?;
            let mut lines = Vec::new();
            leaves("", &table, &mut lines);
            let mut text = String::new();
            for (key, value) in lines {
                let from = match report.origins.of(&key) {
                    conf::Origin::File(line) => match &report.file {
                        Some(f) => format!("{} line {line}", f.display()),
                        None => format!("line {line}"),
                    },
                    o => o.to_string(),
                };
                text.push_str(&format!("{key} = {value}  # {from}\n"));
            }
            print(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        ConfigCommand::Check(c) => {
            let report = check(config);
            if let Some(code) = problems(&report) {
                return Ok(code);
            }
            let source = source(&report);
            if !c.quiet {
                let cfg = report.config.unwrap_or_default();
                eprintln!("configuration {source}: OK");
                eprintln!("detection units (docs/detection.md); their findings set a floor under the verdict whatever the model says:");
                for u in sentineldns::detect::UNITS {
                    eprintln!("  {} ({}): {}", u.name, u.file, u.summary);
                    eprintln!("    memory: {}; across restarts: {}", u.memory, u.persisted);
                    for (tag, summary) in (u.findings)() {
                        eprintln!("    {tag}: {summary}");
                    }
                }
                eprintln!(
                    "site learning: {}",
                    if cfg.learning.enabled() {
                        format!(
                            "on, {} of packet time, then a site model refitted every {} (the shipped prior's score alone never alerts)",
                            cfg.learning.period, cfg.learning.retrain_every
                        )
                    } else {
                        "off ([learning] period or --learn; the shipped prior's score alone never alerts, a configured [sensor] model's does)".to_string()
                    }
                );
                print(&render(&cfg, c.format)?)?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `config check`'s report on the process environment and accounts.
fn check(config: Option<&Path>) -> sentineldns::sensor::Report {
    sentineldns::sensor::check(
        config,
        &conf::ProcessEnv,
        Path::new(conf::SYSTEM_PATH),
        Path::new("/etc/passwd"),
        Path::new("/etc/group"),
    )
}

fn source(report: &sentineldns::sensor::Report) -> String {
    match &report.file {
        Some(f) => f.display().to_string(),
        None => "built-in defaults (no configuration file)".into(),
    }
}

/// List the problems on stderr: exit code 2 when there are any.
fn problems(report: &sentineldns::sensor::Report) -> Option<ExitCode> {
    if report.problems.is_empty() {
        return None;
    }
    eprintln!(
        "configuration {}: {} problem(s):",
        source(report),
        report.problems.len()
    );
    for p in &report.problems {
        eprintln!("  {p}");
    }
    Some(ExitCode::from(2))
}

/// Every value of `t` as (dotted key, TOML value), in order.
fn leaves(prefix: &str, t: &toml::Table, out: &mut Vec<(String, String)>) {
    for (k, v) in t {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(sub) => leaves(&key, sub, out),
            v => out.push((key, v.to_string())),
        }
    }
}

fn render(cfg: &Config, format: ConfigFormat) -> anyhow::Result<String> {
    Ok(match format {
        ConfigFormat::Toml => cfg.to_toml(),
        ConfigFormat::Json => serde_json::to_string_pretty(cfg)? + "\n",
    })
}

fn print(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        // `| head` closing stdout is not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.context("writing to stdout"),
    }
}
