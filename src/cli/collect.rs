//! Arguments of `collect` (Kafka → PostgreSQL, issue 14).

use super::parse_duration;
use clap::Args;
use sentineldns::event::TsMicros;

/// `sentineldns collect`.
#[derive(Debug, Clone, Args)]
pub struct CollectArgs {
    /// Kafka bootstrap brokers, HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "BROKERS")]
    pub kafka: String,
    /// PostgreSQL URL of the fleet database, e.g.
    /// postgres://sentineldns@127.0.0.1:5432/fleet (no TLS; migrated on start).
    #[arg(long, value_name = "URL", env = "SENTINELDNS_POSTGRES")]
    pub postgres: String,
    /// Consumer group: collectors of one group split the partitions.
    #[arg(long, value_name = "G", default_value = "sentineldns-collect")]
    pub group: String,
    /// Window-verdict topic.
    #[arg(long, value_name = "TOPIC", default_value = "sentineldns.windows")]
    pub windows_topic: String,
    /// Incident topic.
    #[arg(long, value_name = "TOPIC", default_value = "sentineldns.incidents")]
    pub incidents_topic: String,
    /// Also store every lookup (not built yet: the fleet schema has no
    /// lookup table; the flag fails with that message).
    #[arg(long)]
    pub lookups: bool,
    /// Records per batch, written in one transaction before its offsets
    /// are committed.
    #[arg(long, value_name = "N", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub batch: u64,
    /// Longest wait for a batch to fill, e.g. 1s, 200ms.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub batch_wait: TsMicros,
    /// Retention, in packet time: drop the day partitions that ended more
    /// than this before the newest window written, e.g. 30d [default: keep
    /// everything].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub keep: Option<TsMicros>,
    /// Stop once no record arrived for this long (for batch jobs and
    /// tests) [default: run until SIGINT/SIGTERM].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_exit: Option<TsMicros>,
}
