//! Time-ordered merge of several inputs.
//!
//! Every file is opened (and its content recognised) up front, so a file that
//! cannot be read fails the run before anything is processed, naming the file.
//! Each input keeps one look-ahead item in its own reusable buffer; a binary heap
//! keyed by `(timestamp, input index)` yields the oldest head next. Ties go to the
//! earlier file on the command line, so the order is deterministic.

use super::jsonl::{JsonEvent, JsonlReader};
use super::savefile::{CaptureReader, OwnedPacket};
use super::{open, ByteCounter, InputKind, SourceError, SourceLimits};
use crate::dnstap::{ClientMessage, DnstapFileReader};
use crate::event::{RawPacket, TsMicros};
use crate::stats::Stats;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::PathBuf;

enum Reader {
    Capture(CaptureReader, OwnedPacket),
    /// Boxed: the line reader carries its format state and tally.
    Jsonl(Box<JsonlReader>, JsonEvent),
    /// A dnstap Frame Streams file.
    Dnstap(Box<DnstapFileReader>, ClientMessage),
}

struct Input {
    name: String,
    kind: InputKind,
    gzip: bool,
    reader: Reader,
    counter: ByteCounter,
    size: u64,
}

impl Input {
    fn advance(&mut self, stats: &mut Stats) -> Option<TsMicros> {
        match &mut self.reader {
            Reader::Capture(r, p) => r.next_into(p, stats).then_some(p.ts),
            Reader::Jsonl(r, e) => r.next_into(e, stats).then_some(e.ts),
            Reader::Dnstap(r, m) => r.next_into(m, stats).then_some(m.ts),
        }
    }
}

/// One item from the merged stream, borrowed until the next call.
#[derive(Debug)]
pub enum Item<'a> {
    /// A captured frame.
    Packet {
        /// The frame.
        packet: RawPacket<'a>,
        /// File name.
        source: &'a str,
        /// 1-based record number within the file.
        number: u64,
    },
    /// A JSONL event.
    Event {
        /// The event.
        event: &'a JsonEvent,
        /// File name.
        source: &'a str,
        /// 1-based line number.
        line: u64,
    },
    /// A dnstap client message (query or response).
    Message {
        /// The message.
        message: &'a ClientMessage,
        /// File name.
        source: &'a str,
        /// 1-based data frame number within the file.
        frame: u64,
    },
}

/// Description of one opened input, for summaries.
#[derive(Debug, Clone)]
pub struct InputInfo {
    /// Path as given.
    pub name: String,
    /// Detected content.
    pub kind: InputKind,
    /// Whether it was gzip-compressed.
    pub gzip: bool,
    /// Size on disk.
    pub size: u64,
}

/// Merges inputs by timestamp.
pub struct Merger {
    inputs: Vec<Input>,
    heap: BinaryHeap<Reverse<(TsMicros, usize)>>,
    /// Input whose head was handed out last and must be advanced before the next pick.
    pending: Option<usize>,
    started: bool,
}

impl Merger {
    /// Open and recognise every path with the default [`SourceLimits`]; the
    /// first failure is returned.
    pub fn open(paths: &[PathBuf], stats: &mut Stats) -> Result<Self, SourceError> {
        Self::open_with(paths, SourceLimits::default(), stats)
    }

    /// Open and recognise every path, reading with `limits`; the first failure
    /// is returned.
    pub fn open_with(
        paths: &[PathBuf],
        limits: SourceLimits,
        stats: &mut Stats,
    ) -> Result<Self, SourceError> {
        let mut inputs = Vec::with_capacity(paths.len());
        for p in paths {
            let name = p.display().to_string();
            let o = open(p)?;
            let (kind, gzip, counter, size) = (o.kind, o.gzip, o.counter.clone(), o.file_size);
            let reader = match kind {
                InputKind::Pcap | InputKind::Pcapng => {
                    Reader::Capture(CaptureReader::new(o, &name)?, OwnedPacket::default())
                }
                InputKind::Jsonl
                | InputKind::ZeekTsv
                | InputKind::ZeekJson
                | InputKind::SuricataEve
                | InputKind::SentineldnsLookup => Reader::Jsonl(
                    Box::new(JsonlReader::with_max_line(o, &name, limits.max_line_bytes)),
                    JsonEvent::default(),
                ),
                InputKind::Dnstap => Reader::Dnstap(
                    Box::new(DnstapFileReader::new(o.reader, &name)),
                    ClientMessage::default(),
                ),
            };
            stats.files += 1;
            inputs.push(Input {
                name,
                kind,
                gzip,
                reader,
                counter,
                size,
            });
        }
        Ok(Merger {
            inputs,
            heap: BinaryHeap::new(),
            pending: None,
            started: false,
        })
    }

    /// The opened inputs.
    pub fn inputs(&self) -> Vec<InputInfo> {
        self.inputs
            .iter()
            .map(|i| InputInfo {
                name: i.name.clone(),
                kind: i.kind,
                gzip: i.gzip,
                size: i.size,
            })
            .collect()
    }

    /// After the run: the first line-oriented input none of whose lines gave
    /// an event, as [`SourceError::AllRejected`] naming the file, its first
    /// bad lines and the format its first line most likely is.
    pub fn check_rejected(&self) -> Result<(), SourceError> {
        for inp in &self.inputs {
            if let Reader::Dnstap(r, _) = &inp.reader {
                if r.all_rejected() {
                    let t = r.tally();
                    return Err(SourceError::DnstapRejected {
                        path: PathBuf::from(&inp.name),
                        frames: t.frames,
                        bad: t.bad,
                        detail: t
                            .first_bad
                            .iter()
                            .cloned()
                            .chain(t.fatal.clone())
                            .collect::<Vec<_>>()
                            .join("; "),
                    });
                }
                continue;
            }
            let Reader::Jsonl(r, _) = &inp.reader else {
                continue;
            };
            let Some(rej) = r.rejection() else { continue };
            let examples = if rej.first_bad.is_empty() {
                "none".to_string()
            } else {
                rej.first_bad
                    .iter()
                    .map(|(n, why)| format!("line {n}: {why}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            return Err(SourceError::AllRejected {
                path: PathBuf::from(&inp.name),
                kind: inp.kind.as_str(),
                bad: rej.bad,
                ignored: rej.ignored,
                examples,
                likely: first_line_guess(&inp.name),
            });
        }
        Ok(())
    }

    /// EVE pairing counts over all inputs: (expired, evicted).
    pub fn pairing_counts(&self) -> (u64, u64) {
        self.inputs
            .iter()
            .fold((0, 0), |(e, v), inp| match &inp.reader {
                Reader::Jsonl(r, _) => {
                    let (a, b) = r.pairing_counts();
                    (e + a, v + b)
                }
                _ => (e, v),
            })
    }

    /// Total size on disk of all inputs.
    pub fn total_bytes(&self) -> u64 {
        self.inputs.iter().map(|i| i.size).sum()
    }

    /// Bytes read from disk so far (compressed bytes for gzip inputs).
    pub fn bytes_read(&self) -> u64 {
        self.inputs
            .iter()
            .map(|i| i.counter.get().min(i.size))
            .sum()
    }

    /// The next item in time order, or `None` when every input is exhausted.
    pub fn next_item(&mut self, stats: &mut Stats) -> Option<Item<'_>> {
        if !self.started {
            self.started = true;
            for (i, inp) in self.inputs.iter_mut().enumerate() {
                if let Some(ts) = inp.advance(stats) {
                    self.heap.push(Reverse((ts, i)));
                }
            }
        }
        let i = if self.inputs.len() == 1 {
            // One input (the common case): no ordering to do, no heap.
            if self.pending.take().is_some() {
                self.heap.clear();
                self.inputs[0].advance(stats)?;
            } else {
                self.heap.pop()?;
            }
            0
        } else {
            if let Some(i) = self.pending.take() {
                if let Some(ts) = self.inputs[i].advance(stats) {
                    self.heap.push(Reverse((ts, i)));
                }
            }
            let Reverse((_, i)) = self.heap.pop()?;
            i
        };
        self.pending = Some(i);
        let inp = &self.inputs[i];
        Some(match &inp.reader {
            Reader::Capture(r, p) => Item::Packet {
                packet: p.as_raw(),
                source: &inp.name,
                number: r.records(),
            },
            Reader::Jsonl(r, e) => Item::Event {
                event: e,
                source: &inp.name,
                line: r.line(),
            },
            Reader::Dnstap(r, m) => Item::Message {
                message: m,
                source: &inp.name,
                frame: r.frame(),
            },
        })
    }
}

/// Re-open `name` and guess the format of its first non-blank line.
fn first_line_guess(name: &str) -> String {
    let Ok(o) = open(std::path::Path::new(name)) else {
        return "unknown (the file could not be re-read)".into();
    };
    let mut r = o.reader;
    let mut line = String::new();
    let mut buf = Vec::new();
    for _ in 0..16 {
        buf.clear();
        let mut limited = std::io::Read::take(&mut r, 64 * 1024);
        if std::io::BufRead::read_until(&mut limited, b'\n', &mut buf).unwrap_or(0) == 0 {
            break;
        }
        line = String::from_utf8_lossy(&buf).into_owned();
        if !line.trim().is_empty() {
            break;
        }
    }
    super::likely_format(&line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_jsonl_files_in_time_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jsonl");
        let b = dir.path().join("b.jsonl");
        let line = |ts: u32, d: &str| {
            format!(
                "{{\"ts\":{ts},\"host\":\"10.0.0.1\",\"domain\":\"{d}\",\"qtype\":\"A\",\"rcode\":0}}\n"
            )
        };
        std::fs::write(&a, [line(1, "a1"), line(5, "a5"), line(9, "a9")].concat()).unwrap();
        std::fs::write(
            &b,
            [
                line(2, "b2"),
                "garbage\n".into(),
                line(5, "b5"),
                line(6, "b6"),
            ]
            .concat(),
        )
        .unwrap();
        let mut stats = Stats::default();
        let mut m = Merger::open(&[a, b], &mut stats).unwrap();
        let mut got = Vec::new();
        while let Some(it) = m.next_item(&mut stats) {
            if let Item::Event { event, .. } = it {
                got.push(event.domain.clone());
            }
        }
        assert_eq!(got, ["a1", "b2", "a5", "b5", "b6", "a9"]);
        assert_eq!(stats.skipped(crate::stats::SkipReason::JsonlBadLine), 1);
        assert_eq!(stats.examples()[0].position, 2);
        assert_eq!(stats.files, 2);
    }
}
