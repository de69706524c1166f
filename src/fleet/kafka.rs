//! What every Kafka client of the fleet shares: the librdkafka settings of a
//! producer and of a consumer-group member, the header that names the
//! sensor of a record, and the typed [`KafkaError`].
//!
//! No TLS or SASL: sensors, brokers, scorers and collectors talk on a
//! trusted network or loopback (the bundled librdkafka is built without
//! OpenSSL and Cyrus SASL, see Cargo.toml).
//!
//! Records are keyed by the client host's IP text, and the producer
//! partitions with `murmur2_random`, the Java client's partitioner, so a host
//! lands in the same partition whichever client library produced it.

use crate::output::kafka::{Acks, KafkaConfig};
use rdkafka::config::ClientConfig;
use rdkafka::message::{Headers, Message};

/// The Kafka header naming the sensor that produced a record (its value is
/// `[outputs.kafka] sensor`, default the host name). The record's value is
/// the NDJSON line unchanged; the header tells the collector which sensor's
/// rows it is writing.
pub const SENSOR_HEADER: &str = "sentineldns.sensor";

/// Environment variable naming librdkafka debug contexts to log.
pub const DEBUG_ENV: &str = "SENTINELDNS_KAFKA_DEBUG";

/// Kafka client failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KafkaError {
    /// Invalid settings (an empty broker list, a bad value).
    #[error("kafka: {0}")]
    Config(String),
    /// librdkafka refused to create the client.
    #[error("kafka client for {brokers}: {source}")]
    Client {
        /// The bootstrap brokers.
        brokers: String,
        /// Cause.
        #[source]
        source: rdkafka::error::KafkaError,
    },
    /// Subscribing, polling or committing failed.
    #[error("kafka {what}: {source}")]
    Op {
        /// The step, e.g. "committing offsets".
        what: &'static str,
        /// Cause.
        #[source]
        source: rdkafka::error::KafkaError,
    },
}

/// The settings every client shares: the bootstrap brokers and a client id.
pub fn base_config(brokers: &str, client_id: &str) -> Result<ClientConfig, KafkaError> {
    let brokers = brokers.trim();
    if brokers.is_empty() || brokers.split(',').any(|b| b.trim().is_empty()) {
        return Err(KafkaError::Config(format!(
            "broker list {brokers:?} must be HOST:PORT[,HOST:PORT...]"
        )));
    }
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", brokers)
        .set("client.id", client_id)
        // librdkafka logs through its own callback into `log`; keep it to
        // warnings so a broker outage is one line per broker, not a flood.
        .set("log_level", "4");
    // librdkafka's own debug contexts (`cgrp,topic,msg`, `all`) for
    // diagnosing a broker: `SENTINELDNS_KAFKA_DEBUG=cgrp`.
    if let Some(d) = std::env::var(DEBUG_ENV)
        .ok()
        .filter(|d| !d.trim().is_empty())
    {
        c.set("debug", d.trim()).set("log_level", "7");
    }
    Ok(c)
}

/// The producer settings of `cfg`: idempotence (with `acks = all`), the
/// bounded queue, compression, the delivery timeout and the partitioner.
pub fn producer_config(cfg: &KafkaConfig) -> Result<ClientConfig, KafkaError> {
    let mut c = base_config(&cfg.brokers, "sentineldns-sensor")?;
    let acks = match cfg.acks {
        Acks::All => "all",
        Acks::One => "1",
        Acks::Zero => "0",
    };
    // Idempotence needs acks=all: librdkafka refuses the other
    // combinations, so weaker acks also turn it off (documented).
    let idempotent = cfg.acks == Acks::All;
    c.set("acks", acks)
        .set(
            "enable.idempotence",
            if idempotent { "true" } else { "false" },
        )
        .set("compression.type", cfg.compression.as_str())
        .set("queue.buffering.max.messages", cfg.queue.to_string())
        // The message count is the bound; bytes only as a backstop (1 GiB).
        .set("queue.buffering.max.kbytes", "1048576")
        .set("linger.ms", cfg.linger_ms.to_string())
        .set("message.timeout.ms", cfg.message_timeout_ms.to_string())
        .set("partitioner", "murmur2_random");
    Ok(c)
}

/// The settings of a consumer-group member that commits its offsets itself
/// (after its writes are durable) and starts a new group at the beginning of
/// each partition.
pub fn consumer_config(brokers: &str, group: &str) -> Result<ClientConfig, KafkaError> {
    if group.trim().is_empty() {
        return Err(KafkaError::Config(
            "consumer group must not be empty".into(),
        ));
    }
    let mut c = base_config(brokers, "sentineldns-consumer")?;
    c.set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("enable.partition.eof", "false")
        // A member that died is noticed after 10 s (librdkafka's default is
        // 45 s), and a broker that waits for the members of a rebalance
        // (tansu waits about half the session timeout) settles sooner.
        .set("session.timeout.ms", "10000")
        .set("heartbeat.interval.ms", "1000");
    Ok(c)
}

/// The sensor named by a record's [`SENSOR_HEADER`], if it has one that is
/// UTF-8 and not empty.
pub fn sensor_of<M: Message>(m: &M) -> Option<String> {
    let h = m.headers()?;
    h.iter()
        .filter(|h| h.key == SENSOR_HEADER)
        .filter_map(|h| std::str::from_utf8(h.value?).ok())
        .map(str::trim)
        .find(|s| !s.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_lists_are_checked() {
        assert!(base_config("", "x").is_err());
        assert!(base_config("a:1,,b:2", "x").is_err());
        let c = base_config(" 127.0.0.1:9092,127.0.0.2:9092 ", "x").unwrap();
        assert_eq!(
            c.get("bootstrap.servers"),
            Some("127.0.0.1:9092,127.0.0.2:9092")
        );
        assert!(consumer_config("a:1", " ").is_err());
        let c = consumer_config("a:1", "g").unwrap();
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
    }

    #[test]
    fn weaker_acks_turn_idempotence_off() {
        let mut k = KafkaConfig {
            brokers: "a:1".into(),
            ..Default::default()
        };
        let c = producer_config(&k).unwrap();
        assert_eq!(c.get("enable.idempotence"), Some("true"));
        assert_eq!(c.get("acks"), Some("all"));
        k.acks = Acks::One;
        let c = producer_config(&k).unwrap();
        assert_eq!(c.get("enable.idempotence"), Some("false"));
        assert_eq!(c.get("queue.buffering.max.messages"), Some("100000"));
    }
}
