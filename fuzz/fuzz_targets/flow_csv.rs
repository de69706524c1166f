//! Fuzz target `flow_csv`: see `sentineldns_flows::fuzzing::flow_csv` for what it exercises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sentineldns_flows::fuzzing::flow_csv(data));
