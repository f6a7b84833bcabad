//! Prometheus remote write 1.0: metrics pushed as a snappy-compressed protobuf
//! `WriteRequest` to Prometheus, VictoriaMetrics, Mimir, Thanos or Cortex.
//!
//! Names and labels follow the same OpenTelemetry → Prometheus rules as the pull endpoint
//! (`plugin.messages.received` → `plugin_messages_received_total`); histograms become
//! `_bucket{le}`, `_sum` and `_count` series; labels are sorted by name as the specification
//! requires; `job` and `instance` come from `service.name` (with `service.namespace`) and
//! `service.instance.id`, and the other resource attributes go to `target_info`. Requests
//! carry the required headers (`Content-Encoding: snappy`,
//! `X-Prometheus-Remote-Write-Version: 0.1.0`); 5xx and 429 answers are retried with
//! back-off, other 4xx answers are not.
//!
//! ```no_run
//! use loupe::export::remote_write::RemoteWriteExporter;
//! use loupe::metrics::{MeterProvider, PeriodicReader};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), loupe::ConfigError> {
//! let exporter = RemoteWriteExporter::builder("http://victoria:8428/api/v1/write")
//!     .with_header("Authorization", "Bearer token")
//!     .build()?;
//! let provider = MeterProvider::builder()
//!     .with_reader(PeriodicReader::builder(exporter).with_interval(Duration::from_secs(15)).build())
//!     .build();
//! # Ok(()) }
//! ```

use crate::common::attribute::KeyValue;
use crate::common::error::{ConfigError, ExportError};
use crate::common::stats::{register_exporter, ExporterStats};
use crate::export::prometheus::render::{exponential_buckets, format_float, merge_labels};
use crate::export::prometheus::{metric_name, NameKind};
use crate::export::tls::{tls_fields, TlsConfig};
use crate::export::transport::{self, HttpTarget, RetryPolicy};
use crate::metrics::{MetricData, MetricExporter, NumberValue, ResourceMetrics, Temporality};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The remote write 1.0 protobuf messages (`prometheus/prompb/types.proto`), the subset
/// the protocol requires.
pub mod proto {
    /// `prometheus.WriteRequest`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct WriteRequest {
        /// The series.
        #[prost(message, repeated, tag = "1")]
        pub timeseries: Vec<TimeSeries>,
    }

    /// `prometheus.TimeSeries`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TimeSeries {
        /// Labels, sorted by name, `__name__` included.
        #[prost(message, repeated, tag = "1")]
        pub labels: Vec<Label>,
        /// Samples, oldest first.
        #[prost(message, repeated, tag = "2")]
        pub samples: Vec<Sample>,
    }

    /// `prometheus.Label`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        /// The name.
        #[prost(string, tag = "1")]
        pub name: String,
        /// The value.
        #[prost(string, tag = "2")]
        pub value: String,
    }

    /// `prometheus.Sample`.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        /// The value.
        #[prost(double, tag = "1")]
        pub value: f64,
        /// Milliseconds since the Unix epoch.
        #[prost(int64, tag = "2")]
        pub timestamp: i64,
    }
}

use proto::{Label, Sample, TimeSeries, WriteRequest};

/// Builds a [`RemoteWriteExporter`].
#[derive(Debug, Clone)]
pub struct RemoteWriteBuilder {
    url: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
    retry: RetryPolicy,
    prefix: Option<String>,
    max_series_per_request: usize,
    tls: TlsConfig,
}

impl RemoteWriteBuilder {
    /// Adds a header (authentication, tenant id) to every request.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// How long one export may take, retries included (default 30 s).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The retry policy for 5xx and 429 answers and connection failures.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Puts `prefix_` in front of every metric name.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = Some(prefix.into()).filter(|p| !p.is_empty());
        self
    }

    /// The most series in one request (default 2000, Prometheus' `max_samples_per_send`).
    pub fn with_max_series_per_request(mut self, n: usize) -> Self {
        self.max_series_per_request = n.max(1);
        self
    }

    /// Which servers an `https://` URL is trusted against (a private certificate
    /// authority), and the client certificate to present for mutual TLS. Default: the
    /// system's trust store, no client certificate.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Validates the settings; reads and checks the TLS files.
    pub fn build(self) -> Result<RemoteWriteExporter, ConfigError> {
        transport::check_http_url("remote_write.url", &self.url)?;
        let tls = self.tls.load(&tls_fields!("remote_write.tls"))?;
        let target = HttpTarget::new(
            "remote_write.headers",
            self.url,
            &[
                ("content-type", "application/x-protobuf"),
                ("content-encoding", "snappy"),
                ("x-prometheus-remote-write-version", "0.1.0"),
            ],
            &self.headers,
            &tls,
        )?;
        Ok(RemoteWriteExporter {
            target,
            timeout: self.timeout,
            retry: self.retry,
            prefix: self.prefix,
            max_series: self.max_series_per_request,
            stats: register_exporter("prometheus_remote_write", "metrics"),
        })
    }
}

/// Pushes metrics with Prometheus remote write 1.0; feed it with a `PeriodicReader`.
pub struct RemoteWriteExporter {
    target: HttpTarget,
    timeout: Duration,
    retry: RetryPolicy,
    prefix: Option<String>,
    max_series: usize,
    stats: Arc<ExporterStats>,
}

impl std::fmt::Debug for RemoteWriteExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriteExporter")
            .field("url", &self.target.url)
            .finish_non_exhaustive()
    }
}

impl RemoteWriteExporter {
    /// Starts building an exporter that writes to `url` (e.g.
    /// `http://localhost:9090/api/v1/write`).
    pub fn builder(url: impl Into<String>) -> RemoteWriteBuilder {
        RemoteWriteBuilder {
            url: url.into(),
            headers: Vec::new(),
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            prefix: None,
            max_series_per_request: 2000,
            tls: TlsConfig::default(),
        }
    }

    /// This exporter's health counters (also published as `loupe.sdk.exporter.*`).
    pub fn stats(&self) -> Arc<ExporterStats> {
        Arc::clone(&self.stats)
    }

    /// The series one collection becomes, labels sorted.
    pub fn series(&self, metrics: &ResourceMetrics) -> Vec<TimeSeries> {
        to_series(metrics, self.prefix.as_deref())
    }

    fn send(&self, series: Vec<TimeSeries>) -> Result<(), ExportError> {
        let count = series.len() as u64;
        let body = prost::Message::encode_to_vec(&WriteRequest { timeseries: series });
        let body = snap::raw::Encoder::new()
            .compress_vec(&body)
            .map_err(|e| ExportError::from_source("snappy compression failed", e))?;
        let body = bytes::Bytes::from(body);
        let target = self.target.clone();
        let retry = self.retry.clone();
        let stats = Arc::clone(&self.stats);
        let deadline = Instant::now() + self.timeout;
        let started = Instant::now();
        let result = transport::block_on(
            async move {
                transport::with_retries(&retry, deadline, &stats, |left| {
                    transport::post_once(&target, body.clone(), left, true)
                })
                .await
            },
            self.timeout + Duration::from_millis(250),
        )
        .and_then(|r| r);
        self.stats.record_duration(started.elapsed());
        match result {
            Ok(_) => {
                self.stats.exported.add(count);
                Ok(())
            }
            Err(e) => {
                self.stats.failed.add(count);
                transport::report_once("remote write", &e);
                Err(e)
            }
        }
    }
}

impl MetricExporter for RemoteWriteExporter {
    fn export(&self, metrics: &ResourceMetrics) -> Result<(), ExportError> {
        let series = self.series(metrics);
        let mut result = Ok(());
        let mut rest = series;
        while !rest.is_empty() {
            let tail = rest.split_off(rest.len().min(self.max_series));
            if let Err(e) = self.send(rest) {
                result = Err(e);
            }
            rest = tail;
        }
        result
    }

    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// `job` and `instance` from the resource, as the OpenTelemetry compatibility spec says.
fn job_and_instance(metrics: &ResourceMetrics) -> Vec<(String, String)> {
    let get = |k: &str| metrics.resource.get(k).map(|v| v.as_str().into_owned());
    let mut out = Vec::new();
    if let Some(name) = get("service.name") {
        let job = match get("service.namespace") {
            Some(ns) => format!("{ns}/{name}"),
            None => name,
        };
        out.push(("job".to_string(), job));
    }
    if let Some(instance) = get("service.instance.id") {
        out.push(("instance".to_string(), instance));
    }
    out
}

fn series_of(
    name: String,
    attributes: &[KeyValue],
    extra: &[(String, String)],
    le: Option<String>,
    value: f64,
    timestamp: i64,
) -> TimeSeries {
    let mut labels: Vec<(String, String)> = merge_labels(attributes);
    for (k, v) in extra {
        if !labels.iter().any(|(lk, _)| lk == k) {
            labels.push((k.clone(), v.clone()));
        }
    }
    if let Some(le) = le {
        labels.retain(|(k, _)| k != "le");
        labels.push(("le".to_string(), le));
    }
    labels.retain(|(k, v)| k != "__name__" && !v.is_empty());
    labels.push(("__name__".to_string(), name));
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    TimeSeries {
        labels: labels
            .into_iter()
            .map(|(name, value)| Label { name, value })
            .collect(),
        samples: vec![Sample { value, timestamp }],
    }
}

fn le_value(bound: f64) -> String {
    let mut s = String::new();
    format_float(&mut s, bound);
    s
}

/// Every series of one collection.
pub(crate) fn to_series(metrics: &ResourceMetrics, prefix: Option<&str>) -> Vec<TimeSeries> {
    let base_labels = job_and_instance(metrics);
    let mut out = Vec::new();
    let now = millis(SystemTime::now());
    if !metrics.resource.attributes().is_empty() {
        out.push(series_of(
            "target_info".to_string(),
            metrics.resource.attributes(),
            &base_labels,
            None,
            1.0,
            now,
        ));
    }
    for scope in &metrics.scope_metrics {
        let mut extra = base_labels.clone();
        extra.push(("otel_scope_name".to_string(), scope.scope.name.clone()));
        if let Some(v) = scope.scope.version.as_ref().filter(|v| !v.is_empty()) {
            extra.push(("otel_scope_version".to_string(), v.clone()));
        }
        for metric in &scope.metrics {
            match &metric.data {
                MetricData::Sum {
                    points,
                    is_monotonic,
                    ..
                } => {
                    let kind = if *is_monotonic {
                        NameKind::Counter
                    } else {
                        NameKind::Gauge
                    };
                    let name = metric_name(&metric.name, &metric.unit, kind, prefix, true);
                    number_series(&mut out, &name, points, &extra);
                }
                MetricData::Gauge { points } => {
                    let name =
                        metric_name(&metric.name, &metric.unit, NameKind::Gauge, prefix, true);
                    number_series(&mut out, &name, points, &extra);
                }
                MetricData::Histogram { points, .. } => {
                    let name = metric_name(
                        &metric.name,
                        &metric.unit,
                        NameKind::Histogram,
                        prefix,
                        true,
                    );
                    for p in points {
                        let buckets = p
                            .bounds
                            .iter()
                            .copied()
                            .zip(p.bucket_counts.iter().copied());
                        histogram_series(
                            &mut out,
                            &name,
                            &p.attributes,
                            &extra,
                            buckets,
                            p.count,
                            p.sum,
                            millis(p.time),
                        );
                    }
                }
                MetricData::ExponentialHistogram { points, .. } => {
                    let name = metric_name(
                        &metric.name,
                        &metric.unit,
                        NameKind::Histogram,
                        prefix,
                        true,
                    );
                    for p in points {
                        let buckets = exponential_buckets(&p.data);
                        histogram_series(
                            &mut out,
                            &name,
                            &p.attributes,
                            &extra,
                            buckets.into_iter(),
                            p.data.count,
                            p.data.sum,
                            millis(p.time),
                        );
                    }
                }
            }
        }
    }
    out
}

fn number_series(
    out: &mut Vec<TimeSeries>,
    name: &str,
    points: &[crate::metrics::NumberPoint],
    extra: &[(String, String)],
) {
    for p in points {
        let value = match p.value {
            NumberValue::U64(v) => v as f64,
            NumberValue::I64(v) => v as f64,
            NumberValue::F64(v) => v,
        };
        out.push(series_of(
            name.to_string(),
            &p.attributes,
            extra,
            None,
            value,
            millis(p.time),
        ));
    }
}

#[allow(clippy::too_many_arguments)]
fn histogram_series(
    out: &mut Vec<TimeSeries>,
    name: &str,
    attributes: &[KeyValue],
    extra: &[(String, String)],
    buckets: impl Iterator<Item = (f64, u64)>,
    count: u64,
    sum: f64,
    ts: i64,
) {
    let mut cumulative = 0u64;
    for (bound, n) in buckets {
        cumulative += n;
        out.push(series_of(
            format!("{name}_bucket"),
            attributes,
            extra,
            Some(le_value(bound)),
            cumulative as f64,
            ts,
        ));
    }
    out.push(series_of(
        format!("{name}_bucket"),
        attributes,
        extra,
        Some("+Inf".to_string()),
        count as f64,
        ts,
    ));
    out.push(series_of(
        format!("{name}_sum"),
        attributes,
        extra,
        None,
        sum,
        ts,
    ));
    out.push(series_of(
        format!("{name}_count"),
        attributes,
        extra,
        None,
        count as f64,
        ts,
    ));
}
