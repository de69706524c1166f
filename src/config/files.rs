//! Files the configuration names (the configuration file itself, allow-lists,
//! model bundles): each must be a regular file within its kind's size limit
//! ([`FileKind`]); [`read_limited`] checks before opening and caps the read.

use super::ConfigError;
use std::path::Path;

/// Largest configuration file read (1 MiB).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Largest allow-list file read (64 MiB: about 2 million entries; the
/// embedded default list is 1.4 KB).
pub const MAX_ALLOWLIST_BYTES: u64 = 64 << 20;
/// Largest model bundle read (512 MiB; the shipped `models/default.bin` is 1.7 MB).
pub const MAX_MODEL_BYTES: u64 = 512 << 20;

/// A kind of file the configuration names: its size limit and its name in
/// messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// The configuration file itself ([`MAX_CONFIG_BYTES`]).
    Config,
    /// An allow-list file ([`MAX_ALLOWLIST_BYTES`]).
    AllowList,
    /// A model bundle ([`MAX_MODEL_BYTES`]).
    Model,
    /// A threat-intel list (`[intel] files`, [`MAX_ALLOWLIST_BYTES`]).
    Intel,
}

impl FileKind {
    /// Largest file of this kind that is read.
    pub fn limit(self) -> u64 {
        match self {
            FileKind::Config => MAX_CONFIG_BYTES,
            FileKind::AllowList | FileKind::Intel => MAX_ALLOWLIST_BYTES,
            FileKind::Model => MAX_MODEL_BYTES,
        }
    }

    /// Name in messages.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Config => "configuration file",
            FileKind::AllowList => "allow-list file",
            FileKind::Model => "model bundle",
            FileKind::Intel => "threat-intel list",
        }
    }
}

/// What a path that is not a regular file is.
fn file_type_name(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a special file"
    }
}

/// Check that `path` is a regular file no larger than `kind`'s limit, without
/// opening it (a FIFO is refused, not waited on).
pub fn check_file(path: &Path, kind: FileKind) -> Result<u64, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    check_meta(path, kind, &meta)
}

fn check_meta(path: &Path, kind: FileKind, meta: &std::fs::Metadata) -> Result<u64, ConfigError> {
    if !meta.is_file() {
        return Err(ConfigError::NotRegularFile {
            kind: kind.name(),
            path: path.to_path_buf(),
            what: file_type_name(meta.file_type()),
        });
    }
    let size = meta.len();
    if size > kind.limit() {
        return Err(ConfigError::TooLarge {
            kind: kind.name(),
            path: path.to_path_buf(),
            size,
            limit: kind.limit(),
        });
    }
    Ok(size)
}

/// Read a file the configuration names: refused unless it is a regular file
/// (checked before opening, so a FIFO or `/dev/zero` never blocks or fills
/// memory), opened non-blocking and checked again, and read through
/// `take(limit + 1)`, so a file that grows or is swapped after the check
/// still cannot exceed `kind`'s limit.
pub fn read_limited(path: &Path, kind: FileKind) -> Result<Vec<u8>, ConfigError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io = |source: std::io::Error| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    };
    check_file(path, kind)?;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(io)?;
    let size = check_meta(path, kind, &file.metadata().map_err(io)?)?;
    read_capped(file, path, kind.name(), size, kind.limit())
}

/// Read at most `limit` bytes of `r` (`size` is what its metadata said):
/// more is [`ConfigError::TooLarge`], found after reading `limit + 1` bytes,
/// never more.
fn read_capped(
    r: impl std::io::Read,
    path: &Path,
    kind: &'static str,
    size: u64,
    limit: u64,
) -> Result<Vec<u8>, ConfigError> {
    use std::io::Read;
    let mut bytes = Vec::with_capacity(usize::try_from(size.min(limit)).unwrap_or(0));
    r.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let read = bytes.len() as u64;
    if read > limit {
        return Err(ConfigError::TooLarge {
            kind,
            path: path.to_path_buf(),
            size: size.max(read),
            limit,
        });
    }
    Ok(bytes)
}

/// [`read_limited`] as UTF-8 text.
pub fn read_limited_text(path: &Path, kind: FileKind) -> Result<String, ConfigError> {
    String::from_utf8(read_limited(path, kind)?).map_err(|_| ConfigError::Read {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

/// Read the configuration file; a missing file is [`ConfigError::NotFound`].
pub(crate) fn read_config(path: &Path) -> Result<String, ConfigError> {
    read_limited_text(path, FileKind::Config).map_err(|e| match e {
        ConfigError::Read { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            ConfigError::NotFound(path)
        }
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::*;
    use crate::sensor::load_model;
    use std::path::PathBuf;

    #[test]
    fn named_files_must_be_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        for (path, what) in [
            (PathBuf::from("/dev/zero"), "a character device"),
            (dir.path().to_path_buf(), "a directory"),
        ] {
            let e = read_limited(&path, FileKind::AllowList).unwrap_err();
            assert!(matches!(e, ConfigError::NotRegularFile { .. }), "{e}");
            let text = e.to_string();
            assert!(
                text.contains(&path.display().to_string())
                    && text.contains("not a regular file")
                    && text.contains(what),
                "{text}"
            );
        }
        // A FIFO is refused without being opened (opening would block).
        let fifo = dir.path().join("fifo");
        let st = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo runs");
        assert!(st.success());
        let (tx, rx) = std::sync::mpsc::channel();
        let f2 = fifo.clone();
        std::thread::spawn(move || {
            let _ = tx.send(read_limited(&f2, FileKind::AllowList).map(|_| ()));
        });
        let r = rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .expect("a FIFO must not block");
        assert!(r.unwrap_err().to_string().contains("it is a FIFO"));
        // Through the allow-list, the model and the configuration file.
        let a = AllowlistConfig {
            files: vec!["/dev/zero".into()],
            ..Default::default()
        };
        assert!(a
            .check_files()
            .unwrap_err()
            .to_string()
            .contains("not a regular file"));
        assert!(a
            .extra()
            .unwrap_err()
            .to_string()
            .contains("allow-list file /dev/zero: not a regular file"));
        let e = load_model(&ModelChoice::Path("/dev/zero".into()), None).unwrap_err();
        assert!(
            e.contains("model bundle /dev/zero: not a regular file"),
            "{e}"
        );
        let e = Config::load(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("configuration file /dev/zero: not a regular file"),
            "{e}"
        );
        let e = Config::load(&fifo).unwrap_err().to_string();
        assert!(e.contains("FIFO"), "{e}");
    }

    #[test]
    fn named_files_are_size_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.txt");
        let f = std::fs::File::create(&big).unwrap();
        f.set_len(MAX_ALLOWLIST_BYTES + 1).unwrap(); // sparse
        let a = AllowlistConfig {
            files: vec![big.clone()],
            ..Default::default()
        };
        for e in [a.check_files().unwrap_err(), a.extra().unwrap_err()] {
            let text = e.to_string();
            assert!(
                text.contains("big.txt")
                    && text.contains("67108865 bytes")
                    && text.contains("limit of 67108864 bytes"),
                "{text}"
            );
        }
        // At the limit it is read (a sparse file of NULs is not an allow-list,
        // but it is not refused for its size).
        let cfg = dir.path().join("c.toml");
        let f = std::fs::File::create(&cfg).unwrap();
        f.set_len(MAX_CONFIG_BYTES + 1).unwrap();
        let e = Config::load(&cfg).unwrap_err().to_string();
        assert!(e.contains("over the limit of 1048576 bytes"), "{e}");
        // What grows after the check is still cut at the limit: an endless
        // reader costs limit + 1 bytes, then an error.
        let e = read_capped(std::io::repeat(0), &big, "allow-list file", 0, 4096).unwrap_err();
        assert!(
            matches!(
                e,
                ConfigError::TooLarge {
                    size: 4097,
                    limit: 4096,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(read_capped(&b"abc"[..], &big, "x", 3, 3).unwrap(), b"abc");
    }
}
