//! The Zipkin exporter: spans as Zipkin v2 JSON, POSTed to a Zipkin collector.
//!
//! Each batch becomes one `POST` of a JSON array to the collector's
//! `/api/v2/spans` endpoint, mapped as the OpenTelemetry "OpenTelemetry to Zipkin"
//! transformation specifies:
//!
//! | OpenTelemetry | Zipkin |
//! |---|---|
//! | trace id, span id, parent span id | `traceId` (32 hex), `id` (16 hex), `parentId` (absent for roots) |
//! | kind | `kind`: `CLIENT`, `SERVER`, `PRODUCER`, `CONSUMER`; absent for internal spans |
//! | start and end time | `timestamp` and `duration` in whole microseconds (`duration` at least 1) |
//! | resource `service.name` | `localEndpoint.serviceName` (with the configured `ipv4`, `ipv6`, `port`) |
//! | attributes | `tags`, every value a string; booleans `true`/`false`, arrays as JSON lists |
//! | events | `annotations`: `{timestamp, value}`, the value being the event name, or `"name":{attributes as JSON}` |
//! | status | `otel.status_code` = `OK` or `ERROR`; for `ERROR` also `error` = the description |
//! | instrumentation scope | `otel.scope.name`, `otel.scope.version` tags |
//! | dropped attributes, events, links | `otel.dropped_attributes_count`, `otel.dropped_events_count`, `otel.dropped_links_count` tags (when not zero) |
//! | `peer.service`, `server.address`, … on client and producer spans | `remoteEndpoint`, so Zipkin draws the dependency |
//!
//! A boolean `error` attribute that is false is removed (Zipkin marks any span with an
//! `error` tag as failed). The resource's `service.namespace`, if any, becomes a tag.
//! Links and trace state have no Zipkin equivalent and are not sent; `shared` and `debug`
//! are never set.
//!
//! Export runs on the span processor's thread and Loupe's private I/O thread, never on
//! the application's runtime. Connection failures and HTTP 429/502/503/504 are retried with
//! back-off (see [`RetryPolicy`]) until the export timeout; other failures are reported
//! once on stderr and counted in the `loupe.sdk.exporter.*` metrics (`exporter="zipkin"`).
//!
//! ```
//! use loupe::export::zipkin::{LocalEndpoint, ZipkinExporter};
//! use loupe::trace::{BatchSpanProcessor, TracerProvider};
//! use loupe::Resource;
//! use std::time::Duration;
//!
//! let exporter = ZipkinExporter::builder()
//!     .with_endpoint("http://zipkin:9411/api/v2/spans")
//!     .with_local_endpoint(LocalEndpoint {
//!         ipv4: Some("10.0.0.1".parse()?),
//!         port: Some(8080),
//!         ..LocalEndpoint::default()
//!     })
//!     .build()?;
//! let provider = TracerProvider::builder()
//!     .with_resource(Resource::builder().with_service_name("api-service").build())
//!     .with_span_processor(BatchSpanProcessor::new(exporter))
//!     .build()?;
//! # provider.shutdown(Duration::from_secs(1))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Jaeger
//!
//! Jaeger (1.35 and later, and every Jaeger v2) receives OTLP natively, so Loupe reaches it
//! through the OTLP exporter rather than through Jaeger's deprecated Thrift protocols:
//!
//! | the seed's Jaeger setting | use instead |
//! |---|---|
//! | collector `http://jaeger:14268/api/traces` (Thrift over HTTP) | OTLP/HTTP to `http://jaeger:4318/v1/traces` |
//! | agent `jaeger-agent:6831` (Thrift over UDP) | OTLP/gRPC to `http://jaeger:4317` |
//!
//! With environment variables, `OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4317` (gRPC) or
//! `OTEL_EXPORTER_OTLP_ENDPOINT=http://jaeger:4318` with
//! `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf`. Jaeger 1.35–1.x needs
//! `COLLECTOR_OTLP_ENABLED=true` on the collector (the default from 1.39 on). A Jaeger
//! started with `COLLECTOR_ZIPKIN_HOST_PORT=:9411` also accepts this exporter's output.

use crate::common::attribute::{KeyValue, Value};
use crate::common::error::{ConfigError, ExportError};
use crate::common::resource::{Resource, SERVICE_NAME};
use crate::common::stats::{register_exporter, ExporterStats};
use crate::export::stdout::json_value;
use crate::export::tls::{tls_fields, TlsConfig, TlsFields};
use crate::export::transport::{self, post_once, with_retries, HttpTarget, RetryPolicy};
use crate::trace::{SpanBatch, SpanData, SpanExporter, SpanKind, Status};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The collector endpoint used when none is configured (as `OTEL_EXPORTER_ZIPKIN_ENDPOINT`).
pub const DEFAULT_ENDPOINT: &str = "http://localhost:9411/api/v2/spans";
/// The export timeout used when none is configured (as `OTEL_EXPORTER_ZIPKIN_TIMEOUT`).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The path Zipkin collects v2 spans on.
const SPANS_PATH: &str = "/api/v2/spans";

/// What Zipkin's `localEndpoint` says about this process, besides the service name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalEndpoint {
    /// Replaces the resource's `service.name` (the OpenTelemetry mapping takes the service
    /// name from the resource; set this only to override it).
    pub service_name: Option<String>,
    /// This host's IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// This host's IPv6 address.
    pub ipv6: Option<Ipv6Addr>,
    /// The port this service listens on.
    pub port: Option<u16>,
}

/// Configures a [`ZipkinExporter`].
#[derive(Debug)]
#[must_use]
pub struct ZipkinExporterBuilder {
    endpoint: String,
    timeout: Duration,
    retry: RetryPolicy,
    headers: Vec<(String, String)>,
    local: LocalEndpoint,
    tls: TlsConfig,
    /// What errors about `tls` call its fields.
    tls_fields: TlsFields,
}

impl ZipkinExporterBuilder {
    /// The collector URL; default [`DEFAULT_ENDPOINT`]. A URL without a path (such as the
    /// seed's `http://zipkin:9411`) gets Zipkin's `/api/v2/spans`.
    pub fn with_endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = url.into();
        self
    }

    /// How long one export may take, retries included; default [`DEFAULT_TIMEOUT`]. The span
    /// processor's own export timeout also applies; the shorter wins.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How failed exports are retried; default [`RetryPolicy::default`] (5 retries, 0.5 s
    /// back-off doubling up to 30 s, never past the timeout). [`RetryPolicy::none`] disables it.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Adds an HTTP header to every request (an authorization token for a proxy, say).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// What `localEndpoint` carries besides the resource's service name; default nothing.
    pub fn with_local_endpoint(mut self, local: LocalEndpoint) -> Self {
        self.local = local;
        self
    }

    /// Which servers an `https://` URL is trusted against (a private certificate
    /// authority), and the client certificate to present for mutual TLS. Default: the
    /// system's trust store, no client certificate.
    pub fn with_tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// The names errors give the TLS settings, when they come from a configuration file
    /// rather than from [`with_tls`](Self::with_tls).
    pub(crate) fn with_tls_setting_names(mut self, fields: TlsFields) -> Self {
        self.tls_fields = fields;
        self
    }

    /// Checks the configuration, reads the TLS files and builds the exporter. No
    /// connection is made until the first export.
    pub fn build(self) -> Result<ZipkinExporter, ConfigError> {
        let url = endpoint_url(&self.endpoint)?;
        if self.timeout.is_zero() {
            return Err(ConfigError::new(
                "timeout",
                format!("{:?}", self.timeout),
                "a duration above zero",
            ));
        }
        let tls = self.tls.load(&self.tls_fields)?;
        let target = HttpTarget::new(
            "headers",
            url,
            &[("content-type", "application/json")],
            &self.headers,
            &tls,
        )?;
        Ok(ZipkinExporter {
            target,
            timeout: self.timeout,
            retry: self.retry,
            local: self.local,
            stats: register_exporter("zipkin", "traces"),
            shut_down: AtomicBool::new(false),
        })
    }
}

/// Validates the endpoint and completes a bare `scheme://host:port` with `/api/v2/spans`.
fn endpoint_url(endpoint: &str) -> Result<String, ConfigError> {
    const ALLOWED: &str = "an http:// or https:// URL, e.g. http://zipkin:9411/api/v2/spans";
    let mut url = reqwest::Url::parse(endpoint)
        .map_err(|_| ConfigError::new("endpoint", endpoint, ALLOWED))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new("endpoint", endpoint, ALLOWED));
    }
    if url.path() == "/" || url.path().is_empty() {
        url.set_path(SPANS_PATH);
    }
    Ok(url.to_string())
}

/// Sends spans to Zipkin as v2 JSON. See the [module documentation](self) for the mapping.
pub struct ZipkinExporter {
    target: HttpTarget,
    timeout: Duration,
    retry: RetryPolicy,
    local: LocalEndpoint,
    stats: Arc<ExporterStats>,
    shut_down: AtomicBool,
}

impl std::fmt::Debug for ZipkinExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers are left out: they may hold credentials.
        f.debug_struct("ZipkinExporter")
            .field("endpoint", &self.target.url)
            .field("timeout", &self.timeout)
            .field("retry", &self.retry)
            .field("local_endpoint", &self.local)
            .finish()
    }
}

impl ZipkinExporter {
    /// Starts configuring an exporter; every setting has a default.
    pub fn builder() -> ZipkinExporterBuilder {
        ZipkinExporterBuilder {
            endpoint: DEFAULT_ENDPOINT.into(),
            timeout: DEFAULT_TIMEOUT,
            retry: RetryPolicy::default(),
            headers: Vec::new(),
            local: LocalEndpoint::default(),
            tls: TlsConfig::default(),
            tls_fields: tls_fields!("zipkin.tls"),
        }
    }

    /// The URL spans are POSTed to.
    pub fn endpoint(&self) -> &str {
        &self.target.url
    }

    /// What this exporter delivered, failed and retried so far.
    pub fn stats(&self) -> &ExporterStats {
        &self.stats
    }

    fn send(&self, body: bytes::Bytes, timeout: Duration) -> Result<(), ExportError> {
        let target = self.target.clone();
        let policy = self.retry.clone();
        let stats = Arc::clone(&self.stats);
        let deadline = Instant::now() + timeout;
        let attempts = async move {
            with_retries(&policy, deadline, &stats, |remaining| {
                post_once(&target, body.clone(), remaining, false)
            })
            .await
        };
        transport::block_on(attempts, timeout)?.map(|_| ())
    }
}

impl SpanExporter for ZipkinExporter {
    fn stats(&self) -> Option<Arc<ExporterStats>> {
        Some(Arc::clone(&self.stats))
    }

    fn export(&self, batch: SpanBatch<'_>) -> Result<(), ExportError> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(ExportError::Shutdown);
        }
        if batch.spans.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let count = batch.spans.len() as u64;
        let body = encode_spans(batch.spans, batch.resource, &self.local);
        let result = self.send(body.into(), self.timeout.min(batch.timeout));
        self.stats.record_duration(started.elapsed());
        match &result {
            Ok(()) => self.stats.exported.add(count),
            Err(error) => {
                self.stats.failed.add(count);
                transport::report_once("zipkin", error);
            }
        }
        result
    }

    fn shutdown(&self) -> Result<(), ExportError> {
        self.shut_down.store(true, Ordering::Release);
        Ok(())
    }
}

/// A Zipkin v2 span, with the fields that may be absent skipped when empty, as the
/// OpenTelemetry mapping asks.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinSpan<'a> {
    trace_id: String,
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "str::is_empty")]
    name: &'a str,
    timestamp: u64,
    duration: u64,
    local_endpoint: &'a Endpoint,
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_endpoint: Option<Endpoint>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    annotations: Vec<Annotation>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    tags: BTreeMap<String, String>,
}

#[derive(Serialize, Default, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    service_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipv4: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ipv6: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
}

#[derive(Serialize)]
struct Annotation {
    timestamp: u64,
    value: String,
}

/// Encodes a batch as the JSON array Zipkin's `POST /api/v2/spans` takes.
pub(crate) fn encode_spans(
    spans: &[SpanData],
    resource: &Resource,
    local: &LocalEndpoint,
) -> Vec<u8> {
    let service_name = local
        .service_name
        .clone()
        .or_else(|| {
            resource
                .get(SERVICE_NAME.as_str())
                .map(|v| v.as_str().into_owned())
        })
        .unwrap_or_else(|| default_service_name().to_owned());
    let local_endpoint = Endpoint {
        service_name: Some(service_name),
        ipv4: local.ipv4.map(|ip| ip.to_string()),
        ipv6: local.ipv6.map(|ip| ip.to_string()),
        port: local.port,
    };
    // The spec: `service.namespace` is never part of the service name, but is sent as a tag.
    let namespace = resource
        .get("service.namespace")
        .map(|v| v.as_str().into_owned());
    let zipkin: Vec<ZipkinSpan<'_>> = spans
        .iter()
        .map(|span| zipkin_span(span, &local_endpoint, namespace.as_deref()))
        .collect();
    // Strings, integers and maps of strings always serialize.
    serde_json::to_vec(&zipkin).unwrap_or_default()
}

/// The `service.name` of the SDK's default resource, for a resource that has none (as the
/// specification requires).
fn default_service_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        Resource::default()
            .get(SERVICE_NAME.as_str())
            .map(|v| v.as_str().into_owned())
            .unwrap_or_else(|| "unknown_service".to_owned())
    })
}

fn zipkin_span<'a>(
    span: &'a SpanData,
    local_endpoint: &'a Endpoint,
    namespace: Option<&str>,
) -> ZipkinSpan<'a> {
    let start = unix_micros(span.start_time);
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
        .max(1);
    ZipkinSpan {
        trace_id: span.span_context.trace_id().to_hex_string(),
        id: span.span_context.span_id().to_hex_string(),
        parent_id: span
            .parent_span_id
            .is_valid()
            .then(|| span.parent_span_id.to_hex_string()),
        kind: kind(span.kind),
        name: &span.name,
        timestamp: start,
        duration,
        local_endpoint,
        remote_endpoint: remote_endpoint(span),
        annotations: span
            .events
            .iter()
            .map(|event| Annotation {
                timestamp: unix_micros(event.timestamp),
                value: annotation_value(&event.name, &event.attributes),
            })
            .collect(),
        tags: tags(span, namespace),
    }
}

fn kind(kind: SpanKind) -> Option<&'static str> {
    match kind {
        SpanKind::Internal => None,
        SpanKind::Server => Some("SERVER"),
        SpanKind::Client => Some("CLIENT"),
        SpanKind::Producer => Some("PRODUCER"),
        SpanKind::Consumer => Some("CONSUMER"),
    }
}

/// Whole microseconds since the Unix epoch (0 for times before it).
fn unix_micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A tag value: primitives as text (booleans `true`/`false`), arrays as JSON lists.
pub(crate) fn tag_value(value: &Value) -> String {
    match value {
        Value::Array(_) => serde_json::to_string(&json_value(value)).unwrap_or_default(),
        other => other.as_str().into_owned(),
    }
}

/// An event as an annotation value: its name, or `"name":{...}` with its attributes as
/// compact JSON, the format the specification shows.
pub(crate) fn annotation_value(name: &str, attributes: &[KeyValue]) -> String {
    if attributes.is_empty() {
        return name.to_owned();
    }
    let attrs: serde_json::Map<String, serde_json::Value> = attributes
        .iter()
        .map(|kv| (kv.key.to_string(), json_value(&kv.value)))
        .collect();
    format!(
        "{}:{}",
        serde_json::Value::String(name.to_owned()),
        serde_json::Value::Object(attrs)
    )
}

fn tags(span: &SpanData, namespace: Option<&str>) -> BTreeMap<String, String> {
    let mut tags: BTreeMap<String, String> = span
        .attributes
        .iter()
        .map(|kv| (kv.key.to_string(), tag_value(&kv.value)))
        .collect();
    if let Some(namespace) = namespace {
        tags.entry("service.namespace".into())
            .or_insert_with(|| namespace.to_owned());
    }
    for (count, key) in [
        (
            span.dropped_attributes_count,
            "otel.dropped_attributes_count",
        ),
        (span.dropped_events_count, "otel.dropped_events_count"),
        (span.dropped_links_count, "otel.dropped_links_count"),
    ] {
        if count > 0 {
            tags.insert(key.into(), count.to_string());
        }
    }
    if !span.scope.name.is_empty() {
        tags.insert("otel.scope.name".into(), span.scope.name.clone());
    }
    if let Some(version) = &span.scope.version {
        tags.insert("otel.scope.version".into(), version.clone());
    }
    // Zipkin treats any span with an `error` tag as failed, so a boolean "no error" goes.
    if tags.get("error").is_some_and(|v| v == "false") {
        tags.remove("error");
    }
    match &span.status {
        Status::Unset => {}
        Status::Ok => {
            tags.insert("otel.status_code".into(), "OK".into());
        }
        Status::Error { description } => {
            tags.insert("otel.status_code".into(), "ERROR".into());
            tags.insert("error".into(), description.to_string());
        }
    }
    tags
}

/// Attributes naming the peer of a client or producer span, best first, with the attribute
/// holding the port that goes with it (the specification's ranking).
const REMOTE_ENDPOINT_ATTRIBUTES: [(&str, Option<&str>); 11] = [
    ("peer.service", None),
    ("server.address", None),
    ("net.peer.name", None),
    ("network.peer.address", Some("network.peer.port")),
    ("server.socket.domain", None),
    ("server.socket.address", Some("server.socket.port")),
    ("net.sock.peer.name", None),
    ("net.sock.peer.addr", Some("net.sock.peer.port")),
    ("peer.hostname", None),
    ("peer.address", None),
    ("db.name", None),
];

/// Zipkin draws a dependency only for client and producer spans with a remote endpoint.
fn remote_endpoint(span: &SpanData) -> Option<Endpoint> {
    if !matches!(span.kind, SpanKind::Client | SpanKind::Producer) {
        return None;
    }
    REMOTE_ENDPOINT_ATTRIBUTES
        .iter()
        .find_map(|(key, port_key)| {
            let value = span.attribute(key)?.as_str();
            if value.is_empty() {
                return None;
            }
            let mut endpoint = Endpoint::default();
            match value.parse::<IpAddr>() {
                Ok(IpAddr::V4(ip)) if *key != "peer.service" => {
                    endpoint.ipv4 = Some(ip.to_string())
                }
                Ok(IpAddr::V6(ip)) if *key != "peer.service" => {
                    endpoint.ipv6 = Some(ip.to_string())
                }
                _ => endpoint.service_name = Some(value.into_owned()),
            }
            endpoint.port = port_key.and_then(|k| match span.attribute(k)? {
                Value::I64(p) => u16::try_from(*p).ok(),
                other => other.as_str().parse().ok(),
            });
            Some(endpoint)
        })
}

#[cfg(test)]
mod tests;
