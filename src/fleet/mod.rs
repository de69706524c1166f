//! The fleet path (issue 14, feature `kafka`): sensors publish to Kafka
//! ([`crate::output::kafka`]), collectors write what they consume into
//! PostgreSQL ([`collect`], with feature `postgres`).
//!
//! * [`kafka`] — the client settings every producer and consumer shares,
//!   the sensor header and [`kafka::KafkaError`];
//! * [`collect`] — `sentineldns collect`: a consumer group writing window
//!   verdicts and incidents into [`crate::store::pg::PgStore`];
//! * [`score`] — `sentineldns score`: a consumer group that windows and
//!   scores the lookup records of capture-only sensors, per partition, with
//!   the same [`crate::sensor::Sensor`] as `replay`.

#[cfg(feature = "postgres")]
pub mod collect;
pub mod kafka;
pub mod score;
