//! Fuzz target `read_logs`: see `sentineldns::fuzzing::read_logs` for what it exercises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sentineldns::fuzzing::read_logs(data));
