//! Shared CSV input for the flow detectors.
//!
//! Flow datasets come from many tools and releases: the same column is spelled
//! `" Source IP"`, `"Src IP"` or `"src_ip"`, files start with a UTF-8 BOM, end
//! lines with CRLF, quote fields, and now and then a binary file is passed by
//! mistake. [`CsvInput::open`] handles all of that once:
//!
//! * the first 8 KiB are checked for NUL bytes: a binary file is refused with a
//!   clear error instead of being parsed into garbage;
//! * a leading UTF-8 BOM is stripped; CRLF and quoted fields are the `csv`
//!   crate's job;
//! * headers are matched through [`normalize`] (trimmed, lower-case, with
//!   spaces, `_`, `-` and `.` removed), so `" Flow Bytes/s"` and `flow_bytes/s`
//!   are the same column;
//! * [`CsvInput::require`] resolves a list of [`Column`]s (canonical name plus
//!   aliases) to indices and reports *all* missing ones at once, naming the file.
//!
//! * a gzip-compressed file (`.csv.gz`, recognised by its magic bytes, not its
//!   name) is decompressed on the fly;
//! * the raw UNSW-NB15_1..4.csv files, which have no header row, are
//!   recognised by their shape (49 fields, an IP address first) and given the
//!   published column names ([`UNSW_RAW_HEADER`]).
//!
//! Rows are read with [`CsvInput::next_record`]; a row the CSV layer cannot read
//! (wrong field count, invalid UTF-8) is an error carrying file and line so the
//! caller can count it as a skip. Line numbers are counted here, one per
//! record with the header as line 1 (the `csv` crate's own positions run one
//! short after CRLF line ends, the usual ending of CICFlowMeter exports), so
//! every detector reports the same numbers.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

/// A column a detector needs: its canonical name and the spellings accepted.
#[derive(Debug, Clone, Copy)]
pub struct Column {
    /// Name used in messages and output.
    pub name: &'static str,
    /// Accepted header spellings (compared after [`normalize`]); the canonical
    /// name is always accepted too.
    pub aliases: &'static [&'static str],
}

impl Column {
    /// A column known under `name` and `aliases`.
    pub const fn new(name: &'static str, aliases: &'static [&'static str]) -> Self {
        Self { name, aliases }
    }

    fn matches(&self, normalized_header: &str) -> bool {
        normalize(self.name) == normalized_header
            || self
                .aliases
                .iter()
                .any(|a| normalize(a) == normalized_header)
    }
}

/// Errors opening or reading a CSV input.
#[derive(Debug, thiserror::Error)]
pub enum CsvError {
    /// The file could not be opened or read.
    #[error("{path}: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file holds NUL bytes: not a CSV text file.
    #[error("{path}: not a CSV text file (binary content in the first 8 KiB)")]
    Binary {
        /// File.
        path: PathBuf,
    },
    /// The file is empty or has no header row.
    #[error("{path}: empty file, no header row")]
    Empty {
        /// File.
        path: PathBuf,
    },
    /// Required columns are absent from the header.
    #[error("{path}: missing required column(s): {}", missing.join(", "))]
    MissingColumns {
        /// File.
        path: PathBuf,
        /// Canonical names of the missing columns.
        missing: Vec<String>,
    },
    /// A row the CSV layer could not read.
    #[error("{path}:{line}: {message}")]
    Row {
        /// File.
        path: PathBuf,
        /// 1-based line number.
        line: u64,
        /// What was wrong.
        message: String,
    },
}

/// Column names of the raw UNSW-NB15_1..4.csv files, which carry no header
/// row: the 49 features of `NUSW-NB15_features.csv` (UNSW Canberra), in file
/// order, spelled as the published training and testing sets spell them.
pub const UNSW_RAW_HEADER: [&str; 49] = [
    "srcip",
    "sport",
    "dstip",
    "dsport",
    "proto",
    "state",
    "dur",
    "sbytes",
    "dbytes",
    "sttl",
    "dttl",
    "sloss",
    "dloss",
    "service",
    "sload",
    "dload",
    "spkts",
    "dpkts",
    "swin",
    "dwin",
    "stcpb",
    "dtcpb",
    "smeansz",
    "dmeansz",
    "trans_depth",
    "res_bdy_len",
    "sjit",
    "djit",
    "stime",
    "ltime",
    "sintpkt",
    "dintpkt",
    "tcprtt",
    "synack",
    "ackdat",
    "is_sm_ips_ports",
    "ct_state_ttl",
    "ct_flw_http_mthd",
    "is_ftp_login",
    "ct_ftp_cmd",
    "ct_srv_src",
    "ct_srv_dst",
    "ct_dst_ltm",
    "ct_src_ltm",
    "ct_src_dport_ltm",
    "ct_dst_sport_ltm",
    "ct_dst_src_ltm",
    "attack_cat",
    "label",
];

/// Whether `first_line` is a data row of a headerless raw UNSW-NB15 file:
/// 49 comma-separated fields, the first and third IP addresses.
fn is_unsw_raw_row(first_line: &[u8]) -> bool {
    let Ok(line) = std::str::from_utf8(first_line) else {
        return false;
    };
    let fields: Vec<&str> = line.trim_end_matches(['\r', '\n']).split(',').collect();
    fields.len() == UNSW_RAW_HEADER.len()
        && fields[0].trim().parse::<std::net::IpAddr>().is_ok()
        && fields[2].trim().parse::<std::net::IpAddr>().is_ok()
}

/// Canonical form of a header name: trimmed, ASCII lower-case, without spaces,
/// `_`, `-` or `.`.
pub fn normalize(h: &str) -> String {
    h.trim()
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-' | '.'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// An open CSV file with normalized headers.
pub struct CsvInput {
    path: PathBuf,
    reader: csv::Reader<Box<dyn Read + Send>>,
    headers: Vec<String>,
    normalized: Vec<String>,
    /// Line of the last record read (header = 1).
    line: u64,
    /// No header row in the file: the column names were supplied.
    headerless: bool,
}

impl std::fmt::Debug for CsvInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvInput")
            .field("path", &self.path)
            .field("headers", &self.headers)
            .finish()
    }
}

impl CsvInput {
    /// Open `path` (gzip-compressed or not), refuse binary content, strip a
    /// BOM, read the header row (or name the columns of a headerless raw
    /// UNSW-NB15 file).
    pub fn open(path: &Path) -> Result<Self, CsvError> {
        let io = |source| CsvError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut raw = BufReader::with_capacity(1 << 16, File::open(path).map_err(io)?);
        let gzip = {
            use std::io::BufRead;
            raw.fill_buf().map_err(io)?.starts_with(&[0x1f, 0x8b])
        };
        let mut file: Box<dyn Read + Send> = if gzip {
            Box::new(BufReader::with_capacity(
                1 << 16,
                flate2::read::MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        let mut head = Vec::with_capacity(8192);
        (&mut file).take(8192).read_to_end(&mut head).map_err(io)?;
        if head.contains(&0) {
            return Err(CsvError::Binary {
                path: path.to_path_buf(),
            });
        }
        let skip = if head.starts_with(b"\xEF\xBB\xBF") {
            3
        } else {
            0
        };
        let first_line = head[skip..]
            .split(|b| *b == b'\n')
            .next()
            .unwrap_or_default();
        let unsw_raw = is_unsw_raw_row(first_line);
        let rest: Box<dyn Read + Send> = Box::new(std::io::Cursor::new(head).chain(file));
        let mut rest = rest;
        if skip > 0 {
            let mut bom = [0u8; 3];
            rest.read_exact(&mut bom).map_err(io)?;
        }
        if unsw_raw {
            Ok(Self::headerless(path, rest, &UNSW_RAW_HEADER))
        } else {
            Self::from_reader(path, rest)
        }
    }

    /// A file without a header row whose columns are `names`; line 1 is the
    /// first data row.
    fn headerless(path: &Path, reader: Box<dyn Read + Send>, names: &[&str]) -> Self {
        let reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(false)
            .trim(csv::Trim::None)
            .from_reader(reader);
        let headers: Vec<String> = names.iter().map(|h| (*h).to_owned()).collect();
        let normalized = headers.iter().map(|h| normalize(h)).collect();
        Self {
            path: path.to_path_buf(),
            reader,
            headers,
            normalized,
            line: 0,
            headerless: true,
        }
    }

    /// Whether the file had no header row (a raw UNSW-NB15 file, whose
    /// column names come from [`UNSW_RAW_HEADER`]).
    pub fn is_headerless(&self) -> bool {
        self.headerless
    }

    /// Read CSV from any reader (tests, stdin); `path` names it in errors.
    pub fn from_reader(path: &Path, reader: Box<dyn Read + Send>) -> Result<Self, CsvError> {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(false)
            .trim(csv::Trim::None)
            .from_reader(reader);
        let headers: Vec<String> = match reader.headers() {
            Ok(h) => h.iter().map(str::to_owned).collect(),
            Err(e) => {
                return Err(CsvError::Row {
                    path: path.to_path_buf(),
                    line: 1,
                    message: e.to_string(),
                })
            }
        };
        if headers.is_empty() || headers.iter().all(|h| h.trim().is_empty()) {
            return Err(CsvError::Empty {
                path: path.to_path_buf(),
            });
        }
        let normalized = headers.iter().map(|h| normalize(h)).collect();
        Ok(Self {
            path: path.to_path_buf(),
            reader,
            headers,
            normalized,
            line: 1,
            headerless: false,
        })
    }

    /// The file this reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Header names as written in the file.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Index of `col` in the header, if present.
    pub fn find(&self, col: &Column) -> Option<usize> {
        self.normalized.iter().position(|h| col.matches(h))
    }

    /// Indices of all `cols`, or one error listing every missing column.
    pub fn require(&self, cols: &[Column]) -> Result<Vec<usize>, CsvError> {
        let mut idx = Vec::with_capacity(cols.len());
        let mut missing = Vec::new();
        for c in cols {
            match self.find(c) {
                Some(i) => idx.push(i),
                None => missing.push(c.name.to_owned()),
            }
        }
        if missing.is_empty() {
            Ok(idx)
        } else {
            Err(CsvError::MissingColumns {
                path: self.path.clone(),
                missing,
            })
        }
    }

    /// Read the next row into `rec`; `Ok(false)` at end of file. A row the CSV
    /// layer rejects is an error naming file and line; reading can go on after it.
    pub fn next_record(&mut self, rec: &mut csv::StringRecord) -> Result<bool, CsvError> {
        match self.reader.read_record(rec) {
            Ok(false) => Ok(false),
            Ok(true) => {
                self.line += 1;
                Ok(true)
            }
            Err(e) => {
                self.line += 1;
                Err(CsvError::Row {
                    path: self.path.clone(),
                    line: self.line,
                    message: e.to_string(),
                })
            }
        }
    }

    /// The next row the CSV layer can read: `Some(line)` with the row in
    /// `rec`, `None` at end of file. Rows it rejects (wrong field count,
    /// invalid UTF-8) go to `skip(line, message)` and reading goes on.
    pub fn next_row(
        &mut self,
        rec: &mut csv::StringRecord,
        mut skip: impl FnMut(u64, String),
    ) -> Option<u64> {
        loop {
            match self.next_record(rec) {
                Ok(true) => return Some(self.line),
                Ok(false) => return None,
                Err(e) => skip(self.line, row_message(e)),
            }
        }
    }

    /// Line of the last record read or rejected (header = 1).
    pub fn line(&self) -> u64 {
        self.line
    }
}

/// The message of a rejected row ([`CsvInput::next_record`] only reports rows).
fn row_message(e: CsvError) -> String {
    match e {
        CsvError::Row { message, .. } => message,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const SRC: Column = Column::new("source_ip", &["Source IP", "Src IP"]);
    const BPS: Column = Column::new("flow_bytes_per_s", &["Flow Bytes/s"]);
    const LABEL: Column = Column::new("label", &[]);

    fn write(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn normalizes_header_spellings() {
        assert_eq!(normalize(" Source IP"), "sourceip");
        assert_eq!(normalize("Src_IP"), "srcip");
        assert_eq!(normalize("\u{feff}Flow Bytes/s "), "flowbytes/s");
    }

    #[test]
    fn bom_crlf_quotes_and_aliases() {
        let f =
            write(b"\xEF\xBB\xBF Source IP,\" Flow Bytes/s\",Label\r\n10.0.0.1,\"1,5\",BENIGN\r\n");
        let mut c = CsvInput::open(f.path()).unwrap();
        assert_eq!(c.require(&[SRC, BPS, LABEL]).unwrap(), vec![0, 1, 2]);
        let mut rec = csv::StringRecord::new();
        assert!(c.next_record(&mut rec).unwrap());
        assert_eq!(&rec[0], "10.0.0.1");
        assert_eq!(&rec[1], "1,5");
        assert!(!c.next_record(&mut rec).unwrap());
    }

    #[test]
    fn reports_all_missing_columns_with_path() {
        let f = write(b"Src IP,Other\n1,2\n");
        let c = CsvInput::open(f.path()).unwrap();
        let e = c.require(&[SRC, BPS, LABEL]).unwrap_err().to_string();
        assert!(e.contains("flow_bytes_per_s, label"), "{e}");
        assert!(e.contains(&f.path().display().to_string()), "{e}");
    }

    #[test]
    fn refuses_binary_and_empty() {
        let f = write(b"\x7fELF\x02\x01\x01\x00\x00\x00");
        assert!(matches!(
            CsvInput::open(f.path()),
            Err(CsvError::Binary { .. })
        ));
        let f = write(b"");
        assert!(matches!(
            CsvInput::open(f.path()),
            Err(CsvError::Empty { .. })
        ));
    }

    #[test]
    fn lines_are_right_after_crlf_too() {
        for text in [&b"a,b\n1,2\n3\n4,5\n"[..], b"a,b\r\n1,2\r\n3\r\n4,5\r\n"] {
            let f = write(text);
            let mut c = CsvInput::open(f.path()).unwrap();
            let mut rec = csv::StringRecord::new();
            assert!(c.next_record(&mut rec).unwrap());
            assert_eq!(c.line(), 2);
            assert!(matches!(
                c.next_record(&mut rec),
                Err(CsvError::Row { line: 3, .. })
            ));
            assert!(c.next_record(&mut rec).unwrap());
            assert_eq!(c.line(), 4);
        }
    }

    #[test]
    fn next_row_hands_rejected_rows_to_skip_and_goes_on() {
        let f = write(b"a,b\r\n1,2\r\n3\r\n4,5\r\n");
        let mut c = CsvInput::open(f.path()).unwrap();
        let mut rec = csv::StringRecord::new();
        let mut skipped = Vec::new();
        let mut good = Vec::new();
        while let Some(line) = c.next_row(&mut rec, |l, m| skipped.push((l, m))) {
            good.push((line, rec[0].to_string()));
        }
        assert_eq!(good, vec![(2, "1".into()), (4, "4".into())]);
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].0, 3);
    }

    #[test]
    fn bad_row_names_its_line_and_reading_goes_on() {
        let f = write(b"a,b\n1,2\n3\n4,5\n");
        let mut c = CsvInput::open(f.path()).unwrap();
        let mut rec = csv::StringRecord::new();
        assert!(c.next_record(&mut rec).unwrap());
        let e = c.next_record(&mut rec).unwrap_err();
        assert!(matches!(e, CsvError::Row { line: 3, .. }), "{e}");
        assert!(c.next_record(&mut rec).unwrap());
        assert_eq!(&rec[0], "4");
    }
}
