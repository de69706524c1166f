//! [`ModelError`]: every way training, loading or saving a model can fail.
//!
//! Owned by the model module; the CLI prints these verbatim, so each message
//! says what was found, what was expected, and (where it helps) what to do.
//! Numbers are always included: a SOC engineer reading "checksum mismatch:
//! expected 0x…, found 0x…" knows the file is corrupt, not merely old.

use std::fmt::Write as _;
use std::path::PathBuf;

/// Errors from the model module (forest fitting, bundle training, loading, saving).
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file does not start with the bundle magic: it is some other kind of file.
    #[error(
        "{}: not a sentineldns model bundle (first bytes {}{}); expected a file written by `sentineldns train`",
        display_path(path),
        crate::checksum::hex(found_magic),
        sniff(found_magic)
    )]
    NotABundle {
        /// File the bytes came from (`None` when decoding from memory).
        path: Option<PathBuf>,
        /// Up to the first 8 bytes that were found instead of the magic.
        found_magic: Vec<u8>,
    },

    /// The bundle is shorter than its header says: an interrupted copy or download.
    #[error(
        "model bundle is truncated: need {need} bytes, have {have} (incomplete copy or download?)"
    )]
    Truncated {
        /// Bytes the header (or the fixed header size) requires.
        need: u64,
        /// Bytes actually present.
        have: u64,
    },

    /// The bundle was written by a different (usually newer) format version.
    #[error("model bundle format version {found} is not supported by this build (supports version {supported}); retrain with `sentineldns train` or use a matching sentineldns release")]
    UnsupportedVersion {
        /// Version in the file.
        found: u32,
        /// Version this build reads and writes.
        supported: u32,
    },

    /// The checksum over header and payload does not match: the file is corrupt.
    #[error("model bundle is corrupt: checksum mismatch (stored 0x{expected:016x}, computed 0x{found:016x})")]
    Checksum {
        /// Checksum stored in the file.
        expected: u64,
        /// Checksum computed over the bytes actually present.
        found: u64,
    },

    /// The payload passed the checksum but could not be decoded.
    #[error("model bundle payload could not be decoded: {0}")]
    Decode(String),

    /// The model was trained on different features (names or order) than this build computes.
    #[error("{}", feature_mismatch_message(expected, found))]
    FeatureMismatch {
        /// Feature names this build computes, in order.
        expected: Vec<String>,
        /// Feature names stored in the bundle, in order.
        found: Vec<String>,
    },

    /// The payload decoded but failed structural validation.
    #[error("model bundle is structurally invalid: {0}")]
    Invalid(String),

    /// Hyperparameters out of range for the data.
    #[error("bad model parameters: {0}")]
    BadParams(String),

    /// Training or calibration data unusable (ragged rows, non-finite values, too few rows).
    #[error("bad training data: {0}")]
    BadData(String),

    /// Filesystem error while reading or writing a bundle.
    #[error("{}: {source}", path.display())]
    Io {
        /// File involved.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

fn display_path(path: &Option<PathBuf>) -> String {
    match path {
        Some(p) => p.display().to_string(),
        None => "input".to_string(),
    }
}

impl From<super::container::FrameError> for ModelError {
    fn from(e: super::container::FrameError) -> Self {
        use super::container::FrameError as F;
        match e {
            F::WrongMagic(found_magic) => ModelError::NotABundle {
                path: None,
                found_magic,
            },
            F::Truncated { need, have } => ModelError::Truncated { need, have },
            F::Version { found, supported } => ModelError::UnsupportedVersion { found, supported },
            F::TooLarge { declared, max } => ModelError::Invalid(format!(
                "header declares a {declared}-byte payload, over the {max}-byte limit"
            )),
            F::TrailingBytes { extra, need, have } => ModelError::Invalid(format!(
                "{extra} unexpected bytes after the checksum (header declares a {need}-byte file, found {have})"
            )),
            F::Checksum { expected, found } => ModelError::Checksum { expected, found },
            F::Decode(m) => ModelError::Decode(m),
        }
    }
}

/// Names a few common file types so "not a bundle" errors say what the file is.
fn sniff(bytes: &[u8]) -> &'static str {
    const KNOWN: &[(&[u8], &str)] = &[
        (b"\x89PNG", ", looks like a PNG image"),
        (&[0xd4, 0xc3, 0xb2, 0xa1], ", looks like a pcap capture"),
        (&[0xa1, 0xb2, 0xc3, 0xd4], ", looks like a pcap capture"),
        (&[0x4d, 0x3c, 0xb2, 0xa1], ", looks like a pcap capture"),
        (&[0xa1, 0xb2, 0x3c, 0x4d], ", looks like a pcap capture"),
        (&[0x0a, 0x0d, 0x0d, 0x0a], ", looks like a pcapng capture"),
        (&[0x1f, 0x8b], ", looks like a gzip file"),
        (b"PK\x03\x04", ", looks like a zip file"),
        (b"SQLite f", ", looks like an SQLite database"),
        (b"{", ", looks like JSON"),
        (b"[", ", looks like JSON"),
    ];
    KNOWN
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map_or("", |(_, what)| what)
}

/// Explains a feature mismatch position by position, plus missing/extra names.
fn feature_mismatch_message(expected: &[String], found: &[String]) -> String {
    let mut msg = format!(
        "model was trained on {} features but this build computes {}; retrain the model with this build",
        found.len(),
        expected.len()
    );
    let missing: Vec<&str> = expected
        .iter()
        .filter(|e| !found.contains(e))
        .map(String::as_str)
        .collect();
    let extra: Vec<&str> = found
        .iter()
        .filter(|f| !expected.contains(f))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        let _ = write!(msg, "; not in model: {}", missing.join(", "));
    }
    if !extra.is_empty() {
        let _ = write!(msg, "; only in model: {}", extra.join(", "));
    }
    let mut moved = Vec::new();
    for (i, (e, f)) in expected.iter().zip(found.iter()).enumerate() {
        if e != f {
            moved.push(format!("#{i} is '{f}' in model, '{e}' here"));
        }
    }
    if !moved.is_empty() {
        const SHOW: usize = 5;
        let more = moved.len().saturating_sub(SHOW);
        moved.truncate(SHOW);
        let _ = write!(msg, "; differing positions: {}", moved.join(", "));
        if more > 0 {
            let _ = write!(msg, " (+{more} more)");
        }
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_numbers() {
        let e = ModelError::Truncated { need: 100, have: 7 };
        assert!(e.to_string().contains("need 100 bytes, have 7"));
        let e = ModelError::NotABundle {
            path: Some("x.png".into()),
            found_magic: b"\x89PNG\r\n\x1a\n".to_vec(),
        };
        let s = e.to_string();
        assert!(
            s.starts_with("x.png: not a sentineldns model bundle"),
            "{s}"
        );
        assert!(s.contains("89 50 4e 47") && s.contains("PNG image"), "{s}");
        let e = ModelError::Checksum {
            expected: 1,
            found: 2,
        };
        assert!(e.to_string().contains("0x0000000000000001"));
    }

    #[test]
    fn feature_mismatch_says_what_differs() {
        let exp = vec!["a".to_string(), "b".to_string(), "c".to_string()];
        let found = vec!["b".to_string(), "a".to_string(), "d".to_string()];
        let s = ModelError::FeatureMismatch {
            expected: exp,
            found,
        }
        .to_string();
        assert!(s.contains("not in model: c"), "{s}");
        assert!(s.contains("only in model: d"), "{s}");
        assert!(s.contains("#0 is 'b' in model, 'a' here"), "{s}");
    }
}
