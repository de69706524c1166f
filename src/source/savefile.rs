//! Streaming pcap / pcapng reader built on pcap-parser.
//!
//! Constant memory: pcap-parser's reader keeps one buffer (256 KiB, grown up to
//! [`MAX_BUFFER`] only when a single record needs it). Each record is copied into
//! the caller's reusable [`OwnedPacket`] so that several files can be merged by
//! timestamp without holding borrows across readers; nothing is allocated per
//! packet once the buffers have warmed up.
//!
//! Timestamps are converted to microseconds here: legacy pcap in micro- or
//! nanosecond resolution (by magic number), pcapng per interface with its
//! `if_tsresol` and `if_tsoffset`. Link types are tracked per pcapng interface.
//! A damaged record ends the file: it is counted as
//! [`SkipReason::CaptureRecord`] with the record number, and the run goes on
//! with the next file.

use super::{InputKind, Opened, SourceError};
use crate::event::{RawPacket, TsMicros, MICROS};
use crate::stats::{SkipReason, Stats};
use pcap_parser::pcapng::Block;
use pcap_parser::traits::{PcapNGPacketBlock, PcapReaderIterator};
use pcap_parser::{LegacyPcapReader, PcapBlockOwned, PcapError, PcapNGReader};

/// Initial reader buffer.
const INITIAL_BUFFER: usize = 256 * 1024;
/// Largest buffer we grow to for one record (bounds memory on hostile lengths).
pub const MAX_BUFFER: usize = 16 * 1024 * 1024;

/// A captured frame copied out of the reader (buffer reused between packets).
#[derive(Debug, Default, Clone)]
pub struct OwnedPacket {
    /// Capture time.
    pub ts: TsMicros,
    /// Link type of the interface.
    pub linktype: u32,
    /// Length on the wire.
    pub orig_len: u32,
    /// Captured bytes.
    pub data: Vec<u8>,
}

impl OwnedPacket {
    /// Borrow as a [`RawPacket`].
    pub fn as_raw(&self) -> RawPacket<'_> {
        RawPacket {
            ts: self.ts,
            linktype: self.linktype,
            data: &self.data,
            orig_len: self.orig_len,
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Iface {
    linktype: u32,
    /// Units per second.
    resolution: u64,
    /// Seconds added to every timestamp.
    offset: i64,
}

#[derive(Debug, Default)]
struct Layout {
    legacy_linktype: u32,
    legacy_nanos: bool,
    ifaces: Vec<Iface>,
}

/// Reads packets from one pcap or pcapng stream.
pub struct CaptureReader {
    inner: Box<dyn PcapReaderIterator + Send>,
    layout: Layout,
    name: String,
    records: u64,
    done: bool,
}

impl std::fmt::Debug for CaptureReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureReader")
            .field("name", &self.name)
            .field("records", &self.records)
            .finish()
    }
}

fn pcap_err_string<I>(e: &PcapError<I>) -> String {
    match e {
        PcapError::Eof => "end of file".into(),
        PcapError::BufferTooSmall => "record larger than the read buffer".into(),
        PcapError::UnexpectedEof => "file ends in the middle of a record".into(),
        PcapError::ReadError => "read error".into(),
        PcapError::Incomplete(n) => format!("incomplete record, {n} more bytes needed"),
        PcapError::HeaderNotRecognized => "header not recognised".into(),
        PcapError::NomError(_, k) | PcapError::OwnedNomError(_, k) => {
            format!("unparseable record ({k:?})")
        }
    }
}

impl CaptureReader {
    /// Wrap an opened pcap or pcapng stream. `name` is used in skip examples.
    pub fn new(opened: Opened, name: &str) -> Result<Self, SourceError> {
        let bad = |kind: &'static str, detail: String| SourceError::BadHeader {
            path: name.into(),
            kind,
            detail,
        };
        let inner: Box<dyn PcapReaderIterator + Send> = match opened.kind {
            InputKind::Pcap => Box::new(
                LegacyPcapReader::new(INITIAL_BUFFER, opened.reader)
                    .map_err(|e| bad("pcap", pcap_err_string(&e)))?,
            ),
            InputKind::Pcapng => Box::new(
                PcapNGReader::new(INITIAL_BUFFER, opened.reader)
                    .map_err(|e| bad("pcapng", pcap_err_string(&e)))?,
            ),
            k @ (InputKind::Jsonl
            | InputKind::ZeekTsv
            | InputKind::ZeekJson
            | InputKind::SuricataEve
            | InputKind::Dnstap
            | InputKind::SentineldnsLookup) => {
                return Err(bad(
                    "pcap",
                    format!("{} content given to the capture reader", k.as_str()),
                ))
            }
        };
        Ok(CaptureReader {
            inner,
            layout: Layout::default(),
            name: name.to_string(),
            records: 0,
            done: false,
        })
    }

    /// Packet records read so far (the 1-based number of the last one).
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Read the next packet into `out`. Returns `false` at the end of the stream
    /// or after a damaged record (which is counted in `stats`).
    pub fn next_into(&mut self, out: &mut OwnedPacket, stats: &mut Stats) -> bool {
        let mut stalls = 0u32;
        while !self.done {
            let step = match self.inner.next() {
                Ok((offset, block)) => {
                    let got = take_block(block, &mut self.layout, out);
                    Ok((offset, got))
                }
                Err(e) => Err(match e {
                    PcapError::Eof => Stop::Eof,
                    PcapError::Incomplete(_) => Stop::Refill,
                    PcapError::BufferTooSmall => Stop::Grow,
                    other => Stop::Damaged(pcap_err_string(&other)),
                }),
            };
            match step {
                Ok((offset, got)) => {
                    self.inner.consume(offset);
                    stalls = 0;
                    match got {
                        Got::Packet => {
                            self.records += 1;
                            stats.packets += 1;
                            stats.bytes += out.data.len() as u64;
                            return true;
                        }
                        Got::Nothing => {}
                        Got::BadInterface(id) => {
                            self.records += 1;
                            stats.packets += 1;
                            let n = self.records;
                            stats.skip_at(SkipReason::CaptureRecord, &self.name, "packet", n, || {
                                format!("packet references interface {id}, which was never described")
                            });
                        }
                    }
                }
                Err(Stop::Eof) => self.done = true,
                Err(Stop::Refill) => {
                    stalls += 1;
                    if stalls > 4 || self.inner.refill().is_err() {
                        self.damaged(stats, "could not read more data".into());
                    }
                }
                Err(Stop::Grow) => {
                    stalls += 1;
                    let cur = self.inner.data().len().max(INITIAL_BUFFER);
                    let want = (cur * 2).min(MAX_BUFFER);
                    if stalls > 8 || want <= cur || !self.inner.grow(want) {
                        self.damaged(
                            stats,
                            format!("record larger than {} MiB", MAX_BUFFER >> 20),
                        );
                    } else if self.inner.refill().is_err() {
                        self.damaged(stats, "read error".into());
                    }
                }
                Err(Stop::Damaged(detail)) => self.damaged(stats, detail),
            }
        }
        false
    }

    fn damaged(&mut self, stats: &mut Stats, detail: String) {
        self.done = true;
        let n = self.records + 1;
        stats.skip_at(SkipReason::CaptureRecord, &self.name, "packet", n, || {
            format!("{detail}; rest of file skipped")
        });
    }
}

enum Stop {
    Eof,
    Refill,
    Grow,
    Damaged(String),
}

enum Got {
    Packet,
    Nothing,
    BadInterface(u32),
}

fn fill(out: &mut OwnedPacket, ts: TsMicros, linktype: u32, orig_len: u32, data: &[u8]) {
    out.ts = ts;
    out.linktype = linktype;
    out.orig_len = orig_len;
    out.data.clear();
    out.data.extend_from_slice(data);
}

/// Convert a pcapng timestamp to microseconds.
fn ng_ts(high: u32, low: u32, iface: &Iface) -> TsMicros {
    let raw = ((high as u64) << 32) | low as u64;
    let micros = match iface.resolution {
        1_000_000 => raw as i128,
        1_000_000_000 => (raw / 1000) as i128,
        0 => 0,
        r => (raw as i128) * 1_000_000 / r as i128,
    };
    let ts = micros + iface.offset as i128 * MICROS as i128;
    ts.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

fn take_block(block: PcapBlockOwned<'_>, layout: &mut Layout, out: &mut OwnedPacket) -> Got {
    match block {
        PcapBlockOwned::LegacyHeader(h) => {
            layout.legacy_linktype = h.network.0 as u32;
            layout.legacy_nanos = h.is_nanosecond_precision();
            Got::Nothing
        }
        PcapBlockOwned::Legacy(b) => {
            let frac = if layout.legacy_nanos {
                b.ts_usec as i64 / 1000
            } else {
                b.ts_usec as i64
            };
            let ts = b.ts_sec as i64 * MICROS + frac;
            fill(out, ts, layout.legacy_linktype, b.origlen, b.data);
            Got::Packet
        }
        PcapBlockOwned::NG(Block::SectionHeader(_)) => {
            // Interfaces are numbered per section.
            layout.ifaces.clear();
            Got::Nothing
        }
        PcapBlockOwned::NG(Block::InterfaceDescription(idb)) => {
            layout.ifaces.push(Iface {
                linktype: idb.linktype.0 as u32,
                resolution: idb.ts_resolution().unwrap_or(1_000_000),
                offset: idb.ts_offset(),
            });
            Got::Nothing
        }
        PcapBlockOwned::NG(Block::EnhancedPacket(epb)) => {
            let Some(iface) = layout.ifaces.get(epb.if_id as usize).copied() else {
                return Got::BadInterface(epb.if_id);
            };
            let ts = ng_ts(epb.ts_high, epb.ts_low, &iface);
            fill(out, ts, iface.linktype, epb.origlen, epb.packet_data());
            Got::Packet
        }
        PcapBlockOwned::NG(Block::SimplePacket(spb)) => {
            let Some(iface) = layout.ifaces.first().copied() else {
                return Got::BadInterface(0);
            };
            // Simple packet blocks carry no timestamp.
            fill(out, 0, iface.linktype, spb.origlen, spb.packet_data());
            Got::Packet
        }
        PcapBlockOwned::NG(_) => Got::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::open;

    fn legacy_header(magic: u32, linktype: u32) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&magic.to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&4u16.to_le_bytes());
        v.extend_from_slice(&0i32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&65535u32.to_le_bytes());
        v.extend_from_slice(&linktype.to_le_bytes());
        v
    }

    fn legacy_record(v: &mut Vec<u8>, sec: u32, frac: u32, data: &[u8]) {
        v.extend_from_slice(&sec.to_le_bytes());
        v.extend_from_slice(&frac.to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(data);
    }

    fn read_all(bytes: &[u8]) -> (Vec<OwnedPacket>, Stats) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        std::fs::write(&p, bytes).unwrap();
        let o = open(&p).unwrap();
        let mut r = CaptureReader::new(o, "x").unwrap();
        let mut stats = Stats::default();
        let mut out = Vec::new();
        let mut pkt = OwnedPacket::default();
        while r.next_into(&mut pkt, &mut stats) {
            out.push(pkt.clone());
        }
        (out, stats)
    }

    #[test]
    fn legacy_micro_and_nano_timestamps() {
        let mut v = legacy_header(0xa1b2_c3d4, 101);
        legacy_record(&mut v, 10, 500_000, b"\x45abc");
        let (p, s) = read_all(&v);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].ts, 10_500_000);
        assert_eq!(p[0].linktype, 101);
        assert_eq!(s.packets, 1);

        let mut v = legacy_header(0xa1b2_3c4d, 1);
        legacy_record(&mut v, 10, 500_000_123, b"abcd");
        let (p, _) = read_all(&v);
        assert_eq!(p[0].ts, 10_500_000);
    }

    #[test]
    fn truncated_last_record_is_counted_not_fatal() {
        let mut v = legacy_header(0xa1b2_c3d4, 1);
        legacy_record(&mut v, 1, 0, &[0u8; 60]);
        legacy_record(&mut v, 2, 0, &[0u8; 60]);
        v.truncate(v.len() - 20);
        let (p, s) = read_all(&v);
        assert_eq!(p.len(), 1);
        assert_eq!(s.skipped(SkipReason::CaptureRecord), 1);
        assert_eq!(s.examples()[0].position, 2);
    }

    #[test]
    fn bogus_record_length_is_counted_not_fatal() {
        let mut v = legacy_header(0xa1b2_c3d4, 1);
        legacy_record(&mut v, 1, 0, &[0u8; 60]);
        // caplen of 3 GB
        v.extend_from_slice(&2u32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&3_000_000_000u32.to_le_bytes());
        v.extend_from_slice(&60u32.to_le_bytes());
        v.extend_from_slice(&[0u8; 60]);
        let (p, s) = read_all(&v);
        assert_eq!(p.len(), 1);
        assert_eq!(s.skipped(SkipReason::CaptureRecord), 1);
    }

    #[test]
    fn pcapng_ts_resolution_and_offset() {
        let iface = Iface {
            linktype: 1,
            resolution: 1_000_000_000,
            offset: 100,
        };
        assert_eq!(ng_ts(0, 1_500_000_000, &iface), 101_500_000);
        let iface = Iface {
            linktype: 1,
            resolution: 1 << 10,
            offset: 0,
        };
        assert_eq!(ng_ts(0, 1024 * 3 + 512, &iface), 3_500_000);
    }
}
