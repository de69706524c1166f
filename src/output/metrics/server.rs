//! The `/metrics` + `/healthz` HTTP server: `tiny_http` on its own thread,
//! rendering a snapshot of the registry per request.

use super::{Metrics, TroubleWatch};
use crate::output::OutputError;
use std::net::SocketAddr;
use std::sync::Arc;

/// The `/metrics` + `/healthz` HTTP server thread. Stops when dropped.
pub struct MetricsServer {
    server: Arc<tiny_http::Server>,
    addr: SocketAddr,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for MetricsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsServer")
            .field("addr", &self.addr)
            .finish()
    }
}

fn header(name: &str, value: &str) -> Option<tiny_http::Header> {
    tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn respond(req: tiny_http::Request, watch: &TroubleWatch) {
    use tiny_http::{Method, Response};
    let path = req.url().split('?').next().unwrap_or("");
    let head = *req.method() == Method::Head;
    let (status, ctype, body) = if *req.method() != Method::Get && !head {
        (
            405,
            "text/plain; charset=utf-8",
            "method not allowed\n".into(),
        )
    } else {
        match path {
            "/metrics" => (
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                watch.metrics().render(),
            ),
            "/healthz" => {
                let (status, body) = watch.health();
                (status, "application/json", body)
            }
            "/" => (
                200,
                "text/plain; charset=utf-8",
                "sentineldns: /metrics (Prometheus), /healthz\n".into(),
            ),
            _ => (404, "text/plain; charset=utf-8", "not found\n".into()),
        }
    };
    let mut resp = Response::from_string(body).with_status_code(status);
    if let Some(h) = header("Content-Type", ctype) {
        resp = resp.with_header(h);
    }
    if status == 405 {
        if let Some(h) = header("Allow", "GET, HEAD") {
            resp = resp.with_header(h);
        }
    }
    // A client that went away is not our problem.
    let _ = req.respond(resp);
}

impl MetricsServer {
    /// Bind `addr` (port 0 picks a free port; see [`local_addr`](Self::local_addr))
    /// and serve `metrics` on a new thread. `/healthz` answers 503
    /// `degraded` while the sensor is in trouble ([`TroubleWatch`]).
    pub fn start(addr: SocketAddr, metrics: Arc<Metrics>) -> Result<Self, OutputError> {
        let server = tiny_http::Server::http(addr).map_err(|e| OutputError::Metrics {
            addr,
            msg: e.to_string(),
        })?;
        let bound = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| OutputError::Metrics {
                addr,
                msg: "bound to a non-IP address".into(),
            })?;
        let server = Arc::new(server);
        let s = server.clone();
        let watch = TroubleWatch::new(metrics);
        let thread = std::thread::Builder::new()
            .name("metrics-http".into())
            .spawn(move || {
                for req in s.incoming_requests() {
                    respond(req, &watch);
                }
            })
            .map_err(|e| OutputError::Thread(e.to_string()))?;
        Ok(MetricsServer {
            server,
            addr: bound,
            thread: Some(thread),
        })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{get, parse};
    use super::*;

    #[test]
    fn server_serves_metrics_and_health_on_an_ephemeral_port() {
        let m = Arc::new(Metrics::default());
        let srv = MetricsServer::start("127.0.0.1:0".parse().unwrap(), m.clone()).unwrap();
        let addr = srv.local_addr();
        assert_ne!(addr.port(), 0, "the bound port is reported");
        let (st, body) = get(addr, "/metrics");
        assert_eq!(st, 200);
        assert_eq!(parse(&body)["sentineldns_windows_total"], 0.0);
        m.window(1_700_000_000);
        m.window(1_700_000_300);
        let (_, body) = get(addr, "/metrics");
        assert_eq!(parse(&body)["sentineldns_windows_total"], 2.0);
        let (st, body) = get(addr, "/healthz");
        assert_eq!(st, 200);
        let h: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(h["status"], "ok");
        assert_eq!(h["windows"], 2);
        m.webhook.set_configured(4);
        m.webhook
            .set_breaker(crate::output::metrics::BreakerState::Open);
        let (st, body) = get(addr, "/healthz");
        assert_eq!(st, 503, "{body}");
        let h: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(h["status"], "degraded");
        assert!(h["reason"].as_str().unwrap().contains("webhook"), "{h}");
        assert_eq!(get(addr, "/nope").0, 404);
        // Dropping the server joins its thread (a hang here would fail the test run).
        drop(srv);
    }
}
