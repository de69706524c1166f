//! The dashboard (issue 13): one HTML shell for `/`, `/incidents` and
//! `/hosts/{host}` (the script routes by path), its script, style sheet and
//! icon under `/assets/`, all embedded in the binary from the top-level
//! `dashboard/` folder, so it works offline and needs no CDN.
//!
//! * **No data in HTML.** The shell is a constant: every value is fetched
//!   from `/api/v1` by `app.js` and put into the page with `textContent`
//!   and `createElement(NS)`, never as markup. A qname carrying `<script>`
//!   is shown as text.
//! * **Strict CSP** on every page ([`CSP`]): scripts, styles and fetches only
//!   from this origin, no inline script or style, no forms, no framing, so
//!   even a tag that got into the page could not run.
//! * **Token.** When the server has a token, the pages and their API calls
//!   need it like every `/api` request. A browser presents it once on the
//!   login page (`GET /login`, or the 401 page any dashboard page answers
//!   without it): `login.js` posts it as JSON to `POST /login`, which checks
//!   it and answers with an `HttpOnly; SameSite=Strict` cookie
//!   ([`SESSION_COOKIE`]) naming a new session: 256 random bits, kept in
//!   memory for 12 hours ([`Sessions`]). The token itself never reaches the
//!   browser's storage nor a URL. The guard accepts a live session for `GET`
//!   and `HEAD` only, beside `Authorization: Bearer`; `POST /logout` ends it
//!   (and a restart ends them all).
//! * **Assets** carry an `ETag` (FNV-1a of their bytes) and `Cache-Control:
//!   no-cache`, so browsers revalidate and get 304 until the binary changes.
//!   An unknown asset is a 404 JSON error naming `file`.

use super::error::ApiError;
use super::AppState;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Content-Security-Policy of the dashboard pages.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Name of the session cookie `POST /login` sets.
pub const SESSION_COOKIE: &str = "sentineldns_session";

/// Name of the companion cookie (not `HttpOnly`, value `1`) that tells the
/// page a session exists, so it can offer to log out.
pub const MARKER_COOKIE: &str = "sentineldns_login";

/// Lifetime of a session, seconds.
pub const SESSION_SECS: u64 = 12 * 3600;

/// Most sessions kept at once; the one closest to expiry makes room.
pub const MAX_SESSIONS: usize = 1024;

/// Live dashboard sessions: random 256-bit ids and when they expire.
#[derive(Debug, Default)]
pub struct Sessions(Mutex<Vec<([u8; 32], Instant)>>);

impl Sessions {
    /// A new session id from the kernel's random source.
    fn create(&self) -> std::io::Result<[u8; 32]> {
        use std::io::Read;
        let mut id = [0u8; 32];
        std::fs::File::open("/dev/urandom")?.read_exact(&mut id)?;
        let now = Instant::now();
        let mut v = self
            .0
            .lock()
            .map_err(|_| std::io::Error::other("session table poisoned"))?;
        v.retain(|(_, exp)| *exp > now);
        if v.len() >= MAX_SESSIONS {
            if let Some(i) = (0..v.len()).min_by_key(|&i| v[i].1) {
                v.swap_remove(i);
            }
        }
        v.push((id, now + Duration::from_secs(SESSION_SECS)));
        Ok(id)
    }

    /// Whether `id` names a live session (every entry compared in full).
    pub(super) fn valid(&self, id: &[u8]) -> bool {
        let now = Instant::now();
        self.0.lock().is_ok_and(|v| {
            v.iter().fold(false, |hit, (s, exp)| {
                hit | (super::token_ok(id, s) & (*exp > now))
            })
        })
    }

    /// End the session `id`.
    fn remove(&self, id: &[u8]) {
        if let Ok(mut v) = self.0.lock() {
            v.retain(|(s, _)| s.as_slice() != id);
        }
    }
}

/// The HTML shell of every dashboard page.
const INDEX_HTML: &str = include_str!("../../dashboard/index.html");
/// The login page (also the body of a dashboard page's 401).
const LOGIN_HTML: &str = include_str!("../../dashboard/login.html");

/// An embedded file under `/assets/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../dashboard/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_bytes!("../../dashboard/app.css"),
    },
    Asset {
        name: "login.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_bytes!("../../dashboard/login.js"),
    },
    Asset {
        name: "favicon.svg",
        content_type: "image/svg+xml",
        body: include_bytes!("../../dashboard/favicon.svg"),
    },
];

/// The dashboard's routes, added to the API router.
pub(super) fn routes(r: Router<Arc<AppState>>) -> Router<Arc<AppState>> {
    r.route("/", get(page))
        .route("/incidents", get(page))
        .route("/hosts/{host}", get(page))
        .route("/assets/{file}", get(asset))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// Whether `path` is a dashboard page (the HTML shell).
pub(super) fn is_page(path: &str) -> bool {
    path == "/" || path == "/incidents" || path.starts_with("/hosts/")
}

/// Paths served without the token: the login page and the static assets
/// (the same bytes for everyone, no data).
pub(super) fn is_open(path: &str) -> bool {
    matches!(path, "/login" | "/logout") || path.starts_with("/assets/")
}

fn html(body: &'static str, status: StatusCode) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    r
}

async fn page() -> Response {
    html(INDEX_HTML, StatusCode::OK)
}

async fn login_page() -> Response {
    html(LOGIN_HTML, StatusCode::OK)
}

/// The answer to a dashboard page requested without a valid token: 401
/// with the login page, which reloads the page once logged in.
pub(super) fn login_required() -> Response {
    html(LOGIN_HTML, StatusCode::UNAUTHORIZED)
}

/// FNV-1a 64 of `bytes`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The ETag of each asset, in [`ASSETS`] order.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| format!("\"{:016x}\"", fnv1a(a.body)))
            .collect()
    })
}

async fn asset(
    file: Result<Path<String>, axum::extract::rejection::PathRejection>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let Path(file) = file.map_err(|_| ApiError::not_found("file", "no such asset"))?;
    let Some(i) = ASSETS.iter().position(|a| a.name == file) else {
        return Err(ApiError::not_found("file", "no such asset"));
    };
    let (a, tag) = (&ASSETS[i], &etags()[i]);
    let fresh = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == tag
        });
    let mut r = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut r = a.body.into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(a.content_type),
        );
        r
    };
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Ok(r)
}

/// `POST /login` body.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    token: String,
}

/// Whether the request says its body is JSON.
fn json_body(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.split(';').next().unwrap_or("").trim() == "application/json" {
        Ok(())
    } else {
        // A cross-site form cannot send this type; a cross-site script
        // would need a CORS preflight, which this server never grants.
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("content-type"),
            "the body must be application/json",
        ))
    }
}

/// The cookies of a session (or, with `max_age` 0, that clear it).
fn session_cookies(r: &mut Response, value: &str, max_age: u64, secure: bool) {
    let secure = if secure { "; Secure" } else { "" };
    for c in [
        format!("{SESSION_COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"),
        format!("{MARKER_COOKIE}=1; Path=/; Max-Age={max_age}; SameSite=Strict{secure}"),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
    }
}

/// Whether a TLS proxy in front says the browser spoke HTTPS.
fn behind_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

async fn login(
    State(st): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    json_body(&headers)?;
    let body = body.map_err(|e| ApiError::new(e.status(), Some("body"), "unreadable body"))?;
    let Some(ours) = st.token.as_deref() else {
        return Err(ApiError::not_found(
            "path",
            "this server has no token: there is nothing to log in to",
        ));
    };
    let login: Login = serde_json::from_slice(&body)
        .map_err(|_| ApiError::bad("body", "expected {\"token\": \"...\"}"))?;
    if !super::token_ok(login.token.trim().as_bytes(), ours.as_bytes()) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            Some("token"),
            "wrong token",
        ));
    }
    let id = st.sessions.create().map_err(|e| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            format!("cannot start a session: {e}"),
        )
    })?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    session_cookies(&mut r, &hex(&id), SESSION_SECS, behind_tls(&headers));
    Ok(r)
}

async fn logout(State(st): State<Arc<AppState>>, headers: HeaderMap) -> Result<Response, ApiError> {
    json_body(&headers)?;
    if let Some(id) = session_id(&headers) {
        st.sessions.remove(&id);
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    session_cookies(&mut r, "", 0, behind_tls(&headers));
    Ok(r)
}

/// Lower-case hex of `bytes` (the cookie form of a session id).
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.len() > 8192 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The session a request's cookie names, for `GET` and `HEAD` only
/// (nothing that changes state is ever authorised by a cookie).
pub(super) fn cookie_session(method: &Method, headers: &HeaderMap) -> Option<Vec<u8>> {
    if method != Method::GET && method != Method::HEAD {
        return None;
    }
    session_id(headers)
}

/// The session id of the request's cookie, if any.
fn session_id(headers: &HeaderMap) -> Option<Vec<u8>> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .and_then(|(_, v)| unhex(v.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cookie_form_of_a_session_round_trips() {
        let id = [0u8, 1, 0xfe, 0xff, 0x7f];
        let c = hex(&id);
        assert_eq!(c, "0001feff7f");
        assert_eq!(unhex(&c).unwrap(), id);
        assert!(unhex("abc").is_none() && unhex("zz").is_none());
    }

    #[test]
    fn cookies_authorise_reads_only() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {SESSION_COOKIE}={}", hex(b"secret"))).unwrap(),
        );
        assert_eq!(cookie_session(&Method::GET, &h).unwrap(), b"secret");
        assert!(cookie_session(&Method::POST, &h).is_none());
    }

    #[test]
    fn sessions_are_random_bounded_and_end() {
        let s = Sessions::default();
        let a = s.create().unwrap();
        let b = s.create().unwrap();
        assert_ne!(a, b);
        assert!(s.valid(&a) && s.valid(&b));
        assert!(!s.valid(&[0u8; 32]) && !s.valid(&a[..31]));
        s.remove(&a);
        assert!(!s.valid(&a) && s.valid(&b));
        for _ in 0..MAX_SESSIONS + 5 {
            s.create().unwrap();
        }
        assert!(s.0.lock().unwrap().len() <= MAX_SESSIONS);
    }

    #[test]
    fn every_asset_has_a_distinct_tag_and_pages_are_recognised() {
        let t = etags();
        assert_eq!(t.len(), ASSETS.len());
        assert!(t.iter().all(|x| x.len() == 18));
        assert!(is_page("/") && is_page("/incidents") && is_page("/hosts/10.0.0.1"));
        assert!(!is_page("/api/v1/hosts") && !is_page("/assets/app.js"));
        assert!(is_open("/assets/app.js") && is_open("/login") && !is_open("/"));
        // The shell carries no data and no inline script or style.
        for page in [INDEX_HTML, LOGIN_HTML] {
            for bad in [
                "<script>",
                "<style",
                "style=",
                "onclick",
                "onload",
                "javascript:",
            ] {
                assert!(!page.contains(bad), "{bad}");
            }
        }
    }
}
