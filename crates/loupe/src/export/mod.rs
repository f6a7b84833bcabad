//! Where telemetry goes.
//!
//! * In-process: [`InMemorySpanExporter`] / [`InMemoryMetricExporter`] (tests) and
//!   [`StdoutExporter`] (pretty or JSON lines).
//! * [`otlp`]: spans and metrics over gRPC, HTTP/protobuf and HTTP/JSON (any OpenTelemetry
//!   Collector, Jaeger, Tempo, Honeycomb, ...).
//! * [`prometheus`]: the pull endpoint (text 0.0.4 and OpenMetrics 1.0), as an axum router
//!   or a standalone listener; [`remote_write`]: Prometheus remote write 1.0.
//! * [`statsd`]: StatsD and DogStatsD over UDP (Datadog through its agent).
//! * [`zipkin`]: Zipkin v2 JSON.
//! * [`analytics_hub`]: the LLM Simulator's Analytics Hub batches.
//!
//! Network exporters accept `https://` endpoints with the `tls` feature (on by default);
//! [`tls`] says which servers they trust and how to present a client certificate.
//!
//! Network exporters run their I/O on one private `loupe-io` thread (never on the host's
//! runtime), retry only what is retryable ([`RetryPolicy`]), and publish their own health
//! as `loupe.sdk.exporter.*` metrics (exported, failed, rejected, retries, duration).

#[cfg(feature = "http-export")]
pub mod analytics_hub;
#[cfg(feature = "prometheus")]
pub mod http_server;
pub mod memory;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "prometheus")]
pub mod prometheus;
#[cfg(feature = "remote-write")]
pub mod remote_write;
pub mod statsd;
pub mod stdout;
pub mod tls;
#[cfg(feature = "http-export")]
pub mod transport;
#[cfg(feature = "http-export")]
pub mod zipkin;

#[cfg(feature = "http-export")]
pub use analytics_hub::{AnalyticsHubConfig, AnalyticsHubExporter};
pub use memory::{InMemoryMetricExporter, InMemorySpanExporter};
pub use statsd::{StatsdExporter, StatsdExporterBuilder, StatsdFlavor};
pub use stdout::{StdoutExporter, StdoutFormat};
#[cfg(feature = "http-export")]
pub use transport::RetryPolicy;
#[cfg(feature = "http-export")]
pub use zipkin::{ZipkinExporter, ZipkinExporterBuilder};
