//! Fuzz target `decode_packet`: see `sentineldns::fuzzing::decode_packet` for what it exercises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sentineldns::fuzzing::decode_packet(data));
