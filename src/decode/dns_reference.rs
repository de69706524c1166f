// The hickory-proto based `parse_dns` that the hand-written parser in
// `dns.rs` replaced (issue 18), kept verbatim as the ORACLE of the
// differential tests: `src/decode/tests.rs` (real captures and mutations of
// them) and the fuzz target `fuzz/fuzz_targets/parse_dns.rs`.
//
// Included with `include!` by both, so it names no `crate::` or `sentineldns::`
// path: the including module imports `HEADER_LEN`, `DnsError`, `DnsParsed`,
// `NameFault` and `Answers`. Everything else is spelled out in full.

/// Parse one DNS message the way `parse_dns` did with hickory-proto 0.25
/// (`Header::read`, `Name::read`), with its own name renderer.
pub fn parse_dns_hickory<'b>(
    buf: &[u8],
    name_scratch: &'b mut String,
) -> Result<DnsParsed<'b>, DnsError> {
    use hickory_proto::op::Header;
    use hickory_proto::rr::Name;
    use hickory_proto::serialize::binary::{BinDecodable, BinDecoder};

    name_scratch.clear();
    let have = buf.len();
    if have < HEADER_LEN {
        return Err(ref_trunc(HEADER_LEN, have));
    }
    let mut dec = BinDecoder::new(buf);
    let header = Header::read(&mut dec).map_err(|_| ref_trunc(HEADER_LEN, have))?;
    let qdcount = header.query_count();
    let ancount = header.answer_count();

    let (qtype, qclass) = if qdcount > 0 {
        let start = dec.index();
        let name = Name::read(&mut dec).map_err(|e| ref_name_error(&e, start, have))?;
        ref_render_name(&name, name_scratch);
        let qtype = ref_read_u16(&mut dec, have)?;
        let qclass = ref_read_u16(&mut dec, have)?;
        (qtype, qclass)
    } else {
        (0, 0)
    };

    let mut answers = Answers::default();
    let mut min_ttl = None;
    let answers_error =
        ref_walk_rest(&mut dec, buf, qdcount, ancount, &mut answers, &mut min_ttl).err();

    Ok(DnsParsed {
        id: header.id(),
        response: header.message_type() == hickory_proto::op::MessageType::Response,
        opcode: u8::from(header.op_code()),
        rcode: u16::from(header.response_code()),
        truncated: header.truncated(),
        qname: name_scratch.as_str(),
        qtype,
        qclass,
        qdcount,
        answers,
        min_ttl,
        answers_error,
    })
}

fn ref_trunc(need: usize, have: usize) -> DnsError {
    DnsError::Truncated { need, have }
}

fn ref_walk_rest(
    dec: &mut hickory_proto::serialize::binary::BinDecoder<'_>,
    buf: &[u8],
    qdcount: u16,
    ancount: u16,
    answers: &mut Answers,
    min_ttl: &mut Option<u32>,
) -> Result<(), DnsError> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let have = buf.len();
    for _ in 1..qdcount {
        ref_skip_name(dec, buf)?;
        ref_skip(dec, 4, have)?;
    }
    for _ in 0..ancount {
        ref_skip_name(dec, buf)?;
        let rtype = ref_read_u16(dec, have)?;
        let _class = ref_read_u16(dec, have)?;
        let ttl = ref_read_u32(dec, have)?;
        let rdlen = ref_read_u16(dec, have)? as usize;
        let at = dec.index();
        let rdata = dec
            .read_slice(rdlen)
            .map_err(|_| ref_trunc(at + rdlen, have))?
            .unverified();
        match (rtype, rdata.len()) {
            (1, 4) => {
                let mut o = [0u8; 4];
                o.copy_from_slice(rdata);
                answers.push(IpAddr::V4(Ipv4Addr::from(o)));
            }
            (28, 16) => {
                let mut o = [0u8; 16];
                o.copy_from_slice(rdata);
                answers.push(IpAddr::V6(Ipv6Addr::from(o)));
            }
            (1, n) | (28, n) => {
                return Err(DnsError::Malformed {
                    offset: at,
                    what: "address rdlength",
                    value: n,
                })
            }
            _ => {}
        }
        answers.total = answers.total.saturating_add(1);
        *min_ttl = Some(min_ttl.map_or(ttl, |m: u32| m.min(ttl)));
    }
    Ok(())
}

fn ref_read_u16(
    dec: &mut hickory_proto::serialize::binary::BinDecoder<'_>,
    have: usize,
) -> Result<u16, DnsError> {
    let at = dec.index();
    dec.read_u16()
        .map(|v| v.unverified())
        .map_err(|_| ref_trunc(at + 2, have))
}

fn ref_read_u32(
    dec: &mut hickory_proto::serialize::binary::BinDecoder<'_>,
    have: usize,
) -> Result<u32, DnsError> {
    let at = dec.index();
    dec.read_u32()
        .map(|v| v.unverified())
        .map_err(|_| ref_trunc(at + 4, have))
}

fn ref_skip(
    dec: &mut hickory_proto::serialize::binary::BinDecoder<'_>,
    n: usize,
    have: usize,
) -> Result<(), DnsError> {
    let at = dec.index();
    dec.read_slice(n)
        .map(|_| ())
        .map_err(|_| ref_trunc(at + n, have))
}

fn ref_skip_name(
    dec: &mut hickory_proto::serialize::binary::BinDecoder<'_>,
    buf: &[u8],
) -> Result<(), DnsError> {
    let have = buf.len();
    let start = dec.index();
    let mut wire = 0usize;
    loop {
        let at = dec.index();
        let b = dec.pop().map_err(|_| ref_trunc(at + 1, have))?.unverified();
        match b & 0xC0 {
            0x00 => {
                if b == 0 {
                    return Ok(());
                }
                let len = usize::from(b);
                wire += len + 1;
                if wire > 255 {
                    return Err(DnsError::BadName {
                        offset: start,
                        fault: NameFault::NameTooLong(wire),
                    });
                }
                ref_skip(dec, len, have)?;
            }
            0xC0 => {
                let lo = dec.pop().map_err(|_| ref_trunc(at + 2, have))?.unverified();
                let ptr = (u16::from(b & 0x3F) << 8) | u16::from(lo);
                if usize::from(ptr) >= at {
                    return Err(DnsError::BadName {
                        offset: at,
                        fault: NameFault::PointerNotPrior(ptr),
                    });
                }
                return Ok(());
            }
            _ => {
                return Err(DnsError::BadName {
                    offset: at,
                    fault: NameFault::LabelCode(b),
                })
            }
        }
    }
}

fn ref_name_error(e: &hickory_proto::ProtoError, start: usize, have: usize) -> DnsError {
    use hickory_proto::ProtoErrorKind;
    let fault = match e.kind() {
        ProtoErrorKind::LabelBytesTooLong(n) => NameFault::LabelTooLong(*n),
        ProtoErrorKind::UnrecognizedLabelCode(c) => NameFault::LabelCode(*c),
        ProtoErrorKind::DomainNameTooLong(n) => NameFault::NameTooLong(*n),
        ProtoErrorKind::PointerNotPriorToLabel { ptr, .. } => NameFault::PointerNotPrior(*ptr),
        ProtoErrorKind::LabelOverlapsWithOther { other, .. } => NameFault::Overlap(*other),
        _ => return ref_trunc(have + 1, have),
    };
    DnsError::BadName {
        offset: start,
        fault,
    }
}

fn ref_render_name(name: &hickory_proto::rr::Name, out: &mut String) {
    use std::fmt::Write as _;
    for (i, label) in name.iter().enumerate() {
        if i > 0 {
            out.push('.');
        }
        for &b in label {
            if (0x21..=0x7e).contains(&b) && b != b'.' {
                out.push(char::from(b.to_ascii_lowercase()));
            } else {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
}
