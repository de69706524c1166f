//! `sentineldns flows baseline | monitor | run`: the CIC-IDS2017 flow windows
//! detector ([`crate::cicids`]) on the command line.
//!
//! Summaries and skipped-file messages go to stderr, alert blocks to stdout.
//! A file that cannot be used (missing columns, binary, unreadable) is reported
//! and skipped; the command fails only when no input file could be read or the
//! baseline cannot be built.

use crate::alert::{AlertBatch, AlertSink, FlowAlert};
use crate::cicids::{
    Baseline, BaselineOptions, Decision, Dialect, FlowWindow, RowCounts, WindowReader,
    WindowVerdict, ZVote, FEATURES,
};
use crate::cli::{
    FlowsBaselineArgs, FlowsForestArgs, FlowsMonitorArgs, FlowsOutputArgs, FlowsRunArgs,
    FlowsShowBaselineArgs, ZVoteMode,
};
use anyhow::Context;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Run `flows baseline`.
pub fn baseline(a: FlowsBaselineArgs) -> anyhow::Result<ExitCode> {
    let b = build_baseline(&a.files, a.window, &a.forest)?;
    save(&b, &a.out)?;
    Ok(ExitCode::SUCCESS)
}

/// Run `flows monitor`.
pub fn monitor(a: FlowsMonitorArgs, sink: &mut dyn AlertSink) -> anyhow::Result<ExitCode> {
    let b = Baseline::load(&a.baseline)?;
    if let Some(w) = a.window {
        if w != b.window() {
            anyhow::bail!(
                "--window {w} differs from the baseline's window of {} flows ({}); count features such as unique addresses depend on the window length, so rebuild the baseline with --window {w}",
                b.window(),
                a.baseline.display()
            );
        }
    }
    eprintln!(
        "baseline {}: {} windows of {} flows, benign ceiling {:.2}, forest threshold {:.3}",
        a.baseline.display(),
        b.windows(),
        b.window(),
        b.benign_ceiling(),
        b.forest_threshold()
    );
    monitor_files(&b, &a.files, &a.output, sink)
}

/// Run `flows show-baseline`.
pub fn show_baseline(a: FlowsShowBaselineArgs) -> anyhow::Result<ExitCode> {
    let b = Baseline::load(&a.baseline)?;
    println!("{}", b.summary_json());
    Ok(ExitCode::SUCCESS)
}

/// Run `flows run`.
pub fn run(a: FlowsRunArgs, sink: &mut dyn AlertSink) -> anyhow::Result<ExitCode> {
    let b = build_baseline(&a.benign, a.window, &a.forest)?;
    if let Some(p) = &a.save_baseline {
        save(&b, p)?;
    }
    monitor_files(&b, &a.files, &a.output, sink)
}

fn save(b: &Baseline, path: &Path) -> anyhow::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    b.save(path)?;
    eprintln!("wrote baseline {}", path.display());
    Ok(())
}

fn file_line(path: &Path, dialect: Dialect, c: &RowCounts, windows: usize) -> String {
    let mut s = format!(
        "{} [{}]: {} rows, {} valid, {} dropped ({}); {} windows",
        path.display(),
        dialect.describe(),
        c.rows,
        c.valid,
        c.invalid_total(),
        c.invalid_summary(),
        windows
    );
    if c.tail_dropped > 0 {
        s.push_str(&format!(
            "; last {} flows not windowed (under half a window)",
            c.tail_dropped
        ));
    }
    s
}

fn build_baseline(
    files: &[PathBuf],
    window: usize,
    forest: &FlowsForestArgs,
) -> anyhow::Result<Baseline> {
    let mut windows: Vec<FlowWindow> = Vec::new();
    let mut flows = 0u64;
    let mut used = Vec::new();
    for path in files {
        let mut r = match WindowReader::open(path, window) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("skipped: {e}");
                continue;
            }
        };
        let before = windows.len();
        while let Some(w) = r.next_window() {
            windows.push(w);
        }
        if let Some(e) = r.unusable() {
            anyhow::bail!("{e}");
        }
        let attacks = windows[before..]
            .iter()
            .filter(|w| w.attack_ratio.is_some_and(|x| x > 0.0))
            .count();
        eprintln!(
            "baseline {}",
            file_line(path, r.dialect(), r.counts(), windows.len() - before)
        );
        if attacks > 0 {
            eprintln!(
                "warning: {attacks} baseline windows of {} contain flows labelled as attacks; the baseline should be benign traffic",
                path.display()
            );
        }
        flows += r.counts().valid;
        used.push(path.display().to_string());
    }
    if used.is_empty() {
        anyhow::bail!(
            "none of the {} benign input files could be read",
            files.len()
        );
    }
    let opts = BaselineOptions {
        window,
        trees: forest.trees,
        seed: forest.seed,
    };
    let b = Baseline::train(&windows, flows, used, &opts).context("building the baseline")?;
    eprintln!(
        "baseline: {} windows of {window} flows from {flows} valid flows; benign ceiling (leave-one-out max anomaly index) {:.2}; forest {} trees, seed {}",
        b.windows(),
        b.benign_ceiling(),
        forest.trees,
        forest.seed
    );
    eprintln!(
        "  {:<26} {:>14} {:>14} {:>14}",
        "feature", "mean", "std", "std used"
    );
    for f in b.features() {
        eprintln!(
            "  {:<26} {:>14.2} {:>14.2} {:>14.2}",
            f.name, f.mean, f.std, f.std_used
        );
    }
    Ok(b)
}

const CSV_HEAD: [&str; 18] = [
    "file",
    "window",
    "first_flow",
    "flows",
    "decision",
    "severity",
    "anomaly_index",
    "z_vote",
    "forest_score",
    "forest_vote",
    "pattern",
    "confidence",
    "action",
    "indicator_1",
    "indicator_2",
    "indicator_3",
    "top_destination",
    "attack_ratio",
];

fn csv_row(v: &WindowVerdict) -> Vec<String> {
    let w = &v.window;
    let c = &w.concentration;
    let mut row = vec![
        w.file.clone(),
        w.index.to_string(),
        w.first_flow.to_string(),
        w.flows.to_string(),
        v.decision.as_str().into(),
        v.severity.as_str().into(),
        format!("{:.4}", v.anomaly_index),
        v.z_vote.to_string(),
        format!("{:.4}", v.forest_score),
        v.forest_vote.to_string(),
        v.pattern.as_str().into(),
        v.confidence.as_str().into(),
        v.pattern.action().into(),
    ];
    for k in 0..3 {
        row.push(v.top.get(k).map_or(String::new(), |i| {
            format!(
                "{}={} (mean {:.2}, z {:+.2})",
                i.feature,
                num(i.value),
                i.baseline_mean,
                i.z
            )
        }));
    }
    row.push(format!(
        "{}:{} ({:.0} % / {:.0} % of flows)",
        c.top_dst_ip,
        c.top_dst_port,
        100.0 * c.top_dst_ip_share,
        100.0 * c.top_dst_port_share
    ));
    row.push(w.attack_ratio.map_or(String::new(), |r| format!("{r:.4}")));
    row.extend(w.features.iter().map(|x| format!("{x}")));
    row.extend(v.z.iter().map(|z| format!("{z:.4}")));
    row
}

fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{x:.0}")
    } else {
        format!("{x:.2}")
    }
}

/// The SOC alert block printed for an alerted window.
fn alert_block(v: &WindowVerdict, b: &Baseline) -> String {
    let w = &v.window;
    let c = &w.concentration;
    let why = match (v.z_vote, v.forest_vote) {
        (true, true) => "z-score and isolation forest agree",
        (true, false) => "z-score only",
        (false, true) => "isolation forest only",
        (false, false) => "no vote",
    };
    let mut s = String::new();
    s.push_str("=== sentineldns flow behaviour alert ===\n");
    s.push_str(&format!("File           : {}\n", w.file));
    s.push_str(&format!(
        "Window         : #{} (flows {}-{}, {} flows)\n",
        w.index,
        w.first_flow,
        w.first_flow + w.flows as u64 - 1,
        w.flows
    ));
    s.push_str(&format!(
        "Decision       : {} ({why})\n",
        v.decision.as_str()
    ));
    s.push_str(&format!("Severity       : {}\n", v.severity.as_str()));
    s.push_str(&format!("Likely pattern : {}\n", v.pattern.as_str()));
    s.push_str(&format!("Confidence     : {}\n", v.confidence.as_str()));
    s.push_str(&format!(
        "Anomaly index  : {:.2} (sum of |z| over {} features; benign ceiling {:.2})\n",
        v.anomaly_index,
        FEATURES.len(),
        b.benign_ceiling()
    ));
    s.push_str(&format!(
        "IsolationForest: {} (score {:.3}, threshold {:.3})\n",
        if v.forest_vote { "Anomaly" } else { "Normal" },
        v.forest_score,
        b.forest_threshold()
    ));
    s.push_str(&format!(
        "Top destination: {}:{} ({:.0} % of flows to the address, {:.0} % to the port)\n",
        c.top_dst_ip,
        c.top_dst_port,
        100.0 * c.top_dst_ip_share,
        100.0 * c.top_dst_port_share
    ));
    s.push_str("Top 3 indicators:\n");
    for (k, i) in v.top.iter().enumerate() {
        s.push_str(&format!(
            "  {}) {} = {} (baseline mean {:.2}) z={:+.2}\n",
            k + 1,
            i.feature,
            num(i.value),
            i.baseline_mean,
            i.z
        ));
    }
    s.push_str(&format!("Action         : {}\n", v.pattern.action()));
    if let Some(r) = w.attack_ratio {
        s.push_str(&format!(
            "Label ground truth: {:.1} % attack flows\n",
            100.0 * r
        ));
    }
    s
}

fn record(v: &WindowVerdict) -> FlowAlert {
    let w = &v.window;
    let features: serde_json::Map<String, serde_json::Value> = FEATURES
        .iter()
        .zip(&w.features)
        .map(|(n, x)| ((*n).to_owned(), serde_json::json!(x)))
        .collect();
    FlowAlert {
        detector: "cicids".into(),
        source_file: w.file.clone(),
        window_index: w.index as i64,
        first_flow: w.first_flow as i64,
        flows: w.flows as i64,
        decision: v.decision.as_str().into(),
        severity: v.severity.as_str().into(),
        anomaly_index: v.anomaly_index,
        forest_score: Some(v.forest_score),
        pattern: v.pattern.as_str().into(),
        confidence: v.confidence.as_str().into(),
        action: v.pattern.action().into(),
        indicators: serde_json::to_string(&v.top).unwrap_or_else(|_| "[]".into()),
        features: serde_json::Value::Object(features).to_string(),
        attack_ratio: w.attack_ratio,
    }
}

/// A ratio as a percentage, `n/a` when undefined (NaN).
fn pct(x: f64) -> String {
    if x.is_nan() {
        "n/a".into()
    } else {
        format!("{:.1} %", 100.0 * x)
    }
}

/// Per-file tallies.
#[derive(Default)]
struct Tally {
    decisions: [u64; 3],
    patterns: BTreeMap<&'static str, u64>,
    alerts: sentineldns_model::metrics::Confusion,
    confirmed: sentineldns_model::metrics::Confusion,
    positives: u64,
    labelled: u64,
}

impl Tally {
    fn add(&mut self, v: &WindowVerdict) {
        self.decisions[v.decision as usize] += 1;
        if v.is_alert() {
            *self.patterns.entry(v.pattern.as_str()).or_default() += 1;
        }
        // Windows without labels are not counted; a window is positive when
        // any of its flows is an attack.
        if let Some(r) = v.window.attack_ratio {
            self.alerts.add(r > 0.0, v.is_alert());
            self.confirmed
                .add(r > 0.0, v.decision == Decision::Confirmed);
            self.labelled += 1;
            self.positives += u64::from(r > 0.0);
        }
    }

    fn line(&self) -> String {
        let [n, s, c] = self.decisions;
        let mut out = format!("{c} CONFIRMED, {s} SUSPICIOUS, {n} NORMAL");
        if !self.patterns.is_empty() {
            let p: Vec<String> = self
                .patterns
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            out.push_str(&format!("; alert patterns: {}", p.join(", ")));
        }
        if self.labelled > 0 {
            out.push_str(&format!(
                "; labelled attack windows {}/{}",
                self.positives, self.labelled
            ));
        }
        out
    }
}

fn monitor_files(
    b: &Baseline,
    files: &[PathBuf],
    out: &FlowsOutputArgs,
    sink: &mut dyn AlertSink,
) -> anyhow::Result<ExitCode> {
    let vote = match out.z_vote {
        ZVoteMode::Calibrated => ZVote::Calibrated,
        ZVoteMode::Severity => ZVote::Severity,
    };
    let mut csv_out = match &out.alerts_csv {
        Some(p) => {
            let mut w =
                csv::Writer::from_path(p).with_context(|| format!("creating {}", p.display()))?;
            let mut head: Vec<String> = CSV_HEAD.iter().map(|s| (*s).to_owned()).collect();
            head.extend(FEATURES.iter().map(|f| (*f).to_owned()));
            head.extend(FEATURES.iter().map(|f| format!("z_{f}")));
            w.write_record(&head)
                .with_context(|| format!("writing {}", p.display()))?;
            Some((w, p))
        }
        None => None,
    };
    let mut records = Vec::new();
    let mut total = Tally::default();
    let mut read_files = 0usize;
    let mut skipped = 0usize;
    let mut dialects: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut unusable: Vec<String> = Vec::new();
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    for path in files {
        let mut r = match WindowReader::open(path, b.window()) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("skipped: {e}");
                skipped += 1;
                continue;
            }
        };
        read_files += 1;
        dialects.insert(path.display().to_string(), r.dialect().id());
        let mut tally = Tally::default();
        let mut windows = 0usize;
        while let Some(w) = r.next_window() {
            windows += 1;
            let v = b.score(w, vote);
            tally.add(&v);
            total.add(&v);
            if !v.is_alert() {
                continue;
            }
            if !out.quiet {
                writeln!(stdout, "{}", alert_block(&v, b))?;
            }
            if let Some((w, p)) = csv_out.as_mut() {
                w.write_record(csv_row(&v))
                    .with_context(|| format!("writing {}", p.display()))?;
            }
            if out.db.is_some() || out.ndjson.is_some() {
                records.push(record(&v));
            }
        }
        eprintln!(
            "{}: {}",
            file_line(path, r.dialect(), r.counts(), windows),
            tally.line()
        );
        unusable.extend(r.unusable());
    }
    stdout.flush()?;
    if let Some((mut w, p)) = csv_out {
        w.flush()
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if read_files == 0 {
        anyhow::bail!("none of the {} input files could be read", files.len());
    }
    eprintln!("total: {}", total.line());
    if total.labelled > 0 {
        for (name, c) in [
            ("alert (CONFIRMED or SUSPICIOUS)", &total.alerts),
            ("CONFIRMED only", &total.confirmed),
        ] {
            eprintln!(
                "window-level vs Label, {name}: TP {} FP {} FN {} TN {}; precision {}, recall {}",
                c.tp,
                c.fp,
                c.fn_,
                c.tn,
                pct(c.precision()),
                pct(c.recall())
            );
        }
    }
    if out.db.is_some() || out.ndjson.is_some() {
        let inputs: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
        let summary = serde_json::json!({
            "detector": "cicids",
            "window_flows": b.window(),
            "files_read": read_files,
            "dialects": dialects,
            "files_skipped": skipped,
            "confirmed": total.decisions[Decision::Confirmed as usize],
            "suspicious": total.decisions[Decision::Suspicious as usize],
            "normal": total.decisions[Decision::Normal as usize],
            "alerts": total.alerts,
        });
        let kept = sink.keep(AlertBatch {
            db: out.db.as_deref(),
            ndjson: out.ndjson.as_deref(),
            command: "flows monitor",
            inputs: &inputs,
            alerts: &records,
            summary: &summary,
        })?;
        eprintln!("stored {} alerts in {kept}", records.len());
    }
    if skipped > 0 {
        eprintln!(
            "{skipped} of {} input files skipped (see above)",
            files.len()
        );
    }
    if !unusable.is_empty() {
        // Everything usable was scored and stored above; a file none of whose
        // rows could be read is still a failed run, never a silent success.
        anyhow::bail!("{}", unusable.join("\n"));
    }
    Ok(ExitCode::SUCCESS)
}
