//! The framed file format every persisted model shares (the DNS bundle of
//! [`crate::bundle`], the flow classifier and the CIC-IDS2017 baseline of
//! `sentineldns-flows`):
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 8 | magic (one per model kind) |
//! | 8 | 4 | format version, u32 little-endian |
//! | 12 | 8 | payload length `L`, u64 little-endian |
//! | 20 | `L` | payload: bincode 2 (serde, `config::standard()`) |
//! | 20 + `L` | 8 | FNV-1a 64 ([`crate::checksum`]) of bytes `0 .. 20 + L` |
//!
//! [`Format::decode`] checks, in this order and before decoding anything: the
//! magic (a prefix of it for files shorter than 8 bytes), the version, the
//! declared length against the format's limit and against the bytes present
//! (fewer is `Truncated`, more is `TrailingBytes`), the checksum; then decodes
//! with bincode's allocation limit and refuses unused payload bytes. Hostile
//! bytes never panic and never make it allocate more than a small multiple of
//! their size. Each model maps [`FrameError`] into its own error type, so the
//! messages name the kind of file. [`write_atomic`] is the shared save.

use super::checksum::fnv1a64;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Header size: magic, version, payload length.
pub const HEADER_LEN: usize = 20;
/// Trailer size: checksum.
pub const TRAILER_LEN: usize = 8;
/// bincode decode limit: bytes of decoded primitives/containers the decoder may claim.
pub const DECODE_LIMIT_BYTES: usize = 512 << 20;

/// One model kind's framing.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// First eight bytes of the file.
    pub magic: [u8; 8],
    /// Version this build reads and writes.
    pub version: u32,
    /// Largest payload accepted.
    pub max_payload: u64,
}

/// What is wrong with a framed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Does not start with the magic; up to the first 8 bytes found.
    WrongMagic(Vec<u8>),
    /// Shorter than the header says.
    Truncated {
        /// Bytes required.
        need: u64,
        /// Bytes present.
        have: u64,
    },
    /// Another format version.
    Version {
        /// Version in the file.
        found: u32,
        /// Version this build reads.
        supported: u32,
    },
    /// The header declares a payload over the limit.
    TooLarge {
        /// Declared payload length.
        declared: u64,
        /// Limit.
        max: u64,
    },
    /// Bytes after the checksum.
    TrailingBytes {
        /// Extra bytes.
        extra: u64,
        /// File size the header implies.
        need: u64,
        /// File size found.
        have: u64,
    },
    /// Stored and computed checksums differ.
    Checksum {
        /// Stored.
        expected: u64,
        /// Computed.
        found: u64,
    },
    /// The payload does not decode (or leaves bytes unused).
    Decode(String),
}

impl Format {
    /// Frame `value`. Fails only if bincode cannot encode it.
    pub fn encode<T: Serialize>(&self, value: &T) -> Result<Vec<u8>, FrameError> {
        let payload = bincode::serde::encode_to_vec(value, bincode::config::standard())
            .map_err(|e| FrameError::Decode(format!("encoding failed: {e}")))?;
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len() + TRAILER_LEN);
        out.extend_from_slice(&self.magic);
        out.extend_from_slice(&self.version.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        let sum = fnv1a64(&out);
        out.extend_from_slice(&sum.to_le_bytes());
        Ok(out)
    }

    /// Check magic, version and declared length given the first bytes of a
    /// file (`head`, at least [`HEADER_LEN`] unless the file is shorter) and
    /// its total size; returns the payload length. Lets a loader refuse a
    /// foreign multi-gigabyte file after reading 20 bytes.
    pub fn check_header(&self, head: &[u8], total: u64) -> Result<u64, FrameError> {
        let min = (HEADER_LEN + TRAILER_LEN) as u64;
        let magic_len = head.len().min(self.magic.len());
        if head[..magic_len] != self.magic[..magic_len] {
            return Err(FrameError::WrongMagic(head[..magic_len].to_vec()));
        }
        if head.len() < 12 {
            return Err(FrameError::Truncated {
                need: min,
                have: total,
            });
        }
        let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if version != self.version {
            return Err(FrameError::Version {
                found: version,
                supported: self.version,
            });
        }
        if head.len() < HEADER_LEN {
            return Err(FrameError::Truncated {
                need: min,
                have: total,
            });
        }
        let len = u64::from_le_bytes(le8(&head[12..HEADER_LEN]));
        if len > self.max_payload {
            return Err(FrameError::TooLarge {
                declared: len,
                max: self.max_payload,
            });
        }
        let need = min + len;
        if total < need {
            return Err(FrameError::Truncated { need, have: total });
        }
        if total > need {
            return Err(FrameError::TrailingBytes {
                extra: total - need,
                need,
                have: total,
            });
        }
        Ok(len)
    }

    /// Check the frame and decode its payload. Never panics.
    pub fn decode<T: DeserializeOwned>(&self, b: &[u8]) -> Result<T, FrameError> {
        self.decode_hashed(b).map(|(v, _)| v)
    }

    /// [`decode`](Self::decode), and the FNV-1a 64 of the whole frame `b`
    /// (a file's identity) for the price of its 8-byte trailer: the body's
    /// hash is computed for the checksum anyway.
    pub fn decode_hashed<T: DeserializeOwned>(&self, b: &[u8]) -> Result<(T, u64), FrameError> {
        let len = self.check_header(b, b.len() as u64)? as usize;
        let (body, trailer) = b.split_at(HEADER_LEN + len);
        let expected = u64::from_le_bytes(le8(trailer));
        let found = fnv1a64(body);
        if expected != found {
            return Err(FrameError::Checksum { expected, found });
        }
        let mut whole = crate::checksum::Fnv1a64::resume(found);
        whole.update(trailer);
        let payload = &body[HEADER_LEN..];
        let config = bincode::config::standard().with_limit::<DECODE_LIMIT_BYTES>();
        let (value, used): (T, usize) = bincode::serde::decode_from_slice(payload, config)
            .map_err(|e| FrameError::Decode(e.to_string()))?;
        if used != payload.len() {
            return Err(FrameError::Decode(format!(
                "{} unused bytes after the value in a {}-byte payload",
                payload.len() - used,
                payload.len()
            )));
        }
        Ok((value, whole.finish()))
    }

    /// Read a framed file, checking its header before reading the rest.
    pub fn read(&self, path: &Path) -> Result<Vec<u8>, ReadError> {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(ReadError::Io)?;
        let total = f.metadata().map_err(ReadError::Io)?.len();
        let mut head = Vec::with_capacity(HEADER_LEN);
        (&mut f)
            .take(HEADER_LEN as u64)
            .read_to_end(&mut head)
            .map_err(ReadError::Io)?;
        self.check_header(&head, total).map_err(ReadError::Frame)?;
        // check_header bounded `total` by HEADER + max_payload + TRAILER.
        let mut bytes = Vec::with_capacity(total as usize);
        bytes.extend_from_slice(&head);
        f.read_to_end(&mut bytes).map_err(ReadError::Io)?;
        Ok(bytes)
    }
}

/// [`Format::read`] failed.
#[derive(Debug)]
pub enum ReadError {
    /// The file could not be read.
    Io(std::io::Error),
    /// Its header is wrong.
    Frame(FrameError),
}

/// Copies the first 8 bytes of `b` (zero-padded) into an array.
fn le8(b: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    for (d, s) in a.iter_mut().zip(b) {
        *d = *s;
    }
    a
}

/// Write `bytes` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, renamed over `path`, then the directory synced
/// (best effort).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a file path"))?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    };
    if let Err(e) = write() {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Ok(d) = std::fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Format = Format {
        magic: *b"TESTFMT\0",
        version: 3,
        max_payload: 1 << 20,
    };

    #[test]
    fn decode_hashed_gives_the_hash_of_the_whole_frame() {
        for v in [vec![], vec![1u32], (0..5000).collect::<Vec<u32>>()] {
            let b = F.encode(&v).unwrap();
            let (back, hash) = F.decode_hashed::<Vec<u32>>(&b).unwrap();
            assert_eq!(back, v);
            assert_eq!(hash, crate::checksum::fnv1a64(&b));
        }
    }

    #[test]
    fn round_trip_and_each_check_in_order() {
        let v: Vec<u32> = vec![1, 2, 3];
        let b = F.encode(&v).unwrap();
        assert_eq!(F.decode::<Vec<u32>>(&b).unwrap(), v);
        // Magic, also as a prefix of a short file.
        assert_eq!(
            F.decode::<Vec<u32>>(b"NOPE"),
            Err(FrameError::WrongMagic(b"NOPE".to_vec()))
        );
        assert!(matches!(
            F.decode::<Vec<u32>>(&b[..5]),
            Err(FrameError::Truncated { .. })
        ));
        let mut x = b.clone();
        x[8] = 9;
        assert!(matches!(
            F.decode::<Vec<u32>>(&x),
            Err(FrameError::Version { found: 9, .. })
        ));
        let mut x = b.clone();
        x[12..20].copy_from_slice(&(2u64 << 20).to_le_bytes());
        assert!(matches!(
            F.decode::<Vec<u32>>(&x),
            Err(FrameError::TooLarge { .. })
        ));
        assert!(matches!(
            F.decode::<Vec<u32>>(&b[..b.len() - 1]),
            Err(FrameError::Truncated { .. })
        ));
        let mut x = b.clone();
        x.push(0);
        assert!(matches!(
            F.decode::<Vec<u32>>(&x),
            Err(FrameError::TrailingBytes { extra: 1, .. })
        ));
        let mut x = b.clone();
        x[HEADER_LEN] ^= 1;
        assert!(matches!(
            F.decode::<Vec<u32>>(&x),
            Err(FrameError::Checksum { .. })
        ));
    }

    #[test]
    fn atomic_write_replaces_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.bin");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
