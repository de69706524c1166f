//! `sentineldns flows rules`: read a flow or HTTP-log CSV, run the
//! per-source sliding-window rule engine, triage flagged contexts in
//! micro-batches and print them as they are handed off.
//!
//! A caller that looks further at flagged sources (the binary's language-model
//! triage) runs the command with [`run_with`] and a [`FlaggedObserver`]: it
//! is handed each context as an owned [`FlaggedSummary`] with the rules'
//! reading, and gives back [`Annotation`]s, printed with the rules output as
//! they come. The rules' classification is printed first and never changes.

use crate::cli::rules::{RulesArgs, RulesFormat, RulesInput};
use crate::csvin::{Column, CsvInput};
use crate::rules::{
    parse_flow_ts, Endpoint, FlaggedContext, FlaggedSummary, PathEndpoint, Reorder, RuleEngine,
    RuleTriager, RulesConfig, SocketEndpoint, Triage, Triager,
};
use anyhow::Context;
use sentineldns_model::time::TsMicros;
use std::io::Write;
use std::net::IpAddr;
use std::process::ExitCode;

const TS: Column = Column::new("timestamp", &["ts", "time", "stime", "datetime"]);
const SRC: Column = Column::new(
    "source_ip",
    &[
        "Source IP",
        "Src IP",
        "srcip",
        "src_ip",
        "saddr",
        "client_ip",
        "ip",
    ],
);
const DST: Column = Column::new(
    "destination_ip",
    &["Destination IP", "Dst IP", "dstip", "dst_ip", "daddr"],
);
const DPORT: Column = Column::new(
    "destination_port",
    &[
        "Destination Port",
        "Dst Port",
        "dsport",
        "dport",
        "dst_port",
    ],
);
const FLOW_BYTES: Column = Column::new(
    "bytes",
    &[
        "Total Length of Fwd Packets",
        "Total Length of Fwd Packet",
        "TotLen Fwd Pkts",
        "sbytes",
        "src_bytes",
    ],
);
const PATH: Column = Column::new("path", &["url", "uri", "endpoint", "request_path"]);
const HTTP_BYTES: Column = Column::new(
    "bytes",
    &["payload_size", "size", "bytes_sent", "body_bytes_sent"],
);

/// Skipped-row messages printed before the rest are only counted.
const SHOWN_SKIPS: u64 = 5;

/// Rows read between two looks for finished [`Annotation`]s.
const POLL_ROWS: u64 = 1024;

/// Sees each context `flows rules` flags, with the rules' reading, and
/// annotates it (e.g. with a language model's verdict). The rules pipeline
/// never waits on it: [`observe`](Self::observe) and [`ready`](Self::ready)
/// must return at once; only [`finish`](Self::finish), at the end of the
/// input, may wait, for a bounded time.
pub trait FlaggedObserver {
    /// Context `c` was flagged and printed. Must not block.
    fn observe(&mut self, c: FlaggedSummary);
    /// The annotations finished since the last call. Must not block.
    fn ready(&mut self) -> Vec<Annotation>;
    /// The input ended: every annotation still owed (one per observed
    /// context, in all, is expected). May wait for a bounded time.
    fn finish(&mut self) -> Vec<Annotation>;
    /// A line for the run summary on stderr, once [`finish`](Self::finish)
    /// has returned.
    fn report(&self) -> Option<String> {
        None
    }
}

/// What a [`FlaggedObserver`] says about one flagged context, printed in the
/// rules output after the context (possibly after later contexts: it comes
/// when it is ready).
#[derive(Debug, Clone, PartialEq)]
pub struct Annotation {
    /// The context it is about ([`FlaggedSummary::context`]).
    pub context: u64,
    /// Its line in the table output.
    pub text: String,
    /// Its line in the JSON output (one object; the JSON lines of contexts
    /// then carry their `context` number).
    pub json: serde_json::Value,
}

/// Run `flows rules`.
pub fn run(a: RulesArgs) -> anyhow::Result<ExitCode> {
    run_to(a, None, std::io::stdout().lock())
}

/// Run `flows rules`, handing each flagged context to `observer` and
/// printing its annotations.
pub fn run_with(a: RulesArgs, observer: &mut dyn FlaggedObserver) -> anyhow::Result<ExitCode> {
    run_to(a, Some(observer), std::io::stdout().lock())
}

/// Run `flows rules` with its output going to `w` (the run summary still
/// goes to stderr).
pub fn run_to(
    a: RulesArgs,
    observer: Option<&mut dyn FlaggedObserver>,
    w: impl Write,
) -> anyhow::Result<ExitCode> {
    let cfg = RulesConfig {
        window: a.window,
        max_endpoints: a.max_endpoints,
        max_bytes: a.max_bytes,
        idle_ttl: a.idle_ttl,
        queue_capacity: a.queue,
        batch_size: a.batch,
        max_wait: a.max_wait,
        sample_endpoints: a.samples,
        ..Default::default()
    };
    cfg.validate().context("invalid options")?;
    let csv = CsvInput::open(&a.input)?;
    let http = match a.kind {
        RulesInput::Http => true,
        RulesInput::Flows => false,
        RulesInput::Auto => csv.find(&PATH).is_some(),
    };
    if http {
        let idx = csv.require(&[TS, SRC, PATH, HTTP_BYTES])?;
        drive(csv, &a, cfg, observer, w, move |rec| {
            let path = rec.get(idx[2]).unwrap_or("").trim();
            let path = path.split(['?', '#']).next().unwrap_or("");
            if path.is_empty() {
                return Err("empty path".into());
            }
            Ok((
                field_ts(rec, idx[0])?,
                field_ip(rec, idx[1])?,
                PathEndpoint(path.to_owned()),
                field_bytes(rec, idx[3])?,
            ))
        })
    } else {
        let idx = csv.require(&[TS, SRC, DST, DPORT, FLOW_BYTES])?;
        drive(csv, &a, cfg, observer, w, move |rec| {
            let port_s = rec.get(idx[3]).unwrap_or("").trim();
            let port = port_s
                .parse::<u16>()
                .map_err(|_| format!("destination port {port_s:?} is not 0-65535"))?;
            Ok((
                field_ts(rec, idx[0])?,
                field_ip(rec, idx[1])?,
                SocketEndpoint(field_ip(rec, idx[2])?, port),
                field_bytes(rec, idx[4])?,
            ))
        })
    }
}

type Parsed<P> = Result<(TsMicros, IpAddr, P, u64), String>;

fn field_ts(rec: &csv::StringRecord, i: usize) -> Result<TsMicros, String> {
    let s = rec.get(i).unwrap_or("");
    parse_flow_ts(s).ok_or_else(|| format!("timestamp {s:?} not understood"))
}

fn field_ip(rec: &csv::StringRecord, i: usize) -> Result<IpAddr, String> {
    let s = rec.get(i).unwrap_or("").trim();
    s.parse().map_err(|_| format!("{s:?} is not an IP address"))
}

fn field_bytes(rec: &csv::StringRecord, i: usize) -> Result<u64, String> {
    let s = rec.get(i).unwrap_or("").trim();
    match s.parse::<f64>() {
        Ok(v) if (0.0..1.8e19).contains(&v) => Ok(v.round() as u64),
        _ => Err(format!("bytes {s:?} is not a non-negative number")),
    }
}

fn drive<P: Endpoint, W: Write>(
    mut csv: CsvInput,
    a: &RulesArgs,
    cfg: RulesConfig,
    observer: Option<&mut dyn FlaggedObserver>,
    w: W,
    parse: impl Fn(&csv::StringRecord) -> Parsed<P>,
) -> anyhow::Result<ExitCode> {
    let engine: RuleEngine<IpAddr, P> = RuleEngine::new(cfg)?;
    let triager = RuleTriager::new(engine.config());
    let mut reorder: Reorder<(IpAddr, P, u64)> = Reorder::new(a.max_lateness, a.reorder_cap);
    let mut stage = Stage {
        engine,
        triager,
        out: Out {
            w: std::io::BufWriter::new(w),
            format: a.format,
            printed: 0,
            observer,
        },
        err: None,
    };
    let mut rec = csv::StringRecord::new();
    let (mut rows, mut skipped) = (0u64, 0u64);
    loop {
        match csv.next_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {
                rows += 1;
                match parse(&rec) {
                    Ok((ts, ip, p, b)) => {
                        reorder.push(ts, (ip, p, b), |ts, ev| stage.handle(ts, ev))
                    }
                    Err(msg) => {
                        skipped += 1;
                        if skipped <= SHOWN_SKIPS {
                            eprintln!(
                                "skipped row: {}:{}: {msg}",
                                csv.path().display(),
                                csv.line()
                            );
                        }
                    }
                }
            }
            Err(e) => {
                rows += 1;
                skipped += 1;
                if skipped <= SHOWN_SKIPS {
                    eprintln!("skipped row: {e}");
                }
            }
        }
        if rows % POLL_ROWS == 0 {
            if let Err(e) = stage.out.poll() {
                stage.err.get_or_insert(e);
            }
        }
        if let Some(e) = stage.err.take() {
            return Err(e).context("writing output");
        }
    }
    reorder.finish(|ts, ev| stage.handle(ts, ev));
    for batch in stage.engine.flush() {
        let t = stage.triager.triage(&batch);
        stage.out.batch(&batch, &t).context("writing output")?;
    }
    if let Some(e) = stage.err.take() {
        return Err(e).context("writing output");
    }
    let report = stage.out.finish().context("writing output")?;
    stage.out.w.flush()?;
    let engine = stage.engine;
    let s = engine.stats();
    eprintln!(
        "rows: {rows}  skipped: {skipped}  events: {}  late (ignored): {}  reordered early: {}  \
sources evicted: {}  truncated: {}  flagged: {}  queue overflow: {}  batches: {}",
        s.events,
        s.late,
        reorder.forced(),
        s.evicted,
        s.truncated,
        s.flagged,
        s.queue_overflow,
        s.batches
    );
    if let Some(r) = report {
        eprintln!("{r}");
    }
    if s.late > 0 {
        eprintln!(
            "note: {} events were out of time order and ignored; for shuffled or sampled files raise --max-lateness to the file's time span (e.g. 120h)",
            s.late
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Engine, triage and output, fed by the reorder buffer.
struct Stage<'o, P, W: Write> {
    engine: RuleEngine<IpAddr, P>,
    triager: RuleTriager,
    out: Out<'o, W>,
    err: Option<std::io::Error>,
}

impl<P: Endpoint, W: Write> Stage<'_, P, W> {
    fn handle(&mut self, ts: TsMicros, (ip, p, b): (IpAddr, P, u64)) {
        self.engine.observe(ts, ip, p, b);
        while let Some(batch) = self.engine.take_batch() {
            let t = self.triager.triage(&batch);
            if let Err(e) = self.out.batch(&batch, &t) {
                self.err.get_or_insert(e);
            }
        }
    }
}

struct Out<'o, W: Write> {
    w: std::io::BufWriter<W>,
    format: RulesFormat,
    printed: u64,
    observer: Option<&'o mut dyn FlaggedObserver>,
}

use sentineldns_model::time::rfc3339_millis as rfc3339;

impl<W: Write> Out<'_, W> {
    /// Print the observer's finished annotations.
    fn poll(&mut self) -> std::io::Result<()> {
        let ready = match &mut self.observer {
            Some(o) => o.ready(),
            None => return Ok(()),
        };
        self.annotations(&ready)
    }

    /// End of input: print what the observer still owes; its report line.
    fn finish(&mut self) -> std::io::Result<Option<String>> {
        let Some(o) = &mut self.observer else {
            return Ok(None);
        };
        let rest = o.finish();
        let report = o.report();
        self.annotations(&rest)?;
        Ok(report)
    }

    fn annotations(&mut self, list: &[Annotation]) -> std::io::Result<()> {
        for a in list {
            match self.format {
                RulesFormat::Json => writeln!(self.w, "{}", a.json)?,
                RulesFormat::Table => writeln!(self.w, "{}", a.text)?,
            }
        }
        Ok(())
    }

    fn batch<P: Endpoint>(
        &mut self,
        batch: &[FlaggedContext<IpAddr, P>],
        triage: &[Triage],
    ) -> std::io::Result<()> {
        for (c, t) in batch.iter().zip(triage) {
            let rules: Vec<String> = c.rules.iter().map(ToString::to_string).collect();
            let samples: Vec<String> = c.sample_endpoints.iter().map(ToString::to_string).collect();
            match self.format {
                RulesFormat::Json => {
                    let mut v = serde_json::json!({
                        "source_ip": c.key.to_string(),
                        "window_start": rfc3339(c.window_start),
                        "window_end": rfc3339(c.window_end),
                        "rules": rules,
                        "unique_endpoints": c.unique_endpoints,
                        "unique_groups": c.unique_groups,
                        "bytes": c.bytes,
                        "events": c.events,
                        "sample_endpoints": samples,
                        "verdict": t.verdict,
                        "severity": (t.severity * 1000.0).round() / 1000.0,
                        "summary": t.summary,
                    });
                    if self.observer.is_some() {
                        if let Some(o) = v.as_object_mut() {
                            o.insert("context".into(), (self.printed + 1).into());
                        }
                    }
                    writeln!(self.w, "{v}")?;
                }
                RulesFormat::Table => {
                    if self.printed == 0 {
                        writeln!(
                            self.w,
                            "{:<16} {:<24} {:<24} {:<24} {:>6} {:>12} {:>6} {:<18} {:>4}  samples",
                            "source_ip",
                            "window_start",
                            "window_end",
                            "rules",
                            "unique",
                            "bytes",
                            "events",
                            "verdict",
                            "sev"
                        )?;
                    }
                    writeln!(
                        self.w,
                        "{:<16} {:<24} {:<24} {:<24} {:>6} {:>12} {:>6} {:<18} {:>4.2}  {}",
                        c.key.to_string(),
                        rfc3339(c.window_start),
                        rfc3339(c.window_end),
                        rules.join("+"),
                        c.unique_endpoints,
                        c.bytes,
                        c.events,
                        t.verdict.to_string(),
                        t.severity,
                        samples.join(" ")
                    )?;
                }
            }
            self.printed += 1;
            if let Some(o) = &mut self.observer {
                o.observe(FlaggedSummary::new(self.printed, c, t));
            }
        }
        self.poll()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        a: RulesArgs,
    }

    fn args(v: &[&str]) -> RulesArgs {
        Cli::parse_from(std::iter::once("rules").chain(v.iter().copied())).a
    }

    /// Keeps what it is handed; annotates every context, half of them late.
    #[derive(Default)]
    struct Recorder {
        seen: Vec<FlaggedSummary>,
        owed: Vec<u64>,
        finished: bool,
    }

    impl Recorder {
        fn note(n: u64) -> Annotation {
            Annotation {
                context: n,
                text: format!("  note {n}"),
                json: serde_json::json!({"type": "note", "context": n}),
            }
        }
    }

    impl FlaggedObserver for Recorder {
        fn observe(&mut self, c: FlaggedSummary) {
            self.owed.push(c.context);
            self.seen.push(c);
        }
        fn ready(&mut self) -> Vec<Annotation> {
            // Only even contexts are ready before the end.
            let (even, odd): (Vec<u64>, Vec<u64>) = self.owed.iter().partition(|n| *n % 2 == 0);
            self.owed = odd;
            even.into_iter().map(Recorder::note).collect()
        }
        fn finish(&mut self) -> Vec<Annotation> {
            self.finished = true;
            self.owed.drain(..).map(Recorder::note).collect()
        }
        fn report(&self) -> Option<String> {
            Some(format!("notes: {}", self.seen.len()))
        }
    }

    fn http_log(dir: &std::path::Path) -> std::path::PathBuf {
        let mut s = String::from("ts,src_ip,path,bytes\n");
        for i in 0..40u64 {
            s.push_str(&format!(
                "{},10.0.0.66,\"/admin/file{i}.php\",200\n",
                1_700_000_000 + i
            ));
        }
        s.push_str("1700000050,10.0.0.77,/api/upload,40000000\n");
        let p = dir.join("http.csv");
        std::fs::write(&p, s).unwrap();
        p
    }

    #[test]
    fn observer_sees_every_flagged_context_and_its_annotations_are_printed() {
        let dir = tempfile::tempdir().unwrap();
        let f = http_log(dir.path());
        let f = f.to_str().unwrap();
        let mut plain = Vec::new();
        run_to(args(&[f, "--format", "json"]), None, &mut plain).unwrap();
        let plain: Vec<serde_json::Value> = String::from_utf8(plain)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(plain.len(), 2, "{plain:?}");
        assert!(plain.iter().all(|v| v.get("context").is_none()));

        let mut rec = Recorder::default();
        let mut out = Vec::new();
        run_to(args(&[f, "--format", "json"]), Some(&mut rec), &mut out).unwrap();
        assert!(rec.finished);
        let lines: Vec<serde_json::Value> = String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let contexts: Vec<&serde_json::Value> =
            lines.iter().filter(|v| v.get("type").is_none()).collect();
        let notes: Vec<u64> = lines
            .iter()
            .filter(|v| v["type"] == "note")
            .map(|v| v["context"].as_u64().unwrap())
            .collect();
        // The context lines are the plain run's, numbered; one note each.
        assert_eq!(contexts.len(), 2);
        for (i, (c, p)) in contexts.iter().zip(&plain).enumerate() {
            let mut c = (*c).clone();
            assert_eq!(c["context"], i as u64 + 1);
            c.as_object_mut().unwrap().remove("context");
            assert_eq!(&c, p);
        }
        let mut sorted = notes.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, vec![1, 2]);
        // What the observer was handed: owned text and the rules' reading.
        assert_eq!(rec.seen.len(), 2);
        let crawl = &rec.seen[0];
        assert_eq!(crawl.context, 1);
        assert_eq!(crawl.key, "10.0.0.66");
        assert_eq!(crawl.class, crate::rules::TriageClass::PathEnumeration);
        assert_eq!(crawl.endpoint_kind, Some(crate::rules::EndpointKind::Path));
        assert_eq!(crawl.rules, vec![crate::rules::Rule::UniqueEndpoints]);
        assert_eq!(crawl.unique_endpoints, 11);
        assert!(crawl.sample_endpoints[0].starts_with("/admin/file"));
        assert_eq!(crawl.summary, plain[0]["summary"]);
        assert_eq!(rec.seen[1].class.as_str(), "exfiltration");
        let v = serde_json::to_value(crawl).unwrap();
        assert_eq!(v["class"], "path_enumeration");
        assert_eq!(v["rules"][0], "unique_endpoints");

        // Table output: the annotation's text line after the context lines.
        let mut rec = Recorder::default();
        let mut out = Vec::new();
        run_to(args(&[f]), Some(&mut rec), &mut out).unwrap();
        let table = String::from_utf8(out).unwrap();
        assert!(table.starts_with("source_ip"), "{table}");
        assert!(
            table.contains("\n  note 1\n") && table.contains("\n  note 2\n"),
            "{table}"
        );
    }
}
