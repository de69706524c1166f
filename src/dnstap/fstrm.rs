//! Frame Streams (fstrm), the framing dnstap is carried in.
//!
//! A stream is a sequence of frames, each prefixed by a 32-bit big-endian
//! length. A length of zero is the *escape*: a control frame follows, with
//! its own 32-bit length, a 32-bit control type and then fields (32-bit
//! field type, 32-bit length, bytes; field type 1 is a content type).
//!
//! * a file (unidirectional): `START [content type]`, data frames, `STOP`;
//! * a socket (bidirectional): the writer sends `READY [content types]`,
//!   the reader answers `ACCEPT [content type]`, then `START`, data frames,
//!   `STOP`, answered by `FINISH`.
//!
//! [`FrameReader`] reads frames from any [`Read`] with their byte offsets,
//! refusing lengths over a bound (a garbage length cannot be buffered), and
//! [`write_control`] / [`write_data`] write them.

use std::io::{self, Read, Write};

/// The content type dnstap streams carry.
pub const DNSTAP_CONTENT_TYPE: &[u8] = b"protobuf:dnstap.Dnstap";
/// Largest data frame accepted (fstrm's own default is 1 MiB; a DNS message
/// is at most 64 KiB, so any dnstap payload fits with room to spare).
pub const MAX_DATA_FRAME: usize = 1 << 20;
/// Largest control frame accepted (fstrm limits them to 512 bytes).
pub const MAX_CONTROL_FRAME: usize = 512;
/// Control field type: content type.
const FIELD_CONTENT_TYPE: u32 = 1;

/// The kind of a control frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlType {
    /// Reader → writer: the content type is accepted.
    Accept,
    /// Start of the data.
    Start,
    /// End of the data.
    Stop,
    /// Writer → reader: ready to send, offering content types.
    Ready,
    /// Reader → writer: STOP received, the stream is finished.
    Finish,
}

impl ControlType {
    fn from_u32(v: u32) -> Option<Self> {
        Some(match v {
            1 => ControlType::Accept,
            2 => ControlType::Start,
            3 => ControlType::Stop,
            4 => ControlType::Ready,
            5 => ControlType::Finish,
            _ => return None,
        })
    }

    fn as_u32(self) -> u32 {
        match self {
            ControlType::Accept => 1,
            ControlType::Start => 2,
            ControlType::Stop => 3,
            ControlType::Ready => 4,
            ControlType::Finish => 5,
        }
    }

    /// Upper-case name, as in the Frame Streams specification.
    pub fn as_str(self) -> &'static str {
        match self {
            ControlType::Accept => "ACCEPT",
            ControlType::Start => "START",
            ControlType::Stop => "STOP",
            ControlType::Ready => "READY",
            ControlType::Finish => "FINISH",
        }
    }
}

/// A decoded control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    /// Its type.
    pub kind: ControlType,
    /// The content-type fields it carries (any number, usually 0 or 1).
    pub content_types: Vec<Vec<u8>>,
}

impl Control {
    /// Whether it names no content type (any is meant) or names dnstap's.
    pub fn offers_dnstap(&self) -> bool {
        self.content_types.is_empty()
            || self
                .content_types
                .iter()
                .any(|c| c.as_slice() == DNSTAP_CONTENT_TYPE)
    }
}

/// One frame read by [`FrameReader::next_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A data frame; its payload is [`FrameReader::payload`].
    Data,
    /// A control frame.
    Control(Control),
}

/// A stream that cannot be read further.
#[derive(Debug, thiserror::Error)]
pub enum FstrmError {
    /// The underlying read failed.
    #[error("read failed at offset {offset}: {source}")]
    Io {
        /// Byte offset of the frame being read.
        offset: u64,
        /// Cause.
        #[source]
        source: io::Error,
    },
    /// The stream ended inside a frame.
    #[error("frame at offset {offset} is truncated: the stream ends inside it")]
    Truncated {
        /// Byte offset of the frame.
        offset: u64,
    },
    /// A length over the bound (garbage, or not a Frame Streams stream).
    #[error("frame at offset {offset}: {what} length {len} exceeds the {max}-byte limit (garbage or not Frame Streams)")]
    TooLong {
        /// Byte offset of the frame.
        offset: u64,
        /// `data frame` or `control frame`.
        what: &'static str,
        /// The length read.
        len: u64,
        /// The bound.
        max: usize,
    },
    /// A control frame that does not parse.
    #[error("control frame at offset {offset}: {detail}")]
    BadControl {
        /// Byte offset of the frame.
        offset: u64,
        /// What is wrong.
        detail: String,
    },
}

impl FstrmError {
    /// Byte offset of the frame the error is about.
    pub fn offset(&self) -> u64 {
        match self {
            FstrmError::Io { offset, .. }
            | FstrmError::Truncated { offset }
            | FstrmError::TooLong { offset, .. }
            | FstrmError::BadControl { offset, .. } => *offset,
        }
    }
}

/// Reads frames from a byte stream, keeping the last data payload in a
/// reusable buffer.
#[derive(Debug)]
pub struct FrameReader<R> {
    inner: R,
    offset: u64,
    frame_offset: u64,
    payload: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    /// Read from `inner`, whose first byte is at offset 0.
    pub fn new(inner: R) -> Self {
        FrameReader {
            inner,
            offset: 0,
            frame_offset: 0,
            payload: Vec::new(),
        }
    }

    /// Byte offset of the frame returned last.
    pub fn frame_offset(&self) -> u64 {
        self.frame_offset
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Payload of the last [`Frame::Data`].
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The underlying stream (to write replies on a socket).
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Fill `buf` completely. `Ok(false)` when the stream ended before its
    /// first byte and `eof_ok`; a partial read is [`FstrmError::Truncated`].
    fn fill(&mut self, buf: &mut [u8], eof_ok: bool) -> Result<bool, FstrmError> {
        let mut got = 0;
        while got < buf.len() {
            match self.inner.read(&mut buf[got..]) {
                Ok(0) if got == 0 && eof_ok => return Ok(false),
                Ok(0) => {
                    return Err(FstrmError::Truncated {
                        offset: self.frame_offset,
                    })
                }
                Ok(n) => {
                    got += n;
                    self.offset += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(FstrmError::Io {
                        offset: self.frame_offset,
                        source,
                    })
                }
            }
        }
        Ok(true)
    }

    fn read_u32(&mut self, eof_ok: bool) -> Result<Option<u32>, FstrmError> {
        let mut b = [0u8; 4];
        Ok(self.fill(&mut b, eof_ok)?.then(|| u32::from_be_bytes(b)))
    }

    /// The next frame; `Ok(None)` at a clean end of stream (between frames).
    pub fn next_frame(&mut self) -> Result<Option<Frame>, FstrmError> {
        self.frame_offset = self.offset;
        let Some(len) = self.read_u32(true)? else {
            return Ok(None);
        };
        if len != 0 {
            let len = len as usize;
            if len > MAX_DATA_FRAME {
                return Err(FstrmError::TooLong {
                    offset: self.frame_offset,
                    what: "data frame",
                    len: len as u64,
                    max: MAX_DATA_FRAME,
                });
            }
            let mut payload = std::mem::take(&mut self.payload);
            payload.resize(len, 0);
            let r = self.fill(&mut payload, false);
            self.payload = payload;
            r?;
            return Ok(Some(Frame::Data));
        }
        let clen = self.read_u32(false)?.unwrap_or(0) as usize;
        if clen > MAX_CONTROL_FRAME {
            return Err(FstrmError::TooLong {
                offset: self.frame_offset,
                what: "control frame",
                len: clen as u64,
                max: MAX_CONTROL_FRAME,
            });
        }
        let mut body = vec![0u8; clen];
        self.fill(&mut body, false)?;
        parse_control(&body)
            .map(|c| Some(Frame::Control(c)))
            .map_err(|detail| FstrmError::BadControl {
                offset: self.frame_offset,
                detail,
            })
    }
}

/// Parse a control frame body (after the escape and the length).
pub fn parse_control(body: &[u8]) -> Result<Control, String> {
    let u32_at = |i: usize| -> Option<u32> {
        body.get(i..i.checked_add(4)?)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let ty = u32_at(0).ok_or_else(|| format!("{} bytes, too short for a type", body.len()))?;
    let kind = ControlType::from_u32(ty).ok_or_else(|| format!("unknown control type {ty}"))?;
    let mut content_types = Vec::new();
    let mut i = 4;
    while i < body.len() {
        let (Some(fty), Some(flen)) = (u32_at(i), u32_at(i + 4)) else {
            return Err(format!("field header at byte {i} is cut short"));
        };
        let start = i + 8;
        let end = start
            .checked_add(flen as usize)
            .filter(|&e| e <= body.len())
            .ok_or_else(|| format!("field at byte {i} claims {flen} bytes past the frame"))?;
        if fty == FIELD_CONTENT_TYPE {
            content_types.push(body[start..end].to_vec());
        }
        i = end;
    }
    Ok(Control {
        kind,
        content_types,
    })
}

/// Write a control frame of `kind` with an optional content type.
pub fn write_control<W: Write>(
    w: &mut W,
    kind: ControlType,
    content_type: Option<&[u8]>,
) -> io::Result<()> {
    let field_len = content_type.map_or(0, |c| 8 + c.len());
    let mut out = Vec::with_capacity(12 + field_len);
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&((4 + field_len) as u32).to_be_bytes());
    out.extend_from_slice(&kind.as_u32().to_be_bytes());
    if let Some(c) = content_type {
        out.extend_from_slice(&FIELD_CONTENT_TYPE.to_be_bytes());
        out.extend_from_slice(&(c.len() as u32).to_be_bytes());
        out.extend_from_slice(c);
    }
    w.write_all(&out)
}

/// Write one data frame. An empty payload cannot be framed (its length
/// would read as the escape) and is refused.
pub fn write_data<W: Write>(w: &mut W, payload: &[u8]) -> io::Result<()> {
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&l| l > 0 && l as usize <= MAX_DATA_FRAME)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "a data frame holds 1 to {MAX_DATA_FRAME} bytes, not {}",
                    payload.len()
                ),
            )
        })?;
    w.write_all(&len.to_be_bytes())?;
    w.write_all(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(frames: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        write_control(&mut v, ControlType::Start, Some(DNSTAP_CONTENT_TYPE)).unwrap();
        for f in frames {
            write_data(&mut v, f).unwrap();
        }
        write_control(&mut v, ControlType::Stop, None).unwrap();
        v
    }

    #[test]
    fn round_trip_with_offsets() {
        let v = stream(&[b"abc", b"defgh"]);
        assert!(crate::source::is_dnstap_frame_stream(&v));
        let mut r = FrameReader::new(&v[..]);
        let Some(Frame::Control(c)) = r.next_frame().unwrap() else {
            panic!("START expected")
        };
        assert_eq!(c.kind, ControlType::Start);
        assert!(c.offers_dnstap());
        assert_eq!(r.frame_offset(), 0);
        assert_eq!(r.next_frame().unwrap(), Some(Frame::Data));
        assert_eq!(r.payload(), b"abc");
        assert_eq!(r.frame_offset(), 42);
        assert_eq!(r.next_frame().unwrap(), Some(Frame::Data));
        assert_eq!(r.payload(), b"defgh");
        assert_eq!(r.frame_offset(), 49);
        let Some(Frame::Control(c)) = r.next_frame().unwrap() else {
            panic!("STOP expected")
        };
        assert_eq!(c.kind, ControlType::Stop);
        assert!(c.content_types.is_empty());
        assert_eq!(r.next_frame().unwrap(), None);
    }

    #[test]
    fn truncation_and_garbage_name_the_offset() {
        let v = stream(&[b"abc", b"defgh"]);
        // cut inside the second data frame
        let mut r = FrameReader::new(&v[..52]);
        r.next_frame().unwrap();
        r.next_frame().unwrap();
        let e = r.next_frame().unwrap_err();
        assert!(matches!(e, FstrmError::Truncated { offset: 49 }), "{e}");
        assert!(e.to_string().contains("offset 49"), "{e}");
        // a huge length
        let mut g = v[..42].to_vec();
        g.extend_from_slice(&[0x7f, 0xff, 0xff, 0xff, 1, 2, 3]);
        let mut r = FrameReader::new(&g[..]);
        r.next_frame().unwrap();
        let e = r.next_frame().unwrap_err();
        assert!(matches!(e, FstrmError::TooLong { offset: 42, .. }), "{e}");
        // an unknown control type
        let bad = [0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 9];
        let e = FrameReader::new(&bad[..]).next_frame().unwrap_err();
        assert!(e.to_string().contains("unknown control type 9"), "{e}");
        // a field running past the frame
        let bad = [0, 0, 0, 0, 0, 0, 0, 12, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 99];
        let e = FrameReader::new(&bad[..]).next_frame().unwrap_err();
        assert!(e.to_string().contains("past the frame"), "{e}");
    }

    #[test]
    fn ready_offers_and_empty_payloads() {
        let mut v = Vec::new();
        write_control(&mut v, ControlType::Ready, Some(b"protobuf:other")).unwrap();
        let Some(Frame::Control(c)) = FrameReader::new(&v[..]).next_frame().unwrap() else {
            panic!()
        };
        assert_eq!(c.kind, ControlType::Ready);
        assert!(!c.offers_dnstap());
        assert!(write_data(&mut v, b"").is_err());
    }
}
