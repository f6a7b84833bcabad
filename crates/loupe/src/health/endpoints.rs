//! `GET /health`, `GET /ready` and `GET /live` as one axum router.

use super::registry::HealthRegistry;
use crate::common::error::ConfigError;
use crate::export::http_server::HttpServer;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;

/// Where the endpoints are served. Defaults: `/health`, `/ready` (002's
/// `readiness_endpoint`) and `/live` (002's `liveness_endpoint`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HealthPaths {
    /// The JSON health report: 200 when healthy or degraded, 503 otherwise.
    pub health: String,
    /// Readiness: 200 when ready, 503 while not ready or shutting down.
    pub readiness: String,
    /// Liveness: 200 as long as the process answers.
    pub liveness: String,
}

impl Default for HealthPaths {
    fn default() -> Self {
        HealthPaths {
            health: "/health".into(),
            readiness: "/ready".into(),
            liveness: "/live".into(),
        }
    }
}

impl HealthPaths {
    /// Checks that each path starts with `/`, uses only letters, digits and `/-._~`, and
    /// that the three differ.
    pub fn validate(&self) -> Result<(), ConfigError> {
        const ALLOWED: &str = "a path starting with `/` of letters, digits and `/-._~`, distinct from the other health paths";
        let fields = [
            ("health_endpoint", &self.health),
            ("readiness_endpoint", &self.readiness),
            ("liveness_endpoint", &self.liveness),
        ];
        for (i, (field, path)) in fields.iter().enumerate() {
            let valid = path.starts_with('/')
                && path
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"/-._~".contains(&b));
            let duplicate = fields[..i].iter().any(|(_, other)| other == path);
            if !valid || duplicate {
                return Err(ConfigError::new(field, format!("{path:?}"), ALLOWED));
            }
        }
        Ok(())
    }
}

impl HealthRegistry {
    /// An axum router serving the three endpoints at `paths` (`HEAD` too; other methods
    /// get 405 with an `Allow` header, other paths 404).
    ///
    /// * `GET /health`: the [`HealthReport`](super::HealthReport) as JSON; 200 when the
    ///   status is `healthy` or `degraded`, 503 when `unhealthy` or `shutting_down`.
    /// * `GET /ready`: `{"status":"ready"}` with 200, or
    ///   `{"status":"not_ready","reason":"..."}` with 503.
    /// * `GET /live`: `OK` with 200.
    ///
    /// Merge it into an application, or with the Prometheus endpoint, with
    /// `Router::merge` (the paths must not overlap); serve it alone with [`serve`]. The
    /// router keeps the registry, and so its checks, alive.
    pub fn router(&self, paths: &HealthPaths) -> Result<axum::Router, ConfigError> {
        paths.validate()?;
        Ok(axum::Router::new()
            .route(&paths.health, axum::routing::get(health))
            .route(&paths.readiness, axum::routing::get(ready))
            .route(&paths.liveness, axum::routing::get(live))
            .with_state(self.clone()))
    }
}

/// Serves `router` (e.g. health endpoints merged with the Prometheus endpoint) on `addr`
/// from Loupe's I/O thread, independent of any runtime in the host, until the returned
/// handle is shut down or dropped. Binding errors (port in use, permission) are returned at
/// once.
///
/// ```
/// use loupe::export::prometheus::PrometheusExporter;
/// use loupe::health::{self, HealthPaths, HealthRegistry};
/// use loupe::metrics::MeterProvider;
///
/// let registry = HealthRegistry::new();
/// let metrics = PrometheusExporter::new(&MeterProvider::builder().build());
/// let router = registry.router(&HealthPaths::default())?.merge(metrics.router("/metrics"));
/// let server = health::serve(router, "127.0.0.1:0".parse()?)?;
/// println!("http://{}/health and /metrics", server.local_addr());
/// server.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn serve(router: axum::Router, addr: SocketAddr) -> std::io::Result<HttpServer> {
    crate::export::http_server::serve_router(router, addr)
}

fn json(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let body = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Probes must see the state now, never a cached answer.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn health(State(registry): State<HealthRegistry>) -> Response {
    let report = registry.report();
    let status = if report.status.is_serving() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(status, &report)
}

async fn ready(State(registry): State<HealthRegistry>) -> Response {
    match registry.not_ready_reason() {
        None => json(StatusCode::OK, &serde_json::json!({"status": "ready"})),
        Some(reason) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            &serde_json::json!({"status": "not_ready", "reason": reason}),
        ),
    }
}

async fn live() -> Response {
    let mut response = "OK\n".into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_validated_and_must_differ() {
        assert!(HealthPaths::default().validate().is_ok());
        let paths = HealthPaths {
            liveness: "/health".into(),
            ..HealthPaths::default()
        };
        assert_eq!(paths.validate().unwrap_err().field, "liveness_endpoint");
        for bad in ["ready", "/{id}", "/a b", "/*rest", ""] {
            let paths = HealthPaths {
                readiness: bad.into(),
                ..HealthPaths::default()
            };
            assert_eq!(
                paths.validate().unwrap_err().field,
                "readiness_endpoint",
                "{bad}"
            );
        }
        let custom = HealthPaths {
            health: "/healthz".into(),
            readiness: "/probe/ready".into(),
            liveness: "/probe/live".into(),
        };
        assert!(custom.validate().is_ok());
    }
}
