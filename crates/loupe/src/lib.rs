//! # Loupe
//!
//! Low-overhead observability for Rust services: metrics, traces and logs in the
//! OpenTelemetry data model, recorded on a hot path built for speed and exported from the
//! SDK's own threads, so telemetry never blocks the application.
//!
//! ## Concepts
//!
//! * **Resource → scope → signal.** A [`Resource`] says which service produced the data,
//!   an [`InstrumentationScope`] which library or module, and each span, metric point or
//!   log record hangs below them — exactly as OTLP models it.
//! * **Providers own pipelines.** A [`trace::TracerProvider`] owns sampling, limits,
//!   processors and exporters for spans; a [`metrics::MeterProvider`] owns instruments,
//!   their series and the readers that export them. Tracers and meters are cheap handles
//!   for one scope.
//! * **Recording never waits.** Ended spans go to a per-thread buffer that the batch
//!   processor's thread drains; a full queue drops the span and counts it
//!   ([`trace::BatchStats`]). Metric handles write striped per-thread cells; pre-bound
//!   handles ([`metrics::Counter::bind`]) skip even the attribute lookup.
//! * **Bad input is counted, not fatal.** NaN measurements, negative counter increments,
//!   empty attribute keys and over-long values are dropped or truncated as the
//!   OpenTelemetry specification says, and counted in [`common::stats::sdk_stats`] and in
//!   the `loupe.sdk.*` metrics. Nothing panics.
//!
//! ## In a library or in an application
//!
//! A library takes a [`trace::Tracer`] and a [`metrics::Meter`] (or an
//! `Arc<dyn`[`facade::Telemetry`]`>`) from its caller and records; it never builds
//! providers. An application builds the providers once at start-up, hands out tracers and
//! meters, and calls `shutdown` (or drops the provider) before exit to flush.
//!
//! ## Quick start
//!
//! ```
//! use loupe::metrics::MeterProvider;
//! use loupe::trace::{BatchSpanProcessor, TracerProvider};
//! use loupe::export::{StdoutExporter, StdoutFormat};
//! use loupe::{KeyValue, Resource};
//! use std::time::Duration;
//!
//! let resource = Resource::builder().with_service_name("checkout").build();
//! let tracer_provider = TracerProvider::builder()
//!     .with_resource(resource.clone())
//!     .with_span_processor(BatchSpanProcessor::new(StdoutExporter::new(StdoutFormat::Pretty)))
//!     .build()?;
//! let meter_provider = MeterProvider::builder().with_resource(resource).build();
//!
//! let tracer = tracer_provider.tracer("checkout");
//! let orders = meter_provider.meter("checkout").u64_counter("orders.placed").build()?;
//!
//! tracer.in_span("place_order", |span| {
//!     span.set_attribute("order.items", 3i64);
//!     orders.add(1, &[KeyValue::new("payment.method", "card")]);
//! });
//!
//! tracer_provider.shutdown(Duration::from_secs(5))?; // flushes the batch to stdout
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Feature flags
//!
//! * `tokio` (default): [`trace::spawn`] spawns a Tokio task that inherits the current span.
//!   Everything else works without Tokio: export runs on plain threads.
//! * `otlp`, `prometheus`, `remote-write`, `http-export` (default): the network exporters,
//!   the Prometheus and health endpoints, the Elasticsearch log sink, traced `reqwest` calls.
//! * `tracing`, `log`, `metrics` (default): the [`bridge`]s from those facades.
//! * `tower` (default): [`web::HttpServerLayer`], the server layer for axum.
//!
//! ## Modules
//!
//! * [`trace`] — tracers, spans, samplers, limits, processors, span exporters, context.
//! * [`metrics`] — meters, instruments, bound handles, readers, metric exporters.
//! * [`logs`] — the structured logger: levels, fields, correlation ids, trace ids,
//!   JSON/pretty/logfmt, `RUST_LOG`-style filters, processors (redaction), and sinks
//!   (console, rotating files, OTLP, Elasticsearch) behind bounded queues.
//! * [`propagation`] — W3C Trace Context, W3C Baggage and B3 over HTTP headers, maps and
//!   messages; the process-wide propagator `OTEL_PROPAGATORS` chooses.
//! * [`web`] — a tower layer for HTTP servers and traced `reqwest` requests.
//! * [`bridge`] — `tracing`, `log` and `metrics` land in Loupe.
//! * [`packs`] — ready-made instrumentation for the seed systems: LLM calls, stream
//!   processing, plugins and messages.
//! * [`analytics`] — in-process aggregation (totals, gauges, p50–p99) and performance
//!   insights.
//! * [`facade`] — the seed's `Telemetry` trait with Core, Noop and Mock implementations.
//! * [`health`] — health checks (TCP, HTTP, command, disk space, Loupe's own pipeline) with
//!   thresholds, the `/health`, `/ready` and `/live` endpoints, and a health monitor.
//! * [`export`] — OTLP (gRPC, HTTP/protobuf, HTTP/JSON), Prometheus pull and remote write,
//!   StatsD/DogStatsD, Zipkin, Analytics Hub, stdout and in-memory exporters.
//! * [`common`] — attributes, resource, scope, errors and the SDK's own counters.

#![warn(missing_docs)]

pub mod analytics;
pub mod bridge;
pub mod common;
#[cfg(feature = "otlp")]
pub mod config;
pub mod export;
pub mod facade;
#[cfg(feature = "prometheus")]
pub mod health;
#[cfg(all(feature = "otlp", feature = "prometheus"))]
mod init;
pub mod logs;
pub mod metrics;
pub mod packs;
pub mod propagation;
pub mod trace;
#[cfg(feature = "tower")]
pub mod web;

pub use common::attribute::{Array, Key, KeyValue, Value};
pub use common::error::{ConfigError, ExportError};
pub use common::resource::Resource;
pub use common::scope::InstrumentationScope;
pub use facade::{
    attributes, BoxedSpan, CoreTelemetry, MockTelemetry, NoopTelemetry, SpanGuard, SpanStatus,
    Telemetry, TelemetryContext, TelemetryExt, TraceContext,
};
#[cfg(all(feature = "otlp", feature = "prometheus"))]
pub use init::{init, InitError, TelemetryGuard};

// Compile and run the README's examples as doc tests, so the quick start cannot rot.
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
