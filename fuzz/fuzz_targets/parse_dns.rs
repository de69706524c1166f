//! Fuzz target `parse_dns`: see `sentineldns::fuzzing::parse_dns` for what it
//! exercises. It also holds the hand-written parser (issue 18) to the
//! hickory-proto parser it replaced, kept in `src/decode/dns_reference.rs`:
//! Ok values (qname included) equal, or the same error, and the same scratch
//! contents afterwards.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// The hickory-proto reference parser, compiled here against the public types.
mod reference {
    #![allow(dead_code)]
    use sentineldns::decode::dns::{DnsError, DnsParsed, NameFault, HEADER_LEN};
    use sentineldns::event::Answers;
    include!("../../src/decode/dns_reference.rs");
}

fuzz_target!(|data: &[u8]| {
    sentineldns::fuzzing::parse_dns(data);
    let mut a = String::new();
    let mut b = String::new();
    let ra = sentineldns::decode::parse_dns(data, &mut a);
    let rb = reference::parse_dns_hickory(data, &mut b);
    assert_eq!(ra, rb, "parsers differ on {data:02x?}");
    assert_eq!(a, b, "scratch differs on {data:02x?}");
});
