//! Anomaly model: a seeded Extended Isolation Forest and the persisted bundle.
//!
//! * [`forest`] — the algorithm (Hariri, Carrasco Kind, Brunner, "Extended
//!   Isolation Forest", IEEE TKDE 2021), generic over the input dimension;
//! * [`transform`] — per-feature statistics and the raw → forest-input transform;
//! * [`calibration`] — raw score → calibrated [0, 1] score;
//! * [`bundle`] — training a complete model, scoring/labelling, thresholds and the
//!   on-disk format with its defensive loader;
//! * [`checksum`] — FNV-1a 64 for the file checksum and training fingerprint;
//! * [`error`] — the [`ModelError`] type.
//!
//! Nothing here touches the network or the pipeline; the CLI calls
//! [`Bundle::train`] / [`Bundle::save`] and replay calls [`Bundle::load`] /
//! [`Bundle::score`].

pub mod bundle;
pub mod calibration;
pub mod checksum;
pub mod container;
pub mod error;
pub mod forest;
pub mod transform;

pub use bundle::{Bundle, Label, Thresholds, FORMAT_VERSION, MAGIC};
pub use calibration::Calibration;
pub use error::ModelError;
pub use forest::{c_factor, CheckedParams, ExtendedIsolationForest, ForestParams};
pub use transform::{FeatureStats, FeatureTransform};
