//! Fuzz target `parse_config`: see `sentineldns::fuzzing::parse_config` for what it exercises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sentineldns::fuzzing::parse_config(data));
