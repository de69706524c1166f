//! Live capture over libpcap (cargo feature `capture`).
//!
//! # Threads and hand-off
//! One thread per interface reads frames from a **non-blocking** handle and,
//! when none are ready, waits in `poll(2)` on the handle's descriptor for at
//! most 100 ms (libpcap's blocking `next_packet` can wait forever on a quiet
//! interface, and its read timeout is not honoured in immediate mode on Linux,
//! so a blocking read would stall shutdown), and copies them into reusable [`Batch`]es: one contiguous byte
//! buffer plus per-frame metadata, no allocation per packet. Full batches go
//! to the pipeline thread over a **bounded** channel with `try_send`; when the
//! pipeline falls behind, the batch is dropped and its frames are counted as
//! `queue` drops — the capture thread never waits, so the kernel buffer keeps
//! draining. Kernel drops (`ps_drop`: no room in the socket buffer) and
//! interface drops (`ps_ifdrop`) are read from libpcap every timeout. All three
//! are reported at the end and in metrics, never silent.
//!
//! # Time
//! Frames carry their kernel timestamps; windows close on packet time exactly
//! as in replay (several interfaces are interleaved as they arrive, within the
//! aggregator's grace). A quiet network leaves the last window open until the
//! next packet or until shutdown, which flushes it.
//!
//! # Privileges
//! Handles are opened first (needs root or `CAP_NET_RAW`), then [`privdrop`]
//! switches to the configured unprivileged user before the first frame is
//! parsed.
//!
//! # Forensic ring
//! With [`RingConfig`], every captured frame is also written to
//! `DIR/IFACE-N.pcap` files of at most `max_bytes`, keeping the newest `keep`.
//!
//! This module uses no `unsafe` itself; the `pcap` crate wraps libpcap.

pub mod privdrop;

use crate::event::{RawPacket, TsMicros};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The default capture filter: DNS over UDP and TCP (also mDNS and LLMNR),
/// IPv4 and IPv6 fragments (a fragmented DNS response has no port in its later
/// fragments), and the same inside one 802.1Q tag. `vlan` comes last because
/// it shifts the offsets of everything after it.
pub const DEFAULT_BPF: &str = "udp port 53 or tcp port 53 or udp port 5353 or udp port 5355 \
or (ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] = 44) \
or (vlan and (udp port 53 or tcp port 53 or (ip[6:2] & 0x3fff != 0) or (ip6 and ip6[6] = 44)))";

/// Frames per batch handed to the pipeline.
pub const BATCH_FRAMES: usize = 256;

/// Live-capture settings.
#[derive(Debug, Clone)]
pub struct InterfaceConfig {
    /// Interfaces to open.
    pub interfaces: Vec<String>,
    /// BPF filter (`None` = [`DEFAULT_BPF`]).
    pub bpf: Option<String>,
    /// Bytes captured per frame.
    pub snaplen: i32,
    /// Kernel buffer per interface, bytes.
    pub buffer_bytes: i32,
    /// Promiscuous mode.
    pub promisc: bool,
    /// Frames the hand-off queue holds (rounded up to whole batches).
    pub queue_frames: usize,
    /// Optional forensic pcap ring.
    pub ring: Option<RingConfig>,
}

impl Default for InterfaceConfig {
    fn default() -> Self {
        InterfaceConfig {
            interfaces: Vec::new(),
            bpf: None,
            snaplen: 65_535,
            buffer_bytes: 16 << 20,
            promisc: true,
            queue_frames: 65_536,
            ring: None,
        }
    }
}

/// Rotated pcap files of everything captured.
#[derive(Debug, Clone)]
pub struct RingConfig {
    /// Directory of the files.
    pub dir: PathBuf,
    /// Size of one file before rotating.
    pub max_bytes: u64,
    /// Files kept per interface.
    pub keep: usize,
}

/// Capture errors.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// No interface given.
    #[error("no interface to capture on (give --interface IF)")]
    NoInterface,
    /// libpcap refused to open an interface.
    #[error("cannot open interface {iface}: {source} (capturing needs root or CAP_NET_RAW; `ip link` lists interfaces)")]
    Open {
        /// Interface.
        iface: String,
        /// Cause.
        source: pcap::Error,
    },
    /// The BPF filter does not compile.
    #[error("interface {iface}: bad BPF filter {filter:?}: {source}")]
    Filter {
        /// Interface.
        iface: String,
        /// Filter text.
        filter: String,
        /// Cause.
        source: pcap::Error,
    },
    /// The pcap ring directory is unusable.
    #[error("pcap ring {path}: {source}")]
    Ring {
        /// File or directory.
        path: PathBuf,
        /// Cause.
        source: pcap::Error,
    },
    /// A capture thread could not start.
    #[error("cannot start the capture thread: {0}")]
    Thread(std::io::Error),
}

/// Counters shared by the capture threads (cumulative, all interfaces).
#[derive(Debug, Default)]
pub struct CaptureCounters {
    /// Frames read from libpcap.
    pub captured: AtomicU64,
    /// Frames dropped because the hand-off queue was full.
    pub queue_dropped: AtomicU64,
    /// Kernel drops (sum of the latest `ps_drop` of every interface).
    pub kernel_dropped: AtomicU64,
    /// Interface drops (sum of the latest `ps_ifdrop`).
    pub interface_dropped: AtomicU64,
    /// Read errors that ended an interface's capture.
    pub interface_errors: AtomicU64,
}

/// A snapshot of [`CaptureCounters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CaptureTotals {
    /// Frames read.
    pub captured: u64,
    /// Dropped in our queue.
    pub queue_dropped: u64,
    /// Dropped by the kernel.
    pub kernel_dropped: u64,
    /// Dropped by the interface.
    pub interface_dropped: u64,
    /// Interfaces that failed while capturing.
    pub interface_errors: u64,
}

impl CaptureCounters {
    /// Current values.
    pub fn totals(&self) -> CaptureTotals {
        CaptureTotals {
            captured: self.captured.load(Ordering::Relaxed),
            queue_dropped: self.queue_dropped.load(Ordering::Relaxed),
            kernel_dropped: self.kernel_dropped.load(Ordering::Relaxed),
            interface_dropped: self.interface_dropped.load(Ordering::Relaxed),
            interface_errors: self.interface_errors.load(Ordering::Relaxed),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Meta {
    ts: TsMicros,
    off: u32,
    len: u32,
    orig_len: u32,
}

/// Frames of one interface, copied into one buffer.
#[derive(Debug, Default)]
pub struct Batch {
    iface: usize,
    linktype: u32,
    data: Vec<u8>,
    frames: Vec<Meta>,
}

impl Batch {
    fn push(&mut self, ts: TsMicros, data: &[u8], orig_len: u32) {
        let off = self.data.len() as u32;
        self.data.extend_from_slice(data);
        self.frames.push(Meta {
            ts,
            off,
            len: data.len() as u32,
            orig_len,
        });
    }

    fn clear(&mut self) {
        self.data.clear();
        self.frames.clear();
    }

    /// Index of the interface (in [`Capture::interfaces`]).
    pub fn iface(&self) -> usize {
        self.iface
    }

    /// Frames in the batch.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// No frames.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The frames, as the pipeline takes them.
    pub fn packets(&self) -> impl Iterator<Item = RawPacket<'_>> {
        self.frames.iter().map(|m| RawPacket {
            ts: m.ts,
            linktype: self.linktype,
            data: &self.data[m.off as usize..(m.off + m.len) as usize],
            orig_len: m.orig_len,
        })
    }
}

struct Handle {
    name: String,
    cap: pcap::Capture<pcap::Active>,
}

/// Open capture handles, not yet reading (see [`OpenInterfaces::start`]).
pub struct OpenInterfaces {
    handles: Vec<Handle>,
    cfg: InterfaceConfig,
}

impl std::fmt::Debug for OpenInterfaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenInterfaces")
            .field("interfaces", &self.interfaces())
            .finish()
    }
}

/// Open every interface with its filter (privileged step).
pub fn open(cfg: &InterfaceConfig) -> Result<OpenInterfaces, CaptureError> {
    if cfg.interfaces.is_empty() {
        return Err(CaptureError::NoInterface);
    }
    let filter = cfg.bpf.clone().unwrap_or_else(|| DEFAULT_BPF.to_string());
    let mut handles = Vec::new();
    for iface in &cfg.interfaces {
        let open_err = |source| CaptureError::Open {
            iface: iface.clone(),
            source,
        };
        let mut cap = pcap::Capture::from_device(iface.as_str())
            .map_err(open_err)?
            .promisc(cfg.promisc)
            .snaplen(cfg.snaplen)
            .buffer_size(cfg.buffer_bytes)
            .timeout(100)
            .immediate_mode(true)
            .open()
            .and_then(|c| c.setnonblock())
            .map_err(|source| CaptureError::Open {
                iface: iface.clone(),
                source,
            })?;
        if !filter.trim().is_empty() {
            cap.filter(&filter, true)
                .map_err(|source| CaptureError::Filter {
                    iface: iface.clone(),
                    filter: filter.clone(),
                    source,
                })?;
        }
        handles.push(Handle {
            name: iface.clone(),
            cap,
        });
    }
    Ok(OpenInterfaces {
        handles,
        cfg: cfg.clone(),
    })
}

impl OpenInterfaces {
    /// Interface names, in order.
    pub fn interfaces(&self) -> Vec<String> {
        self.handles.iter().map(|h| h.name.clone()).collect()
    }

    /// Start one reader thread per interface.
    pub fn start(self, stop: Arc<AtomicBool>) -> Result<Capture, CaptureError> {
        let batches = (self.cfg.queue_frames.div_ceil(BATCH_FRAMES)).max(2);
        let (tx, rx) = mpsc::sync_channel::<Batch>(batches);
        let (pool_tx, pool_rx) = mpsc::channel::<Batch>();
        let pool_rx = Arc::new(std::sync::Mutex::new(pool_rx));
        let counters = Arc::new(CaptureCounters::default());
        let interfaces = self.interfaces();
        let mut threads = Vec::new();
        for (i, h) in self.handles.into_iter().enumerate() {
            let ring = match &self.cfg.ring {
                Some(r) => Some(Ring::new(r.clone(), &h.name, h.cap.get_datalink())),
                None => None,
            };
            let reader = Reader {
                iface: i,
                handle: h,
                tx: tx.clone(),
                pool: pool_rx.clone(),
                counters: counters.clone(),
                last_drops: (0, 0),
                stop: stop.clone(),
                ring,
            };
            let t = std::thread::Builder::new()
                .name(format!("capture-{i}"))
                .spawn(move || reader.run())
                .map_err(CaptureError::Thread)?;
            threads.push(t);
        }
        Ok(Capture {
            rx,
            pool: pool_tx,
            threads,
            counters,
            interfaces,
        })
    }
}

/// Running capture: batches arrive on [`Capture::next_batch`].
pub struct Capture {
    rx: Receiver<Batch>,
    pool: mpsc::Sender<Batch>,
    threads: Vec<JoinHandle<()>>,
    counters: Arc<CaptureCounters>,
    interfaces: Vec<String>,
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capture")
            .field("interfaces", &self.interfaces)
            .finish()
    }
}

/// What [`Capture::next_batch`] returned.
#[derive(Debug)]
pub enum Next {
    /// Frames to process; give the batch back with [`Capture::recycle`].
    Batch(Batch),
    /// Nothing within the wait.
    Idle,
    /// Every reader has ended (stop requested or every interface failed).
    Ended,
}

impl Capture {
    /// Interface names (index = [`Batch::iface`]).
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }

    /// Counters.
    pub fn counters(&self) -> &Arc<CaptureCounters> {
        &self.counters
    }

    /// Wait up to `wait` for the next batch.
    pub fn next_batch(&self, wait: Duration) -> Next {
        match self.rx.recv_timeout(wait) {
            Ok(b) => Next::Batch(b),
            Err(RecvTimeoutError::Timeout) => Next::Idle,
            Err(RecvTimeoutError::Disconnected) => Next::Ended,
        }
    }

    /// Return a processed batch for reuse.
    pub fn recycle(&self, mut b: Batch) {
        b.clear();
        let _ = self.pool.send(b);
    }

    /// Wait for the readers to end (after the stop flag was set); batches
    /// still queued are handed to `each` first so nothing accepted is lost.
    /// The channel disconnects when the last reader has sent its final batch.
    pub fn finish(self, mut each: impl FnMut(&Batch)) -> CaptureTotals {
        for b in self.rx.iter() {
            each(&b);
        }
        for t in self.threads {
            let _ = t.join();
        }
        self.counters.totals()
    }
}

struct Reader {
    iface: usize,
    handle: Handle,
    tx: SyncSender<Batch>,
    pool: Arc<std::sync::Mutex<Receiver<Batch>>>,
    counters: Arc<CaptureCounters>,
    /// This interface's last (kernel, interface) drop counts from libpcap;
    /// the forward difference is added to the shared counters.
    last_drops: (u32, u32),
    stop: Arc<AtomicBool>,
    ring: Option<Ring>,
}

impl Reader {
    fn fresh(&self) -> Batch {
        let mut b = self
            .pool
            .lock()
            .ok()
            .and_then(|p| p.try_recv().ok())
            .unwrap_or_default();
        b.iface = self.iface;
        b.linktype = self.handle.cap.get_datalink().0 as u32;
        b
    }

    fn send(&self, batch: &mut Batch) {
        hand_off(&self.tx, batch, &self.counters, || self.fresh());
    }

    fn update_drops(&mut self) {
        if let Ok(s) = self.handle.cap.stats() {
            let (k, i) = self.last_drops;
            self.last_drops = (s.dropped, s.if_dropped);
            self.counters
                .kernel_dropped
                .fetch_add(forward(k, s.dropped), Ordering::Relaxed);
            self.counters
                .interface_dropped
                .fetch_add(forward(i, s.if_dropped), Ordering::Relaxed);
        }
    }

    fn run(mut self) {
        let mut batch = self.fresh();
        let mut since_stats = 0u32;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                break;
            }
            match self.handle.cap.next_packet() {
                Ok(p) => {
                    let ts: TsMicros = p.header.ts.tv_sec * 1_000_000 + p.header.ts.tv_usec;
                    batch.push(ts, p.data, p.header.len);
                    if let Some(r) = &mut self.ring {
                        r.write(&p);
                    }
                    self.counters.captured.fetch_add(1, Ordering::Relaxed);
                    since_stats += 1;
                    if batch.len() >= BATCH_FRAMES {
                        self.send(&mut batch);
                    }
                    if since_stats >= 65_536 {
                        since_stats = 0;
                        self.update_drops();
                    }
                }
                Err(pcap::Error::TimeoutExpired) => {
                    // Nothing ready: hand over what we have, read drops, and
                    // wait for the descriptor (or 100 ms, to see the stop flag).
                    self.send(&mut batch);
                    self.update_drops();
                    since_stats = 0;
                    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
                    use std::os::fd::AsFd;
                    let mut fds = [PollFd::new(self.handle.cap.as_fd(), PollFlags::POLLIN)];
                    let _ = poll(&mut fds, PollTimeout::from(100u16));
                }
                Err(e) => {
                    tracing::error!(interface = %self.handle.name, error = %e, "capture failed on this interface");
                    self.counters
                        .interface_errors
                        .fetch_add(1, Ordering::Relaxed);
                    break;
                }
            }
        }
        self.send(&mut batch);
        self.update_drops();
        if let Some(r) = &mut self.ring {
            r.flush();
        }
    }
}

/// Hand a non-empty batch to the pipeline without waiting. On success `batch`
/// becomes `fresh()`; when the queue is full (or the pipeline is gone) the
/// batch's frames are counted as queue drops and it is kept, cleared, for
/// reuse, so an overloaded sensor allocates nothing.
fn hand_off(
    tx: &SyncSender<Batch>,
    batch: &mut Batch,
    counters: &CaptureCounters,
    fresh: impl FnOnce() -> Batch,
) {
    if batch.is_empty() {
        return;
    }
    match tx.try_send(std::mem::take(batch)) {
        Ok(()) => *batch = fresh(),
        Err(TrySendError::Full(mut b)) | Err(TrySendError::Disconnected(mut b)) => {
            counters
                .queue_dropped
                .fetch_add(b.len() as u64, Ordering::Relaxed);
            b.clear();
            *batch = b;
        }
    }
}

/// Increase of a libpcap drop counter since `last`; the counters are 32-bit
/// and wrap.
fn forward(last: u32, now: u32) -> u64 {
    u64::from(now.wrapping_sub(last))
}

/// Rotating savefiles of one interface.
struct Ring {
    /// A dead handle of the interface's link type: savefiles are opened from
    /// it, independent of the live handle that is busy reading.
    dead: Option<pcap::Capture<pcap::Dead>>,
    cfg: RingConfig,
    iface: String,
    file: Option<pcap::Savefile>,
    written: u64,
    seq: u64,
    failed: bool,
}

impl Ring {
    fn new(cfg: RingConfig, iface: &str, linktype: pcap::Linktype) -> Self {
        Ring {
            dead: pcap::Capture::dead(linktype).ok(),
            cfg,
            iface: iface.replace(['/', '.'], "_"),
            file: None,
            written: 0,
            seq: 0,
            failed: false,
        }
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.cfg.dir.join(format!("{}-{seq:06}.pcap", self.iface))
    }

    fn write(&mut self, p: &pcap::Packet<'_>) {
        if self.failed {
            return;
        }
        if self.file.is_none() || self.written >= self.cfg.max_bytes {
            if let Some(mut f) = self.file.take() {
                let _ = f.flush();
            }
            self.seq += 1;
            let path = self.path(self.seq);
            let opened = match &self.dead {
                Some(d) => d.savefile(&path),
                None => Err(pcap::Error::InsufficientMemory),
            };
            match opened {
                Ok(f) => {
                    self.file = Some(f);
                    self.written = 24;
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "pcap ring disabled");
                    self.failed = true;
                    return;
                }
            }
            if self.seq > self.cfg.keep as u64 {
                let _ = std::fs::remove_file(self.path(self.seq - self.cfg.keep as u64));
            }
        }
        if let Some(f) = &mut self.file {
            f.write(p);
            self.written += 16 + p.data.len() as u64;
        }
    }

    fn flush(&mut self) {
        if let Some(f) = &mut self.file {
            let _ = f.flush();
        }
    }
}

/// Check that a filter compiles for Ethernet (no privileges needed).
pub fn check_filter(filter: &str) -> Result<(), pcap::Error> {
    let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET)?;
    dead.compile(filter, true).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    fn ipv4(proto: u8, frag: u16, l4: &[u8]) -> Vec<u8> {
        let mut h = vec![0x45, 0, 0, 0, 0, 1];
        h.extend_from_slice(&frag.to_be_bytes());
        h.extend_from_slice(&[64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        let total = (h.len() + l4.len()) as u16;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h.extend_from_slice(l4);
        h
    }

    fn ports(src: u16, dst: u16) -> Vec<u8> {
        let mut l4 = src.to_be_bytes().to_vec();
        l4.extend_from_slice(&dst.to_be_bytes());
        l4.extend_from_slice(&[0u8; 16]);
        l4
    }

    #[test]
    fn default_filter_keeps_dns_fragments_and_vlan_dns_only() {
        let dead = pcap::Capture::dead(pcap::Linktype::ETHERNET).unwrap();
        let bpf = dead.compile(DEFAULT_BPF, true).unwrap();
        let udp_dns = eth(0x0800, &ipv4(17, 0, &ports(40000, 53)));
        let tcp_dns = eth(0x0800, &ipv4(6, 0, &ports(53, 40000)));
        let http = eth(0x0800, &ipv4(6, 0, &ports(40000, 80)));
        let later_fragment = eth(0x0800, &ipv4(17, 185, &[0u8; 24]));
        let mut vlan = vec![0u8; 12];
        vlan.extend_from_slice(&[0x81, 0x00, 0x00, 0x64, 0x08, 0x00]);
        vlan.extend_from_slice(&ipv4(17, 0, &ports(40000, 53)));
        let mut vlan_http = vlan.clone();
        let n = vlan_http.len();
        vlan_http[n - 20 + 2..n - 20 + 4].copy_from_slice(&80u16.to_be_bytes());
        assert!(bpf.filter(&udp_dns));
        assert!(bpf.filter(&tcp_dns));
        assert!(bpf.filter(&later_fragment));
        assert!(bpf.filter(&vlan));
        assert!(!bpf.filter(&http));
        assert!(!bpf.filter(&vlan_http));
    }

    #[test]
    fn bad_filters_are_reported() {
        assert!(check_filter(DEFAULT_BPF).is_ok());
        assert!(check_filter("udp port").is_err());
    }

    #[test]
    fn batches_hold_frames_without_per_frame_buffers() {
        let mut b = Batch {
            linktype: 1,
            ..Batch::default()
        };
        b.push(5, b"abc", 10);
        b.push(6, b"de", 2);
        let got: Vec<(i64, Vec<u8>, u32)> = b
            .packets()
            .map(|p| (p.ts, p.data.to_vec(), p.orig_len))
            .collect();
        assert_eq!(got, vec![(5, b"abc".to_vec(), 10), (6, b"de".to_vec(), 2)]);
        b.clear();
        assert!(b.is_empty());
    }

    #[test]
    fn a_full_queue_counts_the_batch_as_dropped_and_keeps_it_for_reuse() {
        let (tx, rx) = mpsc::sync_channel::<Batch>(1);
        let counters = CaptureCounters::default();
        let mut b = Batch::default();
        for i in 0..3 {
            b.push(i, b"frame", 5);
        }
        hand_off(&tx, &mut b, &counters, Batch::default);
        assert!(b.is_empty());
        for i in 0..2 {
            b.push(i, b"frame", 5);
        }
        let cap = b.data.capacity();
        hand_off(&tx, &mut b, &counters, || {
            panic!("no fresh batch on a drop")
        });
        assert_eq!(counters.totals().queue_dropped, 2);
        assert!(b.is_empty());
        assert_eq!(b.data.capacity(), cap, "the dropped batch is reused");
        assert_eq!(rx.try_recv().unwrap().len(), 3);
        // Nothing to send: nothing happens.
        hand_off(&tx, &mut b, &counters, || panic!("empty batch sent"));
        assert_eq!(counters.totals().queue_dropped, 2);
    }

    #[test]
    fn drop_counters_wrap_forward() {
        assert_eq!(forward(10, 15), 5);
        assert_eq!(forward(u32::MAX - 1, 3), 5);
        assert_eq!(forward(7, 7), 0);
    }

    #[test]
    fn the_ring_rotates_and_keeps_the_newest_files() {
        let d = tempfile::tempdir().unwrap();
        let cfg = RingConfig {
            dir: d.path().to_path_buf(),
            max_bytes: 300,
            keep: 2,
        };
        let mut ring = Ring::new(cfg, "eth0", pcap::Linktype::ETHERNET);
        let data = [0u8; 100];
        for i in 0..10 {
            let header = pcap::PacketHeader {
                ts: libc::timeval {
                    tv_sec: 1_700_000_000 + i,
                    tv_usec: 0,
                },
                caplen: 100,
                len: 100,
            };
            ring.write(&pcap::Packet::new(&header, &data));
        }
        ring.flush();
        let mut files: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        files.sort();
        // A file is closed once it has reached 300 bytes (like tcpdump -C, the
        // last frame may cross the limit): 24-byte header + 3 × 116-byte
        // frames, so frames 0-2, 3-5, 6-8, 9 in four files; the newest two kept.
        assert_eq!(files, vec!["eth0-000003.pcap", "eth0-000004.pcap"]);
        let size = |f: &str| std::fs::metadata(d.path().join(f)).unwrap().len();
        assert_eq!(size("eth0-000003.pcap"), 24 + 3 * 116);
        assert_eq!(size("eth0-000004.pcap"), 24 + 116);
        let mut stats = crate::stats::Stats::default();
        let paths: Vec<_> = files.iter().map(|f| d.path().join(f)).collect();
        crate::source::merge::Merger::open(&paths, &mut stats).expect("the ring files read back");
    }

    #[test]
    fn no_interface_is_an_error() {
        assert!(matches!(
            open(&InterfaceConfig::default()),
            Err(CaptureError::NoInterface)
        ));
    }

    #[test]
    fn a_missing_interface_names_itself() {
        let cfg = InterfaceConfig {
            interfaces: vec!["nosuchif0".into()],
            ..InterfaceConfig::default()
        };
        let e = open(&cfg).unwrap_err().to_string();
        assert!(e.contains("nosuchif0"), "{e}");
    }
}
