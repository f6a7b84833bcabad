//! The Analytics Hub exporter: periodic JSON batches of metrics, POSTed with retries.
//!
//! Every `export_interval_secs` a [`PeriodicReader`] collects **cumulative** points (the
//! totals a Prometheus snapshot holds, which is what the seed sends) and this exporter
//! POSTs them to `{endpoint}/api/v1/metrics`, at most `batch_size` metrics per request, as:
//!
//! ```json
//! {
//!   "timestamp": "2025-01-31T12:00:00.250Z",
//!   "service": "llm-simulator",
//!   "environment": "production",
//!   "metrics": [
//!     {"name": "llm_requests_total", "value": 42.0, "labels": {"model": "gpt-4"}, "metric_type": "Counter"},
//!     {"name": "llm_active_requests", "value": 3.0, "labels": {}, "metric_type": "Gauge"},
//!     {"name": "llm_request_duration_seconds", "value": 12.5, "labels": {}, "metric_type": "Histogram"},
//!     {"name": "llm_request_duration_seconds_count", "value": 40.0, "labels": {}, "metric_type": "Counter"}
//!   ]
//! }
//! ```
//!
//! Counters are `Counter`; gauges and up-down counters `Gauge`; a histogram is `Histogram`
//! with its sum as the value, as in the seed, followed by a `<name>_count` `Counter` so the
//! mean can be computed. Label values are the attributes rendered as strings. `service` and
//! `environment` come from the configuration, else from the resource (`service.name`;
//! `deployment.environment.name`, `deployment.environment` or `service.environment`), else
//! `development`. The API key, if any, goes in an `x-api-key` header.
//!
//! **Retries.** A request is retried with exponential back-off — `retry_delay_ms` before
//! the first retry, doubling each time, with jitter in the lower half so that many clients
//! do not retry in step — at most `max_retries` times after the first attempt (so the
//! seed's `max_retries: 3` makes up to four requests). Only failures that may pass are
//! retried: connection errors, timeouts, HTTP 429 and every 5xx (honouring `Retry-After`).
//! Any other 4xx (a bad API key, a rejected body) would fail the same way again, so it fails
//! at once. Each request may take `timeout_secs`, and a whole export, retries included, at
//! most one export interval, so exports never pile up. What failed for good is reported
//! once on stderr and counted in the `loupe.sdk.exporter.*` metrics
//! (`exporter="analytics_hub"`); the next export carries the totals again, so a lost batch
//! loses no counts.
//!
//! ```
//! use loupe::export::analytics_hub::AnalyticsHubConfig;
//! use loupe::metrics::MeterProvider;
//!
//! let config = AnalyticsHubConfig {
//!     enabled: true,
//!     endpoint: "http://analytics-hub:8080".into(),
//!     api_key: Some("secret".into()),
//!     ..AnalyticsHubConfig::default()
//! };
//! let mut builder = MeterProvider::builder();
//! if let Some(reader) = config.periodic_reader()? {
//!     builder = builder.with_reader(reader);
//! }
//! let provider = builder.build();
//! # drop(provider);
//! # Ok::<(), loupe::ConfigError>(())
//! ```

use crate::common::attribute::KeyValue;
use crate::common::error::{ConfigError, ExportError};
use crate::common::resource::{Resource, SERVICE_NAME};
use crate::common::stats::{register_exporter, ExporterStats};
use crate::export::tls::{tls_fields, TlsConfig};
use crate::export::transport::{self, post_once, with_retries, HttpTarget, RetryPolicy};
use crate::metrics::{MetricData, MetricExporter, PeriodicReader, ResourceMetrics};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// The path batches are POSTed to, below the configured endpoint.
const METRICS_PATH: &str = "/api/v1/metrics";
/// The longest wait between two attempts, whatever `retry_delay_ms` and `max_retries` say.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The Analytics Hub settings, named and defaulted as in the seed's `analytics_hub` section
/// (missing fields take their defaults when deserialized).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnalyticsHubConfig {
    /// Whether to export at all; default false. Read by
    /// [`AnalyticsHubConfig::periodic_reader`].
    pub enabled: bool,
    /// The hub's base URL; batches go to `{endpoint}/api/v1/metrics`. Default
    /// `http://localhost:8080`.
    pub endpoint: String,
    /// Seconds between exports; default 300.
    pub export_interval_secs: u64,
    /// The most metrics in one request; a larger export is sent as several. Default 100.
    pub batch_size: usize,
    /// Retries after a failed first attempt; default 3; 0 disables retrying.
    pub max_retries: u32,
    /// Milliseconds before the first retry, doubling for each next one; default 1000.
    pub retry_delay_ms: u64,
    /// Sent as the `x-api-key` header when set (the seed's top-level `api_key`). Default none.
    pub api_key: Option<String>,
    /// Seconds one request may take; default 30 (the seed's client timeout).
    pub timeout_secs: u64,
    /// The batch's `service`; default the resource's `service.name`.
    pub service: Option<String>,
    /// The batch's `environment`; default the resource's deployment environment, else
    /// `development`.
    pub environment: Option<String>,
    /// For an `https://` endpoint: the certificate authorities to trust instead of the
    /// system's, and a client certificate for mutual TLS. Default: the system's trust
    /// store.
    pub tls: TlsConfig,
}

impl Default for AnalyticsHubConfig {
    fn default() -> Self {
        AnalyticsHubConfig {
            enabled: false,
            endpoint: "http://localhost:8080".into(),
            export_interval_secs: 300,
            batch_size: 100,
            max_retries: 3,
            retry_delay_ms: 1000,
            api_key: None,
            timeout_secs: 30,
            service: None,
            environment: None,
            tls: TlsConfig::default(),
        }
    }
}

impl std::fmt::Debug for AnalyticsHubConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AnalyticsHubConfig")
            .field("enabled", &self.enabled)
            .field("endpoint", &self.endpoint)
            .field("export_interval_secs", &self.export_interval_secs)
            .field("batch_size", &self.batch_size)
            .field("max_retries", &self.max_retries)
            .field("retry_delay_ms", &self.retry_delay_ms)
            // Never print the key itself.
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("timeout_secs", &self.timeout_secs)
            .field("service", &self.service)
            .field("environment", &self.environment)
            .finish()
    }
}

impl AnalyticsHubConfig {
    /// A periodic reader exporting every `export_interval_secs`, or `None` when the export
    /// is not `enabled`. Fails if a setting is invalid (even when disabled, so a bad
    /// configuration is found before it is switched on).
    pub fn periodic_reader(self) -> Result<Option<PeriodicReader>, ConfigError> {
        let enabled = self.enabled;
        let exporter = AnalyticsHubExporter::new(self)?;
        Ok(enabled.then(|| exporter.into_periodic_reader()))
    }
}

/// One metric in a batch, shaped as the seed's `MetricData`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub(crate) struct HubMetric {
    pub name: String,
    pub value: f64,
    pub labels: BTreeMap<String, String>,
    pub metric_type: HubMetricType,
}

/// The seed's `MetricType`, serialized by variant name.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HubMetricType {
    Counter,
    Gauge,
    Histogram,
}

/// The request body, shaped as the seed's `MetricsBatch`.
#[derive(Serialize)]
struct Batch<'a> {
    timestamp: &'a str,
    service: &'a str,
    environment: &'a str,
    metrics: &'a [HubMetric],
}

/// Sends metrics to an Analytics Hub. See the [module documentation](self).
pub struct AnalyticsHubExporter {
    target: HttpTarget,
    retry: RetryPolicy,
    interval: Duration,
    request_timeout: Duration,
    batch_size: usize,
    service: Option<String>,
    environment: Option<String>,
    stats: Arc<ExporterStats>,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for AnalyticsHubExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers are left out: they hold the API key.
        f.debug_struct("AnalyticsHubExporter")
            .field("url", &self.target.url)
            .field("interval", &self.interval)
            .field("batch_size", &self.batch_size)
            .field("retry", &self.retry)
            .finish()
    }
}

impl AnalyticsHubExporter {
    /// Checks the configuration and builds the exporter (whether or not it is `enabled`).
    /// No connection is made until the first export.
    pub fn new(config: AnalyticsHubConfig) -> Result<Self, ConfigError> {
        let url = metrics_url(&config.endpoint)?;
        if config.export_interval_secs == 0 {
            return Err(ConfigError::new(
                "analytics_hub.export_interval_secs",
                0,
                "1 or more seconds",
            ));
        }
        if config.batch_size == 0 {
            return Err(ConfigError::new(
                "analytics_hub.batch_size",
                0,
                "1 or more metrics",
            ));
        }
        if config.timeout_secs == 0 {
            return Err(ConfigError::new(
                "analytics_hub.timeout_secs",
                0,
                "1 or more seconds",
            ));
        }
        let api_key: Vec<(String, String)> = config
            .api_key
            .iter()
            .map(|key| ("x-api-key".to_string(), key.clone()))
            .collect();
        let tls = config.tls.load(&tls_fields!("analytics_hub.tls"))?;
        let target = HttpTarget::new(
            "api_key",
            url,
            &[("content-type", "application/json")],
            &api_key,
            &tls,
        )?;
        let initial_backoff = Duration::from_millis(config.retry_delay_ms);
        let max_backoff = initial_backoff
            .saturating_mul(1u32 << config.max_retries.min(16))
            .min(MAX_BACKOFF);
        Ok(AnalyticsHubExporter {
            target,
            retry: RetryPolicy {
                max_retries: config.max_retries,
                initial_backoff,
                max_backoff,
            },
            interval: Duration::from_secs(config.export_interval_secs),
            request_timeout: Duration::from_secs(config.timeout_secs),
            batch_size: config.batch_size,
            service: config.service,
            environment: config.environment,
            stats: register_exporter("analytics_hub", "metrics"),
            shut_down: AtomicBool::new(false),
        })
    }

    /// A periodic reader that feeds this exporter every `export_interval_secs`; add it to a
    /// [`MeterProvider`](crate::metrics::MeterProvider).
    pub fn into_periodic_reader(self) -> PeriodicReader {
        let interval = self.interval;
        PeriodicReader::builder(self)
            .with_interval(interval)
            .build()
    }

    /// The URL batches are POSTed to.
    pub fn url(&self) -> &str {
        &self.target.url
    }

    /// What this exporter delivered, failed and retried so far (in metrics).
    pub fn stats(&self) -> &ExporterStats {
        &self.stats
    }

    /// POSTs one batch, retrying as configured, until `deadline`.
    fn send(&self, body: Vec<u8>, deadline: Instant) -> Result<(), ExportError> {
        let target = self.target.clone();
        let policy = self.retry.clone();
        let stats = Arc::clone(&self.stats);
        let request_timeout = self.request_timeout;
        let body = bytes::Bytes::from(body);
        let attempts = async move {
            with_retries(&policy, deadline, &stats, |remaining| {
                post_once(&target, body.clone(), remaining.min(request_timeout), true)
            })
            .await
        };
        let wait = deadline.saturating_duration_since(Instant::now());
        transport::block_on(attempts, wait)?.map(|_| ())
    }
}

impl MetricExporter for AnalyticsHubExporter {
    fn export(&self, metrics: &ResourceMetrics) -> Result<(), ExportError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(ExportError::Shutdown);
        }
        let started = Instant::now();
        let (entries, non_finite) = hub_metrics(metrics);
        self.stats.rejected.add(non_finite as u64);
        if entries.is_empty() {
            return Ok(());
        }
        let timestamp = crate::common::time::rfc3339(SystemTime::now());
        let service = self
            .service
            .clone()
            .unwrap_or_else(|| service_name(&metrics.resource));
        let environment = self
            .environment
            .clone()
            .unwrap_or_else(|| environment(&metrics.resource));
        // A whole export, retries included, takes at most one interval.
        let deadline = started + self.interval;
        let mut first_error = None;
        for chunk in entries.chunks(self.batch_size) {
            let body = serde_json::to_vec(&Batch {
                timestamp: &timestamp,
                service: &service,
                environment: &environment,
                metrics: chunk,
            })
            // Strings, finite numbers and maps of strings always serialize.
            .unwrap_or_default();
            match self.send(body, deadline) {
                Ok(()) => self.stats.exported.add(chunk.len() as u64),
                Err(error) => {
                    self.stats.failed.add(chunk.len() as u64);
                    transport::report_once("analytics_hub", &error);
                    first_error.get_or_insert(error);
                }
            }
        }
        self.stats.record_duration(started.elapsed());
        first_error.map_or(Ok(()), Err)
    }

    fn shutdown(&self) -> Result<(), ExportError> {
        self.shut_down.store(true, Ordering::Release);
        Ok(())
    }
}

/// Validates the endpoint and appends `/api/v1/metrics`.
fn metrics_url(endpoint: &str) -> Result<String, ConfigError> {
    const FIELD: &str = "analytics_hub.endpoint";
    const ALLOWED: &str = "an http:// or https:// base URL, e.g. http://analytics-hub:8080";
    let url =
        reqwest::Url::parse(endpoint).map_err(|_| ConfigError::new(FIELD, endpoint, ALLOWED))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || url.query().is_some()
    {
        return Err(ConfigError::new(FIELD, endpoint, ALLOWED));
    }
    Ok(format!(
        "{}{METRICS_PATH}",
        url.as_str().trim_end_matches('/')
    ))
}

fn service_name(resource: &Resource) -> String {
    resource
        .get(SERVICE_NAME.as_str())
        .map(|v| v.as_str().into_owned())
        .unwrap_or_else(|| "unknown_service".into())
}

fn environment(resource: &Resource) -> String {
    [
        "deployment.environment.name",
        "deployment.environment",
        "service.environment",
    ]
    .iter()
    .find_map(|key| resource.get(key))
    .map(|v| v.as_str().into_owned())
    .unwrap_or_else(|| "development".into())
}

/// Converts a collection to the hub's metrics; also returns how many points were dropped
/// for a NaN or infinite value.
pub(crate) fn hub_metrics(metrics: &ResourceMetrics) -> (Vec<HubMetric>, usize) {
    let mut out = Vec::new();
    let mut non_finite = 0;
    let mut push = |name: &str, value: f64, attrs: &[KeyValue], metric_type: HubMetricType| {
        if !value.is_finite() {
            non_finite += 1;
            return;
        }
        out.push(HubMetric {
            name: name.to_owned(),
            value,
            labels: attrs
                .iter()
                .map(|kv| (kv.key.to_string(), kv.value.as_str().into_owned()))
                .collect(),
            metric_type,
        });
    };
    for (_, metric) in metrics.metrics() {
        let name = metric.name.as_str();
        match &metric.data {
            MetricData::Sum {
                points,
                is_monotonic,
                ..
            } => {
                let kind = if *is_monotonic {
                    HubMetricType::Counter
                } else {
                    HubMetricType::Gauge
                };
                for p in points {
                    push(name, p.value.as_f64(), &p.attributes, kind);
                }
            }
            MetricData::Gauge { points } => {
                for p in points {
                    push(name, p.value.as_f64(), &p.attributes, HubMetricType::Gauge);
                }
            }
            MetricData::Histogram { points, .. } => {
                let count_name = format!("{name}_count");
                for p in points {
                    push(name, p.sum, &p.attributes, HubMetricType::Histogram);
                    let count = p.count as f64;
                    push(&count_name, count, &p.attributes, HubMetricType::Counter);
                }
            }
            MetricData::ExponentialHistogram { points, .. } => {
                let count_name = format!("{name}_count");
                for p in points {
                    push(name, p.data.sum, &p.attributes, HubMetricType::Histogram);
                    let count = p.data.count as f64;
                    push(&count_name, count, &p.attributes, HubMetricType::Counter);
                }
            }
        }
    }
    (out, non_finite)
}

#[cfg(test)]
mod tests;
