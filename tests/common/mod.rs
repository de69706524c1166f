//! Shared test helpers.
pub mod datasets;
