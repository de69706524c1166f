//! Fuzz target `flow_csv`: see `sentineldns::fuzzing::flow_csv` for what it exercises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sentineldns::fuzzing::flow_csv(data));
