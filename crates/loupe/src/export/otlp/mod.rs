//! OTLP exporters for spans, metrics and logs over gRPC, HTTP/protobuf and HTTP/JSON, built on
//! the generated types of the official protos (`opentelemetry-proto`).
//!
//! Settings come from [`OtlpConfig`]: the specification's defaults, the
//! `OTEL_EXPORTER_OTLP_*` variables ([`OtlpConfig::from_env`]) and code, per-signal values
//! winning. Retryable failures (HTTP 429/502/503/504, the retryable gRPC codes, connection
//! errors) are retried with exponential back-off and jitter, honouring `Retry-After`;
//! partial successes are counted and not retried; requests above the size limit are split.
//! Every exporter publishes its health as `loupe.sdk.exporter.*` metrics.
//!
//! ```no_run
//! use loupe::export::otlp::{OtlpConfig, Protocol};
//! use loupe::trace::{BatchSpanProcessor, TracerProvider};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let config = OtlpConfig::from_env()?
//!     .with_protocol(Protocol::Grpc)
//!     .with_endpoint("http://localhost:4317");
//! let provider = TracerProvider::builder()
//!     .with_span_processor(BatchSpanProcessor::new(config.span_exporter()?))
//!     .build()?;
//! # Ok(()) }
//! ```
//!
//! Jaeger (1.35 and later) accepts OTLP natively: point the exporter at Jaeger's OTLP ports
//! (`http://jaeger:4317` with gRPC, `http://jaeger:4318` with HTTP).

mod config;
mod convert;

pub(crate) use config::percent_decode;
pub use config::{Compression, OtlpConfig, Protocol, Signal, SignalOverrides};
pub use convert::SpanEncoder;

use crate::common::error::{ConfigError, ExportError};
use crate::common::stats::{register_exporter, ExporterStats};
use crate::export::transport::{self, Failure, HttpTarget};
use crate::metrics::{MetricExporter, ResourceMetrics, Temporality};
use crate::trace::{SpanBatch, SpanExporter};
use config::Resolved;
use opentelemetry_proto::tonic::collector::logs::v1 as cl;
use opentelemetry_proto::tonic::collector::metrics::v1 as cm;
use opentelemetry_proto::tonic::collector::trace::v1 as ct;
use prost::Message;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// An OTLP export request type: how it travels over gRPC and how its answer reports a
/// partial success.
trait Payload: Message + serde::Serialize + Clone + Default + Send + 'static {
    /// The JSON field of the partial success's rejected count.
    const REJECTED_FIELD: &'static str;
    fn grpc(
        channel: tonic::transport::Channel,
        request: tonic::Request<Self>,
        gzip: bool,
    ) -> BoxFuture<Result<PartialSuccess, tonic::Status>>;
    fn decode_response(body: &[u8]) -> Option<PartialSuccess>;
}

/// What a server rejected of an accepted request.
#[derive(Debug, Default, Clone, PartialEq)]
struct PartialSuccess {
    rejected: i64,
    message: String,
}

macro_rules! payload {
    ($req:ty, $resp:ty, $client:ty, $field:literal, $rejected:ident) => {
        impl Payload for $req {
            const REJECTED_FIELD: &'static str = $field;
            fn grpc(
                channel: tonic::transport::Channel,
                request: tonic::Request<Self>,
                gzip: bool,
            ) -> BoxFuture<Result<PartialSuccess, tonic::Status>> {
                Box::pin(async move {
                    let mut client = <$client>::new(channel).max_decoding_message_size(1 << 20);
                    if gzip {
                        client = client
                            .send_compressed(tonic::codec::CompressionEncoding::Gzip)
                            .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
                    }
                    let response = client.export(request).await?.into_inner();
                    Ok(response
                        .partial_success
                        .map(|p| PartialSuccess {
                            rejected: p.$rejected,
                            message: p.error_message,
                        })
                        .unwrap_or_default())
                })
            }
            fn decode_response(body: &[u8]) -> Option<PartialSuccess> {
                let response = <$resp>::decode(body).ok()?;
                response.partial_success.map(|p| PartialSuccess {
                    rejected: p.$rejected,
                    message: p.error_message,
                })
            }
        }
    };
}

payload!(
    ct::ExportTraceServiceRequest,
    ct::ExportTraceServiceResponse,
    ct::trace_service_client::TraceServiceClient<tonic::transport::Channel>,
    "rejectedSpans",
    rejected_spans
);
payload!(
    cm::ExportMetricsServiceRequest,
    cm::ExportMetricsServiceResponse,
    cm::metrics_service_client::MetricsServiceClient<tonic::transport::Channel>,
    "rejectedDataPoints",
    rejected_data_points
);

/// What a request is sent from: a generated message, or protobuf bytes already encoded.
enum Body<P> {
    Message(P),
    Protobuf(Vec<u8>),
}

payload!(
    cl::ExportLogsServiceRequest,
    cl::ExportLogsServiceResponse,
    cl::logs_service_client::LogsServiceClient<tonic::transport::Channel>,
    "rejectedLogRecords",
    rejected_log_records
);

enum Wire {
    Http(HttpTarget),
    Grpc {
        channel: tonic::transport::Channel,
        metadata: tonic::metadata::MetadataMap,
    },
}

/// The connection and settings one exporter uses.
struct Client {
    settings: Resolved,
    wire: Wire,
    stats: Arc<ExporterStats>,
}

impl Client {
    fn new(settings: Resolved) -> Result<Client, ConfigError> {
        let exporter = match settings.protocol {
            Protocol::Grpc => "otlp_grpc",
            Protocol::HttpProtobuf => "otlp_http_protobuf",
            Protocol::HttpJson => "otlp_http_json",
        };
        let wire = match settings.protocol {
            Protocol::Grpc => {
                let mut metadata = tonic::metadata::MetadataMap::new();
                for (k, v) in &settings.headers {
                    let key =
                        tonic::metadata::MetadataKey::from_bytes(k.to_ascii_lowercase().as_bytes());
                    let value = v.parse::<tonic::metadata::MetadataValue<_>>();
                    match (key, value) {
                        (Ok(key), Ok(value)) => {
                            metadata.insert(key, value);
                        }
                        _ => {
                            return Err(ConfigError::new(
                                "OTEL_EXPORTER_OTLP_HEADERS",
                                format!("{k}={v}"),
                                "gRPC metadata: lowercase token names and visible ASCII values",
                            ))
                        }
                    }
                }
                let endpoint = tonic::transport::Endpoint::from_shared(settings.url.clone())
                    .map_err(|_| {
                        ConfigError::new(
                            "OTEL_EXPORTER_OTLP_ENDPOINT",
                            &settings.url,
                            "an absolute http:// or https:// URL such as http://localhost:4317",
                        )
                    })?
                    .connect_timeout(settings.timeout.min(Duration::from_secs(5)));
                #[cfg(feature = "tls")]
                let endpoint = if settings.url.starts_with("https://") {
                    endpoint.tls_config(settings.tls.grpc()).map_err(|e| {
                        ConfigError::new(
                            "OTEL_EXPORTER_OTLP_CERTIFICATE",
                            transport::error_chain(&e),
                            "certificates and a key this system's TLS library accepts",
                        )
                    })?
                } else {
                    endpoint
                };
                let channel = {
                    let _entered = transport::runtime().enter();
                    endpoint.connect_lazy()
                };
                Wire::Grpc { channel, metadata }
            }
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                let content_type = if settings.protocol == Protocol::HttpJson {
                    "application/json"
                } else {
                    "application/x-protobuf"
                };
                let mut protocol = vec![("content-type", content_type)];
                if settings.compression == Compression::Gzip {
                    protocol.push(("content-encoding", "gzip"));
                }
                Wire::Http(HttpTarget::new(
                    "OTEL_EXPORTER_OTLP_HEADERS",
                    settings.url.clone(),
                    &protocol,
                    &settings.headers,
                    &settings.tls,
                )?)
            }
        };
        Ok(Client {
            stats: register_exporter(exporter, settings.signal.as_str()),
            settings,
            wire,
        })
    }

    /// Whether `request` must be split before sending.
    fn too_big<P: Payload>(&self, request: &P) -> bool {
        let len = request.encoded_len();
        // JSON is roughly twice the size of protobuf for OTLP data.
        let len = if self.settings.protocol == Protocol::HttpJson {
            len * 2
        } else {
            len
        };
        len > self.settings.max_request_bytes
    }

    /// Sends one request of `items` items, retrying as configured, and accounts for it.
    fn send<P: Payload>(&self, request: Body<P>, items: u64) -> Result<(), ExportError> {
        let started = Instant::now();
        let timeout = self.settings.timeout;
        let result = match self.prepare(request) {
            Ok(attempt) => {
                transport::block_on(attempt, timeout + Duration::from_millis(250)).and_then(|r| r)
            }
            Err(e) => Err(e),
        };
        self.stats.record_duration(started.elapsed());
        match result {
            Ok(partial) => {
                let rejected = u64::try_from(partial.rejected).unwrap_or(0).min(items);
                self.stats.exported.add(items - rejected);
                self.stats.rejected.add(rejected);
                if !partial.message.is_empty() || rejected > 0 {
                    transport::report_once(
                        &format!("OTLP {}", self.settings.signal.as_str()),
                        &ExportError::failed(format!(
                            "the server rejected {rejected} of {items} items: {}",
                            partial.message
                        )),
                    );
                }
                Ok(())
            }
            Err(e) => {
                self.stats.failed.add(items);
                transport::report_once(&format!("OTLP {}", self.settings.signal.as_str()), &e);
                Err(e)
            }
        }
    }

    /// The future that delivers `request` (with retries) on the I/O runtime.
    fn prepare<P: Payload>(
        &self,
        request: Body<P>,
    ) -> Result<BoxFuture<Result<PartialSuccess, ExportError>>, ExportError> {
        let deadline = Instant::now() + self.settings.timeout;
        let retry = self.settings.retry.clone();
        let stats = Arc::clone(&self.stats);
        match &self.wire {
            Wire::Http(target) => {
                let json = self.settings.protocol == Protocol::HttpJson;
                let body = match request {
                    Body::Protobuf(bytes) => bytes,
                    Body::Message(request) if json => serde_json::to_vec(&request)
                        .map_err(|e| ExportError::from_source("cannot encode OTLP/JSON", e))?,
                    Body::Message(request) => request.encode_to_vec(),
                };
                let body = if self.settings.compression == Compression::Gzip {
                    transport::gzip(&body)
                } else {
                    body
                };
                let body = bytes::Bytes::from(body);
                let target = target.clone();
                Ok(Box::pin(async move {
                    let response = transport::with_retries(&retry, deadline, &stats, |left| {
                        transport::post_once(&target, body.clone(), left, false)
                    })
                    .await?;
                    Ok(if json {
                        partial_from_json(&response, P::REJECTED_FIELD)
                    } else {
                        P::decode_response(&response)
                    }
                    .unwrap_or_default())
                }))
            }
            Wire::Grpc { channel, metadata } => {
                let Body::Message(request) = request else {
                    return Err(ExportError::failed(
                        "gRPC needs a message, not encoded bytes",
                    ));
                };
                let channel = channel.clone();
                let metadata = metadata.clone();
                let gzip = self.settings.compression == Compression::Gzip;
                Ok(Box::pin(async move {
                    transport::with_retries(&retry, deadline, &stats, |left| {
                        let mut req = tonic::Request::new(request.clone());
                        *req.metadata_mut() = metadata.clone();
                        req.set_timeout(left);
                        let call = P::grpc(channel.clone(), req, gzip);
                        async move { call.await.map_err(grpc_failure) }
                    })
                    .await
                }))
            }
        }
    }
}

/// The gRPC codes the OTLP specification calls retryable. `RESOURCE_EXHAUSTED` is retryable
/// only with a `RetryInfo` detail, which Loupe does not decode, so it is not retried.
fn grpc_failure(status: tonic::Status) -> Failure {
    use tonic::Code;
    let retryable = matches!(
        status.code(),
        Code::Cancelled
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::OutOfRange
            | Code::Unavailable
            | Code::DataLoss
    );
    let error = ExportError::failed(format!(
        "gRPC export failed with {:?}: {}",
        status.code(),
        status.message()
    ));
    if retryable {
        Failure::retryable(error, None)
    } else {
        Failure::permanent(error)
    }
}

/// Reads `partialSuccess` from an OTLP/JSON response; counts may be numbers or strings.
fn partial_from_json(body: &[u8], field: &str) -> Option<PartialSuccess> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let partial = value.get("partialSuccess")?;
    let rejected = match partial.get(field) {
        Some(serde_json::Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.parse().unwrap_or(0),
        _ => 0,
    };
    let message = partial
        .get("errorMessage")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_string();
    Some(PartialSuccess { rejected, message })
}

/// The OTLP/protobuf body (`ExportTraceServiceRequest`) the exporters send for `spans`:
/// for writing OTLP files, or for sending them through a transport of your own.
pub fn encode_spans(resource: &crate::Resource, spans: &[crate::trace::SpanData]) -> Vec<u8> {
    let mut out = Vec::new();
    convert::SpanEncoder::default().encode(resource, spans, &mut out);
    out
}

/// The OTLP/JSON body the exporters send for `spans` (hex ids, 64-bit integers as strings,
/// integer enums, lowerCamelCase names).
pub fn encode_spans_json(
    resource: &crate::Resource,
    spans: &[crate::trace::SpanData],
) -> Result<Vec<u8>, ExportError> {
    serde_json::to_vec(&convert::trace_request(resource, spans))
        .map_err(|e| ExportError::from_source("cannot encode OTLP/JSON", e))
}

/// The OTLP/protobuf body (`ExportMetricsServiceRequest`) the exporters send for `metrics`.
pub fn encode_metrics(metrics: &ResourceMetrics) -> Vec<u8> {
    convert::metrics_request(metrics, &every_metric(metrics)).encode_to_vec()
}

/// `(scope index, metric index)` of every metric in a collection.
fn every_metric(metrics: &ResourceMetrics) -> Vec<(usize, usize)> {
    metrics
        .scope_metrics
        .iter()
        .enumerate()
        .flat_map(|(si, s)| (0..s.metrics.len()).map(move |mi| (si, mi)))
        .collect()
}

impl OtlpConfig {
    /// An OTLP span exporter with these settings.
    pub fn span_exporter(&self) -> Result<OtlpSpanExporter, ConfigError> {
        Ok(OtlpSpanExporter {
            client: Client::new(self.resolve(Signal::Traces)?)?,
            encoder: Default::default(),
        })
    }

    /// An OTLP log exporter with these settings.
    pub fn log_exporter(&self) -> Result<OtlpLogExporter, ConfigError> {
        Ok(OtlpLogExporter {
            client: Client::new(self.resolve(Signal::Logs)?)?,
        })
    }

    /// An OTLP metric exporter with these settings; feed it with a `PeriodicReader`.
    pub fn metric_exporter(&self) -> Result<OtlpMetricExporter, ConfigError> {
        Ok(OtlpMetricExporter {
            client: Client::new(self.resolve(Signal::Metrics)?)?,
        })
    }
}

/// Sends spans over OTLP. Build it with [`OtlpConfig::span_exporter`].
pub struct OtlpSpanExporter {
    client: Client,
    encoder: std::sync::Mutex<convert::SpanEncoder>,
}

impl std::fmt::Debug for OtlpSpanExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpSpanExporter")
            .field("url", &self.client.settings.url)
            .field("protocol", &self.client.settings.protocol)
            .finish_non_exhaustive()
    }
}

impl OtlpSpanExporter {
    /// This exporter's health counters (also published as `loupe.sdk.exporter.*`).
    pub fn stats(&self) -> Arc<ExporterStats> {
        Arc::clone(&self.client.stats)
    }

    fn send(
        &self,
        resource: &crate::Resource,
        spans: &[crate::trace::SpanData],
    ) -> Result<(), ExportError> {
        let split = |this: &Self| {
            let (a, b) = spans.split_at(spans.len() / 2);
            let first = this.send(resource, a);
            let second = this.send(resource, b);
            first.and(second)
        };
        if self.client.settings.protocol == Protocol::HttpProtobuf {
            let mut body = Vec::new();
            self.encoder
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .encode(resource, spans, &mut body);
            if spans.len() > 1 && body.len() > self.client.settings.max_request_bytes {
                return split(self);
            }
            return self
                .client
                .send::<ct::ExportTraceServiceRequest>(Body::Protobuf(body), spans.len() as u64);
        }
        let request = convert::trace_request(resource, spans);
        if spans.len() > 1 && self.client.too_big(&request) {
            return split(self);
        }
        self.client.send(Body::Message(request), spans.len() as u64)
    }
}

impl SpanExporter for OtlpSpanExporter {
    fn stats(&self) -> Option<Arc<ExporterStats>> {
        Some(Arc::clone(&self.client.stats))
    }

    fn export(&self, batch: SpanBatch<'_>) -> Result<(), ExportError> {
        if batch.spans.is_empty() {
            return Ok(());
        }
        self.send(batch.resource, batch.spans)
    }
}

/// Sends metrics over OTLP. Build it with [`OtlpConfig::metric_exporter`].
pub struct OtlpMetricExporter {
    client: Client,
}

impl std::fmt::Debug for OtlpMetricExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpMetricExporter")
            .field("url", &self.client.settings.url)
            .field("protocol", &self.client.settings.protocol)
            .finish_non_exhaustive()
    }
}

impl OtlpMetricExporter {
    /// This exporter's health counters (also published as `loupe.sdk.exporter.*`).
    pub fn stats(&self) -> Arc<ExporterStats> {
        Arc::clone(&self.client.stats)
    }

    fn send(
        &self,
        metrics: &ResourceMetrics,
        selection: &[(usize, usize)],
    ) -> Result<(), ExportError> {
        let request = convert::metrics_request(metrics, selection);
        if selection.len() > 1 && self.client.too_big(&request) {
            let (a, b) = selection.split_at(selection.len() / 2);
            let first = self.send(metrics, a);
            let second = self.send(metrics, b);
            return first.and(second);
        }
        let points: usize = selection
            .iter()
            .map(|&(s, m)| convert::point_count(&metrics.scope_metrics[s].metrics[m]))
            .sum();
        self.client.send(Body::Message(request), points as u64)
    }
}

impl MetricExporter for OtlpMetricExporter {
    fn export(&self, metrics: &ResourceMetrics) -> Result<(), ExportError> {
        let selection = every_metric(metrics);
        if selection.is_empty() {
            return Ok(());
        }
        self.send(metrics, &selection)
    }

    fn temporality(&self) -> Temporality {
        self.client.settings.temporality
    }
}

/// Sends log records over OTLP. Build it with [`OtlpConfig::log_exporter`].
pub struct OtlpLogExporter {
    client: Client,
}

impl std::fmt::Debug for OtlpLogExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OtlpLogExporter")
            .field("url", &self.client.settings.url)
            .field("protocol", &self.client.settings.protocol)
            .finish_non_exhaustive()
    }
}

impl OtlpLogExporter {
    /// This exporter's health counters (also published as `loupe.sdk.exporter.*`).
    pub fn stats(&self) -> Arc<ExporterStats> {
        Arc::clone(&self.client.stats)
    }

    fn send(
        &self,
        resource: &crate::Resource,
        records: &[crate::logs::LogRecord],
    ) -> Result<(), ExportError> {
        let request = convert::logs_request(resource, records);
        if records.len() > 1 && self.client.too_big(&request) {
            let (a, b) = records.split_at(records.len() / 2);
            let first = self.send(resource, a);
            let second = self.send(resource, b);
            return first.and(second);
        }
        self.client
            .send(Body::Message(request), records.len() as u64)
    }
}

impl crate::logs::LogExporter for OtlpLogExporter {
    fn export(&self, batch: crate::logs::LogBatch<'_>) -> Result<(), ExportError> {
        if batch.records.is_empty() {
            return Ok(());
        }
        self.send(batch.resource, batch.records)
    }
}
