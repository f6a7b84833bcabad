//! The Zipkin exporter POSTs spans as a Zipkin v2 JSON array to a real HTTP server on
//! loopback, retries what may pass and gives up on what will not.

mod support;

use loupe::export::transport::RetryPolicy;
use loupe::export::zipkin::{LocalEndpoint, ZipkinExporter};
use loupe::trace::{BatchConfig, BatchSpanProcessor, SpanKind, Status, TracerProvider};
use loupe::{InstrumentationScope, KeyValue, Resource};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use support::{HttpRecorder, Request};

const WAIT: Duration = Duration::from_secs(20);

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 3,
        initial_backoff: Duration::from_millis(10),
        max_backoff: Duration::from_millis(50),
    }
}

/// Records a server span with a failing client child, and flushes them to `exporter` in
/// one batch; returns what the flush returned.
fn record_request(exporter: Arc<ZipkinExporter>) -> Result<(), loupe::ExportError> {
    // Only the flush exports: no timer can split the two spans into two batches.
    let batching = BatchConfig {
        scheduled_delay: Duration::from_secs(3600),
        ..BatchConfig::default()
    };
    let provider = TracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("api-service").build())
        .with_span_processor(BatchSpanProcessor::with_config(exporter, batching).unwrap())
        .build()
        .unwrap();
    let tracer = provider.tracer(InstrumentationScope::new("api").with_version("1.0.0"));
    let mut root = tracer
        .span_builder("handle_request")
        .with_kind(SpanKind::Server)
        .with_attribute("http.method", "GET")
        .with_attribute("http.status_code", 200i64)
        .start();
    {
        let _current = root.enter();
        let mut query = tracer
            .span_builder("query_users")
            .with_kind(SpanKind::Client)
            .with_attribute("peer.service", "postgres")
            .with_attribute("db.rows", vec![1i64, 2, 3])
            .start();
        query.add_event("retry", vec![KeyValue::new("attempt", 2i64)]);
        query.set_status(Status::error("connection reset"));
        query.end();
    }
    root.add_event("responded", vec![]);
    root.end();
    provider.force_flush(WAIT)
}

fn by_name<'a>(spans: &'a [Value], name: &str) -> &'a Value {
    spans
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("no span {name} in {spans:?}"))
}

#[test]
fn finished_spans_arrive_as_a_zipkin_v2_json_array() {
    let zipkin = HttpRecorder::start(|_| 202);
    let exporter = ZipkinExporter::builder()
        .with_endpoint(zipkin.url()) // the seed's bare `http://zipkin:9411` form
        .with_local_endpoint(LocalEndpoint {
            ipv4: Some("10.0.0.1".parse().unwrap()),
            port: Some(8080),
            ..LocalEndpoint::default()
        })
        .build()
        .unwrap();
    let exporter = Arc::new(exporter);
    record_request(Arc::clone(&exporter)).unwrap();

    let requests = zipkin.wait_for(1, WAIT);
    assert_eq!(requests.len(), 1, "one batch, one request");
    let request: &Request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/api/v2/spans");
    assert_eq!(request.header("content-type"), Some("application/json"));

    let spans = request.json();
    let spans = spans.as_array().expect("a JSON array of spans");
    assert_eq!(spans.len(), 2);
    let root = by_name(spans, "handle_request");
    let query = by_name(spans, "query_users");

    let trace_id = root["traceId"].as_str().unwrap();
    assert_eq!(trace_id.len(), 32);
    assert!(trace_id.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')));
    assert_eq!(query["traceId"], trace_id);
    assert_eq!(root["id"].as_str().unwrap().len(), 16);
    assert_eq!(query["parentId"], root["id"]);
    assert!(root.get("parentId").is_none(), "roots have no parentId");

    assert_eq!(root["kind"], "SERVER");
    assert_eq!(query["kind"], "CLIENT");
    let local = json!({"serviceName": "api-service", "ipv4": "10.0.0.1", "port": 8080});
    assert_eq!(root["localEndpoint"], local);
    assert_eq!(query["localEndpoint"], local);
    assert_eq!(query["remoteEndpoint"], json!({"serviceName": "postgres"}));
    assert!(root.get("remoteEndpoint").is_none());

    let (start, duration) = (
        root["timestamp"].as_u64().unwrap(),
        root["duration"].as_u64().unwrap(),
    );
    let (child_start, child_duration) = (
        query["timestamp"].as_u64().unwrap(),
        query["duration"].as_u64().unwrap(),
    );
    assert!(
        start > 1_600_000_000_000_000,
        "microseconds since the epoch: {start}"
    );
    assert!(duration >= 1 && child_duration >= 1);
    assert!(child_start >= start && child_start + child_duration <= start + duration + 1);

    assert_eq!(
        root["tags"],
        json!({
            "http.method": "GET",
            "http.status_code": "200",
            "otel.scope.name": "api",
            "otel.scope.version": "1.0.0",
        })
    );
    assert_eq!(query["tags"]["db.rows"], "[1,2,3]");
    assert_eq!(query["tags"]["otel.status_code"], "ERROR");
    assert_eq!(query["tags"]["error"], "connection reset");

    assert_eq!(root["annotations"][0]["value"], "responded");
    assert_eq!(query["annotations"][0]["value"], r#""retry":{"attempt":2}"#);
    let at = query["annotations"][0]["timestamp"].as_u64().unwrap();
    assert!(at >= child_start && at <= child_start + child_duration);

    for span in spans {
        assert!(span.get("shared").is_none() && span.get("debug").is_none());
    }
    assert_eq!(exporter.stats().exported.get(), 2);
    assert_eq!(exporter.stats().failed.get(), 0);
}

#[test]
fn a_batch_refused_with_503_is_sent_again() {
    let zipkin = HttpRecorder::start(|n| if n == 0 { 503 } else { 202 });
    let exporter = Arc::new(
        ZipkinExporter::builder()
            .with_endpoint(format!("{}/api/v2/spans", zipkin.url()))
            .with_retry(fast_retries())
            .build()
            .unwrap(),
    );
    record_request(Arc::clone(&exporter)).unwrap();

    let requests = zipkin.wait_for(2, WAIT);
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body, "the same batch again");
    assert_eq!(exporter.stats().retries.get(), 1);
    assert_eq!(exporter.stats().exported.get(), 2);
    assert_eq!(exporter.stats().failed.get(), 0);
}

#[test]
fn a_batch_rejected_with_400_is_dropped_without_retrying() {
    let zipkin = HttpRecorder::start(|_| 400);
    let exporter = Arc::new(
        ZipkinExporter::builder()
            .with_endpoint(format!("{}/api/v2/spans", zipkin.url()))
            .with_retry(fast_retries())
            .build()
            .unwrap(),
    );
    let error = record_request(Arc::clone(&exporter)).unwrap_err();
    assert!(error.to_string().contains("400"), "{error}");

    // The export is synchronous: once the flush returned, every attempt was made.
    assert_eq!(zipkin.requests().len(), 1);
    assert_eq!(exporter.stats().retries.get(), 0);
    assert_eq!(exporter.stats().failed.get(), 2);
    assert_eq!(exporter.stats().exported.get(), 0);
}

/// `tracing.zipkin_timeout_ms` (also `OTEL_EXPORTER_ZIPKIN_TIMEOUT`) reaches the exporter
/// `loupe::init` builds: an export to a collector that takes the connection and never
/// answers fails after that long, not after the 10 s default.
#[test]
fn the_configured_timeout_bounds_an_export_to_a_silent_collector() {
    use loupe::config::{ExporterKind, TelemetryConfig};
    // The kernel completes connections to a listener nobody accepts from; no reply comes.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let telemetry = loupe::init(
        TelemetryConfig::new("zipkin-timeout")
            .with_traces_exporter(ExporterKind::Zipkin)
            .with_otlp_metrics(false)
            .with_logs_exporter(ExporterKind::None)
            .with_prometheus_listen("127.0.0.1:0")
            .with(move |c| {
                c.tracing.zipkin_endpoint = format!("http://{addr}/api/v2/spans");
                c.tracing.zipkin_timeout_ms = 300;
            }),
    )
    .unwrap();
    telemetry
        .tracer_provider()
        .tracer("timeouts")
        .start("unanswered")
        .end();
    let started = std::time::Instant::now();
    let flushed = telemetry.tracer_provider().force_flush(WAIT);
    let took = started.elapsed();
    assert!(
        flushed.is_err(),
        "the silent collector cannot have taken the span"
    );
    assert!(
        took < Duration::from_secs(5),
        "the export gave up after {took:?}, not after about 300 ms"
    );
    drop(silent);
}
