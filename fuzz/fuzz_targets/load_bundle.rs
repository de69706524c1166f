//! Fuzz target `load_bundle`: see `sentineldns::fuzzing::load_bundle` for what it exercises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sentineldns::fuzzing::load_bundle(data));
