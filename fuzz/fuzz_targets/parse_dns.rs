//! Fuzz `parse_dns` with arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentineldns::decode::parse_dns;

fuzz_target!(|data: &[u8]| {
    let mut scratch = String::new();
    if let Ok(p) = parse_dns(data, &mut scratch) {
        assert!(p.answers.ips().len() <= 4);
        assert!(p.qname.is_ascii());
    }
});
