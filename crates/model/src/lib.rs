//! The model code of sentineldns, shared by the DNS sensor (crate
//! `sentineldns`) and the flow detectors (crate `sentineldns-flows`): a seeded
//! Extended Isolation Forest, the persisted bundle, the one container format
//! every model file uses, classification metrics and packet time.
//!
//! * [`forest`] — the algorithm (Hariri, Carrasco Kind, Brunner, "Extended
//!   Isolation Forest", IEEE TKDE 2021), generic over the input dimension;
//! * [`transform`] — per-feature statistics and the raw → forest-input transform;
//! * [`calibration`] — raw score → calibrated [0, 1] score;
//! * [`bundle`] — training a complete model, scoring/labelling, thresholds and the
//!   on-disk format with its defensive loader;
//! * [`checksum`] — FNV-1a 64 for the file checksum and training fingerprint;
//! * [`container`] — the framed, checksummed file format of every model file
//!   (the DNS bundle, the flow classifier, the CIC-IDS2017 baseline);
//! * [`error`] — the [`ModelError`] type;
//! * [`metrics`] — confusion matrix, PR-AUC and ROC-AUC, shared by both
//!   detectors' evaluations;
//! * [`time`] — packet time ([`time::TsMicros`]) and the one timestamp parser.
//!
//! Nothing here touches the network or the pipeline; the CLI calls
//! [`Bundle::train`] / [`Bundle::save`] and replay calls [`Bundle::load`] /
//! [`Bundle::score`].

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bundle;
pub mod calibration;
pub mod checksum;
pub mod container;
pub mod error;
pub mod forest;
pub mod metrics;
pub mod time;
pub mod transform;

pub use bundle::{Bundle, Label, Thresholds, FORMAT_VERSION, MAGIC};
pub use calibration::Calibration;
pub use error::ModelError;
pub use forest::{c_factor, CheckedParams, ExtendedIsolationForest, ForestParams};
pub use transform::{FeatureStats, FeatureTransform};
