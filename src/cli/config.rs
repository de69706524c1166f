//! Arguments of `config check` and `config default`.

use clap::{Args, Subcommand, ValueEnum};

/// Options for `config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: ConfigCommand,
}

/// `config` subcommands.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the configuration (the `--config` file, else the discovered
    /// one): syntax, unknown keys, value ranges, the model loads, allow-list
    /// files parse, outputs, capture user and group exist. Prints the
    /// effective settings (file + environment) and exits 0 when valid; lists
    /// every problem on stderr and exits 2 when not.
    Check(ConfigCheckArgs),
    /// Print every effective setting, one `key = value` line each, with
    /// where it came from: the file (and line), an environment variable, or
    /// the default. Problems are listed as by `check` (exit 2).
    Show,
    /// Print a fully commented configuration with every key at its default.
    Default,
}

/// Options for `config check`.
#[derive(Debug, Args)]
pub struct ConfigCheckArgs {
    /// Format of the effective settings on stdout.
    #[arg(long, value_enum, default_value_t = ConfigFormat::Toml)]
    pub format: ConfigFormat,
    /// Print only problems (nothing on stdout).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Output format of `config check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ConfigFormat {
    /// TOML, loadable as a configuration file.
    Toml,
    /// JSON.
    Json,
}
