//! Input sources: capture files (pcap, pcapng), JSONL DNS event files, Zeek
//! dns.log (TSV or JSON) and Suricata EVE (any of them gzip-compressed),
//! and dnstap Frame Streams files ([`crate::dnstap`]), detected by content,
//! merged across files in time order.
//!
//! * [`sniff`] looks at the first bytes of a file (never its name) and decides
//!   what it is; gzip is unwrapped transparently and sniffed again.
//! * [`savefile::CaptureReader`] streams records with pcap-parser in constant
//!   memory (a bounded, growable buffer), converting pcap-parser's blocks into
//!   [`crate::event::RawPacket`]s at this boundary.
//! * [`jsonl::JsonlReader`] reads one JSON object per line into [`jsonl::JsonEvent`]s;
//!   for Zeek and EVE content it parses each line with [`zeek`] or [`eve`]
//!   into the same events, and tells a file none of whose lines was usable
//!   ([`merge::Merger::check_rejected`], [`SourceError::AllRejected`]).
//! * [`merge::Merger`] holds one open input per file and always yields the item
//!   with the smallest timestamp next, so several files replay as one stream.
//!
//! Damage inside a file (a bad record, a garbage line) is counted in
//! [`crate::stats::Stats`] with its location; only a file that cannot be opened
//! or recognised at all is an [`SourceError`].

pub mod ecs;
pub mod eve;
pub mod jsonl;
pub mod merge;
pub mod savefile;
pub mod zeek;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Limits applied while reading inputs (see [`merge::Merger::open_with`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceLimits {
    /// Longest JSONL line in bytes, terminator excluded (default
    /// [`jsonl::DEFAULT_MAX_LINE_BYTES`], 1 MiB; values under
    /// [`jsonl::MIN_MAX_LINE_BYTES`] are raised to it). Longer lines are skipped
    /// as `jsonl_line_too_long` without being buffered.
    pub max_line_bytes: usize,
}

impl Default for SourceLimits {
    fn default() -> Self {
        SourceLimits {
            max_line_bytes: jsonl::DEFAULT_MAX_LINE_BYTES,
        }
    }
}

/// What a file turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Classic libpcap file (any byte order, micro- or nanosecond).
    Pcap,
    /// pcapng file.
    Pcapng,
    /// One JSON object per line.
    Jsonl,
    /// Zeek dns.log written by the ASCII (TSV) writer.
    ZeekTsv,
    /// Zeek dns.log written as JSON lines.
    ZeekJson,
    /// Suricata EVE JSON.
    SuricataEve,
    /// dnstap in a Frame Streams file.
    Dnstap,
    /// sentineldns's own ECS lookup lines (NDJSON `lookups` output, Kafka lookups topic).
    SentineldnsLookup,
}

impl InputKind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Pcap => "pcap",
            InputKind::Pcapng => "pcapng",
            InputKind::Jsonl => "jsonl",
            InputKind::ZeekTsv => "zeek-tsv",
            InputKind::ZeekJson => "zeek-json",
            InputKind::SuricataEve => "suricata-eve",
            InputKind::Dnstap => "dnstap",
            InputKind::SentineldnsLookup => "sentineldns-lookup",
        }
    }

    /// Whether the content is read line by line (everything but captures
    /// and dnstap).
    pub fn is_lines(self) -> bool {
        !matches!(
            self,
            InputKind::Pcap | InputKind::Pcapng | InputKind::Dnstap
        )
    }
}

/// A file that could not be used at all.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// Opening or reading failed.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The content is not a capture or JSONL.
    #[error("{path}: not a pcap, pcapng or JSONL file, nor a Zeek, Suricata EVE or dnstap log (first bytes: {magic})")]
    Unrecognised {
        /// File.
        path: PathBuf,
        /// Hex of the first bytes.
        magic: String,
    },
    /// Every line of a line-oriented file was rejected (or none was DNS).
    #[error("{path}: no usable line (read as {kind}; {bad} bad, {ignored} not DNS); first bad lines: {examples}; this looks like {likely}")]
    AllRejected {
        /// File.
        path: PathBuf,
        /// How it was read.
        kind: &'static str,
        /// Lines rejected.
        bad: u64,
        /// Lines ignored as not DNS.
        ignored: u64,
        /// The first bad lines, `line N: reason`, joined.
        examples: String,
        /// The format its first line most likely is.
        likely: String,
    },
    /// A dnstap file none of whose data frames gave a client message,
    /// with rejected frames or a framing error.
    #[error("{path}: no usable dnstap message (read as dnstap Frame Streams; {frames} data frame(s), {bad} rejected): {detail}")]
    DnstapRejected {
        /// File.
        path: PathBuf,
        /// Data frames read.
        frames: u64,
        /// Data frames rejected.
        bad: u64,
        /// The first rejected frames and the framing error, with offsets.
        detail: String,
    },
    /// The file is empty.
    #[error("{path}: file is empty")]
    Empty {
        /// File.
        path: PathBuf,
    },
    /// The capture header could not be parsed.
    #[error("{path}: bad {kind} header: {detail}")]
    BadHeader {
        /// File.
        path: PathBuf,
        /// pcap or pcapng.
        kind: &'static str,
        /// What was wrong.
        detail: String,
    },
}

/// Counts bytes read from the underlying file (for progress bars), shared with
/// the reader that owns the file.
#[derive(Debug, Clone, Default)]
pub struct ByteCounter(Arc<AtomicU64>);

impl ByteCounter {
    /// Bytes read so far.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

struct CountingReader<R> {
    inner: R,
    counter: ByteCounter,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.0.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// An opened input: its kind and a buffered byte stream positioned at the start
/// of the (decompressed) content.
pub struct Opened {
    /// What the content is.
    pub kind: InputKind,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
    /// The content.
    pub reader: Box<dyn BufRead + Send>,
    /// Compressed bytes consumed from the file so far.
    pub counter: ByteCounter,
    /// File size on disk.
    pub file_size: u64,
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const SNIFF_LEN: usize = 64 * 1024;

/// Decide what `head` (the first bytes of a stream) is. `None` if unknown.
///
/// ```
/// use sentineldns::source::{sniff, InputKind};
/// assert_eq!(sniff(&[0x0a, 0x0d, 0x0d, 0x0a, 0, 0]), Some(InputKind::Pcapng));
/// assert_eq!(sniff(b"{\"ts\": 1}"), Some(InputKind::Jsonl));
/// assert_eq!(sniff(b"GET / HTTP/1.1"), None);
/// ```
pub fn sniff(head: &[u8]) -> Option<InputKind> {
    if head.len() >= 4 {
        let m = [head[0], head[1], head[2], head[3]];
        match m {
            [0x0a, 0x0d, 0x0d, 0x0a] => return Some(InputKind::Pcapng),
            [0xa1, 0xb2, 0xc3, 0xd4]
            | [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x4d, 0x3c, 0xb2, 0xa1] => return Some(InputKind::Pcap),
            _ => {}
        }
    }
    let text = head.strip_prefix(&[0xef, 0xbb, 0xbf][..]).unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace())?;
    let text = &text[start..];
    if text.starts_with(b"#separator") {
        return Some(InputKind::ZeekTsv);
    }
    if text.first() != Some(&b'{') {
        return None;
    }
    let first = text.split(|&b| b == b'\n').next().unwrap_or(text);
    let has = |needle: &[u8]| first.windows(needle.len()).any(|w| w == needle);
    Some(if has(b"\"module\":\"sentineldns\"") {
        InputKind::SentineldnsLookup
    } else if has(b"\"event_type\"") {
        InputKind::SuricataEve
    } else if has(b"\"id.orig_h\"") {
        InputKind::ZeekJson
    } else {
        InputKind::Jsonl
    })
}

/// Whether `head` starts with a Frame Streams START control frame whose
/// content type is `protobuf:dnstap.Dnstap` (a file written by a resolver's
/// dnstap output or `fstrm_capture`).
pub fn is_dnstap_frame_stream(head: &[u8]) -> bool {
    const CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";
    let be = |i: usize| -> Option<u32> {
        let b = head.get(i..i.checked_add(4)?)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    // escape (0), control length, START (2), then fields: type 1 = content type.
    if be(0) != Some(0) || be(8) != Some(2) {
        return false;
    }
    let Some(len) = be(4).map(|l| l as usize) else {
        return false;
    };
    let end = 8usize.saturating_add(len).min(head.len());
    let mut i = 12;
    while i + 8 <= end {
        let (Some(ty), Some(flen)) = (be(i), be(i + 4)) else {
            return false;
        };
        let start = i + 8;
        let stop = start.saturating_add(flen as usize);
        if ty == 1 && head.get(start..stop) == Some(CONTENT_TYPE) {
            return true;
        }
        i = stop;
    }
    false
}

/// A human guess at what `line` (the first line of a file) is, for errors.
pub fn likely_format(line: &str) -> String {
    let t = line.trim_start_matches('\u{feff}').trim();
    let has = |n: &str| t.contains(n);
    if t.starts_with("#separator") || t.starts_with("#fields") || t.starts_with("#path") {
        return "a Zeek ASCII log (only dns.log is read)".into();
    }
    if t.starts_with('{') {
        if has("\"event_type\"") {
            return "Suricata EVE JSON (only event_type dns is read)".into();
        }
        if has("\"id.orig_h\"") {
            return "a Zeek JSON log (only dns.log is read)".into();
        }
        if has("\"identity\"") && has("\"message\"") {
            return "dnstap converted to JSON (not read: replay the Frame Streams file)".into();
        }
        return "JSON lines, but not sentineldns JSONL (needs ts, host, domain, qtype, rcode)"
            .into();
    }
    if t.contains(',') && !t.contains('\t') {
        return "CSV (flow CSVs go to `sentineldns flows`)".into();
    }
    "text in no format sentineldns reads".into()
}

fn hex_prefix(b: &[u8]) -> String {
    crate::model::checksum::hex(&b[..b.len().min(8)])
}

/// Open `path`, unwrap gzip if present, and detect the content kind.
pub fn open(path: &Path) -> Result<Opened, SourceError> {
    let io_err = |source| SourceError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(io_err)?;
    let file_size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let counter = ByteCounter::default();
    let counting = CountingReader {
        inner: file,
        counter: counter.clone(),
    };
    let mut outer = BufReader::with_capacity(256 * 1024, counting);
    let head = outer.fill_buf().map_err(io_err)?;
    if head.is_empty() {
        return Err(SourceError::Empty {
            path: path.to_path_buf(),
        });
    }
    let gzip = head.starts_with(&GZIP_MAGIC);
    let mut reader: Box<dyn BufRead + Send> = if gzip {
        Box::new(BufReader::with_capacity(
            256 * 1024,
            flate2::bufread::MultiGzDecoder::new(outer),
        ))
    } else {
        Box::new(outer)
    };
    // Read a generous prefix: pcap-parser's readers parse the file header from
    // their first `read()`, which returns at most this prefix (it is chained in
    // front of the rest), so it must hold a whole pcapng section header block.
    let head = fill_at_least(&mut reader, SNIFF_LEN).map_err(io_err)?;
    if head.is_empty() {
        return Err(SourceError::Empty {
            path: path.to_path_buf(),
        });
    }
    let kind = if is_dnstap_frame_stream(&head) {
        Some(InputKind::Dnstap)
    } else {
        sniff(&head)
    };
    let kind = kind.ok_or_else(|| SourceError::Unrecognised {
        path: path.to_path_buf(),
        magic: hex_prefix(&head),
    })?;
    let reader: Box<dyn BufRead + Send> = Box::new(io::Cursor::new(head).chain(reader));
    Ok(Opened {
        kind,
        gzip,
        reader,
        counter,
        file_size,
    })
}

/// Read up to `n` bytes (fewer only at end of stream), consuming them.
fn fill_at_least(r: &mut Box<dyn BufRead + Send>, n: usize) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let take = buf.len().min(n - out.len());
        out.extend_from_slice(&buf[..take]);
        r.consume(take);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn sniff_by_content() {
        assert_eq!(
            sniff(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
            Some(InputKind::Pcap)
        );
        assert_eq!(sniff(&[0xa1, 0xb2, 0x3c, 0x4d]), Some(InputKind::Pcap));
        assert_eq!(sniff(&[0x4d, 0x3c, 0xb2, 0xa1]), Some(InputKind::Pcap));
        assert_eq!(sniff(&[0x0a, 0x0d, 0x0d, 0x0a]), Some(InputKind::Pcapng));
        assert_eq!(sniff(b"  \n{\"ts\":1}"), Some(InputKind::Jsonl));
        assert_eq!(sniff(b"\xef\xbb\xbf{\"ts\":1}"), Some(InputKind::Jsonl));
        assert_eq!(sniff(b"hello world"), None);
        assert_eq!(
            sniff(b"#separator \\x09\n#set_separator\t,\n"),
            Some(InputKind::ZeekTsv)
        );
        assert_eq!(
            sniff(b"{\"ts\":1.5,\"uid\":\"C\",\"id.orig_h\":\"10.0.0.1\"}\n{\"event_type\":1}"),
            Some(InputKind::ZeekJson)
        );
        assert_eq!(
            sniff(b"{\"timestamp\":\"x\",\"event_type\":\"dns\"}"),
            Some(InputKind::SuricataEve)
        );
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn dnstap_frame_streams_are_recognised_and_an_unusable_one_refused_clearly() {
        let ct = b"protobuf:dnstap.Dnstap";
        let mut f = vec![0, 0, 0, 0];
        f.extend_from_slice(&(4 + 8 + ct.len() as u32).to_be_bytes());
        f.extend_from_slice(&2u32.to_be_bytes());
        f.extend_from_slice(&1u32.to_be_bytes());
        f.extend_from_slice(&(ct.len() as u32).to_be_bytes());
        f.extend_from_slice(ct);
        assert!(is_dnstap_frame_stream(&f));
        assert!(!is_dnstap_frame_stream(&f[..20]));
        assert!(!is_dnstap_frame_stream(&[
            0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 2
        ]));
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("unbound.fstrm");
        // START, then one garbage data frame
        f.extend_from_slice(&[0, 0, 0, 3, 0xff, 0xff, 0xff]);
        std::fs::write(&p, &f).unwrap();
        assert_eq!(open(&p).unwrap().kind, InputKind::Dnstap);
        let mut stats = crate::stats::Stats::default();
        let mut m = merge::Merger::open(std::slice::from_ref(&p), &mut stats).unwrap();
        while m.next_item(&mut stats).is_some() {}
        let e = m.check_rejected().unwrap_err().to_string();
        assert!(
            e.contains("unbound.fstrm") && e.contains("no usable dnstap message"),
            "{e}"
        );
        assert!(e.contains("frame 1 at offset 42"), "{e}");
    }

    #[test]
    fn gzip_is_unwrapped_and_sniffed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("events.data");
        let f = File::create(&p).unwrap();
        let mut gz = flate2::write::GzEncoder::new(f, flate2::Compression::fast());
        gz.write_all(b"{\"ts\":1,\"host\":\"10.0.0.1\",\"domain\":\"a.com\"}\n")
            .unwrap();
        gz.finish().unwrap();
        let mut o = open(&p).unwrap();
        assert!(o.gzip);
        assert_eq!(o.kind, InputKind::Jsonl);
        let mut s = String::new();
        o.reader.read_to_string(&mut s).unwrap();
        assert!(s.starts_with("{\"ts\":1"));
    }

    #[test]
    fn unrecognised_and_empty_files_are_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("notes.pcap");
        std::fs::write(&p, b"this is not a capture").unwrap();
        let e = open(&p).err().unwrap().to_string();
        assert!(e.contains("notes.pcap") && e.contains("not a pcap"), "{e}");
        let p = dir.path().join("empty.pcap");
        std::fs::write(&p, b"").unwrap();
        let e = open(&p).err().unwrap().to_string();
        assert!(e.contains("empty.pcap") && e.contains("empty"), "{e}");
        let e = open(&dir.path().join("missing.pcap"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("missing.pcap"), "{e}");
    }
}
