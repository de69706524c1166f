//! Packet time and every timestamp formatter, shared with the flow detectors:
//! a re-export of [`sentineldns_model::time`] (the type [`TsMicros`], the one
//! parser and the formatters of NDJSON, simulated JSONL, command JSON,
//! evaluation reports and explanation / webhook text).

pub use sentineldns_model::time::*;
