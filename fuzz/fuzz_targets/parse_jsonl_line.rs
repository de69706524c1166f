//! Fuzz target `parse_jsonl_line`: see `sentineldns::fuzzing::parse_jsonl_line` for what it exercises.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| sentineldns::fuzzing::parse_jsonl_line(data));
