//! `sentineldns serve`: flags over `[serve]`, the predictor (model, window
//! settings, and the UNSW-NB15 flow classifier wrapped as a
//! [`FlowScorer`]), then [`sentineldns::serve::serve`] until a signal.

use crate::cli::ServeArgs;
use anyhow::Context;
use sentineldns::config::{Overrides, Settings};
use sentineldns::serve::predict::{FlowScorer, FlowVerdict};
use sentineldns::serve::{read_token, ApiError, Predictor, ServeOptions};
use sentineldns_flows::classifier::FlowModel;
use sentineldns_flows::unsw::{encode, feature_names, FlowRow, CATEGORICAL, NUMERIC};
use serde_json::{Map, Value};
use std::path::Path;
use std::process::ExitCode;

/// Run `serve`.
pub fn run(a: ServeArgs, config: Option<&Path>) -> anyhow::Result<ExitCode> {
    let overrides = Overrides {
        db: a.db.clone(),
        model: a.model.clone(),
        ..Default::default()
    };
    let mut settings = Settings::resolve(config, &overrides)?;
    settings.config.serve = a.apply(std::mem::take(&mut settings.config.serve));
    settings.config.validate(settings.file.as_deref())?;
    let db = settings.config.sensor.db.clone();
    if a.postgres.is_none() && !db.exists() {
        anyhow::bail!(
            "database {} does not exist (run `sentineldns replay` first)",
            db.display()
        );
    }
    let sc = settings.config.serve.clone();
    let token = sc.token_file.as_deref().map(read_token).transpose()?;
    let predictor = if sc.predict {
        let detector = sentineldns::sensor::load_detector(&settings)?
            .context("predict needs a model, and [sensor] no_model is set")?;
        let pipeline = super::settings_pipeline_config(&settings, &a.windows)?;
        let flows: Option<Box<dyn FlowScorer>> = match &sc.flow_model {
            Some(p) => Some(Box::new(UnswScorer(
                FlowModel::load(p, &feature_names())
                    .with_context(|| format!("loading flow model {}", p.display()))?,
            ))),
            None => None,
        };
        Some(Predictor {
            detector,
            pipeline,
            settings: settings.clone(),
            flows,
        })
    } else {
        None
    };
    let opts = ServeOptions {
        db,
        postgres: a.postgres.clone(),
        config: sc,
        token,
        predictor,
        live: None,
    };
    let with_token = opts.token.is_some();
    sentineldns::serve::serve(opts, |addr| {
        eprintln!(
            "serving http://{addr}/ (dashboard; API /api/v1/, document /api/v1/openapi.json, docs /api/v1/docs){}",
            if with_token {
                "; the dashboard and /api need the token: Authorization: Bearer, or log in at /login"
            } else {
                ""
            }
        );
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The UNSW-NB15 random forest as the API's flow scorer: a record is the
/// CSV columns by name (header spellings and aliases accepted), numbers as
/// JSON numbers or numeric strings; the columns the model does not read
/// (`id`, `stcpb`, `dtcpb`, `is_sm_ips_ports`, `label`, `attack_cat`) are
/// allowed and ignored, any other key is refused naming it.
struct UnswScorer(FlowModel);

impl FlowScorer for UnswScorer {
    fn score(&self, field: &str, m: &Map<String, Value>) -> Result<FlowVerdict, ApiError> {
        let find = |name: &str, aliases: &[&str]| {
            m.get(name)
                .or_else(|| aliases.iter().find_map(|a| m.get(*a)))
        };
        let known = |k: &str| {
            NUMERIC
                .iter()
                .chain(CATEGORICAL.iter())
                .any(|c| c.name == k || c.aliases.contains(&k))
                || matches!(
                    k,
                    "id" | "stcpb" | "dtcpb" | "is_sm_ips_ports" | "label" | "attack_cat"
                )
        };
        if let Some(k) = m.keys().find(|k| !known(k)) {
            return Err(ApiError::bad(
                &format!("{field}.{k}"),
                "not a UNSW-NB15 column",
            ));
        }
        let mut numeric = Vec::with_capacity(NUMERIC.len());
        for c in &NUMERIC {
            let f = format!("{field}.{}", c.name);
            let x = match find(c.name, c.aliases) {
                None => return Err(ApiError::bad(&f, "missing")),
                Some(Value::Number(n)) => n.as_f64(),
                Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
                Some(_) => None,
            }
            .filter(|x| x.is_finite())
            .ok_or_else(|| ApiError::bad(&f, "must be a finite number"))?;
            numeric.push(x);
        }
        let mut categorical: [String; 3] = Default::default();
        for (k, c) in CATEGORICAL.iter().enumerate() {
            let f = format!("{field}.{}", c.name);
            match find(c.name, c.aliases) {
                Some(Value::String(s)) if s.len() <= 64 => {
                    categorical[k] = s.trim().to_ascii_lowercase();
                }
                Some(_) => return Err(ApiError::bad(&f, "must be a string of at most 64 bytes")),
                None => return Err(ApiError::bad(&f, "missing")),
            }
        }
        let row = FlowRow {
            line: 0,
            numeric,
            categorical,
            label: None,
        };
        let score = self.0.score(&encode(&row, &self.0.vocabularies));
        Ok(FlowVerdict {
            score,
            label: self.0.label(score),
        })
    }
}
