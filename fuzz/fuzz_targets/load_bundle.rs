//! Fuzz the model bundle loader with arbitrary bytes: it must reject, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sentineldns::detect::MODEL_FEATURES;
use sentineldns::model::Bundle;

fuzz_target!(|data: &[u8]| {
    let _ = Bundle::from_bytes(data, &MODEL_FEATURES);
});
