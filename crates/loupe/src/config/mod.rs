//! One configuration for every signal: defaults, a YAML or TOML file, the OpenTelemetry
//! environment variables, and code — in that order of precedence, the later winning.
//!
//! | layer | how |
//! |---|---|
//! | defaults | [`TelemetryConfig::default`] (the LLM Simulator's `TelemetryConfig::default()`) |
//! | file | [`TelemetryConfig::from_file`] / [`from_yaml_str`](TelemetryConfig::from_yaml_str) / [`from_toml_str`](TelemetryConfig::from_toml_str), `${VAR}` expanded |
//! | environment | `OTEL_*` (and 001's `SERVICE_NAME`), applied by [`TelemetryConfig::resolve`] |
//! | code | the `with_*` builder methods, applied last by [`TelemetryConfig::resolve`] |
//!
//! ```
//! use loupe::config::TelemetryConfig;
//!
//! let yaml = "tracing:\n  sampling_rate: 0.25\nmetrics:\n  prometheus_path: /internal/metrics\n";
//! let config = TelemetryConfig::from_yaml_str(yaml)
//!     .unwrap()
//!     .with_service_version("1.4.2")
//!     .with_environment("staging");
//! let resolved = config.resolve_with(|_| None).unwrap(); // no environment, for the example
//! assert_eq!(resolved.tracing.sampling_rate, 0.25);
//! assert_eq!(resolved.service.version.as_deref(), Some("1.4.2"));
//! ```

mod env;
mod health;
mod load;
mod logging;
pub mod resource;

pub use health::{CheckConfig, HealthCheckConfig};
pub use load::ConfigFileError;
pub use logging::{LogProcessorConfig, LogSinkConfig, RotationConfig};

use crate::common::error::ConfigError;
use crate::export::analytics_hub::AnalyticsHubConfig;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Where a signal's data goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ExporterKind {
    /// OTLP (protocol from `otlp.protocol`).
    #[default]
    Otlp,
    /// Zipkin v2 JSON (traces only).
    Zipkin,
    /// Standard output, pretty (`console` in `OTEL_*_EXPORTER`).
    Console,
    /// Nothing.
    None,
}

/// Which sampler new traces use (`OTEL_TRACES_SAMPLER`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SamplerKind {
    /// Sample everything.
    AlwaysOn,
    /// Sample nothing.
    AlwaysOff,
    /// Sample `sampling_rate` of traces by trace id.
    TraceIdRatio,
    /// Follow the parent; roots always sampled.
    ParentBasedAlwaysOn,
    /// Follow the parent; roots never sampled.
    ParentBasedAlwaysOff,
    /// Follow the parent; roots sampled at `sampling_rate` (the default).
    #[default]
    ParentBasedTraceIdRatio,
}

/// The service being observed: the resource's `service.*` attributes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceConfig {
    /// `service.name` (default `unknown_service:<executable>`).
    pub name: Option<String>,
    /// `service.version`.
    pub version: Option<String>,
    /// `service.namespace`.
    pub namespace: Option<String>,
    /// `deployment.environment`.
    pub environment: Option<String>,
    /// `service.instance.id` (default a random UUID per process).
    pub instance_id: Option<String>,
    /// More resource attributes (string values).
    pub resource_attributes: std::collections::BTreeMap<String, String>,
}

/// Traces (001's `TracingConfig`, plus the sampler and exporter choice).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracingConfig {
    /// Record and export spans.
    pub enabled: bool,
    /// Where spans go.
    pub exporter: ExporterKind,
    /// The OTLP endpoint for spans.
    pub otlp_endpoint: String,
    /// The Zipkin endpoint, with `exporter: zipkin` (`OTEL_EXPORTER_ZIPKIN_ENDPOINT`).
    pub zipkin_endpoint: String,
    /// The certificate authority to trust and the client identity for an `https://`
    /// Zipkin endpoint (default: the system's trust store, no client certificate).
    pub zipkin_tls: crate::export::tls::TlsConfig,
    /// How long one Zipkin export may take, in milliseconds (`OTEL_EXPORTER_ZIPKIN_TIMEOUT`;
    /// default 10000, the OpenTelemetry default).
    pub zipkin_timeout_ms: u64,
    /// The sampler.
    pub sampler: SamplerKind,
    /// The ratio of traces sampled, 0.0–1.0.
    pub sampling_rate: f64,
    /// Span attribute limit.
    pub max_attributes_per_span: u32,
    /// Span event limit.
    pub max_events_per_span: u32,
    /// Span link limit.
    pub max_links_per_span: u32,
    /// Attributes per span event.
    pub max_attributes_per_event: u32,
    /// Attributes per span link.
    pub max_attributes_per_link: u32,
    /// Characters per attribute value (none by default).
    pub max_attribute_value_length: Option<usize>,
    /// Batch processor queue.
    pub max_queue_size: usize,
    /// Spans per export.
    pub batch_size: usize,
    /// Longest wait between exports.
    pub export_delay_ms: u64,
    /// Export timeout.
    pub export_timeout_secs: u64,
}

impl Default for TracingConfig {
    fn default() -> Self {
        TracingConfig {
            enabled: true,
            exporter: ExporterKind::Otlp,
            otlp_endpoint: "http://localhost:4317".into(),
            zipkin_endpoint: "http://localhost:9411/api/v2/spans".into(),
            zipkin_tls: Default::default(),
            zipkin_timeout_ms: 10_000,
            sampler: SamplerKind::default(),
            sampling_rate: 1.0,
            max_attributes_per_span: 128,
            max_events_per_span: 128,
            max_links_per_span: 32,
            max_attributes_per_event: 128,
            max_attributes_per_link: 128,
            max_attribute_value_length: None,
            max_queue_size: 2048,
            batch_size: 512,
            export_delay_ms: 5000,
            export_timeout_secs: 30,
        }
    }
}

/// Metrics (001's `MetricsConfig`, plus where the Prometheus endpoint listens).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Record metrics.
    pub enabled: bool,
    /// Serve the Prometheus endpoint.
    pub prometheus_enabled: bool,
    /// Its path.
    pub prometheus_path: String,
    /// Where it listens (`host:port`).
    pub prometheus_listen: String,
    /// A prefix for every Prometheus metric name (002).
    pub prometheus_prefix: Option<String>,
    /// Push metrics with OTLP.
    pub otlp_enabled: bool,
    /// The OTLP endpoint for metrics.
    pub otlp_endpoint: String,
    /// How often metrics are pushed.
    pub export_interval_secs: u64,
    /// Push timeout.
    pub export_timeout_secs: u64,
    /// Histogram buckets for request durations, seconds.
    pub duration_buckets: Vec<f64>,
    /// Histogram buckets for time to first token, seconds.
    pub ttft_buckets: Vec<f64>,
    /// The series limit per instrument.
    pub cardinality_limit: usize,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            prometheus_enabled: true,
            prometheus_path: "/metrics".into(),
            prometheus_listen: "0.0.0.0:9464".into(),
            prometheus_prefix: None,
            otlp_enabled: true,
            otlp_endpoint: "http://localhost:4317".into(),
            export_interval_secs: 60,
            export_timeout_secs: 30,
            duration_buckets: crate::metrics::DEFAULT_HISTOGRAM_BOUNDARIES.to_vec(),
            ttft_buckets: vec![0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0],
            cardinality_limit: crate::metrics::DEFAULT_CARDINALITY_LIMIT,
        }
    }
}

/// Logs (001's `LoggingConfig`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingConfig {
    /// Export log records.
    pub enabled: bool,
    /// Where log records go.
    pub exporter: ExporterKind,
    /// The OTLP endpoint for logs.
    pub otlp_endpoint: String,
    /// The level filter (`RUST_LOG`-style directives).
    pub level: String,
    /// Batch queue.
    pub max_queue_size: usize,
    /// Records per export.
    pub batch_size: usize,
    /// Longest wait between exports.
    pub export_delay_ms: u64,
    /// Export timeout.
    pub export_timeout_secs: u64,
    /// The format of console and file sinks: `json` (003's shape), `pretty` or `logfmt`.
    pub format: String,
    /// Where records go besides the exporter (default: the console).
    pub sinks: Vec<LogSinkConfig>,
    /// Processors applied before the sinks, in order.
    pub processors: Vec<LogProcessorConfig>,
    /// Redact secrets (password, secret, token, api_key, authorization, …) in every
    /// record; 003 asks for zero secrets in logs.
    pub redact: bool,
    /// Route the `tracing` and `log` crates into Loupe: a global `tracing` subscriber
    /// (when none is set) and the `log` logger (when none is set).
    pub bridges: bool,
}

impl Default for LoggingConfig {
    fn default() -> Self {
        LoggingConfig {
            enabled: true,
            exporter: ExporterKind::Otlp,
            otlp_endpoint: "http://localhost:4317".into(),
            level: "info".into(),
            max_queue_size: 2048,
            batch_size: 512,
            export_delay_ms: 1000,
            export_timeout_secs: 30,
            format: "json".into(),
            sinks: vec![LogSinkConfig::Console {
                format: None,
                stderr: false,
            }],
            processors: Vec::new(),
            redact: true,
            bridges: true,
        }
    }
}

/// OTLP transport settings shared by every signal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OtlpSettings {
    /// `grpc`, `http/protobuf` or `http/json` (default `grpc`, matching 001's 4317
    /// endpoints).
    pub protocol: String,
    /// Headers for every request.
    pub headers: std::collections::BTreeMap<String, String>,
    /// `gzip` or `none`.
    pub compression: String,
    /// `cumulative` or `delta`.
    pub temporality: String,
    /// Per-request timeout, milliseconds.
    pub timeout_ms: u64,
    /// TLS files for `https://` endpoints: `certificate` (the certificate authorities to
    /// trust instead of the system's), `client_certificate` and `client_key` (mutual TLS).
    /// `OTEL_EXPORTER_OTLP_CERTIFICATE`, `_CLIENT_CERTIFICATE` and `_CLIENT_KEY` set them too.
    pub tls: crate::export::tls::TlsConfig,
    /// Per-signal settings from `OTEL_EXPORTER_OTLP_{TRACES,METRICS,LOGS}_*`, indexed by
    /// [`Signal`](crate::export::otlp::Signal); a per-signal endpoint is used as given.
    #[serde(skip)]
    pub signals: [crate::export::otlp::SignalOverrides; 3],
}

impl Default for OtlpSettings {
    fn default() -> Self {
        OtlpSettings {
            protocol: "grpc".into(),
            headers: Default::default(),
            compression: "none".into(),
            temporality: "cumulative".into(),
            timeout_ms: 10_000,
            tls: Default::default(),
            signals: Default::default(),
        }
    }
}

/// Health endpoints and graceful shutdown (002, 003).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HealthConfig {
    /// Serve the health endpoints.
    pub enabled: bool,
    /// Where they listen (`host:port`); the same address as the Prometheus endpoint
    /// serves both from one listener.
    pub listen: String,
    /// The full health report.
    pub health_endpoint: String,
    /// Readiness (503 while not ready or shutting down).
    pub readiness_endpoint: String,
    /// Liveness.
    pub liveness_endpoint: String,
    /// How long readiness stays false before pipelines flush, on shutdown.
    pub drain_period_secs: u64,
    /// How long the final flush may take.
    pub shutdown_timeout_secs: u64,
    /// Checks registered at start-up (002's `checks`).
    pub checks: Vec<HealthCheckConfig>,
}

impl Default for HealthConfig {
    fn default() -> Self {
        HealthConfig {
            enabled: true,
            listen: "0.0.0.0:9464".into(),
            health_endpoint: "/health".into(),
            readiness_endpoint: "/ready".into(),
            liveness_endpoint: "/live".into(),
            drain_period_secs: 5,
            shutdown_timeout_secs: 10,
            checks: Vec::new(),
        }
    }
}

type Override = Arc<dyn Fn(&mut TelemetryConfig) + Send + Sync>;

/// Everything Loupe needs to set up every signal. See the [module docs](self) for the
/// layers and their precedence.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// `OTEL_SDK_DISABLED`: when true, `loupe::init` installs no-op pipelines.
    pub disabled: bool,
    /// The service (resource attributes).
    pub service: ServiceConfig,
    /// Traces.
    pub tracing: TracingConfig,
    /// Metrics.
    pub metrics: MetricsConfig,
    /// Logs.
    pub logging: LoggingConfig,
    /// OTLP transport settings.
    pub otlp: OtlpSettings,
    /// Propagators (`OTEL_PROPAGATORS`): `tracecontext`, `baggage`, `b3`, `b3multi`, `none`.
    pub propagators: Vec<String>,
    /// Health endpoints and shutdown.
    pub health: HealthConfig,
    /// The Analytics Hub exporter (001).
    pub analytics_hub: AnalyticsHubConfig,
    /// The API key for authenticated exports: sent as the `api-key` OTLP header and the
    /// Analytics Hub's key unless those are set themselves.
    pub api_key: Option<String>,
    #[serde(skip)]
    overrides: Vec<Override>,
    #[serde(skip)]
    warnings: Vec<String>,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            disabled: false,
            service: ServiceConfig::default(),
            tracing: TracingConfig::default(),
            metrics: MetricsConfig::default(),
            logging: LoggingConfig::default(),
            otlp: OtlpSettings::default(),
            propagators: vec!["tracecontext".into(), "baggage".into()],
            health: HealthConfig::default(),
            analytics_hub: AnalyticsHubConfig::default(),
            api_key: None,
            overrides: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

impl std::fmt::Debug for TelemetryConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryConfig")
            .field("disabled", &self.disabled)
            .field("service", &self.service)
            .field("tracing", &self.tracing)
            .field("metrics", &self.metrics)
            .field("logging", &self.logging)
            .field("otlp", &self.otlp)
            .field("propagators", &self.propagators)
            .field("health", &self.health)
            .field("analytics_hub", &self.analytics_hub)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("overrides", &self.overrides.len())
            .finish()
    }
}

impl PartialEq for TelemetryConfig {
    fn eq(&self, other: &Self) -> bool {
        self.disabled == other.disabled
            && self.service == other.service
            && self.tracing == other.tracing
            && self.metrics == other.metrics
            && self.logging == other.logging
            && self.otlp == other.otlp
            && self.propagators == other.propagators
            && self.health == other.health
            && self.analytics_hub == other.analytics_hub
            && self.api_key == other.api_key
    }
}

macro_rules! builder {
    ($(#[$doc:meta] $name:ident($arg:ident: $ty:ty) => |$c:ident| $set:expr;)*) => {
        $(
            #[$doc]
            ///
            /// Set in code, this wins over the environment and the file.
            pub fn $name(mut self, $arg: impl Into<$ty>) -> Self {
                let $arg: $ty = $arg.into();
                self.overrides.push(Arc::new(move |$c: &mut TelemetryConfig| {
                    let $arg = $arg.clone();
                    $set
                }));
                self
            }
        )*
    };
}

impl TelemetryConfig {
    /// Defaults for a service named `service_name` (004's builder entry point).
    pub fn new(service_name: impl Into<String>) -> Self {
        TelemetryConfig::default().with_service_name(service_name)
    }

    builder! {
        /// Sets `service.name`.
        with_service_name(name: String) => |c| c.service.name = Some(name);
        /// Sets `service.version`.
        with_service_version(version: String) => |c| c.service.version = Some(version);
        /// Sets `deployment.environment`.
        with_environment(environment: String) => |c| c.service.environment = Some(environment);
        /// Sets the OTLP endpoint of every signal.
        with_otlp_endpoint(endpoint: String) => |c| {
            c.tracing.otlp_endpoint = endpoint.clone();
            c.metrics.otlp_endpoint = endpoint.clone();
            c.logging.otlp_endpoint = endpoint;
            for s in &mut c.otlp.signals {
                s.endpoint = None;
            }
        };
        /// Sets the OTLP protocol (`grpc`, `http/protobuf`, `http/json`).
        with_otlp_protocol(protocol: String) => |c| c.otlp.protocol = protocol;
        /// Sets the ratio of traces sampled.
        with_sampling_rate(rate: f64) => |c| c.tracing.sampling_rate = rate;
        /// Sets where spans go.
        with_traces_exporter(kind: ExporterKind) => |c| c.tracing.exporter = kind;
        /// Turns OTLP metric pushes on or off.
        with_otlp_metrics(enabled: bool) => |c| c.metrics.otlp_enabled = enabled;
        /// Sets where log records go.
        with_logs_exporter(kind: ExporterKind) => |c| c.logging.exporter = kind;
        /// Sets where the Prometheus endpoint listens, and turns it on.
        with_prometheus_listen(listen: String) => |c| {
            c.metrics.prometheus_enabled = true;
            c.metrics.prometheus_listen = listen;
        };
        /// Sets where the health endpoints listen, and turns them on.
        with_health_listen(listen: String) => |c| {
            c.health.enabled = true;
            c.health.listen = listen;
        };
        /// Sets the API key.
        with_api_key(key: String) => |c| c.api_key = Some(key);
        /// Turns the whole SDK off (no-op pipelines).
        with_disabled(disabled: bool) => |c| c.disabled = disabled;
    }

    /// Applies any change in code; like the `with_*` methods, it wins over the
    /// environment and the file.
    pub fn with(mut self, change: impl Fn(&mut TelemetryConfig) + Send + Sync + 'static) -> Self {
        self.overrides.push(Arc::new(change));
        self
    }

    /// The effective configuration: this one (defaults and file), then the process
    /// environment, then the changes made in code; validated.
    pub fn resolve(&self) -> Result<TelemetryConfig, ConfigError> {
        self.resolve_with(|name| std::env::var(name).ok())
    }

    /// Like [`resolve`](Self::resolve), reading variables through `lookup`.
    pub fn resolve_with(
        &self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<TelemetryConfig, ConfigError> {
        let mut resolved = self.clone();
        resolved.overrides.clear();
        env::apply(&mut resolved, &lookup)?;
        for change in &self.overrides {
            change(&mut resolved);
        }
        resolved.validate()?;
        Ok(resolved)
    }

    /// Problems found in the environment that were ignored as the OpenTelemetry
    /// specification says (an unknown sampler, a malformed number, a malformed
    /// `OTEL_RESOURCE_ATTRIBUTES`): each is reported here, and printed by `loupe::init`.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub(crate) fn warn(&mut self, message: String) {
        self.warnings.push(message);
    }

    fn validate_logging(&self) -> Result<(), ConfigError> {
        let l = &self.logging;
        crate::logs::LogFilter::parse(&l.level).map_err(|e| ConfigError {
            field: "logging.level",
            value: format!("{:?} (at `{}`)", l.level, e.value),
            allowed: e.allowed,
        })?;
        const FORMATS: &str = "json, pretty or logfmt";
        if crate::logs::LogFormat::parse(&l.format).is_none() {
            return Err(ConfigError::new("logging.format", &l.format, FORMATS));
        }
        for sink in &l.sinks {
            match sink {
                LogSinkConfig::Console { format, .. } | LogSinkConfig::File { format, .. } => {
                    if let Some(f) = format
                        .as_deref()
                        .filter(|f| crate::logs::LogFormat::parse(f).is_none())
                    {
                        return Err(ConfigError::new("logging.sinks[].format", f, FORMATS));
                    }
                }
                LogSinkConfig::Elasticsearch {
                    url, buffer_size, ..
                } => {
                    crate::export::transport::check_http_url("logging.sinks[].url", url)?;
                    if *buffer_size == 0 {
                        return Err(ConfigError::new(
                            "logging.sinks[].buffer_size",
                            buffer_size,
                            "a positive integer",
                        ));
                    }
                }
            }
            if let LogSinkConfig::File { path, rotation, .. } = sink {
                if path.as_os_str().is_empty() {
                    return Err(ConfigError::new(
                        "logging.sinks[].path",
                        "\"\"",
                        "a file path",
                    ));
                }
                if let Some(r) = rotation {
                    if r.max_size_mb == 0 || r.max_files == 0 {
                        return Err(ConfigError::new(
                            "logging.sinks[].rotation",
                            format!("max_size_mb: {}, max_files: {}", r.max_size_mb, r.max_files),
                            "positive max_size_mb and max_files",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks every value, naming the first field out of range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let t = &self.tracing;
        if !(0.0..=1.0).contains(&t.sampling_rate) || t.sampling_rate.is_nan() {
            return Err(ConfigError::new(
                "tracing.sampling_rate",
                t.sampling_rate,
                "a number from 0.0 to 1.0",
            ));
        }
        crate::trace::SpanLimits {
            max_attributes_per_span: t.max_attributes_per_span,
            max_events_per_span: t.max_events_per_span,
            max_links_per_span: t.max_links_per_span,
            max_attributes_per_event: t.max_attributes_per_event,
            max_attributes_per_link: t.max_attributes_per_link,
            max_attribute_value_length: t.max_attribute_value_length,
        }
        .validate()
        .map_err(|e| ConfigError {
            field: prefixed_tracing_field(e.field),
            ..e
        })?;
        for (field, queue, batch) in [
            ("tracing.batch_size", t.max_queue_size, t.batch_size),
            (
                "logging.batch_size",
                self.logging.max_queue_size,
                self.logging.batch_size,
            ),
        ] {
            if queue == 0 {
                return Err(ConfigError::new(
                    if field.starts_with("tracing") {
                        "tracing.max_queue_size"
                    } else {
                        "logging.max_queue_size"
                    },
                    queue,
                    "a positive integer",
                ));
            }
            if batch == 0 || batch > queue {
                return Err(ConfigError::new(
                    field,
                    batch,
                    "a positive integer no larger than max_queue_size",
                ));
            }
        }
        if t.zipkin_timeout_ms == 0 {
            return Err(ConfigError::new(
                "tracing.zipkin_timeout_ms",
                0,
                "a positive number of milliseconds",
            ));
        }
        self.validate_logging()?;
        if self.metrics.export_interval_secs == 0 {
            return Err(ConfigError::new(
                "metrics.export_interval_secs",
                0,
                "a positive number of seconds",
            ));
        }
        for (field, buckets) in [
            ("metrics.duration_buckets", &self.metrics.duration_buckets),
            ("metrics.ttft_buckets", &self.metrics.ttft_buckets),
        ] {
            let ok =
                buckets.iter().all(|b| b.is_finite()) && buckets.windows(2).all(|w| w[0] < w[1]);
            if !ok {
                return Err(ConfigError::new(
                    field,
                    format!("{buckets:?}"),
                    "finite, strictly increasing bounds",
                ));
            }
        }
        if !self.metrics.prometheus_path.starts_with('/') {
            return Err(ConfigError::new(
                "metrics.prometheus_path",
                &self.metrics.prometheus_path,
                "a path starting with /",
            ));
        }
        for (field, path) in [
            ("health.health_endpoint", &self.health.health_endpoint),
            ("health.readiness_endpoint", &self.health.readiness_endpoint),
            ("health.liveness_endpoint", &self.health.liveness_endpoint),
        ] {
            if !path.starts_with('/') {
                return Err(ConfigError::new(field, path, "a path starting with /"));
            }
        }
        for (field, listen) in [
            ("metrics.prometheus_listen", &self.metrics.prometheus_listen),
            ("health.listen", &self.health.listen),
        ] {
            if listen.parse::<std::net::SocketAddr>().is_err() {
                return Err(ConfigError::new(
                    field,
                    listen,
                    "an IP address and port such as 0.0.0.0:9464",
                ));
            }
        }
        crate::export::otlp::Protocol::parse("otlp.protocol", &self.otlp.protocol)?;
        if !matches!(self.otlp.compression.as_str(), "gzip" | "none") {
            return Err(ConfigError::new(
                "otlp.compression",
                &self.otlp.compression,
                "gzip, none",
            ));
        }
        if !matches!(self.otlp.temporality.as_str(), "cumulative" | "delta") {
            return Err(ConfigError::new(
                "otlp.temporality",
                &self.otlp.temporality,
                "cumulative, delta",
            ));
        }
        for p in &self.propagators {
            if !matches!(
                p.as_str(),
                "tracecontext" | "baggage" | "b3" | "b3multi" | "none"
            ) {
                return Err(ConfigError::new(
                    "propagators",
                    p,
                    "tracecontext, baggage, b3, b3multi, none",
                ));
            }
        }
        Ok(())
    }
}

fn prefixed_tracing_field(field: &'static str) -> &'static str {
    match field {
        "max_attributes_per_span" => "tracing.max_attributes_per_span",
        "max_events_per_span" => "tracing.max_events_per_span",
        "max_links_per_span" => "tracing.max_links_per_span",
        "max_attributes_per_event" => "tracing.max_attributes_per_event",
        "max_attributes_per_link" => "tracing.max_attributes_per_link",
        other => other,
    }
}
