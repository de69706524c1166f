//! Fuzz target `read_capture`: see `sentineldns::fuzzing::read_capture` for what it exercises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sentineldns::fuzzing::read_capture(data));
