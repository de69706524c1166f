//! The sections of the configuration file, one file each. `[outputs]` is
//! [`crate::output::OutputsConfig`], next to the outputs it configures.

mod allowlist;
mod capture;
mod incidents;
mod intel;
mod learning;
mod limits;
mod log;
mod sensor;
mod serve;
mod store;

pub use allowlist::AllowlistConfig;
pub use capture::{CaptureConfig, Ids, WritePcapConfig};
pub use incidents::IncidentsConfig;
pub use intel::IntelConfig;
pub use learning::LearningConfig;
pub use limits::{LimitsConfig, DEFAULT_FIRST_SEEN_ROWS, DEFAULT_JSONL_LINE_BYTES};
pub use log::{LogConfig, LogFormat};
pub use sensor::{default_model_paths, ModelChoice, SensorConfig};
pub use serve::{ServeConfig, DEFAULT_MAX_BODY, DEFAULT_SERVE_LISTEN, MAX_PAGE};
pub use store::StoreConfig;
