//! The Prometheus pull endpoint: text format 0.0.4 and OpenMetrics 1.0, chosen by the
//! scrape's `Accept` header.
//!
//! OpenTelemetry names become Prometheus names by the compatibility rules
//! (`plugin.messages.received` → `plugin_messages_received_total`, `s` → `_seconds`), resource
//! attributes become `target_info`, and every series carries `otel_scope_name` /
//! `otel_scope_version`. Mount [`PrometheusExporter::router`] into an existing axum app, or
//! run [`PrometheusExporter::serve`] as a standalone listener:
//!
//! ```
//! use loupe::export::prometheus::PrometheusExporter;
//! use loupe::metrics::MeterProvider;
//!
//! let provider = MeterProvider::builder().build();
//! let counter = provider.meter("bus").u64_counter("plugin.messages.received").build().unwrap();
//! counter.add(3, &[loupe::KeyValue::new("plugin", "validator")]);
//!
//! let exporter = PrometheusExporter::new(&provider).with_prefix("clusterdb");
//! let text = exporter.render(loupe::export::prometheus::Format::Text);
//! assert!(text.contains("clusterdb_plugin_messages_received_total{plugin=\"validator\""));
//!
//! // Standalone, on an ephemeral port of the loopback interface:
//! let server = exporter.serve("127.0.0.1:0".parse().unwrap(), "/metrics").unwrap();
//! println!("scrape http://{}/metrics", server.local_addr());
//! server.shutdown();
//! ```

pub(crate) mod render;

pub use render::{label_name, metric_name, Format, NameKind};

pub use crate::export::http_server::HttpServer;
use crate::metrics::MeterProvider;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::Arc;

/// Renders a meter provider's metrics for Prometheus scrapes.
#[derive(Clone)]
pub struct PrometheusExporter {
    provider: MeterProvider,
    options: Arc<render::RenderOptions>,
}

impl std::fmt::Debug for PrometheusExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PrometheusExporter")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl PrometheusExporter {
    /// An exporter of everything `provider` records, with `target_info`, scope labels and
    /// unit suffixes on.
    pub fn new(provider: &MeterProvider) -> Self {
        PrometheusExporter {
            provider: provider.clone(),
            options: Arc::new(render::RenderOptions {
                prefix: None,
                const_labels: Vec::new(),
                target_info: true,
                scope_labels: true,
                unit_suffixes: true,
            }),
        }
    }

    fn options_mut(&mut self) -> &mut render::RenderOptions {
        Arc::make_mut(&mut self.options)
    }

    /// Puts `prefix_` in front of every metric name (002's `prefix`).
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        self.options_mut().prefix = (!prefix.is_empty()).then_some(prefix);
        self
    }

    /// Adds a label to every series (002's constant labels). The name is sanitised like an
    /// attribute key; a label recorded on the series itself wins over a constant one.
    pub fn with_const_label(mut self, name: impl AsRef<str>, value: impl Into<String>) -> Self {
        let name = label_name(name.as_ref());
        let value = value.into();
        let labels = &mut self.options_mut().const_labels;
        labels.retain(|(k, _)| *k != name);
        labels.push((name, value));
        self
    }

    /// Leaves out the `target_info` series with the resource attributes.
    pub fn without_target_info(mut self) -> Self {
        self.options_mut().target_info = false;
        self
    }

    /// Leaves out the `otel_scope_name` / `otel_scope_version` labels.
    pub fn without_scope_labels(mut self) -> Self {
        self.options_mut().scope_labels = false;
        self
    }

    /// Leaves unit suffixes (`_seconds`, `_bytes`) off metric names.
    pub fn without_unit_suffixes(mut self) -> Self {
        self.options_mut().unit_suffixes = false;
        self
    }

    /// Collects the provider's metrics (cumulative) and renders them in `format`.
    pub fn render(&self, format: Format) -> String {
        render::render(&self.provider.collect(), format, &self.options)
    }

    /// Renders already-collected metrics in `format`.
    pub fn render_metrics(
        &self,
        metrics: &crate::metrics::ResourceMetrics,
        format: Format,
    ) -> String {
        render::render(metrics, format, &self.options)
    }

    /// An axum router serving `GET path` (with `HEAD`; other methods get 405 and an
    /// `Allow` header). Merge it into an existing app with `Router::merge`.
    pub fn router(&self, path: &str) -> axum::Router {
        axum::Router::new()
            .route(path, axum::routing::get(scrape))
            .with_state(self.clone())
    }

    /// Serves `GET path` on `addr` from Loupe's own I/O thread, independent of any runtime
    /// in the host. Binding errors (port in use, permission) are returned at once.
    pub fn serve(&self, addr: SocketAddr, path: &str) -> std::io::Result<HttpServer> {
        crate::export::http_server::serve_router(self.router(path), addr)
    }
}

async fn scrape(State(exporter): State<PrometheusExporter>, headers: HeaderMap) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let body = exporter.render(format);
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let mut response = if gzip {
        (
            [(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"))],
            crate::export::transport::gzip(body.as_bytes()),
        )
            .into_response()
    } else {
        body.into_response()
    };
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    *response.status_mut() = StatusCode::OK;
    response
}
