//! A text-line output to stdout or a size-rotated file, shared by the
//! outputs in other tools' formats ([`super::eve`], [`super::zeek`]): the
//! same rotation as NDJSON (`PATH` → `PATH.1` → … → `PATH.N`), the same
//! failure rules (a write error is logged once and counted, the output
//! stops, [`LineOutput::finish`] returns it; a closed stdout just stops the
//! output), and hooks for a format whose every file needs a header and a
//! footer (Zeek's `#fields` … `#close`).

use super::metrics::{LineMetrics, Metrics};
use super::ndjson::RotatingFile;
use super::OutputError;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

#[derive(Debug)]
enum Dest {
    Stdout(BufWriter<io::Stdout>),
    File(RotatingFile),
}

/// Which counters of the registry an output bumps.
pub(crate) type Pick = fn(&Metrics) -> &LineMetrics;

/// Lines to stdout (`-`) or a rotating file.
#[derive(Debug)]
pub(crate) struct LineOutput {
    what: &'static str,
    dest: Dest,
    metrics: Arc<Metrics>,
    pick: Pick,
    error: Option<io::Error>,
    stopped: bool,
}

impl LineOutput {
    /// Open `path` (`-` for stdout) for output `what` (named in errors and
    /// logs); a file is created or appended to.
    pub(crate) fn open(
        what: &'static str,
        path: &Path,
        max_bytes: Option<u64>,
        keep: usize,
        metrics: Arc<Metrics>,
        pick: Pick,
    ) -> Result<Self, OutputError> {
        let dest = if path.as_os_str() == "-" {
            Dest::Stdout(BufWriter::with_capacity(64 * 1024, io::stdout()))
        } else {
            if max_bytes == Some(0) {
                return Err(OutputError::Config(format!(
                    "{what} max_bytes must be at least 1"
                )));
            }
            Dest::File(RotatingFile::open(path, max_bytes, keep).map_err(|source| {
                OutputError::File {
                    what,
                    path: path.to_path_buf(),
                    source,
                }
            })?)
        };
        pick(&metrics).set_configured();
        Ok(LineOutput {
            what,
            dest,
            metrics,
            pick,
            error: None,
            stopped: false,
        })
    }

    fn m(&self) -> &LineMetrics {
        (self.pick)(&self.metrics)
    }

    /// Whether the output stopped (error or closed stdout).
    pub(crate) fn stopped(&self) -> bool {
        self.stopped
    }

    fn fail(&mut self, e: io::Error) {
        self.stopped = true;
        if matches!(self.dest, Dest::Stdout(_)) && e.kind() == io::ErrorKind::BrokenPipe {
            tracing::info!(output = self.what, "stdout closed: output stopped");
            return;
        }
        tracing::error!(output = self.what, error = %e, "output failed; it stops here (the store is unaffected)");
        self.m().errors.fetch_add(1, Ordering::Relaxed);
        self.error = Some(e);
    }

    /// Whether writing `len` more bytes would rotate the file first.
    pub(crate) fn would_rotate(&self, len: usize) -> bool {
        match &self.dest {
            Dest::File(f) => f.would_rotate(len),
            Dest::Stdout(_) => false,
        }
    }

    /// Rotate the file now (counted). Nothing for stdout.
    pub(crate) fn rotate(&mut self) {
        if self.stopped {
            return;
        }
        let r = match &mut self.dest {
            Dest::File(f) => f.rotate(),
            Dest::Stdout(_) => return,
        };
        match r {
            Ok(()) => {
                self.m().rotations.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => self.fail(e),
        }
    }

    /// Append bytes as they are (no rotation check, not counted as a
    /// record): a header or footer.
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) -> bool {
        if self.stopped {
            return false;
        }
        let r = match &mut self.dest {
            Dest::Stdout(w) => w.write_all(bytes),
            Dest::File(f) => f.append(bytes),
        };
        match r {
            Ok(()) => {
                self.m()
                    .bytes
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
                true
            }
            Err(e) => {
                self.fail(e);
                false
            }
        }
    }

    /// Write `n` records held in `bytes`, rotating first when they would
    /// not fit (records are never split).
    pub(crate) fn write_records(&mut self, bytes: &[u8], n: u64) -> bool {
        if self.would_rotate(bytes.len()) {
            self.rotate();
        }
        let ok = self.write_raw(bytes);
        if ok {
            self.m().lines.fetch_add(n, Ordering::Relaxed);
        }
        ok
    }

    /// Count `n` records written with [`write_raw`](Self::write_raw).
    pub(crate) fn count_records(&self, n: u64) {
        self.m().lines.fetch_add(n, Ordering::Relaxed);
    }

    /// Push buffered lines out.
    pub(crate) fn flush(&mut self) {
        if self.stopped {
            return;
        }
        let r = match &mut self.dest {
            Dest::Stdout(w) => w.flush(),
            Dest::File(f) => f.file.flush(),
        };
        if let Err(e) = r {
            self.fail(e);
        }
    }

    /// Flush and report the first write error, if any.
    pub(crate) fn finish(&mut self) -> Result<(), OutputError> {
        self.flush();
        match self.error.take() {
            None => Ok(()),
            Some(source) => Err(OutputError::File {
                what: self.what,
                path: match &self.dest {
                    Dest::Stdout(_) => PathBuf::from("-"),
                    Dest::File(f) => f.path.clone(),
                },
                source,
            }),
        }
    }
}
