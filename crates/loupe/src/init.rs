//! `loupe::init`: every signal from one configuration, and a guard that flushes on drop.

use crate::common::error::{ConfigError, ExportError};
use crate::common::resource::Resource;
use crate::config::{ExporterKind, SamplerKind, TelemetryConfig};
use crate::config::{LogProcessorConfig, LogSinkConfig};
use crate::export::http_server::HttpServer;
use crate::export::otlp::{Compression, OtlpConfig, Protocol, Signal};
use crate::export::prometheus::PrometheusExporter;
use crate::export::tls::tls_fields;
use crate::facade::CoreTelemetry;
use crate::health::{HealthPaths, HealthRegistry};
use crate::logs::{LogExporter, LoggerProvider};
use crate::metrics::{MeterProvider, PeriodicReader, Temporality};
use crate::trace::{
    AlwaysOffSampler, AlwaysOnSampler, BatchConfig, BatchSpanProcessor, ParentBasedSampler,
    SpanLimits, TraceIdRatioSampler, TracerProvider, TracerProviderBuilder,
};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why [`init`] could not set up telemetry.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// A configuration value is out of range or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A configured health check could not be registered.
    #[error(transparent)]
    Health(#[from] crate::health::HealthError),
    /// A log sink (a file, a thread) could not be set up.
    #[error("cannot set up the {sink} log sink: {message}")]
    LogSink {
        /// The sink.
        sink: &'static str,
        /// Why, in words.
        message: String,
    },
    /// A listener (Prometheus, health) could not bind its address.
    #[error("cannot listen on {addr} for {what}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// `metrics` or `health`.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Sets up traces, metrics and logs from `config` (resolved against the environment, see
/// [`TelemetryConfig::resolve`]): the resource, the sampler and span limits, a batch span
/// processor with the chosen exporter, a meter provider with the OTLP push and the
/// Prometheus endpoint, the Analytics Hub exporter, the OTLP log exporter, the health
/// endpoints, process metrics (plus Tokio runtime metrics when called inside a Tokio
/// runtime), the global propagator (`propagators`), and the log pipeline (`logging`:
/// filter, processors, console/file/Elasticsearch sinks and OTLP, installed as the
/// process-wide logger provider). Warnings
/// about ignored environment values are printed to stderr once.
///
/// Dropping the returned guard, or calling [`TelemetryGuard::shutdown`], flushes
/// everything within `health.shutdown_timeout_secs`.
///
/// ```
/// let config = loupe::config::TelemetryConfig::new("checkout")
///     .with_service_version("1.0.0")
///     .with_traces_exporter(loupe::config::ExporterKind::None)
///     .with_otlp_metrics(false)
///     .with_prometheus_listen("127.0.0.1:0");
/// let telemetry = loupe::init(config).unwrap();
/// let tracer = telemetry.tracer_provider().tracer("checkout");
/// drop(tracer.start("work"));
/// println!("metrics on http://{}/metrics", telemetry.metrics_addr().unwrap());
/// telemetry.shutdown().unwrap();
/// ```
pub fn init(config: TelemetryConfig) -> Result<TelemetryGuard, InitError> {
    let config = config.resolve()?;
    for warning in config.warnings() {
        eprintln!("loupe: {warning}");
    }
    let resource = crate::config::resource::detect(&config);
    if config.disabled {
        return Ok(TelemetryGuard::new(
            config,
            resource.clone(),
            TracerProvider::builder()
                .with_resource(resource.clone())
                .with_sampler(AlwaysOffSampler)
                .build()?,
            MeterProvider::builder().with_resource(resource).build(),
            None,
            None,
            Listeners::default(),
        ));
    }

    let tracer_provider = tracer_provider(&config, &resource)?;
    let meter_provider = meter_provider(&config, &resource)?;
    // `propagators` (from `OTEL_PROPAGATORS` or the file); an empty list propagates nothing.
    crate::propagation::set_text_map_propagator(crate::propagation::from_names(
        &config.propagators,
    )?);
    let log_exporter: Option<Arc<dyn LogExporter>> =
        match (config.logging.enabled, config.logging.exporter) {
            (true, ExporterKind::Otlp) => Some(Arc::new(
                otlp_config(&config, Signal::Logs)?.log_exporter()?,
            )),
            _ => None,
        };
    let logger_provider = if config.logging.enabled {
        let provider = logger_provider(&config, &resource, log_exporter.clone())?;
        crate::logs::set_logger_provider(provider.clone());
        Some(provider)
    } else {
        None
    };
    if config.logging.bridges {
        install_bridges(&tracer_provider, logger_provider.as_ref());
    }
    let health = HealthRegistry::builder()
        .with_version(config.service.version.clone().unwrap_or_default())
        .with_meter_provider(&meter_provider)
        .build()
        .map_err(|e| ConfigError::new("health", e, "a valid health configuration"))?;
    register_checks(&config, &health)?;
    let servers = listeners(&config, &meter_provider, &health)?;
    let mut process_metrics = Vec::new();
    if config.metrics.enabled {
        let failed = |e| ConfigError::new("metrics", e, "process metrics that register once");
        process_metrics.push(crate::metrics::process::register(&meter_provider).map_err(failed)?);
        // Called inside the host's Tokio runtime: describe that runtime too.
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            process_metrics.push(
                crate::metrics::process::register_tokio(&meter_provider, handle).map_err(failed)?,
            );
        }
    }
    Ok(TelemetryGuard::new(
        config,
        resource,
        tracer_provider,
        meter_provider,
        log_exporter,
        Some(health),
        servers,
    )
    .with_process_metrics(process_metrics)
    .with_logger_provider(logger_provider))
}

/// The log pipeline of the `logging` section: filter, processors (secrets redacted last,
/// so added fields are covered too), the configured sinks and the OTLP exporter.
fn logger_provider(
    config: &TelemetryConfig,
    resource: &Resource,
    exporter: Option<Arc<dyn LogExporter>>,
) -> Result<LoggerProvider, InitError> {
    use crate::logs::{
        AddFields, ConsoleSink, ElasticsearchSink, ExcludeByField, ExporterSink, FileSink,
        LogFilter, LogFormat, Redact, RotationPolicy,
    };
    let l = &config.logging;
    let format_of = |name: &Option<String>| {
        LogFormat::parse(name.as_deref().unwrap_or(&l.format)).unwrap_or_default()
    };
    let mut builder = LoggerProvider::builder()
        .with_resource(resource.clone())
        .with_filter(LogFilter::parse(&l.level)?)
        .with_queue_size(l.max_queue_size);
    let mut redact_keys: Vec<String> = Vec::new();
    let mut redact = l.redact;
    for processor in &l.processors {
        builder = match processor {
            LogProcessorConfig::AddFields { fields } => builder.with_processor(AddFields::new(
                fields
                    .iter()
                    .map(|(k, v)| crate::KeyValue::new(k.clone(), v.clone())),
            )),
            LogProcessorConfig::Filter { field, exclude } => {
                builder.with_processor(ExcludeByField::new(field.clone(), exclude.clone()))
            }
            LogProcessorConfig::Redact { keys } => {
                redact = true;
                redact_keys.extend(keys.iter().cloned());
                builder
            }
        };
    }
    if redact {
        let mut r = if l.redact {
            Redact::default()
        } else {
            Redact::new(Vec::<String>::new())
        };
        for key in redact_keys {
            r = r.with_key(key);
        }
        builder = builder.with_processor(r);
    }
    for sink in &l.sinks {
        builder = match sink {
            LogSinkConfig::Console { format, stderr } => {
                let format = format_of(format);
                builder.with_sink(if *stderr {
                    ConsoleSink::stderr(format)
                } else {
                    ConsoleSink::stdout(format)
                })
            }
            LogSinkConfig::File {
                path,
                format,
                rotation,
            } => {
                let mut file = FileSink::builder(path.clone()).with_format(format_of(format));
                if let Some(r) = rotation {
                    file = file.with_rotation(
                        RotationPolicy::default()
                            .with_max_size(r.max_size_mb.saturating_mul(1024 * 1024))
                            .with_max_files(r.max_files)
                            .with_compress(r.compress),
                    );
                }
                builder.with_sink(file.build().map_err(|e| InitError::LogSink {
                    sink: "file",
                    message: e.to_string(),
                })?)
            }
            LogSinkConfig::Elasticsearch {
                url,
                index_pattern,
                buffer_size,
                flush_interval_ms,
                tls,
            } => builder.with_sink(
                ElasticsearchSink::builder(url.clone())
                    .with_index_pattern(index_pattern.clone())
                    .with_buffer_size(*buffer_size)
                    .with_flush_interval(Duration::from_millis(*flush_interval_ms))
                    .with_tls(tls.clone())
                    .build()?,
            ),
        };
    }
    if let Some(exporter) = exporter {
        builder = builder.with_sink(
            ExporterSink::new("otlp", exporter)
                .with_batch_size(l.batch_size)
                .with_delay(Duration::from_millis(l.export_delay_ms))
                .with_timeout(Duration::from_secs(l.export_timeout_secs)),
        );
    }
    builder.build().map_err(|e| InitError::LogSink {
        sink: "log",
        message: e.to_string(),
    })
}

/// Routes the `tracing` and `log` crates into Loupe, unless the application already set
/// a global subscriber or logger (then theirs stays, and a note says so). Both are
/// process-wide and set once: a later `init` in the same process keeps the first ones.
#[allow(unused_variables)]
fn install_bridges(tracer_provider: &TracerProvider, logs: Option<&LoggerProvider>) {
    #[cfg(feature = "tracing")]
    {
        use tracing_subscriber::layer::SubscriberExt;
        let mut layer = crate::bridge::tracing::layer(tracer_provider.tracer("tracing"));
        if let Some(logs) = logs {
            layer = layer.with_logs(logs.clone());
        }
        let subscriber = tracing_subscriber::registry().with(layer);
        if tracing_core::dispatcher::set_global_default(tracing_core::Dispatch::new(subscriber))
            .is_err()
        {
            eprintln!("loupe: a global `tracing` subscriber is already set; add `loupe::bridge::tracing::layer` to it to route `tracing` into Loupe");
        }
    }
    #[cfg(feature = "log")]
    if let Some(logs) = logs {
        if crate::bridge::log::install(logs.clone()).is_err() {
            eprintln!("loupe: a `log` logger is already set; `log` records do not reach Loupe");
        }
    }
}

/// Registers `health.checks`.
fn register_checks(config: &TelemetryConfig, health: &HealthRegistry) -> Result<(), InitError> {
    use crate::config::CheckConfig;
    use crate::health::{CheckOptions, CommandCheck, DiskSpaceCheck, HttpCheck, TcpCheck};
    for c in &config.health.checks {
        let timeout = Duration::from_secs(c.timeout_secs);
        let mut options = CheckOptions::default()
            .with_interval(Duration::from_secs(c.interval_secs))
            .with_timeout(timeout)
            .with_unhealthy_threshold(c.unhealthy_threshold)
            .with_healthy_threshold(c.healthy_threshold);
        if !c.critical {
            options = options.non_critical();
        }
        let name = c.name.clone();
        match &c.check {
            CheckConfig::Tcp { host, port } => health.register(
                name,
                TcpCheck::new(host.clone(), *port).with_timeout(timeout),
                options,
            )?,
            CheckConfig::Http {
                url,
                method,
                expected_status,
                headers,
            } => {
                let mut check = HttpCheck::builder(url.clone())
                    .method(method.clone())
                    .expected_status(*expected_status)
                    .timeout(timeout);
                for (k, v) in headers {
                    check = check.header(k.clone(), v.clone());
                }
                health.register(name, check.build()?, options)?
            }
            CheckConfig::Script { command } => health.register(
                name,
                CommandCheck::from_argv(command)?.with_timeout(timeout),
                options,
            )?,
            CheckConfig::Disk {
                path,
                min_free_percent,
                min_free_bytes,
            } => {
                let mut check = DiskSpaceCheck::builder(path.clone());
                if let Some(p) = min_free_percent {
                    check = check.min_free_percent(*p);
                }
                if let Some(b) = min_free_bytes {
                    check = check.min_free_bytes(*b);
                }
                health.register(name, check.build()?, options)?
            }
        }
    }
    Ok(())
}

fn parse_listen(field: &'static str, value: &str) -> Result<SocketAddr, ConfigError> {
    value
        .parse()
        .map_err(|_| ConfigError::new(field, value, "an IP address and port such as 0.0.0.0:9464"))
}

/// The Prometheus and health routers: one listener when they share an address, else two.
fn listeners(
    config: &TelemetryConfig,
    meter_provider: &MeterProvider,
    health: &HealthRegistry,
) -> Result<Listeners, InitError> {
    let metrics = (config.metrics.enabled && config.metrics.prometheus_enabled).then(|| {
        let mut exporter = PrometheusExporter::new(meter_provider);
        if let Some(prefix) = &config.metrics.prometheus_prefix {
            exporter = exporter.with_prefix(prefix.clone());
        }
        exporter.router(&config.metrics.prometheus_path)
    });
    let health_router = if config.health.enabled {
        let paths = HealthPaths {
            health: config.health.health_endpoint.clone(),
            readiness: config.health.readiness_endpoint.clone(),
            liveness: config.health.liveness_endpoint.clone(),
        };
        Some(health.router(&paths)?)
    } else {
        None
    };
    let bind = |router: axum::Router, field: &'static str, listen: &str, what: &'static str| {
        let addr = parse_listen(field, listen)?;
        crate::health::serve(router, addr).map_err(|source| InitError::Bind {
            addr: addr.to_string(),
            what,
            source,
        })
    };
    let mut out = Listeners::default();
    match (metrics, health_router) {
        (Some(m), Some(h)) if config.metrics.prometheus_listen == config.health.listen => {
            let server = bind(
                m.merge(h),
                "metrics.prometheus_listen",
                &config.metrics.prometheus_listen,
                "metrics and health",
            )?;
            out.metrics_addr = Some(server.local_addr());
            out.health_addr = Some(server.local_addr());
            out.servers.push(server);
        }
        (m, h) => {
            if let Some(m) = m {
                let server = bind(
                    m,
                    "metrics.prometheus_listen",
                    &config.metrics.prometheus_listen,
                    "metrics",
                )?;
                out.metrics_addr = Some(server.local_addr());
                out.servers.push(server);
            }
            if let Some(h) = h {
                let server = bind(h, "health.listen", &config.health.listen, "health")?;
                out.health_addr = Some(server.local_addr());
                out.servers.push(server);
            }
        }
    }
    Ok(out)
}

#[derive(Default)]
struct Listeners {
    servers: Vec<HttpServer>,
    metrics_addr: Option<SocketAddr>,
    health_addr: Option<SocketAddr>,
}

/// The OTLP settings of one signal: the configured base endpoint, protocol, headers,
/// compression and timeout, then the per-signal environment overrides.
fn otlp_config(config: &TelemetryConfig, signal: Signal) -> Result<OtlpConfig, ConfigError> {
    let endpoint = match signal {
        Signal::Traces => &config.tracing.otlp_endpoint,
        Signal::Metrics => &config.metrics.otlp_endpoint,
        Signal::Logs => &config.logging.otlp_endpoint,
    };
    let mut otlp = OtlpConfig::default()
        .with_protocol(Protocol::parse("otlp.protocol", &config.otlp.protocol)?)
        .with_endpoint(endpoint.clone())
        .with_timeout(Duration::from_millis(config.otlp.timeout_ms))
        .with_compression(if config.otlp.compression == "gzip" {
            Compression::Gzip
        } else {
            Compression::None
        })
        .with_temporality(if config.otlp.temporality == "delta" {
            Temporality::Delta
        } else {
            Temporality::Cumulative
        });
    for (k, v) in &config.otlp.headers {
        otlp = otlp.with_header(k.clone(), v.clone());
    }
    if let Some(key) = &config.api_key {
        if !config.otlp.headers.contains_key("api-key") {
            otlp = otlp.with_header("api-key", key.clone());
        }
    }
    otlp.tls = config.otlp.tls.clone();
    otlp.signals = config.otlp.signals.clone();
    Ok(otlp)
}

fn tracer_provider(
    config: &TelemetryConfig,
    resource: &Resource,
) -> Result<TracerProvider, InitError> {
    let t = &config.tracing;
    let builder = TracerProvider::builder()
        .with_resource(resource.clone())
        .with_span_limits(SpanLimits {
            max_attributes_per_span: t.max_attributes_per_span,
            max_events_per_span: t.max_events_per_span,
            max_links_per_span: t.max_links_per_span,
            max_attributes_per_event: t.max_attributes_per_event,
            max_attributes_per_link: t.max_attributes_per_link,
            max_attribute_value_length: t.max_attribute_value_length,
        });
    let builder = with_sampler(builder, t.sampler, t.sampling_rate)?;
    let batch = BatchConfig {
        max_queue_size: t.max_queue_size,
        max_export_batch_size: t.batch_size,
        scheduled_delay: Duration::from_millis(t.export_delay_ms),
        export_timeout: Duration::from_secs(t.export_timeout_secs),
    };
    let builder = match (t.enabled, t.exporter) {
        (false, _) | (_, ExporterKind::None) => builder,
        (true, ExporterKind::Otlp) => builder.with_span_processor(BatchSpanProcessor::with_config(
            otlp_config(config, Signal::Traces)?.span_exporter()?,
            batch,
        )?),
        (true, ExporterKind::Zipkin) => {
            builder.with_span_processor(BatchSpanProcessor::with_config(
                crate::export::ZipkinExporter::builder()
                    .with_endpoint(t.zipkin_endpoint.clone())
                    .with_timeout(Duration::from_millis(t.zipkin_timeout_ms))
                    .with_tls(t.zipkin_tls.clone())
                    .with_tls_setting_names(tls_fields!("tracing.zipkin_tls"))
                    .build()?,
                batch,
            )?)
        }
        (true, ExporterKind::Console) => {
            builder.with_span_processor(BatchSpanProcessor::with_config(
                crate::export::StdoutExporter::new(crate::export::StdoutFormat::Pretty),
                batch,
            )?)
        }
    };
    Ok(builder.build()?)
}

fn with_sampler(
    builder: TracerProviderBuilder,
    kind: SamplerKind,
    rate: f64,
) -> Result<TracerProviderBuilder, ConfigError> {
    Ok(match kind {
        SamplerKind::AlwaysOn => builder.with_sampler(AlwaysOnSampler),
        SamplerKind::AlwaysOff => builder.with_sampler(AlwaysOffSampler),
        SamplerKind::TraceIdRatio => builder.with_sampler(TraceIdRatioSampler::new(rate)?),
        SamplerKind::ParentBasedAlwaysOn => {
            builder.with_sampler(ParentBasedSampler::new(AlwaysOnSampler))
        }
        SamplerKind::ParentBasedAlwaysOff => {
            builder.with_sampler(ParentBasedSampler::new(AlwaysOffSampler))
        }
        SamplerKind::ParentBasedTraceIdRatio => {
            builder.with_sampler(ParentBasedSampler::new(TraceIdRatioSampler::new(rate)?))
        }
    })
}

fn meter_provider(
    config: &TelemetryConfig,
    resource: &Resource,
) -> Result<MeterProvider, InitError> {
    let m = &config.metrics;
    let mut builder = MeterProvider::builder()
        .with_resource(resource.clone())
        .with_cardinality_limit(m.cardinality_limit);
    if m.enabled && m.otlp_enabled {
        builder = builder.with_reader(
            PeriodicReader::builder(otlp_config(config, Signal::Metrics)?.metric_exporter()?)
                .with_interval(Duration::from_secs(m.export_interval_secs))
                .build(),
        );
    }
    let mut hub = config.analytics_hub.clone();
    if hub.api_key.is_none() {
        hub.api_key = config.api_key.clone();
    }
    if let Some(reader) = hub.periodic_reader()? {
        builder = builder.with_reader(reader);
    }
    Ok(builder.build())
}

/// Owns everything [`init`] set up. Dropping it flushes and stops every pipeline.
pub struct TelemetryGuard {
    config: TelemetryConfig,
    resource: Resource,
    tracer_provider: TracerProvider,
    meter_provider: MeterProvider,
    log_exporter: Option<Arc<dyn LogExporter>>,
    logger_provider: Option<LoggerProvider>,
    health: Option<HealthRegistry>,
    _process_metrics: Vec<crate::metrics::process::ProcessMetrics>,
    servers: Mutex<Vec<HttpServer>>,
    metrics_addr: Option<SocketAddr>,
    health_addr: Option<SocketAddr>,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard")
            .field("service", &self.config.service.name)
            .field("metrics_addr", &self.metrics_addr)
            .finish_non_exhaustive()
    }
}

impl TelemetryGuard {
    fn new(
        config: TelemetryConfig,
        resource: Resource,
        tracer_provider: TracerProvider,
        meter_provider: MeterProvider,
        log_exporter: Option<Arc<dyn LogExporter>>,
        health: Option<HealthRegistry>,
        listeners: Listeners,
    ) -> Self {
        TelemetryGuard {
            metrics_addr: listeners.metrics_addr,
            health_addr: listeners.health_addr,
            config,
            resource,
            tracer_provider,
            meter_provider,
            log_exporter,
            logger_provider: None,
            health,
            _process_metrics: Vec::new(),
            servers: Mutex::new(listeners.servers),
            shut_down: AtomicBool::new(false),
        }
    }

    fn with_process_metrics(
        mut self,
        metrics: Vec<crate::metrics::process::ProcessMetrics>,
    ) -> Self {
        self._process_metrics = metrics;
        self
    }

    fn with_logger_provider(mut self, provider: Option<LoggerProvider>) -> Self {
        self.logger_provider = provider;
        self
    }

    /// The log pipeline (also installed process-wide, see [`crate::logs::logger`]).
    pub fn logger_provider(&self) -> Option<&LoggerProvider> {
        self.logger_provider.as_ref()
    }

    /// A structured logger for `name`; drops everything when logging is disabled.
    pub fn logger(&self, name: impl Into<std::borrow::Cow<'static, str>>) -> crate::logs::Logger {
        match &self.logger_provider {
            Some(p) => p.logger(name),
            None => crate::logs::Logger::noop(name),
        }
    }

    /// The health registry behind `/health` and `/ready`: register checks on it.
    pub fn health(&self) -> Option<&HealthRegistry> {
        self.health.as_ref()
    }

    /// Where the health endpoints listen, when they are on.
    pub fn health_addr(&self) -> Option<SocketAddr> {
        self.health_addr
    }

    /// 003's graceful shutdown: readiness turns false (`/ready` answers 503, so load
    /// balancers stop sending), `health.drain_period_secs` passes while in-flight work
    /// finishes, then every pipeline flushes within `health.shutdown_timeout_secs` and
    /// stops, and the listeners close.
    pub fn graceful_shutdown(&self) -> Result<(), ExportError> {
        if let Some(health) = &self.health {
            health.begin_shutdown();
        }
        if !self.shut_down.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_secs(self.config.health.drain_period_secs));
        }
        self.shutdown()
    }

    /// Blocks until the process receives SIGTERM or Ctrl-C (SIGINT), then runs
    /// [`graceful_shutdown`](Self::graceful_shutdown). Needs no runtime in the host.
    pub fn shutdown_on_signal(&self) -> Result<(), ExportError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        crate::export::transport::runtime().spawn(async move {
            let name = wait_for_signal().await;
            let _ = tx.send(name);
        });
        if let Ok(signal) = rx.recv() {
            eprintln!("loupe: {signal} received; draining before shutdown");
        }
        self.graceful_shutdown()
    }

    /// The tracer provider.
    pub fn tracer_provider(&self) -> &TracerProvider {
        &self.tracer_provider
    }

    /// The meter provider.
    pub fn meter_provider(&self) -> &MeterProvider {
        &self.meter_provider
    }

    /// The seed-facing facade over both providers.
    pub fn telemetry(&self) -> CoreTelemetry {
        CoreTelemetry::new(&self.tracer_provider, &self.meter_provider)
    }

    /// The OTLP log exporter, when logs go to OTLP (the logger feeds it).
    pub fn log_exporter(&self) -> Option<&Arc<dyn LogExporter>> {
        self.log_exporter.as_ref()
    }

    /// The detected resource.
    pub fn resource(&self) -> &Resource {
        &self.resource
    }

    /// The resolved configuration.
    pub fn config(&self) -> &TelemetryConfig {
        &self.config
    }

    /// Where the Prometheus endpoint listens, when it is on.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_addr
    }

    /// Flushes every pipeline and stops it, within `health.shutdown_timeout_secs` in all.
    /// A second call does nothing.
    pub fn shutdown(&self) -> Result<(), ExportError> {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let timeout = Duration::from_secs(self.config.health.shutdown_timeout_secs.max(1));
        let deadline = std::time::Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(std::time::Instant::now());
        let traces = self.tracer_provider.shutdown(left());
        let metrics = self.meter_provider.shutdown(left());
        // The log pipeline flushes its OTLP sink and shuts the exporter down.
        let logs = match &self.logger_provider {
            Some(p) => {
                if crate::logs::logger_provider().is_some_and(|g| g.ptr_eq(p)) {
                    crate::logs::take_logger_provider();
                }
                p.shutdown(left())
            }
            None => match &self.log_exporter {
                Some(e) => e.shutdown(),
                None => Ok(()),
            },
        };
        if let Some(health) = &self.health {
            health.begin_shutdown();
        }
        let servers = std::mem::take(&mut *self.servers.lock().unwrap_or_else(|p| p.into_inner()));
        for server in servers {
            server.shutdown();
        }
        traces.and(metrics).and(logs)
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(e) = self.shutdown() {
            eprintln!("loupe: shutdown did not complete: {e}");
        }
    }
}

/// Resolves on SIGTERM or SIGINT, naming it.
async fn wait_for_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
