//! `sentineldns serve`: a JSON API over the store (issue 13), for scripts and
//! for the embedded dashboard ([`dashboard`]), on axum and tokio.
//!
//! ```text
//!  HTTP ─▶ guard (token, timeout, counters, security headers, JSON errors)
//!            ─▶ handler ─▶ spawn_blocking ─▶ read-only Store (pool) ─▶ SQLite (WAL)
//!                       └▶ Predictor (pipeline + detector, flow model)
//! ```
//!
//! * **Reading while a sensor writes.** Each request borrows a read-only
//!   connection ([`Store::open_read_only`]) from a small pool on tokio's
//!   blocking pool; WAL readers never block the writer. A connection that
//!   failed, or whose file the path no longer names (replaced, removed), is
//!   dropped, so the next request reopens the database.
//! * **Errors.** Every client mistake is a 4xx JSON [`ErrorBody`] naming the
//!   field (query parameters are parsed by [`params`], bodies by
//!   [`predict`]); an unreadable store is a 503 without a field. Responses
//!   that axum produces itself (unknown route, wrong method, body over the
//!   cap) are rewritten to the same JSON shape.
//! * **Safety.** Loopback by default; any other listen address needs a token
//!   ([`ServeOptions::token`], compared in constant time on every route but
//!   the health check, metrics, the document and its page, and the
//!   dashboard's login and assets; a browser presents it as a session
//!   cookie, see [`dashboard`]). Read-only unless predict is on.
//!   JSON is written HTML-safe ([`error::html_safe`]); every response carries
//!   `X-Content-Type-Options: nosniff`, a `default-src 'none'` CSP and
//!   `Cache-Control: no-store`.
//! * **Bounds.** Body size (`[serve] max_body`), page size (`page_max`), a
//!   30 s deadline per request, at most [`MAX_CONNECTIONS`] connections.
//! * **Document.** The OpenAPI document (module `openapi`) is generated from
//!   the handlers' `#[utoipa::path]` attributes and the row types, trimmed to
//!   the routes this server mounts; `/api/v1/docs` renders it with a small
//!   embedded page.

pub mod dashboard;
pub mod error;
mod openapi;
pub mod params;
pub mod predict;

pub use error::{ApiError, ErrorBody};
pub use predict::Predictor;

use crate::config::ServeConfig;
use crate::store::read::{
    HostFilter, HostProfile, HostSummary, IncidentFilter, IncidentRow, ModelRow, RunRow,
    StoreHealth, StoreRead, TimelinePoint, VerdictBucket, WindowFilter, WindowRow,
};
use crate::store::{Store, StoreError};
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use error::json_response;
use params::{cursor_text, Params};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use utoipa::ToSchema;

/// Default page size of the list endpoints.
pub const DEFAULT_PAGE: u32 = 100;
/// Longest a request may take before it is answered 503.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Read-only connections kept between requests.
const POOL: usize = 4;
/// Shortest accepted token.
pub const MIN_TOKEN_CHARS: usize = 16;

/// Starting the server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// A non-loopback address without a token.
    #[error("{0} is not a loopback address: refusing to serve it without a token ([serve] token_file or --token-file)")]
    NeedsToken(SocketAddr),
    /// The token file cannot be read or holds no usable token.
    #[error("token file {path}: {message}")]
    Token {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The database cannot be opened read-only.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `--postgres` given to a build without the `postgres` feature.
    #[error("serving from PostgreSQL needs a build with the `postgres` feature (cargo build --features postgres)")]
    NoPostgres,
    /// Binding or serving failed.
    #[error("serving on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

/// Everything the server needs.
#[derive(Debug)]
pub struct ServeOptions {
    /// The database.
    pub db: PathBuf,
    /// Serve the fleet database at this PostgreSQL URL instead of `db`
    /// (`serve --postgres`, feature `postgres`).
    pub postgres: Option<String>,
    /// `[serve]` with flags applied.
    pub config: ServeConfig,
    /// Bearer token (read from `config.token_file`, see [`read_token`]).
    pub token: Option<String>,
    /// Scoring for `POST /api/v1/predict`, when predict is on.
    pub predictor: Option<Predictor>,
    /// The sensor this server runs in (`capture --serve`), whose trouble
    /// `/healthz` reports; `None` for `sentineldns serve`.
    pub live: Option<Arc<dyn LiveStatus>>,
}

/// Trouble of the sensor process a server runs in, for `/healthz`.
pub trait LiveStatus: Send + Sync + std::fmt::Debug {
    /// What is wrong now, one sentence each (empty: nothing).
    fn trouble(&self) -> Vec<String>;
}

/// [`LiveStatus`] of a running sensor from its metrics: see
/// [`TroubleWatch`](crate::output::metrics::TroubleWatch) (circuit breakers
/// open, the NDJSON output stopped, Kafka or capture losses rising).
#[derive(Debug)]
pub struct SensorStatus {
    watch: crate::output::metrics::TroubleWatch,
}

impl SensorStatus {
    /// Watch `metrics` (losses counted from now on).
    pub fn new(metrics: Arc<crate::output::metrics::Metrics>) -> Self {
        SensorStatus {
            watch: crate::output::metrics::TroubleWatch::new(metrics),
        }
    }
}

impl LiveStatus for SensorStatus {
    fn trouble(&self) -> Vec<String> {
        self.watch.trouble()
    }
}

/// The token in `path`: its first line, trimmed, at least
/// [`MIN_TOKEN_CHARS`] and at most 4096 characters.
pub fn read_token(path: &std::path::Path) -> Result<String, ServeError> {
    let err = |message: String| ServeError::Token {
        path: path.to_path_buf(),
        message,
    };
    let text = crate::config::read_limited_text(path, crate::config::FileKind::AllowList)
        .map_err(|e| err(e.to_string()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    let n = token.chars().count();
    if !(MIN_TOKEN_CHARS..=4096).contains(&n) {
        return Err(err(format!(
            "the first line must hold a token of {MIN_TOKEN_CHARS} to 4096 characters (it has {n})"
        )));
    }
    if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(err(
            "the token must not contain spaces or control characters".into(),
        ));
    }
    Ok(token)
}

/// Request and store-error counters for `/metrics`.
#[derive(Debug, Default)]
struct Counters {
    requests: Mutex<BTreeMap<(String, &'static str, u16), u64>>,
    store_errors: AtomicU64,
}

/// Where the handlers read.
enum Backend {
    /// One sensor's SQLite file, through a pool of read-only connections.
    Sqlite {
        db: PathBuf,
        pool: Mutex<Vec<(Store, (u64, u64))>>,
    },
    /// The fleet database (one pipelined client shared by all requests).
    #[cfg(feature = "postgres")]
    Postgres(Arc<crate::store::pg::PgRead>),
}

/// Shared state of the handlers.
struct AppState {
    backend: Backend,
    page_max: u32,
    token: Option<String>,
    predictor: Option<Predictor>,
    counters: Counters,
    document: String,
    live: Option<Arc<dyn LiveStatus>>,
    /// Dashboard sessions opened by `POST /login`.
    sessions: dashboard::Sessions,
}

impl AppState {
    /// Run `f` on the store on the blocking pool: a pooled read-only
    /// SQLite connection, or the fleet database's client.
    async fn store<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn StoreRead) -> Result<T, StoreError> + Send + 'static,
    {
        let st = Arc::clone(self);
        let r = tokio::task::spawn_blocking(move || {
            let (db, pool) = match &st.backend {
                Backend::Sqlite { db, pool } => (db, pool),
                #[cfg(feature = "postgres")]
                Backend::Postgres(pg) => return f(pg.as_ref()),
            };
            // A pooled connection is used only while the path still names
            // the file it opened: a database replaced or removed is seen by
            // the next request, not hidden behind an open descriptor.
            let id = crate::store::read::file_identity(db)?;
            let pooled = pool
                .lock()
                .ok()
                .and_then(|mut p| p.pop())
                .filter(|(_, was)| *was == id);
            let store = match pooled {
                Some((s, _)) => s,
                None => Store::open_read_only(db)?,
            };
            let r = f(&store);
            if r.is_ok() {
                if let Ok(mut p) = pool.lock() {
                    if p.len() < POOL {
                        p.push((store, id));
                    }
                }
            }
            r
        })
        .await;
        match r {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(StoreError::Unsupported(why))) => {
                Err(ApiError::new(StatusCode::NOT_IMPLEMENTED, None, why))
            }
            Ok(Err(e)) => {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "store read failed");
                Err(ApiError::store(e))
            }
            Err(e) => {
                self.counters.store_errors.fetch_add(1, Ordering::Relaxed);
                Err(ApiError::store(e))
            }
        }
    }
}

/// Query pairs, or the 400 naming `query`.
type Pairs = Result<Query<Vec<(String, String)>>, axum::extract::rejection::QueryRejection>;

fn pairs(q: Pairs, allowed: &[&str]) -> Result<Params, ApiError> {
    let Query(v) =
        q.map_err(|e| ApiError::bad("query", format!("unreadable query string: {e}")))?;
    Params::new(v, allowed)
}

/// A page of results.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /healthz` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `degraded` (the sensor this server runs in is in trouble:
    /// webhook or triage circuit breaker open, NDJSON output stopped by a
    /// write error, Kafka records or capture packets lost since the previous
    /// check; every reason in `warnings`) or `unavailable` (the store cannot
    /// be read).
    pub status: String,
    /// Why not ok.
    pub reason: Option<String>,
    /// The store, when readable.
    pub store: Option<StoreHealth>,
    /// Trouble that does not stop the API from answering, e.g. the latest
    /// sensor run failed or its process died (`crashed`): the data may be
    /// going stale.
    pub warnings: Vec<String>,
}

/// Hosts ordered by their worst current verdict.
#[utoipa::path(get, path = "/api/v1/hosts", tag = "store", params(params::HostsParams),
    responses(
        (status = 200, description = "Hosts, worst current label first", body = Vec<HostSummary>),
        (status = 400, description = "A bad parameter (named in `field`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    ))]
async fn hosts(State(st): State<Arc<AppState>>, q: Pairs) -> Result<Response, ApiError> {
    let p = pairs(q, &["host", "min_label", "min_score", "limit", "offset"])?;
    let f = HostFilter {
        host: p.text("host", 64)?,
        min_rank: p.label("min_label")?,
        min_score: p.score("min_score")?,
        limit: p.limit(DEFAULT_PAGE, st.page_max)?,
        offset: p.int("offset", 0, 1_000_000_000)?.unwrap_or(0) as u64,
    };
    let rows = st.store(move |s| s.hosts(&f)).await?;
    Ok(json_response(StatusCode::OK, &rows))
}

/// Windows per label over time, for a chart of verdicts.
#[utoipa::path(get, path = "/api/v1/verdicts", tag = "store", params(params::VerdictsParams),
    responses(
        (status = 200, description = "Windows per label in time buckets, oldest first", body = Verdicts),
        (status = 400, description = "A bad parameter (named in `field`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    ))]
async fn verdicts(State(st): State<Arc<AppState>>, q: Pairs) -> Result<Response, ApiError> {
    let p = pairs(q, &["host", "since", "until", "bucket"])?;
    let host = p.text("host", 64)?;
    let (since, until) = (p.time("since")?, p.time("until")?);
    let asked = p.int("bucket", MIN_BUCKET, MAX_BUCKET)?;
    let h = host.clone();
    let span = st
        .store(move |s| s.window_span(h.as_deref(), since, until))
        .await?;
    let Some((lo, hi, window)) = span else {
        return Ok(json_response(
            StatusCode::OK,
            &Verdicts {
                bucket_secs: asked.unwrap_or(MIN_BUCKET),
                buckets: Vec::new(),
            },
        ));
    };
    let bucket = match asked {
        Some(b) => {
            let n = (hi.div_euclid(b) - lo.div_euclid(b)).saturating_add(1);
            if n > MAX_BUCKETS {
                return Err(ApiError::bad(
                    "bucket",
                    format!("{b} s makes {n} buckets over this range; at most {MAX_BUCKETS}: use a wider bucket or a shorter range"),
                ));
            }
            b
        }
        None => auto_bucket(lo, hi, window),
    };
    let buckets = st
        .store(move |s| s.verdict_buckets(host.as_deref(), since, until, bucket))
        .await?;
    Ok(json_response(
        StatusCode::OK,
        &Verdicts {
            bucket_secs: bucket,
            buckets,
        },
    ))
}

/// Narrowest bucket accepted, seconds.
const MIN_BUCKET: i64 = 60;
/// Widest bucket accepted, seconds (366 days).
const MAX_BUCKET: i64 = 366 * 86_400;
/// Most buckets one answer may span.
const MAX_BUCKETS: i64 = 1000;
/// Buckets an automatic width aims at, at most.
const AUTO_BUCKETS: i64 = 120;

/// The narrowest round width (1 minute to 1 week, then whole days), at
/// least `window` seconds, that covers `[lo, hi]` in at most
/// [`AUTO_BUCKETS`] buckets.
fn auto_bucket(lo: i64, hi: i64, window: i64) -> i64 {
    const STEPS: [i64; 14] = [
        60, 120, 300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
    ];
    let fits = |b: i64| b >= window && hi.div_euclid(b) - lo.div_euclid(b) < AUTO_BUCKETS;
    STEPS.into_iter().find(|&b| fits(b)).unwrap_or_else(|| {
        let days = (hi - lo) / 86_400 / (AUTO_BUCKETS - 1) + 1;
        (days * 86_400).max(window).clamp(MIN_BUCKET, MAX_BUCKET)
    })
}

/// `GET /api/v1/verdicts` body.
#[derive(Debug, Serialize, ToSchema)]
pub struct Verdicts {
    /// Width of each bucket, seconds (the `bucket` asked for, else chosen
    /// so the range fits in at most 120 buckets).
    pub bucket_secs: i64,
    /// Buckets with at least one window, oldest first.
    pub buckets: Vec<VerdictBucket>,
}

/// A host's query-type and response-code distributions (normal vs flagged
/// windows) and its most looked-up domains.
#[utoipa::path(get, path = "/api/v1/hosts/{host}/profile", tag = "store",
    params(("host" = String, Path, description = "Client address as stored", min_length = 1, max_length = 64), params::ProfileParams),
    responses(
        (status = 200, description = "The host's profile over the range", body = HostProfile),
        (status = 400, description = "A bad parameter (named in `field`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No window of this host is stored", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    ))]
async fn host_profile(
    State(st): State<Arc<AppState>>,
    host: Result<Path<String>, axum::extract::rejection::PathRejection>,
    q: Pairs,
) -> Result<Response, ApiError> {
    let host = path_host(host)?;
    let p = pairs(q, &["since", "until", "top"])?;
    let (since, until) = (p.time("since")?, p.time("until")?);
    let top = p.int("top", 1, 100)?.unwrap_or(20) as u32;
    let h = host.clone();
    let profile = st
        .store(move |s| {
            if !s.has_host(&h)? {
                return Ok(None);
            }
            s.host_profile(&h, since, until, top).map(Some)
        })
        .await?;
    match profile {
        Some(p) => Ok(json_response(StatusCode::OK, &p)),
        None => Err(ApiError::not_found(
            "host",
            "no window of this host is stored",
        )),
    }
}

/// The `{host}` path segment: 1 to 64 characters.
fn path_host(
    host: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<String, ApiError> {
    let Path(host) =
        host.map_err(|e| ApiError::bad("host", format!("unreadable path segment: {e}")))?;
    if host.is_empty() || host.chars().count() > 64 {
        return Err(ApiError::bad("host", "must be 1 to 64 characters"));
    }
    Ok(host)
}

/// Stored windows, filtered and paged.
#[utoipa::path(get, path = "/api/v1/windows", tag = "store", params(params::WindowsParams),
    responses(
        (status = 200, description = "One page of windows", body = Page<WindowRow>),
        (status = 400, description = "A bad parameter (named in `field`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    ))]
async fn windows(State(st): State<Arc<AppState>>, q: Pairs) -> Result<Response, ApiError> {
    let p = pairs(
        q,
        &[
            "host",
            "since",
            "until",
            "min_label",
            "min_score",
            "run",
            "sensor",
            "limit",
            "cursor",
            "order",
        ],
    )?;
    let limit = p.limit(DEFAULT_PAGE, st.page_max)?;
    let f = WindowFilter {
        host: p.text("host", 64)?,
        since: p.time("since")?,
        until: p.time("until")?,
        run: p.int("run", 1, 1_000_000_000_000)?,
        min_rank: p.label("min_label")?,
        min_score: p.score("min_score")?,
        sensor: p.text("sensor", 256)?,
        desc: p.desc()?,
        after: p.cursor()?,
        limit: limit + 1,
    };
    let mut rows = st.store(move |s| s.page_windows(&f)).await?;
    let next = page_end(&mut rows, limit, |w| w.id);
    let next_cursor = match next {
        Some(id) => st
            .store(move |s| s.window_key(id))
            .await?
            .map(|(k, id)| cursor_text(k, id)),
        None => None,
    };
    Ok(json_response(
        StatusCode::OK,
        &Page {
            items: rows,
            next_cursor,
        },
    ))
}

/// Keep `limit` rows; the id of the last kept one when more followed.
fn page_end<T>(rows: &mut Vec<T>, limit: u32, id: impl Fn(&T) -> i64) -> Option<i64> {
    if rows.len() > limit as usize {
        rows.truncate(limit as usize);
        rows.last().map(id)
    } else {
        None
    }
}

/// Incidents, filtered and paged.
#[utoipa::path(get, path = "/api/v1/incidents", tag = "store", params(params::IncidentsParams),
    responses(
        (status = 200, description = "One page of incidents", body = Page<IncidentRow>),
        (status = 400, description = "A bad parameter (named in `field`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    ))]
async fn incidents(State(st): State<Arc<AppState>>, q: Pairs) -> Result<Response, ApiError> {
    let p = pairs(
        q,
        &[
            "host",
            "state",
            "since",
            "until",
            "min_label",
            "sensor",
            "limit",
            "cursor",
            "order",
        ],
    )?;
    let limit = p.limit(DEFAULT_PAGE, st.page_max)?;
    let f = IncidentFilter {
        host: p.text("host", 64)?,
        open: p.state()?,
        since: p.time("since")?,
        until: p.time("until")?,
        min_rank: p.label("min_label")?,
        sensor: p.text("sensor", 256)?,
        desc: p.desc()?,
        after: p.cursor()?,
        limit: limit + 1,
    };
    let mut rows = st.store(move |s| s.page_incidents(&f)).await?;
    let next = page_end(&mut rows, limit, |i| i.id);
    let next_cursor = match next {
        Some(id) => st
            .store(move |s| s.incident_key(id))
            .await?
            .map(|(k, id)| cursor_text(k, id)),
        None => None,
    };
    Ok(json_response(
        StatusCode::OK,
        &Page {
            items: rows,
            next_cursor,
        },
    ))
}

/// One host's windows in time order (or the newest first with
/// `order=desc`), with the thresholds of the model that scored each.
#[utoipa::path(get, path = "/api/v1/hosts/{host}/timeline", tag = "store",
    params(("host" = String, Path, description = "Client address as stored", min_length = 1, max_length = 64), params::TimelineParams),
    responses(
        (status = 200, description = "The host's windows, oldest first (newest first with order=desc)", body = Vec<TimelinePoint>),
        (status = 400, description = "A bad parameter (named in `field`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 404, description = "No window of this host is stored", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    ))]
async fn timeline(
    State(st): State<Arc<AppState>>,
    host: Result<Path<String>, axum::extract::rejection::PathRejection>,
    q: Pairs,
) -> Result<Response, ApiError> {
    let host = path_host(host)?;
    let p = pairs(q, &["since", "until", "limit", "order"])?;
    let limit = p.limit(st.page_max, st.page_max)?;
    let (since, until) = (p.time("since")?, p.time("until")?);
    let desc = p.desc()?;
    let h = host.clone();
    let (known, rows) = st
        .store(move |s| {
            let known = s.has_host(&h)?;
            let rows = if known {
                s.timeline(&h, since, until, limit, desc)?
            } else {
                Vec::new()
            };
            Ok((known, rows))
        })
        .await?;
    if !known {
        return Err(ApiError::not_found(
            "host",
            "no window of this host is stored",
        ));
    }
    Ok(json_response(StatusCode::OK, &rows))
}

/// Runs, newest first.
#[utoipa::path(get, path = "/api/v1/runs", tag = "store", params(params::RunsParams),
    responses(
        (status = 200, description = "Runs, newest first", body = Vec<RunRow>),
        (status = 400, description = "A bad parameter (named in `field`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    ))]
async fn runs(State(st): State<Arc<AppState>>, q: Pairs) -> Result<Response, ApiError> {
    let p = pairs(q, &["limit"])?;
    let limit = p.limit(DEFAULT_PAGE, st.page_max)?;
    let rows = st.store(move |s| s.runs(limit)).await?;
    Ok(json_response(StatusCode::OK, &rows))
}

/// The models that scored windows in this database.
#[utoipa::path(get, path = "/api/v1/models", tag = "store",
    responses(
        (status = 200, description = "Models with their thresholds", body = Vec<ModelRow>),
        (status = 400, description = "A bad parameter (named in `field`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    ))]
async fn models(State(st): State<Arc<AppState>>, q: Pairs) -> Result<Response, ApiError> {
    pairs(q, &[])?;
    let rows = st.store(|s| s.model_rows()).await?;
    Ok(json_response(StatusCode::OK, &rows))
}

/// Score a window's model input or a batch of lookups with the configured
/// model (only when predict is enabled).
#[utoipa::path(post, path = "/api/v1/predict", tag = "predict",
    request_body(content = predict::PredictRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "One verdict per window", body = predict::PredictResponse),
        (status = 400, description = "A bad body (the JSON path in `field`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 413, description = "Body over `[serve] max_body`", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 503, description = "Scoring is unavailable", body = ErrorBody),
    ))]
async fn predict_windows(
    State(st): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    q: Pairs,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    pairs(q, &[])?;
    let body = checked_body(&headers, body)?;
    let st2 = Arc::clone(&st);
    let r = tokio::task::spawn_blocking(move || match &st2.predictor {
        Some(p) => p.predict(&body),
        None => Err(ApiError::not_found("path", "predict is not enabled")),
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, None, e.to_string()))??;
    Ok(json_response(StatusCode::OK, &r))
}

/// Score UNSW-NB15 flow records with the configured flow model (only when
/// predict is enabled and `[serve] flow_model` is set).
#[utoipa::path(post, path = "/api/v1/predict/flows", tag = "predict",
    request_body(content = predict::FlowsRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "One score per record", body = predict::FlowsResponse),
        (status = 400, description = "A bad body (the JSON path in `field`)", body = ErrorBody),
        (status = 401, description = "Missing or wrong bearer token", body = ErrorBody),
        (status = 413, description = "Body over `[serve] max_body`", body = ErrorBody),
        (status = 415, description = "Content-Type is not application/json", body = ErrorBody),
        (status = 503, description = "Scoring is unavailable", body = ErrorBody),
    ))]
async fn predict_flows(
    State(st): State<Arc<AppState>>,
    headers: axum::http::HeaderMap,
    q: Pairs,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    pairs(q, &[])?;
    let body = checked_body(&headers, body)?;
    let st2 = Arc::clone(&st);
    let r = tokio::task::spawn_blocking(move || match &st2.predictor {
        Some(p) => p.predict_flows(&body),
        None => Err(ApiError::not_found("path", "predict is not enabled")),
    })
    .await
    .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, None, e.to_string()))??;
    Ok(json_response(StatusCode::OK, &r))
}

/// The body, if it is JSON and within the cap.
fn checked_body(
    headers: &axum::http::HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if essence != "application/json" {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                Some("content-type"),
                "the body must be application/json",
            ));
        }
    }
    body.map_err(|e| {
        let status = e.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, Some("body"), "the body is over [serve] max_body")
        } else {
            ApiError::new(
                if status.is_client_error() {
                    status
                } else {
                    StatusCode::BAD_REQUEST
                },
                Some("body"),
                format!("unreadable body: {e}"),
            )
        }
    })
}

/// Health of the store and, under `capture --serve`, of the sensor: 200
/// `ok` when the store can be read and the sensor is well; 503 `degraded`
/// (reasons in `warnings`, the first in `reason`) when the sensor is in
/// trouble; 503 `unavailable` (with the reason) when the store cannot be read.
#[utoipa::path(get, path = "/healthz", tag = "service",
    responses(
        (status = 200, description = "`ok`: the store is readable (and the sensor, under `capture --serve`, is well)", body = Health),
        (status = 400, description = "A bad parameter", body = ErrorBody),
        (status = 503, description = "`unavailable`: the store cannot be read (reason given); or `degraded`: the sensor this server runs in is in trouble (breaker open, output stopped, losses rising; reasons in `warnings`)", body = Health),
    ))]
async fn healthz(State(st): State<Arc<AppState>>, q: Pairs) -> Result<Response, ApiError> {
    pairs(q, &[])?;
    let trouble = st.live.as_ref().map(|l| l.trouble()).unwrap_or_default();
    Ok(match st.store(|s| s.health()).await {
        Ok(h) if !trouble.is_empty() => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &Health {
                status: "degraded".into(),
                reason: trouble.first().cloned(),
                store: Some(h),
                warnings: trouble,
            },
        ),
        Ok(h) => {
            let warnings = match h.latest_run_status.as_deref() {
                Some(status @ ("failed" | "crashed")) => {
                    vec![format!(
                        "the latest sensor run is {status}: no new windows are being stored"
                    )]
                }
                _ => Vec::new(),
            };
            json_response(
                StatusCode::OK,
                &Health {
                    status: "ok".into(),
                    reason: None,
                    store: Some(h),
                    warnings,
                },
            )
        }
        Err(e) => json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &Health {
                status: "unavailable".into(),
                reason: Some(e.body.error),
                store: None,
                warnings: Vec::new(),
            },
        ),
    })
}

/// Prometheus text: requests by route, method and status; store errors.
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses(
        (status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain"),
        (status = 400, description = "A bad parameter", body = ErrorBody),
    ))]
async fn metrics(State(st): State<Arc<AppState>>, q: Pairs) -> Result<Response, ApiError> {
    pairs(q, &[])?;
    let mut out = String::from(
        "# HELP sentineldns_api_requests_total HTTP requests answered, by route, method and status.\n\
         # TYPE sentineldns_api_requests_total counter\n",
    );
    if let Ok(m) = st.counters.requests.lock() {
        for ((route, method, status), n) in m.iter() {
            out.push_str(&format!(
                "sentineldns_api_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}\n",
                route.replace('\\', "\\\\").replace('"', "\\\"")
            ));
        }
    }
    out.push_str(&format!(
        "# HELP sentineldns_api_store_errors_total Store reads that failed.\n\
         # TYPE sentineldns_api_store_errors_total counter\n\
         sentineldns_api_store_errors_total {}\n",
        st.counters.store_errors.load(Ordering::Relaxed)
    ));
    let mut r = out.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    Ok(r)
}

async fn openapi_json(State(st): State<Arc<AppState>>) -> Response {
    let mut r = st.document.clone().into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

async fn docs_page() -> Response {
    let mut r = openapi::DOCS_HTML.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}

async fn docs_script() -> Response {
    let mut r = openapi::DOCS_JS.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    r
}

async fn no_route() -> ApiError {
    ApiError::not_found("path", "no such endpoint; see /api/v1/docs")
}

async fn no_method() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        Some("method"),
        "method not allowed on this endpoint",
    )
}

/// Paths that need no token: the health check, metrics, the document and
/// its page, the dashboard's login and its static assets. Everything else
/// (the API, the dashboard pages, unknown paths) needs it when one is set.
fn open_path(path: &str) -> bool {
    matches!(
        path,
        "/healthz" | "/metrics" | "/api/v1/openapi.json" | "/api/v1/docs" | "/api/v1/docs.js"
    ) || dashboard::is_open(path)
}

/// Constant-time comparison of the presented token with ours.
fn token_ok(presented: &[u8], ours: &[u8]) -> bool {
    // The length is not secret (it is fixed by the operator's file); the
    // content is compared without an early exit.
    if presented.len() != ours.len() {
        return false;
    }
    presented
        .iter()
        .zip(ours)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b))
        == 0
}

/// Token check, timeout, counters, security headers and JSON errors.
async fn guard(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method: &'static str = match *req.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        _ => "other",
    };
    let path = req.uri().path().to_string();
    // The dashboard's 401 is its login page, not JSON.
    let mut login_page = false;
    let mut resp = if let Some(ours) = st.token.as_deref().filter(|_| !open_path(&path)) {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .is_some_and(|t| token_ok(t.as_bytes(), ours.as_bytes()));
        let cookie = !bearer
            && dashboard::cookie_session(req.method(), req.headers())
                .is_some_and(|id| st.sessions.valid(&id));
        let reads = matches!(*req.method(), Method::GET | Method::HEAD);
        if bearer || cookie {
            run(req, next).await
        } else if dashboard::is_page(&path) && reads {
            login_page = true;
            dashboard::login_required()
        } else {
            let mut r = ApiError::new(
                StatusCode::UNAUTHORIZED,
                Some("authorization"),
                "this API needs Authorization: Bearer TOKEN (or the dashboard's session cookie, see /login)",
            )
            .into_response();
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            r
        }
    } else {
        run(req, next).await
    };
    let status = resp.status();
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if status.is_client_error() && !is_json && !login_page {
        // axum's own rejections (e.g. a 405 or 413 it produced) in our shape.
        let (parts, _) = resp.into_parts();
        let mut r = ApiError::new(
            status,
            None,
            status.canonical_reason().unwrap_or("bad request"),
        )
        .into_response();
        for (k, v) in parts.headers.iter() {
            if k != header::CONTENT_TYPE && k != header::CONTENT_LENGTH {
                r.headers_mut().insert(k.clone(), v.clone());
            }
        }
        resp = r;
    }
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Dashboard pages set their own CSP (dashboard::CSP), assets their own
    // cache header (revalidated by ETag).
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(if path == "/api/v1/docs" {
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        } else {
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        }));
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Ok(mut m) = st.counters.requests.lock() {
        *m.entry((route, method, resp.status().as_u16()))
            .or_insert(0) += 1;
    }
    resp
}

async fn run(req: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            "the request took too long",
        )
        .into_response(),
    }
}

/// The router of `opts` (also used by tests in-process).
fn router(opts: ServeOptions, backend: Backend) -> Router {
    let predict_on = opts.predictor.is_some();
    let flows_on = opts.predictor.as_ref().is_some_and(|p| p.flows.is_some());
    let document = openapi::document(predict_on, flows_on, opts.token.is_some());
    let max_body = usize::try_from(opts.config.max_body).unwrap_or(usize::MAX);
    let st = Arc::new(AppState {
        backend,
        page_max: opts.config.page_max.clamp(1, crate::config::MAX_PAGE),
        token: opts.token,
        predictor: opts.predictor,
        counters: Counters::default(),
        document,
        live: opts.live,
        sessions: dashboard::Sessions::default(),
    });
    let mut r = dashboard::routes(Router::new())
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/openapi.json", get(openapi_json))
        .route("/api/v1/docs", get(docs_page))
        .route("/api/v1/docs.js", get(docs_script))
        .route("/api/v1/hosts", get(hosts))
        .route("/api/v1/hosts/{host}/timeline", get(timeline))
        .route("/api/v1/hosts/{host}/profile", get(host_profile))
        .route("/api/v1/verdicts", get(verdicts))
        .route("/api/v1/windows", get(windows))
        .route("/api/v1/incidents", get(incidents))
        .route("/api/v1/runs", get(runs))
        .route("/api/v1/models", get(models));
    if predict_on {
        r = r.route("/api/v1/predict", post(predict_windows));
    }
    if flows_on {
        r = r.route("/api/v1/predict/flows", post(predict_flows));
    }
    r.fallback(no_route)
        .method_not_allowed_fallback(no_method)
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&st), guard))
        .with_state(st)
}

/// Most connections served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 256;

/// A TCP listener that holds a semaphore permit per open connection, so
/// at most [`MAX_CONNECTIONS`] are served at once (bounded file descriptors
/// and memory whatever clients do).
struct LimitedListener {
    inner: tokio::net::TcpListener,
    permits: Arc<tokio::sync::Semaphore>,
}

/// A connection of [`LimitedListener`]; its permit is released on drop.
struct LimitedIo {
    stream: tokio::net::TcpStream,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl axum::serve::Listener for LimitedListener {
    type Io = LimitedIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            // The semaphore is never closed, so acquiring only waits.
            let Ok(permit) = Arc::clone(&self.permits).acquire_owned().await else {
                continue;
            };
            match self.inner.accept().await {
                Ok((stream, addr)) => {
                    return (
                        LimitedIo {
                            stream,
                            _permit: permit,
                        },
                        addr,
                    )
                }
                Err(e) => {
                    // Out of descriptors or a connection reset before accept:
                    // wait a little instead of spinning.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

impl tokio::io::AsyncRead for LimitedIo {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for LimitedIo {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

/// Check the options, open the store once (so a missing or foreign file
/// fails at start), bind and serve until SIGINT or SIGTERM. `ready` is called
/// with the bound address (the port may be 0 in the configuration).
pub fn serve(opts: ServeOptions, ready: impl FnOnce(SocketAddr)) -> Result<(), ServeError> {
    let addr = opts.config.listen;
    if !addr.ip().is_loopback() && opts.token.is_none() {
        return Err(ServeError::NeedsToken(addr));
    }
    if opts.postgres.is_none() {
        Store::open_read_only(&opts.db)?.health()?;
    }
    #[cfg(not(feature = "postgres"))]
    if opts.postgres.is_some() {
        return Err(ServeError::NoPostgres);
    }
    let io = |source| ServeError::Io { addr, source };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(8)
        .enable_all()
        .build()
        .map_err(io)?;
    rt.block_on(async move {
        let backend = match &opts.postgres {
            #[cfg(feature = "postgres")]
            Some(url) => {
                let pg = crate::store::pg::PgRead::connect(url)
                    .await
                    .map_err(StoreError::from)?;
                // A query that touches the tables, so a foreign database fails now.
                let pg = Arc::new(pg);
                let check = Arc::clone(&pg);
                tokio::task::spawn_blocking(move || check.health())
                    .await
                    .map_err(|e| io(std::io::Error::other(e)))??;
                Backend::Postgres(pg)
            }
            _ => Backend::Sqlite {
                db: opts.db.clone(),
                pool: Mutex::new(Vec::new()),
            },
        };
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(io)?;
        let bound = listener.local_addr().map_err(io)?;
        if !bound.ip().is_loopback() {
            tracing::warn!(%bound, "serving the API and dashboard on a non-loopback address: every /api request and dashboard page needs the token (bearer, or the session cookie of /login); use TLS in front of it");
        } else if opts.token.is_some() {
            tracing::info!(%bound, "serving the API and dashboard; every /api request and dashboard page needs the token");
        } else {
            tracing::info!(%bound, "serving the API and dashboard on loopback without a token");
        }
        ready(bound);
        let listener = LimitedListener {
            inner: listener,
            permits: Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS)),
        };
        axum::serve(listener, router(opts, backend))
            .with_graceful_shutdown(shutdown())
            .await
            .map_err(io)
    })
}

/// [`serve`] on a thread of its own, for a sensor that serves its own
/// database (`capture --serve`): returns the bound address once listening.
/// The thread ends with the process (or on SIGINT/SIGTERM, with the sensor).
pub fn spawn(opts: ServeOptions) -> Result<SocketAddr, ServeError> {
    let (tx, rx) = std::sync::mpsc::channel();
    let addr = opts.config.listen;
    let errs = tx.clone();
    std::thread::Builder::new()
        .name("serve".into())
        .spawn(move || {
            let ready = tx.clone();
            if let Err(e) = serve(opts, move |a| {
                let _ = ready.send(Ok(a));
            }) {
                tracing::error!(error = %e, "the API server stopped");
                let _ = errs.send(Err(e));
            }
        })
        .map_err(|source| ServeError::Io { addr, source })?;
    rx.recv().unwrap_or_else(|_| {
        Err(ServeError::Io {
            addr,
            source: std::io::Error::other("the API server thread ended before listening"),
        })
    })
}

async fn shutdown() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term => {}
    }
    tracing::info!("shutting down the API server");
}

#[cfg(test)]
mod tests {
    use crate::output::metrics::{BreakerState, DropSite, Metrics};

    /// `capture --serve`'s health: the webhook breaker open, and capture
    /// drops that rose since the previous check, are trouble; drops that
    /// stopped rising are not.
    #[test]
    fn a_sensor_in_trouble_says_why() {
        let m = Arc::new(Metrics::default());
        m.set_dropped(DropSite::Kernel, 5);
        let st = SensorStatus::new(m.clone());
        assert!(st.trouble().is_empty(), "drops before the server started");
        m.set_dropped(DropSite::Kernel, 12);
        m.set_dropped(DropSite::Queue, 3);
        let t = st.trouble();
        assert_eq!(t.len(), 1, "{t:?}");
        assert!(t[0].contains("dropped 10 packets"), "{t:?}");
        assert!(st.trouble().is_empty(), "no new drops since");
        // A breaker counts only when a webhook is configured.
        m.webhook.set_breaker(BreakerState::Open);
        assert!(st.trouble().is_empty());
        m.webhook.set_configured(8);
        let t = st.trouble();
        assert!(t[0].contains("circuit breaker is open"), "{t:?}");
        m.webhook.set_breaker(BreakerState::Closed);
        assert!(st.trouble().is_empty());
    }

    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(token_ok(b"0123456789abcdef", b"0123456789abcdef"));
        assert!(!token_ok(b"0123456789abcdeX", b"0123456789abcdef"));
        assert!(!token_ok(b"0123456789abcde", b"0123456789abcdef"));
        assert!(!token_ok(b"", b"0123456789abcdef"));
    }

    #[test]
    fn only_the_document_health_metrics_login_and_assets_are_open() {
        for p in [
            "/healthz",
            "/metrics",
            "/api/v1/openapi.json",
            "/api/v1/docs",
            "/login",
            "/assets/app.js",
        ] {
            assert!(open_path(p), "{p}");
        }
        for p in [
            "/api/v1/windows",
            "/api/v1/predict",
            "/api/v1/nothing",
            "/",
            "/incidents",
            "/hosts/10.0.0.1",
            "/nothing",
        ] {
            assert!(!open_path(p), "{p}");
        }
    }

    #[test]
    fn automatic_buckets_are_round_and_few() {
        let b = auto_bucket(1_709_539_200, 1_709_539_200 + 6900, 60);
        assert_eq!(b, 60);
        // Never narrower than a window.
        let b = auto_bucket(1_709_539_200, 1_709_539_200 + 6900, 300);
        assert_eq!(b, 300);
        let b = auto_bucket(0, 30 * 86_400, 60);
        assert_eq!(b, 43_200);
        let b = auto_bucket(0, 10 * 366 * 86_400, 60);
        assert!(
            b % 86_400 == 0 && 10 * 366 * 86_400 / b < AUTO_BUCKETS,
            "{b}"
        );
        assert_eq!(auto_bucket(5, 5, 0), 60);
    }
}
