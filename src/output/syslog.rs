//! Syslog (RFC 5424) messages for window verdicts at or above a label and
//! for incidents that open or escalate, over UDP (RFC 5426), TCP with
//! octet-counting framing (RFC 6587 §3.4.1) or a unix datagram socket
//! (`/dev/log`).
//!
//! ```text
//! <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [sentineldns@32473 host="…" label="…" score="…" incident="…"] MSG
//! ```
//!
//! * PRI = facility × 8 + severity: Likely Compromise is `crit` (2),
//!   Unusual `warning` (4), Normal `info` (6);
//! * TIMESTAMP is packet time (the window's end; the incident's last
//!   change), RFC 3339 UTC with microseconds; HOSTNAME the host name;
//!   PROCID the process id; MSGID `verdict` or `incident`;
//! * the structured data `sentineldns@32473` (32473 is the example
//!   enterprise number RFC 5612 reserves for documentation) carries `host`,
//!   `label`, `score` and `incident` (when the window joined one); incident
//!   messages also `event` (`opened`/`escalated`) and `windows`;
//! * MSG is the explanation. It is sent as plain ASCII when it is ASCII,
//!   else as UTF-8 after the BOM, as RFC 5424 §6.4 asks.
//!
//! Names in explanations and parameters come from the network (attacker
//! controlled): control characters (newlines included) are removed, each
//! parameter is cut to 256 bytes and MSG to 1024 (on a character boundary),
//! and `"`, `\` and `]` in parameter values are escaped with `\`.
//!
//! Delivery runs on its own thread behind a bounded queue: the sensor never
//! waits for it. A full queue drops the message (counted); a receiver that
//! cannot be reached costs a failed message and a backoff (100 ms doubling
//! to 5 s) during which messages fail at once; the connection is made again
//! after a failure. At the end of a run queued messages get
//! `shutdown_grace` to go out.

use super::metrics::Metrics;
use super::webhook::MinLabel;
use super::OutputError;
use crate::aggregate::HostWindow;
use crate::detect::Verdict;
use crate::incident::IncidentEvent;
use crate::model::Label;
use serde::{Deserialize, Serialize};
use std::io::Write as _;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The private enterprise number of the structured data id (RFC 5612's
/// documentation number).
pub const SD_ID: &str = "sentineldns@32473";
/// Longest parameter value, bytes.
pub const MAX_PARAM: usize = 256;
/// Longest MSG, bytes.
pub const MAX_MSG: usize = 1024;
/// Largest `queue`.
pub const MAX_QUEUE: u64 = 1_000_000;

/// Lowest verdict that is sent to syslog (default `unusual`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SyslogMinLabel {
    /// Every verdict, Normal included.
    Normal,
    /// Unusual and Likely Compromise (default).
    #[default]
    Unusual,
    /// Likely Compromise only.
    LikelyCompromise,
}

impl SyslogMinLabel {
    /// Whether a verdict labelled `l` is sent.
    pub fn admits(self, l: Label) -> bool {
        match self {
            SyslogMinLabel::Normal => true,
            SyslogMinLabel::Unusual => MinLabel::Unusual.admits(l),
            SyslogMinLabel::LikelyCompromise => MinLabel::LikelyCompromise.admits(l),
        }
    }
}

/// `[outputs.syslog]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyslogConfig {
    /// `udp://HOST:PORT` (port 514 when left out), `tcp://HOST:PORT` (601)
    /// or `unix:PATH` (a datagram socket such as `/dev/log`).
    pub url: String,
    /// Lowest verdict sent (default `unusual`).
    pub min_label: SyslogMinLabel,
    /// APP-NAME (default `sentineldns`; printable ASCII, at most 48).
    pub app_name: String,
    /// Facility name: `kern`, `user`, `mail`, `daemon`, `auth`, `syslog`,
    /// `lpr`, `news`, `uucp`, `cron`, `authpriv`, `ftp`, `local0` …
    /// `local7` (default `local0`).
    pub facility: String,
    /// Messages that may wait; more are dropped and counted (default 1024).
    pub queue: usize,
    /// How long queued messages may still go out at the end:
    /// `shutdown_grace` (default `"2s"`).
    #[serde(rename = "shutdown_grace", with = "crate::config::millis")]
    pub shutdown_grace_ms: u64,
}

impl Default for SyslogConfig {
    fn default() -> Self {
        SyslogConfig {
            url: String::new(),
            min_label: SyslogMinLabel::Unusual,
            app_name: "sentineldns".into(),
            facility: "local0".into(),
            queue: 1024,
            shutdown_grace_ms: 2000,
        }
    }
}

const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// Where messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// UDP to `host:port`.
    Udp(String),
    /// TCP to `host:port`, octet-counted.
    Tcp(String),
    /// A unix datagram socket.
    Unix(PathBuf),
}

impl Target {
    /// Parse `udp://HOST[:PORT]`, `tcp://HOST[:PORT]` or `unix:PATH`.
    pub fn parse(url: &str) -> Result<Target, OutputError> {
        let url = url.trim();
        let bad = |why: &str| OutputError::Config(format!("syslog url {url:?}: {why}"));
        let with_port = |rest: &str, port: u16| -> Result<String, OutputError> {
            let rest = rest.trim_end_matches('/');
            if rest.is_empty() {
                return Err(bad("no host"));
            }
            // `[v6]:port`, `host:port`, or a host alone.
            let has_port = if rest.starts_with('[') {
                rest.contains("]:")
            } else {
                rest.matches(':').count() == 1
            };
            Ok(if has_port {
                rest.to_string()
            } else if rest.contains(':') && !rest.starts_with('[') {
                format!("[{rest}]:{port}")
            } else {
                format!("{rest}:{port}")
            })
        };
        if let Some(r) = url.strip_prefix("udp://") {
            Ok(Target::Udp(with_port(r, 514)?))
        } else if let Some(r) = url.strip_prefix("tcp://") {
            Ok(Target::Tcp(with_port(r, 601)?))
        } else if let Some(r) = url.strip_prefix("unix:") {
            let p = r.strip_prefix("//").unwrap_or(r);
            if p.is_empty() {
                return Err(bad("no socket path"));
            }
            Ok(Target::Unix(PathBuf::from(p)))
        } else {
            Err(bad(
                "expected udp://HOST:PORT, tcp://HOST:PORT or unix:PATH",
            ))
        }
    }
}

impl SyslogConfig {
    /// Check the settings; returns the target and the facility number.
    pub fn validate(&self) -> Result<(Target, u8), OutputError> {
        let target = Target::parse(&self.url)?;
        let facility = FACILITIES
            .iter()
            .position(|f| f.eq_ignore_ascii_case(self.facility.trim()))
            .ok_or_else(|| {
                OutputError::Config(format!(
                    "syslog facility {:?} is not one of {}",
                    self.facility,
                    FACILITIES.join(", ")
                ))
            })? as u8;
        let app = self.app_name.trim();
        if app.is_empty() || app.len() > 48 || !app.bytes().all(|b| (33..=126).contains(&b)) {
            return Err(OutputError::Config(format!(
                "syslog app_name {:?} must be 1 to 48 printable ASCII characters without spaces",
                self.app_name
            )));
        }
        if self.queue == 0 || self.queue as u64 > MAX_QUEUE {
            return Err(OutputError::Config(format!(
                "syslog queue must be 1 to {MAX_QUEUE}"
            )));
        }
        Ok((target, facility))
    }

    /// Ranges of the numeric settings, for the configuration checks.
    pub fn bounds(&self) -> Vec<crate::config::KeyRange> {
        vec![
            crate::config::KeyRange::new("outputs.syslog.queue", self.queue, 1, MAX_QUEUE),
            crate::config::KeyRange::millis(
                "outputs.syslog.shutdown_grace",
                self.shutdown_grace_ms,
                0,
                300_000,
            ),
        ]
    }
}

/// Severity of a label: crit, warning, info.
fn severity(l: Label) -> u8 {
    match l {
        Label::LikelyCompromise => 2,
        Label::Unusual => 4,
        Label::Normal => 6,
    }
}

/// Append `s` without control characters, cut to `max` bytes on a
/// character boundary; with `sd`, `"`, `\` and `]` escaped.
fn clean(out: &mut Vec<u8>, s: &str, max: usize, sd: bool) {
    let start = out.len();
    let mut buf = [0u8; 4];
    for c in s.chars() {
        if c.is_control() || c == '\u{feff}' {
            continue;
        }
        let esc = sd && matches!(c, '"' | '\\' | ']');
        let e = c.encode_utf8(&mut buf);
        if out.len() - start + e.len() + usize::from(esc) > max {
            break;
        }
        if esc {
            out.push(b'\\');
        }
        out.extend_from_slice(e.as_bytes());
    }
}

/// Header fields shared by every message of one output.
#[derive(Debug, Clone)]
struct Header {
    facility: u8,
    hostname: String,
    app: String,
    procid: u32,
}

impl Header {
    fn new(facility: u8, app: &str) -> Self {
        let h = &super::ecs::observer().hostname;
        let mut hostname: String = h
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(255)
            .collect();
        if hostname.is_empty() {
            hostname.push('-');
        }
        Header {
            facility,
            hostname,
            app: app.trim().to_string(),
            procid: std::process::id(),
        }
    }

    fn start(&self, out: &mut Vec<u8>, label: Label, ts: i64, msgid: &str) {
        let pri = u16::from(self.facility) * 8 + u16::from(severity(label));
        let _ = write!(out, "<{pri}>1 ");
        crate::time::write_rfc3339_micros(out, ts);
        let _ = write!(
            out,
            " {} {} {} {msgid} [{SD_ID}",
            self.hostname, self.app, self.procid
        );
    }
}

fn param(out: &mut Vec<u8>, name: &str, value: &str) {
    let _ = write!(out, " {name}=\"");
    clean(out, value, MAX_PARAM, true);
    out.push(b'"');
}

fn msg(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"] ");
    if !text.is_ascii() {
        out.extend_from_slice("\u{feff}".as_bytes());
    }
    clean(out, text, MAX_MSG, false);
}

/// The message for a window's verdict.
fn window_message(h: &Header, w: &HostWindow, v: &Verdict, incident: Option<i64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(512);
    h.start(&mut out, v.label, w.end, "verdict");
    param(&mut out, "host", &w.host.to_string());
    param(&mut out, "label", v.label.as_str());
    param(&mut out, "score", &format!("{:.4}", v.score));
    if let Some(id) = incident {
        param(&mut out, "incident", &id.to_string());
    }
    msg(&mut out, &v.explanation);
    out
}

/// The message for an incident that opened or escalated.
fn incident_message(h: &Header, e: &IncidentEvent) -> Vec<u8> {
    let i = &e.incident;
    let mut out = Vec::with_capacity(512);
    // Incident times are Unix seconds.
    let ts = i.updated_at.saturating_mul(crate::event::MICROS);
    h.start(&mut out, i.peak_label, ts, "incident");
    param(&mut out, "host", &i.host);
    param(&mut out, "label", i.peak_label.as_str());
    param(&mut out, "score", &format!("{:.4}", i.peak_score));
    param(&mut out, "incident", &i.id.to_string());
    param(&mut out, "event", e.kind.as_str());
    param(&mut out, "windows", &i.windows.to_string());
    let text = format!(
        "Incident #{} {} for {}: {}",
        i.id,
        e.kind.as_str(),
        i.host,
        i.explanation
    );
    msg(&mut out, &text);
    out
}

/// The syslog output: a bounded queue and its sender thread.
#[derive(Debug)]
pub struct Syslog {
    tx: Option<SyncSender<Vec<u8>>>,
    header: Header,
    min_label: SyslogMinLabel,
    metrics: Arc<Metrics>,
    grace: Duration,
    stop: Arc<AtomicBool>,
    done: Option<Receiver<()>>,
}

impl Syslog {
    /// Validate `cfg` and start the sender thread (the socket is opened by
    /// the thread, so an unreachable receiver does not fail the start).
    pub fn start(cfg: &SyslogConfig, metrics: Arc<Metrics>) -> Result<Self, OutputError> {
        let (target, facility) = cfg.validate()?;
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(cfg.queue);
        let (done_tx, done_rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let mut w = Worker {
            target,
            conn: None,
            metrics: metrics.clone(),
            stop: stop.clone(),
            retry_at: Instant::now(),
            backoff: BACKOFF_MIN,
            frame: Vec::with_capacity(2048),
        };
        std::thread::Builder::new()
            .name("syslog".into())
            .spawn(move || {
                w.run(rx);
                let _ = done_tx.send(());
            })
            .map_err(|e| OutputError::Thread(e.to_string()))?;
        metrics.syslog.set_configured();
        Ok(Syslog {
            tx: Some(tx),
            header: Header::new(facility, &cfg.app_name),
            min_label: cfg.min_label,
            metrics,
            grace: Duration::from_millis(cfg.shutdown_grace_ms),
            stop,
            done: Some(done_rx),
        })
    }

    fn offer(&self, m: Vec<u8>) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        let s = &self.metrics.syslog;
        match tx.try_send(m) {
            Ok(()) => {
                s.enqueued.fetch_add(1, Ordering::Relaxed);
                true
            }
            Err(TrySendError::Full(_)) => {
                s.queue_full.fetch_add(1, Ordering::Relaxed);
                false
            }
            Err(TrySendError::Disconnected(_)) => {
                s.failed.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Queue the verdict of `w` if it is at or above the threshold. Never
    /// blocks; returns whether it was queued.
    pub fn offer_window(&self, w: &HostWindow, v: &Verdict, incident: Option<i64>) -> bool {
        self.min_label.admits(v.label) && self.offer(window_message(&self.header, w, v, incident))
    }

    /// Queue an incident event (opened or escalated) at or above the
    /// threshold. Never blocks.
    pub fn offer_incident(&self, e: &IncidentEvent) -> bool {
        e.kind.alerts()
            && self.min_label.admits(e.incident.peak_label)
            && self.offer(incident_message(&self.header, e))
    }

    /// Let queued messages go out within the grace period, then stop.
    pub fn close(&mut self) {
        drop(self.tx.take());
        if let Some(done) = self.done.take() {
            if done.recv_timeout(self.grace).is_err() {
                self.stop.store(true, Ordering::Relaxed);
                let s = &self.metrics.syslog;
                let left = s.enqueued.load(Ordering::Relaxed).saturating_sub(
                    s.sent.load(Ordering::Relaxed) + s.failed.load(Ordering::Relaxed),
                );
                s.shutdown.store(left, Ordering::Relaxed);
                tracing::warn!(
                    left,
                    "syslog: messages still queued at shutdown were dropped"
                );
            }
        }
    }
}

impl Drop for Syslog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug)]
enum Conn {
    Udp(UdpSocket),
    Tcp(TcpStream),
    Unix(UnixDatagram),
}

struct Worker {
    target: Target,
    conn: Option<Conn>,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
    retry_at: Instant,
    backoff: Duration,
    frame: Vec<u8>,
}

fn resolve(hostport: &str) -> std::io::Result<Vec<SocketAddr>> {
    Ok(hostport.to_socket_addrs()?.collect())
}

impl Worker {
    fn run(&mut self, rx: Receiver<Vec<u8>>) {
        while let Ok(m) = rx.recv() {
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let metrics = self.metrics.clone();
            let s = &metrics.syslog;
            if self.conn.is_none() && Instant::now() < self.retry_at {
                s.failed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            // A broken stream is found by the write: one fresh connection
            // is tried before the message counts as failed.
            let mut ok = self.send(&m);
            if !ok && self.conn_was_stream() {
                self.conn = None;
                ok = self.send(&m);
            }
            if ok {
                s.sent.fetch_add(1, Ordering::Relaxed);
                self.backoff = BACKOFF_MIN;
            } else {
                s.failed.fetch_add(1, Ordering::Relaxed);
                self.conn = None;
                self.retry_at = Instant::now() + self.backoff;
                self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
            }
        }
    }

    fn conn_was_stream(&self) -> bool {
        matches!(self.target, Target::Tcp(_))
    }

    fn connect(&self) -> std::io::Result<Conn> {
        match &self.target {
            Target::Udp(hp) => {
                let mut last = None;
                for a in resolve(hp)? {
                    let local: SocketAddr = if a.is_ipv4() {
                        ([0, 0, 0, 0], 0).into()
                    } else {
                        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                    };
                    match UdpSocket::bind(local).and_then(|u| u.connect(a).map(|()| u)) {
                        Ok(u) => return Ok(Conn::Udp(u)),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
            }
            Target::Tcp(hp) => {
                let mut last = None;
                for a in resolve(hp)? {
                    match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                        Ok(t) => {
                            t.set_write_timeout(Some(WRITE_TIMEOUT))?;
                            let _ = t.set_nodelay(true);
                            return Ok(Conn::Tcp(t));
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| std::io::Error::other("no address")))
            }
            Target::Unix(p) => {
                let u = UnixDatagram::unbound()?;
                u.connect(p)?;
                u.set_write_timeout(Some(WRITE_TIMEOUT))?;
                Ok(Conn::Unix(u))
            }
        }
    }

    fn send(&mut self, m: &[u8]) -> bool {
        if self.conn.is_none() {
            match self.connect() {
                Ok(c) => {
                    self.metrics.syslog.connects.fetch_add(1, Ordering::Relaxed);
                    self.conn = Some(c);
                }
                Err(e) => {
                    tracing::debug!(error = %e, "syslog: cannot reach the receiver");
                    return false;
                }
            }
        }
        let r = match &mut self.conn {
            Some(Conn::Udp(u)) => u.send(m).map(|_| ()),
            Some(Conn::Unix(u)) => u.send(m).map(|_| ()),
            Some(Conn::Tcp(t)) => {
                self.frame.clear();
                let _ = write!(self.frame, "{} ", m.len());
                self.frame.extend_from_slice(m);
                t.write_all(&self.frame)
            }
            None => return false,
        };
        if let Err(e) = r {
            tracing::debug!(error = %e, "syslog: send failed");
            self.conn = None;
            return false;
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        assert_eq!(
            Target::parse("udp://127.0.0.1").unwrap(),
            Target::Udp("127.0.0.1:514".into())
        );
        assert_eq!(
            Target::parse("tcp://logs.example:6514").unwrap(),
            Target::Tcp("logs.example:6514".into())
        );
        assert_eq!(
            Target::parse("tcp://[::1]").unwrap(),
            Target::Tcp("[::1]:601".into())
        );
        assert_eq!(
            Target::parse("unix:/dev/log").unwrap(),
            Target::Unix("/dev/log".into())
        );
        for bad in ["", "http://x", "udp://", "unix:"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
        let c = SyslogConfig {
            url: "udp://127.0.0.1".into(),
            facility: "mail".into(),
            ..Default::default()
        };
        assert_eq!(c.validate().unwrap().1, 2);
        let bad = SyslogConfig {
            facility: "local9".into(),
            ..c.clone()
        };
        assert!(bad.validate().is_err());
        let bad = SyslogConfig {
            app_name: "two words".into(),
            ..c
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn messages_are_rfc5424_with_escaped_params_and_clean_msg() {
        let h = Header {
            facility: 16,
            hostname: "sensor1".into(),
            app: "sentineldns".into(),
            procid: 42,
        };
        let w = crate::output::tests::dga_window("10.0.0.9");
        let v = Verdict {
            score: 0.91,
            label: Label::LikelyCompromise,
            reasons: vec![],
            explanation: "Likely Compromise for 10.0.0.9: a]b\"c\\d\ne.example\u{7}".into(),
            model_id: "m".into(),
            evidence: false,
        };
        let m = String::from_utf8(window_message(&h, &w, &v, Some(7))).unwrap();
        assert_eq!(
            m,
            "<130>1 2024-03-04T08:05:00.000000Z sensor1 sentineldns 42 verdict \
             [sentineldns@32473 host=\"10.0.0.9\" label=\"Likely Compromise\" score=\"0.9100\" incident=\"7\"] \
             Likely Compromise for 10.0.0.9: a]b\"c\\de.example"
        );
        let mut p = Vec::new();
        param(&mut p, "x", "a]b\"c\\d\r\n");
        assert_eq!(p, b" x=\"a\\]b\\\"c\\\\d\"");
        // Caps on a character boundary; BOM before non-ASCII text.
        let mut out = Vec::new();
        msg(&mut out, &"\u{e9}".repeat(2000));
        assert!(out.starts_with("] \u{feff}".as_bytes()));
        assert!(out.len() <= 2 + 3 + MAX_MSG);
        assert!(std::str::from_utf8(&out).is_ok());
        let mut long = Vec::new();
        clean(&mut long, &"]".repeat(1000), MAX_PARAM, true);
        assert_eq!(long.len(), MAX_PARAM);
    }

    #[test]
    fn unreachable_receiver_never_blocks_and_counts_failures() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let metrics = Arc::new(Metrics::default());
        let mut s = Syslog::start(
            &SyslogConfig {
                url: format!("tcp://127.0.0.1:{port}"),
                queue: 4,
                shutdown_grace_ms: 2000,
                ..Default::default()
            },
            metrics.clone(),
        )
        .unwrap();
        let t0 = Instant::now();
        for _ in 0..100 {
            s.offer(b"<134>1 - - - - - - x".to_vec());
        }
        assert!(t0.elapsed() < Duration::from_millis(500));
        s.close();
        let m = &metrics.syslog;
        let (enq, failed, full) = (
            m.enqueued.load(Ordering::Relaxed),
            m.failed.load(Ordering::Relaxed),
            m.queue_full.load(Ordering::Relaxed),
        );
        assert_eq!(enq + full, 100);
        assert_eq!(failed, enq, "every queued message failed");
        assert_eq!(m.sent.load(Ordering::Relaxed), 0);
    }
}
