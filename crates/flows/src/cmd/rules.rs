//! `sentineldns flows rules`: read a flow or HTTP-log CSV, run the
//! per-source sliding-window rule engine, triage flagged contexts in
//! micro-batches and print them as they are handed off.

use crate::cli::rules::{RulesArgs, RulesFormat, RulesInput};
use crate::csvin::{Column, CsvInput};
use crate::rules::{
    parse_flow_ts, Endpoint, FlaggedContext, PathEndpoint, Reorder, RuleEngine, RuleTriager,
    RulesConfig, SocketEndpoint, Triage, Triager,
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

/// Run `flows rules`.
pub fn run(a: RulesArgs) -> anyhow::Result<ExitCode> {
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
        drive(csv, &a, cfg, move |rec| {
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
        drive(csv, &a, cfg, move |rec| {
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

fn drive<P: Endpoint>(
    mut csv: CsvInput,
    a: &RulesArgs,
    cfg: RulesConfig,
    parse: impl Fn(&csv::StringRecord) -> Parsed<P>,
) -> anyhow::Result<ExitCode> {
    let engine: RuleEngine<IpAddr, P> = RuleEngine::new(cfg)?;
    let triager = RuleTriager::new(engine.config());
    let mut reorder: Reorder<(IpAddr, P, u64)> = Reorder::new(a.max_lateness, a.reorder_cap);
    let stdout = std::io::stdout();
    let mut stage = Stage {
        engine,
        triager,
        out: Out {
            w: std::io::BufWriter::new(stdout.lock()),
            format: a.format,
            printed: 0,
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
    if s.late > 0 {
        eprintln!(
            "note: {} events were out of time order and ignored; for shuffled or sampled files raise --max-lateness to the file's time span (e.g. 120h)",
            s.late
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Engine, triage and output, fed by the reorder buffer.
struct Stage<P, W: Write> {
    engine: RuleEngine<IpAddr, P>,
    triager: RuleTriager,
    out: Out<W>,
    err: Option<std::io::Error>,
}

impl<P: Endpoint, W: Write> Stage<P, W> {
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

struct Out<W: Write> {
    w: W,
    format: RulesFormat,
    printed: u64,
}

use sentineldns_model::time::rfc3339_millis as rfc3339;

impl<W: Write> Out<W> {
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
                    let v = serde_json::json!({
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
        }
        Ok(())
    }
}
