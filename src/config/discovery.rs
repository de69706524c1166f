//! Which file is read ([`discover`]) and the layers over it: the process
//! environment and the command-line flags ([`Overrides`]), applied in order
//! by [`Settings::resolve`].

use super::{
    Config, ConfigError, Duration, EnvSource, Origin, Origins, ProcessEnv, ENV_CONFIG, SYSTEM_PATH,
};
use crate::event::TsMicros;
use std::path::{Path, PathBuf};

/// Which file to read: `explicit` (the `--config` flag), else
/// `SENTINELDNS_CONFIG` (through `env`), else `system` if it exists, else
/// none. A named file that does not exist is [`ConfigError::NotFound`].
pub fn discover(
    explicit: Option<&Path>,
    env: &dyn EnvSource,
    system: &Path,
) -> Result<Option<PathBuf>, ConfigError> {
    let named = explicit.map(Path::to_path_buf).or_else(|| {
        env.var(ENV_CONFIG)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
    });
    match named {
        Some(p) if p.exists() => Ok(Some(p)),
        Some(p) => Err(ConfigError::NotFound(p)),
        None => Ok(system.exists().then(|| system.to_path_buf())),
    }
}

/// One variable of the process environment (a lookup that cannot list the
/// variables: [`ProcessEnv`] can).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Command-line flags of the pipeline commands; `None` / `false` = not given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--window`.
    pub window: Option<TsMicros>,
    /// `--grace`.
    pub grace: Option<TsMicros>,
    /// `--model` (also clears `no_model`).
    pub model: Option<PathBuf>,
    /// `--no-model`.
    pub no_model: bool,
    /// `--db`.
    pub db: Option<PathBuf>,
    /// `--threads`.
    pub threads: Option<u8>,
    /// `--learn` (`[learning] period`).
    pub learn: Option<TsMicros>,
    /// `--pair-timeout`.
    pub pair_timeout: Option<TsMicros>,
    /// `--top`.
    pub top: Option<usize>,
}

impl Overrides {
    /// Apply the flags that were given.
    pub fn apply(&self, c: &mut Config) {
        self.apply_noting(c, &mut Origins::default());
    }

    /// [`apply`](Self::apply), noting in `origins` the keys a flag set.
    pub fn apply_noting(&self, c: &mut Config, origins: &mut Origins) {
        let mut flag = |key: &str| origins.set(key, Origin::Flag);
        if let Some(w) = self.window {
            c.sensor.window = Duration(w);
            flag("sensor.window");
        }
        if let Some(g) = self.grace {
            c.sensor.grace = Duration(g);
            flag("sensor.grace");
        }
        if let Some(m) = &self.model {
            c.sensor.model = Some(m.clone());
            c.sensor.no_model = false;
            flag("sensor.model");
            flag("sensor.no_model");
        }
        if self.no_model {
            c.sensor.no_model = true;
            flag("sensor.no_model");
        }
        if let Some(p) = self.learn {
            c.learning.period = Duration(p);
            flag("learning.period");
        }
        if let Some(d) = &self.db {
            c.sensor.db = d.clone();
            flag("sensor.db");
        }
        if let Some(t) = self.threads {
            c.sensor.threads = t;
            flag("sensor.threads");
        }
        if let Some(t) = self.pair_timeout {
            c.sensor.pair_timeout = Duration(t);
            flag("sensor.pair_timeout");
        }
        if let Some(t) = self.top {
            c.sensor.top = t;
            flag("sensor.top");
        }
    }
}

/// The effective settings of one run: every layer applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// The file that was read, if any.
    pub file: Option<PathBuf>,
    /// The merged configuration.
    pub config: Config,
    /// Where each value came from.
    pub origins: Origins,
}

impl Settings {
    /// Discover and load the file (`explicit` = `--config`), then apply the
    /// process environment and `overrides`.
    pub fn resolve(explicit: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        Self::resolve_with(explicit, overrides, &ProcessEnv, Path::new(SYSTEM_PATH))
    }

    /// [`resolve`](Self::resolve) with an explicit environment and system path (tests).
    pub fn resolve_with(
        explicit: Option<&Path>,
        overrides: &Overrides,
        env: &dyn EnvSource,
        system: &Path,
    ) -> Result<Self, ConfigError> {
        let file = discover(explicit, env, system)?;
        let (mut config, mut origins) = Config::load_layers(file.as_deref(), env)?;
        overrides.apply_noting(&mut config, &mut origins);
        config.validate(file.as_deref())?;
        Ok(Settings {
            file,
            config,
            origins,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::tests::no_env;
    use crate::config::*;
    use crate::event::MICROS;
    use std::path::Path;

    #[test]
    fn discovery_order() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.toml");
        let b = dir.path().join("b.toml");
        let sys = dir.path().join("system.toml");
        std::fs::write(&a, "").unwrap();
        std::fs::write(&b, "").unwrap();
        let env_b = |k: &str| (k == ENV_CONFIG).then(|| b.display().to_string());
        assert_eq!(discover(Some(&a), &env_b, &sys).unwrap(), Some(a.clone()));
        assert_eq!(discover(None, &env_b, &sys).unwrap(), Some(b.clone()));
        assert_eq!(discover(None, &no_env, &sys).unwrap(), None);
        std::fs::write(&sys, "").unwrap();
        assert_eq!(discover(None, &no_env, &sys).unwrap(), Some(sys.clone()));
        let missing = dir.path().join("missing.toml");
        assert!(matches!(
            discover(Some(&missing), &no_env, &sys),
            Err(ConfigError::NotFound(p)) if p == missing
        ));
        let env_missing = |k: &str| (k == ENV_CONFIG).then(|| missing.display().to_string());
        assert!(discover(None, &env_missing, &sys).is_err());
    }

    #[test]
    fn precedence_defaults_file_env_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(
            &path,
            "[sensor]\nwindow = \"10m\"\ndb = \"/file.db\"\nmodel = \"/file.bin\"\n[outputs]\nmetrics = \"127.0.0.1:1000\"\n[log]\nlevel = \"info\"\n",
        )
        .unwrap();
        let sys = dir.path().join("none.toml");
        let none = Overrides::default();
        // Defaults only.
        let s = Settings::resolve_with(None, &none, &no_env, &sys).unwrap();
        assert_eq!(s.config, Config::default());
        assert_eq!(s.file, None);
        // File over defaults.
        let s = Settings::resolve_with(Some(&path), &none, &no_env, &sys).unwrap();
        let c = &s.config;
        assert_eq!(c.sensor.window.micros(), 600 * MICROS);
        assert_eq!(c.sensor.db, Path::new("/file.db"));
        assert_eq!(
            c.sensor.model_choice(),
            ModelChoice::Path("/file.bin".into())
        );
        assert_eq!(c.outputs.metrics, Some("127.0.0.1:1000".parse().unwrap()));
        assert_eq!(
            c.sensor.grace.micros(),
            30 * MICROS,
            "unset keys keep defaults"
        );
        // Environment over file.
        let env = |k: &str| {
            match k {
                ENV_WINDOW => Some("2m"),
                ENV_DB => Some("/env.db"),
                ENV_MODEL => Some("/env.bin"),
                ENV_METRICS => Some("127.0.0.1:2000"),
                ENV_LOG => Some("debug"),
                _ => None,
            }
            .map(String::from)
        };
        let s = Settings::resolve_with(Some(&path), &none, &env, &sys).unwrap();
        let c = &s.config;
        assert_eq!(c.sensor.window.micros(), 120 * MICROS);
        assert_eq!(c.sensor.db, Path::new("/env.db"));
        assert_eq!(
            c.sensor.model_choice(),
            ModelChoice::Path("/env.bin".into())
        );
        assert_eq!(c.outputs.metrics, Some("127.0.0.1:2000".parse().unwrap()));
        assert_eq!(c.log.level, "debug");
        // Flags over environment; flags not given change nothing.
        let flags = Overrides {
            window: Some(60 * MICROS),
            db: Some("/flag.db".into()),
            no_model: true,
            ..Default::default()
        };
        let s = Settings::resolve_with(Some(&path), &flags, &env, &sys).unwrap();
        let c = &s.config;
        assert_eq!(c.sensor.window.micros(), 60 * MICROS);
        assert_eq!(c.sensor.db, Path::new("/flag.db"));
        assert_eq!(c.sensor.model_choice(), ModelChoice::Off);
        assert_eq!(c.outputs.metrics, Some("127.0.0.1:2000".parse().unwrap()));
        let flags = Overrides {
            model: Some("/flag.bin".into()),
            ..Default::default()
        };
        let s = Settings::resolve_with(Some(&path), &flags, &env, &sys).unwrap();
        assert_eq!(
            s.config.sensor.model_choice(),
            ModelChoice::Path("/flag.bin".into())
        );
        // A bad environment value is an error naming the variable.
        let bad = |k: &str| (k == ENV_WINDOW).then(|| "soon".to_string());
        let e = Settings::resolve_with(None, &none, &bad, &sys).unwrap_err();
        assert!(e.to_string().contains(ENV_WINDOW), "{e}");
    }

    #[test]
    fn flags_over_generic_variables_over_file_for_pair_timeout_and_top() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.toml");
        std::fs::write(&path, "[sensor]\npair_timeout = \"4s\"\ntop = 7\n").unwrap();
        let sys = dir.path().join("none.toml");
        let none = Overrides::default();
        let s = Settings::resolve_with(Some(&path), &none, &no_env, &sys).unwrap();
        assert_eq!(
            (s.config.sensor.pair_timeout.micros(), s.config.sensor.top),
            (4 * MICROS, 7)
        );
        let env = EnvList::new([
            ("SENTINELDNS_SENSOR_PAIR_TIMEOUT", "6s"),
            ("SENTINELDNS_SENSOR_TOP", "8"),
            ("SENTINELDNS_WINDOW", "2m"),
            ("SENTINELDNS_SENSOR_WINDOW", "3m"),
        ]);
        let s = Settings::resolve_with(Some(&path), &none, &env, &sys).unwrap();
        let c = &s.config.sensor;
        assert_eq!((c.pair_timeout.micros(), c.top), (6 * MICROS, 8));
        assert_eq!(c.window.micros(), 180 * MICROS, "the generic name wins");
        let flags = Overrides {
            pair_timeout: Some(2 * MICROS),
            top: Some(3),
            ..Default::default()
        };
        let s = Settings::resolve_with(Some(&path), &flags, &env, &sys).unwrap();
        assert_eq!(
            (s.config.sensor.pair_timeout.micros(), s.config.sensor.top),
            (2 * MICROS, 3)
        );
        assert_eq!(s.origins.of("sensor.top"), &Origin::Flag);
        assert_eq!(
            s.origins.of("sensor.window"),
            &Origin::Env("SENTINELDNS_SENSOR_WINDOW".into())
        );
        // A pairing timeout longer than the grace period is refused.
        let flags = Overrides {
            pair_timeout: Some(40 * MICROS),
            ..Default::default()
        };
        let e = Settings::resolve_with(Some(&path), &flags, &no_env, &sys).unwrap_err();
        assert!(e.to_string().contains("[sensor] grace"), "{e}");
    }
}
