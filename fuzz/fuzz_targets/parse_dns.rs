//! Fuzz target `parse_dns`: see `sentineldns::fuzzing::parse_dns` for what it exercises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sentineldns::fuzzing::parse_dns(data));
