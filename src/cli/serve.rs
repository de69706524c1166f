//! Arguments of `serve` (the HTTP API over a database) and how they are laid
//! over `[serve]` of the configuration file: defaults < file < flags.

use super::WindowArgs;
use clap::Args;
use sentineldns::config::{parse_size, ServeConfig};
use std::net::SocketAddr;
use std::path::PathBuf;

/// `sentineldns serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// SQLite database to read (opened read-only; a sensor may be writing
    /// it) [default: $SENTINELDNS_DB, else `[sensor] db`, else sentineldns.db].
    #[arg(long, conflicts_with = "postgres")]
    pub db: Option<PathBuf>,
    /// Serve the fleet database instead: the PostgreSQL a collector writes
    /// (`postgres://user:password@host:port/db`, no TLS), all sensors, with
    /// the same API and dashboard (needs the `postgres` feature).
    #[arg(long, value_name = "URL")]
    pub postgres: Option<String>,
    /// Address and port to listen on [default: `[serve] listen`, else
    /// 127.0.0.1:8080]. Any address that is not loopback needs --token-file.
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// File whose first line is the bearer token every /api request must
    /// carry (`Authorization: Bearer TOKEN`) [default: `[serve] token_file`].
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Serve POST /api/v1/predict: score a window's features or a batch of
    /// lookups with the configured model [default: `[serve] predict`, else off].
    #[arg(long)]
    pub predict: bool,
    /// UNSW-NB15 flow model (`flows train-classifier`) for
    /// POST /api/v1/predict/flows; needs --predict [default: `[serve] flow_model`].
    #[arg(long, value_name = "FILE")]
    pub flow_model: Option<PathBuf>,
    /// Largest request body, e.g. 1M [default: `[serve] max_body`, else 1M].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_body: Option<u64>,
    /// Model bundle for predict [default: `[sensor] model`, else the shipped one].
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Window options of predict (window and grace come from `[sensor]`).
    #[command(flatten)]
    pub windows: WindowArgs,
}

impl ServeArgs {
    /// `[serve]` with the flags that were given laid over it.
    pub fn apply(&self, mut c: ServeConfig) -> ServeConfig {
        if let Some(l) = self.listen {
            c.listen = l;
        }
        if let Some(t) = &self.token_file {
            c.token_file = Some(t.clone());
        }
        if self.predict {
            c.predict = true;
        }
        if let Some(m) = &self.flow_model {
            c.flow_model = Some(m.clone());
        }
        if let Some(b) = self.max_body {
            c.max_body = b;
        }
        c
    }
}
