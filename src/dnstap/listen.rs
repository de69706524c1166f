//! The live dnstap listener: resolvers connect to a Unix or TCP socket and
//! stream Frame Streams (`capture --dnstap unix:PATH|tcp:ADDR:PORT`).
//!
//! One accept thread per endpoint and one thread per connection, so several
//! resolvers (and a resolver's several connections) are read at once; a
//! resolver that goes away and comes back is simply a new connection. Each
//! connection does the bidirectional handshake (READY → ACCEPT, START, data
//! frames, STOP → FINISH; a sender that starts with START is read as a
//! unidirectional stream) and hands data frames to one bounded queue. When
//! the queue is full the frame is dropped and counted, never blocking a
//! resolver. A stop flag (SIGINT/SIGTERM) ends every thread within
//! [`POLL`]; [`Listener::shutdown`] joins them and removes the Unix socket
//! files, after which the queue is drained by the caller.
//!
//! Needs no libpcap and no privileges: it works in the default build.

use super::fstrm::{self, ControlType, Frame, FrameReader, FstrmError, DNSTAP_CONTENT_TYPE};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{atomic::AtomicBool, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

/// How often blocked threads look at the stop flag.
pub const POLL: Duration = Duration::from_millis(200);

/// Where to listen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A Unix stream socket at this path (created; a stale socket is replaced).
    Unix(PathBuf),
    /// A TCP address.
    Tcp(SocketAddr),
}

impl std::str::FromStr for Endpoint {
    type Err = ListenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = |why: &str| ListenError::BadEndpoint {
            given: s.to_string(),
            why: why.to_string(),
        };
        if let Some(p) = s.strip_prefix("unix:") {
            if p.is_empty() {
                return Err(bad("no path after unix:"));
            }
            return Ok(Endpoint::Unix(PathBuf::from(p)));
        }
        if let Some(a) = s.strip_prefix("tcp:") {
            return a.parse().map(Endpoint::Tcp).map_err(|_| {
                bad("expected tcp:ADDRESS:PORT, e.g. tcp:127.0.0.1:6000 or tcp:[::1]:6000")
            });
        }
        Err(bad("expected unix:PATH or tcp:ADDRESS:PORT"))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Unix(p) => write!(f, "unix:{}", p.display()),
            Endpoint::Tcp(a) => write!(f, "tcp:{a}"),
        }
    }
}

/// The listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// An endpoint that does not parse.
    #[error("bad dnstap endpoint {given:?}: {why}")]
    BadEndpoint {
        /// As given.
        given: String,
        /// What is wrong.
        why: String,
    },
    /// A path that exists and is not a socket (never removed).
    #[error("{0}: exists and is not a socket; refusing to replace it")]
    NotASocket(PathBuf),
    /// Binding failed.
    #[error("cannot listen on {endpoint}: {source}")]
    Bind {
        /// The endpoint.
        endpoint: String,
        /// Cause.
        #[source]
        source: io::Error,
    },
}

/// Listener settings.
#[derive(Debug, Clone)]
pub struct ListenConfig {
    /// Endpoints to listen on.
    pub endpoints: Vec<Endpoint>,
    /// Data frames the queue to the pipeline holds; more are dropped.
    pub queue_frames: usize,
    /// Connections served at once; more are closed at once and counted.
    pub max_connections: u64,
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            endpoints: Vec::new(),
            queue_frames: 65_536,
            max_connections: 64,
        }
    }
}

/// One data frame received.
#[derive(Debug)]
pub struct Received {
    /// Index of the endpoint in [`ListenConfig::endpoints`].
    pub endpoint: usize,
    /// Connection number (from 1, over all endpoints).
    pub connection: u64,
    /// 1-based data frame number within the connection.
    pub frame: u64,
    /// Byte offset of the frame within the connection.
    pub offset: u64,
    /// The Dnstap protobuf.
    pub payload: Vec<u8>,
}

/// Listener counters (monotonic).
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    active: AtomicU64,
    refused: AtomicU64,
    frames: AtomicU64,
    bytes: AtomicU64,
    dropped: AtomicU64,
    finished: AtomicU64,
    handshake_errors: AtomicU64,
    stream_errors: AtomicU64,
}

/// A snapshot of the listener counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ListenTotals {
    /// Connections accepted.
    pub connections: u64,
    /// Connections open now.
    pub active: u64,
    /// Connections closed at once (over the connection limit).
    pub refused: u64,
    /// Data frames received.
    pub frames: u64,
    /// Payload bytes received.
    pub bytes: u64,
    /// Data frames dropped because the queue was full.
    pub dropped: u64,
    /// Connections that ended with STOP (answered by FINISH when bidirectional).
    pub finished: u64,
    /// Connections refused at the handshake (no READY/START, wrong content type).
    pub handshake_errors: u64,
    /// Connections cut by a framing error (truncated or garbage frame).
    pub stream_errors: u64,
}

/// A running listener.
pub struct Listener {
    rx: Receiver<Received>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    sockets: Vec<PathBuf>,
    names: Vec<String>,
}

trait Conn: Read + Write + Send + 'static {
    fn set_timeout(&self, t: Duration) -> io::Result<()>;
    fn set_blocking(&self) -> io::Result<()>;
}

impl Conn for UnixStream {
    fn set_timeout(&self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))
    }
    fn set_blocking(&self) -> io::Result<()> {
        self.set_nonblocking(false)
    }
}

impl Conn for TcpStream {
    fn set_timeout(&self, t: Duration) -> io::Result<()> {
        self.set_read_timeout(Some(t))
    }
    fn set_blocking(&self) -> io::Result<()> {
        self.set_nonblocking(false)?;
        self.set_nodelay(true)
    }
}

enum Bound {
    Unix(UnixListener),
    Tcp(TcpListener),
}

impl Bound {
    fn accept(&self) -> io::Result<Box<dyn FnOnce(Shared) + Send>> {
        Ok(match self {
            Bound::Unix(l) => {
                let (s, _) = l.accept()?;
                Box::new(move |sh: Shared| serve(s, sh))
            }
            Bound::Tcp(l) => {
                let (s, _) = l.accept()?;
                Box::new(move |sh: Shared| serve(s, sh))
            }
        })
    }
}

#[derive(Clone)]
struct Shared {
    tx: SyncSender<Received>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    endpoint: usize,
    name: Arc<str>,
    connection: u64,
}

/// Bind every endpoint (failing, naming it, if one cannot be bound) and
/// start accepting. `stop` ends every thread.
pub fn listen(cfg: &ListenConfig, stop: Arc<AtomicBool>) -> Result<Listener, ListenError> {
    let (tx, rx) = mpsc::sync_channel(cfg.queue_frames.max(1));
    let counters = Arc::new(Counters::default());
    let mut bound = Vec::new();
    let mut sockets = Vec::new();
    for ep in &cfg.endpoints {
        let bind_err = |source| ListenError::Bind {
            endpoint: ep.to_string(),
            source,
        };
        let b = match ep {
            Endpoint::Unix(p) => {
                if let Ok(md) = std::fs::symlink_metadata(p) {
                    if !md.file_type().is_socket() {
                        return Err(ListenError::NotASocket(p.clone()));
                    }
                    std::fs::remove_file(p).map_err(bind_err)?;
                }
                let l = UnixListener::bind(p).map_err(bind_err)?;
                sockets.push(p.clone());
                l.set_nonblocking(true).map_err(bind_err)?;
                Bound::Unix(l)
            }
            Endpoint::Tcp(a) => {
                let l = TcpListener::bind(a).map_err(bind_err)?;
                l.set_nonblocking(true).map_err(bind_err)?;
                Bound::Tcp(l)
            }
        };
        bound.push(b);
    }
    let names: Vec<String> = cfg.endpoints.iter().map(|e| e.to_string()).collect();
    let next_conn = Arc::new(AtomicU64::new(0));
    let mut threads = Vec::new();
    for (i, b) in bound.into_iter().enumerate() {
        let sh = Shared {
            tx: tx.clone(),
            counters: counters.clone(),
            stop: stop.clone(),
            endpoint: i,
            name: Arc::from(names[i].as_str()),
            connection: 0,
        };
        let max = cfg.max_connections.max(1);
        let next_conn = next_conn.clone();
        let t = std::thread::Builder::new()
            .name(format!("dnstap-accept-{i}"))
            .spawn(move || accept_loop(b, sh, max, &next_conn))
            .map_err(|source| ListenError::Bind {
                endpoint: names[i].clone(),
                source,
            })?;
        threads.push(t);
    }
    Ok(Listener {
        rx,
        counters,
        stop,
        threads,
        sockets,
        names,
    })
}

fn accept_loop(b: Bound, sh: Shared, max: u64, next_conn: &AtomicU64) {
    let mut conns: Vec<JoinHandle<()>> = Vec::new();
    while !sh.stop.load(Ordering::Relaxed) {
        match b.accept() {
            Ok(serve_fn) => {
                conns.retain(|h| !h.is_finished());
                sh.counters.connections.fetch_add(1, Ordering::Relaxed);
                if sh.counters.active.load(Ordering::Relaxed) >= max {
                    sh.counters.refused.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(endpoint = %sh.name, max, "dnstap: connection limit reached, connection closed");
                    continue; // dropping the closure closes the stream
                }
                let mut csh = sh.clone();
                csh.connection = next_conn.fetch_add(1, Ordering::Relaxed) + 1;
                sh.counters.active.fetch_add(1, Ordering::Relaxed);
                let counters = sh.counters.clone();
                match std::thread::Builder::new()
                    .name(format!("dnstap-conn-{}", csh.connection))
                    .spawn(move || {
                        serve_fn(csh);
                        counters.active.fetch_sub(1, Ordering::Relaxed);
                    }) {
                    Ok(h) => conns.push(h),
                    Err(e) => {
                        sh.counters.active.fetch_sub(1, Ordering::Relaxed);
                        tracing::error!(error = %e, "dnstap: cannot start a connection thread");
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(e) => {
                tracing::warn!(endpoint = %sh.name, error = %e, "dnstap: accept failed");
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
    for h in conns {
        let _ = h.join();
    }
}

/// Reads that wake up every [`POLL`] to look at the stop flag.
struct StopRead<S> {
    inner: S,
    stop: Arc<AtomicBool>,
}

impl<S: Read> Read for StopRead<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(buf) {
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if self.stop.load(Ordering::Relaxed) {
                        return Err(io::Error::other("dnstap listener stopping"));
                    }
                }
                r => return r,
            }
        }
    }
}

fn serve<S: Conn>(s: S, sh: Shared) {
    if let Err(e) = s.set_blocking().and_then(|()| s.set_timeout(POLL)) {
        tracing::warn!(endpoint = %sh.name, error = %e, "dnstap: cannot set up the connection");
        return;
    }
    let mut r = FrameReader::new(StopRead {
        inner: s,
        stop: sh.stop.clone(),
    });
    match session(&mut r, &sh) {
        Ok(()) => {}
        Err(SessionEnd::Stopped) => {}
        Err(SessionEnd::Handshake(why)) => {
            sh.counters.handshake_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(endpoint = %sh.name, connection = sh.connection, "dnstap handshake refused: {why}");
        }
        Err(SessionEnd::Stream(e)) => {
            sh.counters.stream_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(endpoint = %sh.name, connection = sh.connection, offset = e.offset(), error = %e, "dnstap connection cut by a bad frame");
        }
    }
}

enum SessionEnd {
    Stopped,
    Handshake(String),
    Stream(FstrmError),
}

fn next<S: Read>(
    r: &mut FrameReader<StopRead<S>>,
    sh: &Shared,
) -> Result<Option<Frame>, SessionEnd> {
    r.next_frame().map_err(|e| match e {
        FstrmError::Io { .. } if sh.stop.load(Ordering::Relaxed) => SessionEnd::Stopped,
        e => SessionEnd::Stream(e),
    })
}

fn session<S: Conn>(r: &mut FrameReader<StopRead<S>>, sh: &Shared) -> Result<(), SessionEnd> {
    let names = |c: &fstrm::Control| -> String {
        c.content_types
            .iter()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let bidirectional = match next(r, sh)? {
        Some(Frame::Control(c)) if c.kind == ControlType::Ready => {
            if !c.offers_dnstap() {
                return Err(SessionEnd::Handshake(format!(
                    "READY offers {}, not protobuf:dnstap.Dnstap",
                    names(&c)
                )));
            }
            fstrm::write_control(
                &mut r.get_mut().inner,
                ControlType::Accept,
                Some(DNSTAP_CONTENT_TYPE),
            )
            .map_err(|e| SessionEnd::Handshake(format!("writing ACCEPT: {e}")))?;
            match next(r, sh)? {
                Some(Frame::Control(c)) if c.kind == ControlType::Start => {
                    if !c.offers_dnstap() {
                        return Err(SessionEnd::Handshake(format!("START for {}", names(&c))));
                    }
                }
                Some(Frame::Control(c)) => {
                    return Err(SessionEnd::Handshake(format!(
                        "{} after ACCEPT, START expected",
                        c.kind.as_str()
                    )))
                }
                Some(Frame::Data) => return Err(SessionEnd::Handshake("data before START".into())),
                None => return Ok(()),
            }
            true
        }
        Some(Frame::Control(c)) if c.kind == ControlType::Start => {
            if !c.offers_dnstap() {
                return Err(SessionEnd::Handshake(format!("START for {}", names(&c))));
            }
            false
        }
        Some(Frame::Control(c)) => {
            return Err(SessionEnd::Handshake(format!(
                "{} first, READY or START expected",
                c.kind.as_str()
            )))
        }
        Some(Frame::Data) => return Err(SessionEnd::Handshake("data before READY/START".into())),
        None => return Ok(()),
    };
    tracing::info!(endpoint = %sh.name, connection = sh.connection, bidirectional, "dnstap sender connected");
    let mut frame = 0u64;
    loop {
        match next(r, sh)? {
            Some(Frame::Data) => {
                frame += 1;
                let payload = r.payload();
                sh.counters.frames.fetch_add(1, Ordering::Relaxed);
                sh.counters
                    .bytes
                    .fetch_add(payload.len() as u64, Ordering::Relaxed);
                let item = Received {
                    endpoint: sh.endpoint,
                    connection: sh.connection,
                    frame,
                    offset: r.frame_offset(),
                    payload: payload.to_vec(),
                };
                match sh.tx.try_send(item) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        sh.counters.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(TrySendError::Disconnected(_)) => return Err(SessionEnd::Stopped),
                }
            }
            Some(Frame::Control(c)) if c.kind == ControlType::Stop => {
                sh.counters.finished.fetch_add(1, Ordering::Relaxed);
                if bidirectional {
                    let _ = fstrm::write_control(&mut r.get_mut().inner, ControlType::Finish, None);
                }
                tracing::info!(endpoint = %sh.name, connection = sh.connection, frames = frame, "dnstap sender finished (STOP)");
                return Ok(());
            }
            Some(Frame::Control(_)) => {} // nothing else is meaningful mid-stream
            None => {
                tracing::info!(endpoint = %sh.name, connection = sh.connection, frames = frame, "dnstap sender closed without STOP");
                return Ok(());
            }
        }
    }
}

impl Listener {
    /// The endpoints, as `unix:PATH` / `tcp:ADDR` (indexed by [`Received::endpoint`]).
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The next frame, waiting at most `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Received> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// A frame already queued, without waiting.
    pub fn try_recv(&self) -> Option<Received> {
        self.rx.try_recv().ok()
    }

    /// The counters now.
    pub fn totals(&self) -> ListenTotals {
        let c = &self.counters;
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ListenTotals {
            connections: g(&c.connections),
            active: g(&c.active),
            refused: g(&c.refused),
            frames: g(&c.frames),
            bytes: g(&c.bytes),
            dropped: g(&c.dropped),
            finished: g(&c.finished),
            handshake_errors: g(&c.handshake_errors),
            stream_errors: g(&c.stream_errors),
        }
    }

    /// Stop accepting and reading (sets the stop flag), join every thread,
    /// remove the Unix sockets, and return what is still queued with the
    /// final counters.
    pub fn shutdown(mut self) -> (Vec<Received>, ListenTotals) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
        for p in &self.sockets {
            let _ = std::fs::remove_file(p);
        }
        let rest: Vec<Received> = self.rx.try_iter().collect();
        (rest, self.totals())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connect_and_send(path: &std::path::Path, frames: &[Vec<u8>]) -> Vec<u8> {
        let mut s = UnixStream::connect(path).unwrap();
        fstrm::write_control(&mut s, ControlType::Ready, Some(DNSTAP_CONTENT_TYPE)).unwrap();
        let mut r = FrameReader::new(s.try_clone().unwrap());
        let Some(Frame::Control(c)) = r.next_frame().unwrap() else {
            panic!("ACCEPT expected")
        };
        assert_eq!(c.kind, ControlType::Accept);
        assert!(c.offers_dnstap());
        fstrm::write_control(&mut s, ControlType::Start, Some(DNSTAP_CONTENT_TYPE)).unwrap();
        for f in frames {
            fstrm::write_data(&mut s, f).unwrap();
        }
        fstrm::write_control(&mut s, ControlType::Stop, None).unwrap();
        let Some(Frame::Control(c)) = r.next_frame().unwrap() else {
            panic!("FINISH expected")
        };
        assert_eq!(c.kind, ControlType::Finish);
        frames.iter().flatten().copied().collect()
    }

    #[test]
    fn tcp_endpoint_and_a_unidirectional_sender() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let ep: Endpoint = format!("tcp:127.0.0.1:{port}").parse().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let l = listen(
            &ListenConfig {
                endpoints: vec![ep],
                ..Default::default()
            },
            stop,
        )
        .unwrap();
        // START first (no READY): read as a unidirectional stream
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        fstrm::write_control(&mut s, ControlType::Start, Some(DNSTAP_CONTENT_TYPE)).unwrap();
        fstrm::write_data(&mut s, b"t1").unwrap();
        fstrm::write_data(&mut s, b"t2").unwrap();
        fstrm::write_control(&mut s, ControlType::Stop, None).unwrap();
        let a = l.recv(Duration::from_secs(5)).expect("first frame");
        let b = l.recv(Duration::from_secs(5)).expect("second frame");
        assert_eq!((a.payload.as_slice(), a.frame), (&b"t1"[..], 1));
        assert_eq!((b.payload.as_slice(), b.frame), (&b"t2"[..], 2));
        // no FINISH on a unidirectional stream: the server just closes
        let mut buf = [0u8; 16];
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert_eq!(s.read(&mut buf).unwrap(), 0);
        // a cut frame is a stream error, counted
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        fstrm::write_control(&mut s, ControlType::Start, Some(DNSTAP_CONTENT_TYPE)).unwrap();
        s.write_all(&[0, 0, 0, 9, 1, 2]).unwrap();
        drop(s);
        let t0 = std::time::Instant::now();
        while l.totals().stream_errors == 0 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let (_, t) = l.shutdown();
        assert_eq!((t.frames, t.finished, t.stream_errors), (2, 1, 1), "{t:?}");
    }

    #[test]
    fn endpoints_parse_or_say_why() {
        assert_eq!(
            "unix:/run/dnstap.sock".parse::<Endpoint>().unwrap(),
            Endpoint::Unix("/run/dnstap.sock".into())
        );
        assert_eq!(
            "tcp:127.0.0.1:6000"
                .parse::<Endpoint>()
                .unwrap()
                .to_string(),
            "tcp:127.0.0.1:6000"
        );
        let e = "tcp:localhost".parse::<Endpoint>().unwrap_err().to_string();
        assert!(e.contains("tcp:ADDRESS:PORT"), "{e}");
        let e = "/run/x.sock".parse::<Endpoint>().unwrap_err().to_string();
        assert!(e.contains("unix:PATH"), "{e}");
    }

    #[test]
    fn handshake_several_senders_reconnects_drops_and_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let sock = dir.path().join("tap.sock");
        let notsock = dir.path().join("file");
        std::fs::write(&notsock, b"x").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let e = listen(
            &ListenConfig {
                endpoints: vec![Endpoint::Unix(notsock.clone())],
                ..Default::default()
            },
            stop.clone(),
        )
        .err()
        .unwrap();
        assert!(matches!(e, ListenError::NotASocket(_)), "{e}");
        let l = listen(
            &ListenConfig {
                endpoints: vec![Endpoint::Unix(sock.clone())],
                queue_frames: 8,
                max_connections: 8,
            },
            stop.clone(),
        )
        .unwrap();
        // two senders at once, then one reconnects
        let a = {
            let sock = sock.clone();
            std::thread::spawn(move || connect_and_send(&sock, &[b"a1".to_vec(), b"a2".to_vec()]))
        };
        let b = {
            let sock = sock.clone();
            std::thread::spawn(move || connect_and_send(&sock, &[b"b1".to_vec()]))
        };
        a.join().unwrap();
        b.join().unwrap();
        connect_and_send(&sock, &[b"c1".to_vec()]);
        let mut got = Vec::new();
        while got.len() < 4 {
            let r = l.recv(Duration::from_secs(5)).expect("frames arrive");
            got.push(String::from_utf8(r.payload).unwrap());
        }
        got.sort();
        assert_eq!(got, ["a1", "a2", "b1", "c1"]);
        // a sender offering another content type is refused
        let mut s = UnixStream::connect(&sock).unwrap();
        fstrm::write_control(&mut s, ControlType::Ready, Some(b"protobuf:other")).unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "closed without ACCEPT");
        // 20 frames into a queue of 8 with nobody reading: drops are counted
        connect_and_send(&sock, &(0..20).map(|i| vec![b'x', i]).collect::<Vec<_>>());
        let t0 = std::time::Instant::now();
        while l.totals().frames < 24 && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let t = l.totals();
        assert_eq!(t.frames, 24);
        assert_eq!(t.dropped, 12);
        assert_eq!(t.finished, 4);
        assert_eq!(t.handshake_errors, 1);
        assert_eq!(t.connections, 5);
        // an idle connection does not hold up shutdown
        let _idle = UnixStream::connect(&sock).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let t0 = std::time::Instant::now();
        let (rest, _) = l.shutdown();
        assert!(t0.elapsed() < Duration::from_secs(3));
        assert_eq!(rest.len(), 8);
        assert!(!sock.exists(), "socket removed");
    }
}
