//! Input sources: capture files (pcap, pcapng, gzip-compressed either) and JSONL
//! DNS event files, detected by content, merged across files in time order.
//!
//! * [`sniff`] looks at the first bytes of a file (never its name) and decides
//!   what it is; gzip is unwrapped transparently and sniffed again.
//! * [`savefile::CaptureReader`] streams records with pcap-parser in constant
//!   memory (a bounded, growable buffer), converting pcap-parser's blocks into
//!   [`crate::event::RawPacket`]s at this boundary.
//! * [`jsonl::JsonlReader`] reads one JSON object per line into [`jsonl::JsonEvent`]s.
//! * [`merge::Merger`] holds one open input per file and always yields the item
//!   with the smallest timestamp next, so several files replay as one stream.
//!
//! Damage inside a file (a bad record, a garbage line) is counted in
//! [`crate::stats::Stats`] with its location; only a file that cannot be opened
//! or recognised at all is an [`SourceError`].

pub mod jsonl;
pub mod merge;
pub mod savefile;

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
}

impl InputKind {
    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Pcap => "pcap",
            InputKind::Pcapng => "pcapng",
            InputKind::Jsonl => "jsonl",
        }
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
    #[error("{path}: not a pcap, pcapng or JSONL file (first bytes: {magic})")]
    Unrecognised {
        /// File.
        path: PathBuf,
        /// Hex of the first bytes.
        magic: String,
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
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Some(InputKind::Jsonl),
        _ => None,
    }
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
    let kind = sniff(&head).ok_or_else(|| SourceError::Unrecognised {
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
        assert_eq!(sniff(b""), None);
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
