//! `sentineldns flows …`: the flow crate's arguments ([`FlowsArgs`]) with
//! the triage flags ([`TriageArgs`], the same as `replay` and `capture`
//! take) mounted on `flows rules`, whose flagged sources a language model
//! can triage. The flow crate knows nothing of them: they are added to its
//! `rules` subcommand here and read back from its matches.

use super::TriageArgs;
use clap::{ArgMatches, Args, Command, FromArgMatches};
use sentineldns_flows::cli::FlowsArgs;

/// The `flows` subcommand that takes the triage flags.
const TRIAGED: &str = "rules";

/// `flows` arguments, and the triage flags when the subcommand is `rules`.
#[derive(Debug)]
pub struct FlowsCli {
    /// The flow crate's arguments.
    pub flows: FlowsArgs,
    /// `--triage`, `--triage-url`, `--triage-model` of `flows rules` (all
    /// unset for the other subcommands).
    pub triage: TriageArgs,
}

impl FromArgMatches for FlowsCli {
    fn from_arg_matches(m: &ArgMatches) -> Result<Self, clap::Error> {
        Self::from_arg_matches_mut(&mut m.clone())
    }

    fn from_arg_matches_mut(m: &mut ArgMatches) -> Result<Self, clap::Error> {
        let triage = match m.subcommand() {
            Some((TRIAGED, sub)) => TriageArgs::from_arg_matches(sub)?,
            _ => TriageArgs::default(),
        };
        Ok(FlowsCli {
            flows: FlowsArgs::from_arg_matches_mut(m)?,
            triage,
        })
    }

    fn update_from_arg_matches(&mut self, m: &ArgMatches) -> Result<(), clap::Error> {
        self.update_from_arg_matches_mut(&mut m.clone())
    }

    fn update_from_arg_matches_mut(&mut self, m: &mut ArgMatches) -> Result<(), clap::Error> {
        if let Some((TRIAGED, sub)) = m.subcommand() {
            self.triage.update_from_arg_matches(sub)?;
        }
        self.flows.update_from_arg_matches_mut(m)
    }
}

/// `sub` with the triage flags added by `augment`, keeping its own help
/// text (a derived `augment_args` also sets the struct's doc as `about`).
fn with_triage(sub: Command, augment: fn(Command) -> Command) -> Command {
    let about = sub.get_about().cloned();
    let long_about = sub.get_long_about().cloned();
    let sub = augment(sub);
    let sub = match about {
        Some(a) => sub.about(a),
        None => sub.about(None::<&str>),
    };
    match long_about {
        Some(a) => sub.long_about(a),
        None => sub.long_about(None::<&str>),
    }
}

impl Args for FlowsCli {
    fn augment_args(cmd: Command) -> Command {
        FlowsArgs::augment_args(cmd)
            .mut_subcommand(TRIAGED, |sub| with_triage(sub, TriageArgs::augment_args))
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        FlowsArgs::augment_args_for_update(cmd).mut_subcommand(TRIAGED, |sub| {
            with_triage(sub, TriageArgs::augment_args_for_update)
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::cli::{Cli, Command};
    use clap::Parser;
    use sentineldns::triage::Provider;
    use sentineldns_flows::cli::FlowsCommand;

    #[test]
    fn triage_flags_belong_to_flows_rules_only() {
        let cli = Cli::try_parse_from([
            "sentineldns",
            "flows",
            "rules",
            "x.csv",
            "--triage",
            "openai",
            "--triage-url",
            "http://127.0.0.1:8080",
            "--triage-model",
            "m",
            "--format",
            "json",
        ])
        .unwrap();
        let Command::Flows(f) = cli.command else {
            panic!("not flows")
        };
        assert!(matches!(f.flows.command, FlowsCommand::Rules(_)));
        assert_eq!(f.triage.triage, Some(Provider::Openai));
        assert_eq!(
            f.triage.triage_url.as_deref(),
            Some("http://127.0.0.1:8080")
        );
        let t = f.triage.apply(Default::default());
        assert_eq!((t.provider, t.model.as_str()), (Provider::Openai, "m"));

        let cli = Cli::try_parse_from(["sentineldns", "flows", "rules", "x.csv"]).unwrap();
        let Command::Flows(f) = cli.command else {
            panic!("not flows")
        };
        assert!(f.triage.triage.is_none());
        // Other flows subcommands do not take them.
        assert!(Cli::try_parse_from(["sentineldns", "flows", "burst", "x.csv"]).is_ok());
        let e = Cli::try_parse_from([
            "sentineldns",
            "flows",
            "burst",
            "x.csv",
            "--triage",
            "ollama",
        ])
        .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::UnknownArgument);
        assert!(
            Cli::try_parse_from(["sentineldns", "flows", "rules", "x.csv", "--triage", "gpt"])
                .is_err()
        );
        // `flows rules --help` keeps its own description.
        let mut cmd = <Cli as clap::CommandFactory>::command();
        let rules = cmd
            .find_subcommand_mut("flows")
            .unwrap()
            .find_subcommand_mut("rules")
            .unwrap();
        let about = rules.get_about().unwrap().to_string();
        assert!(
            about.starts_with("Per-source sliding-window rules"),
            "{about}"
        );
        assert!(rules.get_arguments().any(|a| a.get_id() == "triage_url"));
    }
}
