//! Logging set-up: `tracing` on stderr.

use super::*;

/// Set up `tracing` on stderr: `--log-level` / `SENTINELDNS_LOG` and
/// `--log-format`, else `[log]` of the configuration file and the
/// environment (`SENTINELDNS_LOG_LEVEL`, `SENTINELDNS_LOG_FORMAT`), else
/// warn / text.
/// A configuration file that does not load is ignored here (the command that
/// reads it reports the problem).
pub fn init_tracing(cli: &Cli) {
    let env = sentineldns::config::ProcessEnv;
    let file = sentineldns::config::discover(
        cli.config.as_deref(),
        &env,
        std::path::Path::new(sentineldns::config::SYSTEM_PATH),
    )
    .ok()
    .and_then(|p| sentineldns::config::Config::load_layers(p.as_deref(), &env).ok())
    .map(|(c, _)| c.log)
    .unwrap_or_default();
    let level = cli.log_level.clone().unwrap_or(file.level);
    let format = cli.log_format.unwrap_or(match file.format {
        sentineldns::config::LogFormat::Text => LogFormatArg::Text,
        sentineldns::config::LogFormat::Json => LogFormatArg::Json,
    });
    let filter = tracing_subscriber::EnvFilter::try_new(&level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Colour only on a terminal: a pipe, a file or the journal get plain text.
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormatArg::Json => b.json().try_init(),
        LogFormatArg::Text => b.try_init(),
    };
}
