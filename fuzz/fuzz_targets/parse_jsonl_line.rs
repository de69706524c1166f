//! Fuzz the JSONL event parser with arbitrary lines.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentineldns::source::jsonl::{parse_line, JsonEvent};

fuzz_target!(|data: &[u8]| {
    if let Ok(line) = std::str::from_utf8(data) {
        let mut ev = JsonEvent::default();
        if parse_line(line, &mut ev).is_ok() {
            assert!(!ev.domain.is_empty());
        }
    }
});
