//! `sentineldns simulate`: write labelled simulated traffic as JSONL (and pcap).

use crate::cli::SimulateArgs;
use anyhow::Context;
use sentineldns::simulate::{write_jsonl, write_pcap, DomainLists, Scenario, SimConfig, Simulator};
use std::io::{BufWriter, Write};
use std::process::ExitCode;

/// Run `simulate`.
pub fn run(a: SimulateArgs) -> anyhow::Result<ExitCode> {
    let start = chrono::DateTime::parse_from_rfc3339(&a.start)
        .with_context(|| format!("--start {:?} is not RFC 3339", a.start))?
        .with_timezone(&chrono::Utc);
    let scenarios = if a.scenarios.iter().any(|s| s == "none") {
        Vec::new()
    } else {
        a.scenarios
            .iter()
            .map(|s| {
                s.parse::<Scenario>()
                    .map_err(|e| anyhow::anyhow!("--scenarios: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let cfg = SimConfig {
        hosts: a.hosts,
        hours: a.hours,
        seed: a.seed,
        start,
        scenarios,
        incident_hosts: a.incident_hosts.unwrap_or((a.hosts / 5).max(1)),
    };
    let lists = match &a.lists {
        Some(d) => DomainLists::from_dir(d)
            .with_context(|| format!("loading lists from {}", d.display()))?,
        None => DomainLists::embedded(),
    };
    let sim = Simulator::new(cfg, lists).context("invalid simulation options")?;
    let events = sim.events();
    let mut w = BufWriter::new(
        std::fs::File::create(&a.out).with_context(|| format!("creating {}", a.out.display()))?,
    );
    let summary =
        write_jsonl(&events, &mut w).with_context(|| format!("writing {}", a.out.display()))?;
    w.flush()
        .with_context(|| format!("writing {}", a.out.display()))?;
    let packets = match &a.pcap {
        Some(p) => {
            let mut w = BufWriter::new(
                std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
            );
            let n =
                write_pcap(&events, &mut w).with_context(|| format!("writing {}", p.display()))?;
            w.flush()
                .with_context(|| format!("writing {}", p.display()))?;
            Some(n)
        }
        None => None,
    };
    eprintln!(
        "wrote {} events ({} malicious) for {} hosts to {}{}",
        summary.events,
        summary.malicious,
        summary.hosts,
        a.out.display(),
        packets
            .map(|n| format!(
                ", {n} packets to {}",
                a.pcap
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ))
            .unwrap_or_default()
    );
    for (s, n) in &summary.per_scenario {
        eprintln!("  {s:<16} {n}");
    }
    for i in sim.incidents() {
        tracing::info!(incident = ?i, "planned incident");
    }
    Ok(ExitCode::SUCCESS)
}
