//! What Loupe's OTLP exporters send, decoded by the official `opentelemetry-proto` Python
//! package (and grpcio for gRPC), for every protocol; and how they retry, give up, count
//! partial successes and recover when the receiver comes back.

mod support;

use loupe::export::otlp::{Compression, OtlpConfig, Protocol};
use loupe::export::transport::RetryPolicy;
use loupe::metrics::{MeterProvider, MetricExporter};
use loupe::trace::{
    BatchConfig, BatchSpanProcessor, Link, SimpleSpanProcessor, SpanKind, Status, TracerProvider,
};
use loupe::{KeyValue, Resource};
use serde_json::Value as Json;
use std::time::{Duration, Instant};
use support::Peer;

const WAIT: Duration = Duration::from_secs(30);

fn receiver(mode: &str, args: &[&str]) -> (Peer, u16) {
    support::otlp_receiver(mode, args)
}

fn config(protocol: Protocol, port: u16) -> OtlpConfig {
    OtlpConfig::default()
        .with_protocol(protocol)
        .with_endpoint(format!("http://127.0.0.1:{port}"))
        .with_header("api-key", "secret-1")
        .with_timeout(Duration::from_secs(10))
        .with_retry(RetryPolicy {
            max_retries: 3,
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
        })
}

fn resource() -> Resource {
    Resource::builder()
        .with_service_name("checkout")
        .with_service_version("1.2.3")
        .build()
}

fn decoded(peer: &Peer, signal: &str) -> Json {
    peer.next_json(WAIT, |v| {
        if v["event"] == "decode_error" {
            panic!("the official protos could not decode the request: {v}");
        }
        v["event"] == "decoded" && v["signal"] == signal
    })
}

/// Records a parent span with every kind of attribute, an event, an exception, a link and an
/// error status, and a child span; returns what the receiver decoded.
fn spans_round_trip(protocol: Protocol, compression: Compression, mode: &str) {
    let (peer, port) = receiver(mode, &[]);
    let exporter = config(protocol, port)
        .with_compression(compression)
        .span_exporter()
        .unwrap();
    let stats = exporter.stats();
    let provider = TracerProvider::builder()
        .with_resource(resource())
        .with_span_processor(SimpleSpanProcessor::new(exporter))
        .build()
        .unwrap();
    let tracer =
        provider.tracer(loupe::InstrumentationScope::new("bus.router").with_version("0.9.0"));
    let linked = tracer.start("earlier").span_context().clone();
    let _ = decoded(&peer, "traces");

    let mut parent = tracer
        .span_builder("publish orders")
        .with_kind(SpanKind::Producer)
        .with_attribute("messaging.system", "loupe-bus")
        .with_attribute("batch.size", 42i64)
        .with_attribute("ratio", 0.25)
        .with_attribute("retried", true)
        .with_attribute(
            "tags",
            loupe::Value::Array(loupe::Array::String(vec!["a".into(), "b".into()])),
        )
        .with_links([Link::with_attributes(
            linked.clone(),
            vec![KeyValue::new("link.reason", "follows")],
        )])
        .start();
    let parent_ctx = parent.span_context().clone();
    let child = tracer
        .span_builder("validate")
        .with_kind(SpanKind::Internal)
        .with_parent(parent_ctx.clone())
        .start();
    let child_ctx = child.span_context().clone();
    drop(child);
    parent.add_event("queued", vec![KeyValue::new("queue.depth", 7i64)]);
    parent.record_exception(&std::io::Error::other("disk full"));
    parent.set_status(Status::error("publish failed"));
    drop(parent);

    let child = decoded(&peer, "traces");
    let parent = decoded(&peer, "traces");
    let (child, parent) = (&child["spans"][0], &parent["spans"][0]);

    assert_eq!(child["name"], "validate");
    assert_eq!(child["trace_id"], parent_ctx.trace_id().to_string());
    assert_eq!(child["span_id"], child_ctx.span_id().to_string());
    assert_eq!(child["parent_span_id"], parent_ctx.span_id().to_string());
    assert_eq!(child["kind"], 1, "INTERNAL");

    assert_eq!(parent["name"], "publish orders");
    assert_eq!(parent["kind"], 4, "PRODUCER");
    assert_eq!(parent["parent_span_id"], "");
    assert_eq!(parent["trace_id"].as_str().unwrap().len(), 32);
    assert_eq!(parent["span_id"], parent_ctx.span_id().to_string());
    // Sampled, "has is_remote" (0x100) and not remote (0x200), plus the W3C random bit.
    let flags = parent["flags"].as_u64().unwrap();
    assert_eq!(flags & 0x301, 0x101, "{flags:#x}");
    let attrs = &parent["attributes"];
    assert_eq!(attrs["messaging.system"], "loupe-bus");
    assert_eq!(attrs["batch.size"], 42);
    assert_eq!(attrs["ratio"], 0.25);
    assert_eq!(attrs["retried"], true);
    assert_eq!(attrs["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(parent["events"][0]["name"], "queued");
    assert_eq!(parent["events"][0]["attributes"]["queue.depth"], 7);
    assert_eq!(parent["events"][1]["name"], "exception");
    assert_eq!(
        parent["events"][1]["attributes"]["exception.message"],
        "disk full"
    );
    assert_eq!(parent["links"][0]["span_id"], linked.span_id().to_string());
    assert_eq!(parent["links"][0]["attributes"]["link.reason"], "follows");
    assert_eq!(parent["status"]["code"], 2, "ERROR");
    assert_eq!(parent["status"]["message"], "publish failed");
    assert!(parent["end"].as_u64() >= parent["start"].as_u64());
    assert_eq!(parent["resource"]["service.name"], "checkout");
    assert_eq!(parent["resource"]["service.version"], "1.2.3");
    assert_eq!(parent["scope"]["name"], "bus.router");
    assert_eq!(parent["scope"]["version"], "0.9.0");

    assert_eq!(stats.exported.get(), 3);
    assert_eq!(stats.failed.get(), 0);
}

#[test]
fn spans_over_http_protobuf_with_gzip_are_decoded() {
    spans_round_trip(Protocol::HttpProtobuf, Compression::Gzip, "http");
}

#[test]
fn spans_over_http_json_are_decoded() {
    spans_round_trip(Protocol::HttpJson, Compression::None, "http");
}

#[test]
fn spans_over_grpc_with_gzip_are_decoded() {
    spans_round_trip(Protocol::Grpc, Compression::Gzip, "grpc");
}

fn metrics_round_trip(protocol: Protocol, mode: &str) {
    let (peer, port) = receiver(mode, &[]);
    let exporter = config(protocol, port).metric_exporter().unwrap();
    let provider = MeterProvider::builder().with_resource(resource()).build();
    let meter = provider.meter("bus.metrics");
    let received = meter
        .u64_counter("plugin.messages.received")
        .with_unit("{message}")
        .with_description("Messages received by a plugin.")
        .build()
        .unwrap();
    received.add(5, &[KeyValue::new("plugin", "validator")]);
    received.add(2, &[KeyValue::new("plugin", "database")]);
    let latency = meter
        .f64_histogram("plugin.processing.duration")
        .with_unit("s")
        .with_boundaries(vec![0.01, 0.1, 1.0])
        .build()
        .unwrap();
    for v in [0.005, 0.05, 0.5, 5.0] {
        latency.record(v, &[]);
    }
    let depth = meter.i64_up_down_counter("queue.depth").build().unwrap();
    depth.add(-3, &[]);
    let temp = meter
        .f64_gauge("cpu.temperature")
        .with_unit("Cel")
        .build()
        .unwrap();
    temp.record(61.5, &[]);

    exporter.export(&provider.collect()).unwrap();
    let got = decoded(&peer, "metrics");
    let metric = |name: &str| {
        got["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing from {got}"))
            .clone()
    };
    let counter = metric("plugin.messages.received");
    assert_eq!(counter["type"], "sum");
    assert_eq!(counter["monotonic"], true);
    assert_eq!(counter["temporality"], 2, "CUMULATIVE");
    assert_eq!(counter["unit"], "{message}");
    assert_eq!(counter["description"], "Messages received by a plugin.");
    assert_eq!(counter["resource"]["service.name"], "checkout");
    assert_eq!(counter["scope"]["name"], "bus.metrics");
    let mut values: Vec<(String, i64)> = counter["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["attributes"]["plugin"].as_str().unwrap().to_string(),
                p["value"].as_i64().unwrap(),
            )
        })
        .collect();
    values.sort();
    assert_eq!(
        values,
        vec![("database".to_string(), 2), ("validator".to_string(), 5)]
    );
    let hist = metric("plugin.processing.duration");
    assert_eq!(hist["type"], "histogram");
    assert_eq!(hist["points"][0]["count"], 4);
    assert!((hist["points"][0]["sum"].as_f64().unwrap() - 5.555).abs() < 1e-9);
    assert_eq!(
        hist["points"][0]["bounds"],
        serde_json::json!([0.01, 0.1, 1.0])
    );
    assert_eq!(
        hist["points"][0]["buckets"],
        serde_json::json!([1, 1, 1, 1])
    );
    let updown = metric("queue.depth");
    assert_eq!(updown["monotonic"], false);
    assert_eq!(updown["points"][0]["value"], -3);
    let gauge = metric("cpu.temperature");
    assert_eq!(gauge["type"], "gauge");
    assert_eq!(gauge["points"][0]["value"], 61.5);
}

#[test]
fn metrics_over_http_protobuf_are_decoded() {
    metrics_round_trip(Protocol::HttpProtobuf, "http");
}

#[test]
fn metrics_over_http_json_are_decoded() {
    metrics_round_trip(Protocol::HttpJson, "http");
}

#[test]
fn metrics_over_grpc_are_decoded() {
    metrics_round_trip(Protocol::Grpc, "grpc");
}

fn logs_round_trip(protocol: Protocol, mode: &str) {
    use loupe::logs::{LogBatch, LogExporter, LogRecord, Severity};
    let (peer, port) = receiver(mode, &[]);
    let exporter = config(protocol, port).log_exporter().unwrap();
    let stats = exporter.stats();
    let provider = TracerProvider::builder().build().unwrap();
    let tracer = provider.tracer("t");
    let span = tracer.start("handling");
    let expected_trace = span.span_context().trace_id().to_string();
    let expected_span = span.span_context().span_id().to_string();
    let record = {
        let _entered = span.enter();
        LogRecord::new(Severity::Error, "payment declined")
            .with_attribute(KeyValue::new("order.id", 1234i64))
            .with_attribute(KeyValue::new("card.brand", "visa"))
            .with_current_trace_context()
    };
    let plain = LogRecord::new(Severity::Info, "started");
    let resource = resource();
    exporter
        .export(LogBatch {
            resource: &resource,
            records: &[record, plain],
            timeout: WAIT,
        })
        .unwrap();
    let got = decoded(&peer, "logs");
    let records = got["records"].as_array().unwrap();
    assert_eq!(records.len(), 2);
    let error = &records[0];
    assert_eq!(error["body"], "payment declined");
    assert_eq!(error["severity_number"], 17);
    assert_eq!(error["severity_text"], "ERROR");
    assert_eq!(error["attributes"]["order.id"], 1234);
    assert_eq!(error["attributes"]["card.brand"], "visa");
    assert_eq!(error["trace_id"], expected_trace);
    assert_eq!(error["span_id"], expected_span);
    assert_eq!(error["flags"].as_u64().unwrap() & 1, 1, "sampled");
    assert!(error["time"].as_u64().unwrap() > 0);
    assert_eq!(error["resource"]["service.name"], "checkout");
    assert_eq!(error["scope"]["name"], "loupe");
    assert_eq!(records[1]["severity_number"], 9);
    assert_eq!(records[1]["trace_id"], "");
    assert_eq!(stats.exported.get(), 2);
}

#[test]
fn logs_over_http_protobuf_are_decoded() {
    logs_round_trip(Protocol::HttpProtobuf, "http");
}

#[test]
fn logs_over_http_json_are_decoded() {
    logs_round_trip(Protocol::HttpJson, "http");
}

#[test]
fn logs_over_grpc_are_decoded() {
    logs_round_trip(Protocol::Grpc, "grpc");
}

fn one_span_exporter(
    protocol: Protocol,
    port: u16,
) -> (
    TracerProvider,
    std::sync::Arc<loupe::common::stats::ExporterStats>,
) {
    let exporter = config(protocol, port).span_exporter().unwrap();
    let stats = exporter.stats();
    let provider = TracerProvider::builder()
        .with_resource(resource())
        .with_span_processor(SimpleSpanProcessor::new(exporter))
        .build()
        .unwrap();
    (provider, stats)
}

#[test]
fn retryable_statuses_are_retried_until_accepted() {
    for (mode, protocol) in [("http", Protocol::HttpProtobuf), ("grpc", Protocol::Grpc)] {
        let (peer, port) = receiver(mode, &["--fail-first", "2", "--fail-status", "503"]);
        let (provider, stats) = one_span_exporter(protocol, port);
        drop(provider.tracer("t").start("retried"));
        let got = decoded(&peer, "traces");
        assert_eq!(got["spans"][0]["name"], "retried");
        assert_eq!(stats.retries.get(), 2, "{mode}");
        assert_eq!(stats.exported.get(), 1, "{mode}");
        assert_eq!(stats.failed.get(), 0, "{mode}");
    }
}

#[test]
fn retry_after_is_honoured() {
    let (peer, port) = receiver(
        "http",
        &[
            "--fail-first",
            "1",
            "--fail-status",
            "429",
            "--retry-after",
            "1",
        ],
    );
    let (provider, stats) = one_span_exporter(Protocol::HttpProtobuf, port);
    let started = Instant::now();
    drop(provider.tracer("t").start("throttled"));
    // The span ends synchronously with a simple processor: the export (and its wait) is done.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried after {:?}, before the server's Retry-After: 1",
        started.elapsed()
    );
    assert_eq!(decoded(&peer, "traces")["spans"][0]["name"], "throttled");
    assert_eq!(stats.retries.get(), 1);
}

#[test]
fn a_bad_request_is_not_retried() {
    for (mode, protocol) in [("http", Protocol::HttpJson), ("grpc", Protocol::Grpc)] {
        let (peer, port) = receiver(mode, &["--fail-first", "100", "--fail-status", "400"]);
        let (provider, stats) = one_span_exporter(protocol, port);
        drop(provider.tracer("t").start("rejected"));
        let first = peer.next_json(WAIT, |v| v["event"] == "request");
        assert_eq!(first["failed_with"], 400);
        assert_eq!(first["api_key"], "secret-1", "headers reach the server");
        // The export already returned (simple processor): nothing else may have been sent.
        let more: Vec<String> = peer.drain(Duration::from_millis(300));
        assert!(more.is_empty(), "{mode}: retried a 400: {more:?}");
        assert_eq!(stats.retries.get(), 0);
        assert_eq!(stats.failed.get(), 1);
    }
}

#[test]
fn partial_success_is_counted_and_not_retried() {
    for (mode, protocol) in [
        ("http", Protocol::HttpProtobuf),
        ("http", Protocol::HttpJson),
        ("grpc", Protocol::Grpc),
    ] {
        let (peer, port) = receiver(mode, &["--reject", "1"]);
        let exporter = config(protocol, port).span_exporter().unwrap();
        let stats = exporter.stats();
        let provider = TracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::new(exporter))
            .build()
            .unwrap();
        let tracer = provider.tracer("t");
        for i in 0..3 {
            drop(tracer.start(format!("span-{i}")));
        }
        provider.force_flush(WAIT).unwrap();
        let got = decoded(&peer, "traces");
        assert_eq!(got["spans"].as_array().unwrap().len(), 3);
        assert_eq!(stats.rejected.get(), 1, "{protocol:?}");
        assert_eq!(stats.exported.get(), 2, "{protocol:?}");
        assert_eq!(stats.retries.get(), 0, "{protocol:?}");
    }
}

#[test]
fn an_unreachable_endpoint_drops_and_counts_then_export_recovers() {
    let port = support::free_port();
    let exporter = config(Protocol::HttpProtobuf, port)
        .with_retry(RetryPolicy::none())
        .with_timeout(Duration::from_secs(2))
        .span_exporter()
        .unwrap();
    let stats = exporter.stats();
    let processor = BatchSpanProcessor::with_config(
        exporter,
        BatchConfig {
            max_queue_size: 64,
            max_export_batch_size: 32,
            ..BatchConfig::default()
        },
    )
    .unwrap();
    let provider = TracerProvider::builder()
        .with_span_processor(processor.clone())
        .build()
        .unwrap();
    let tracer = provider.tracer("t");
    for _ in 0..1000 {
        drop(tracer.start("while down"));
    }
    let _ = provider.force_flush(WAIT);
    let down = processor.stats();
    assert!(down.dropped_queue_full > 0, "{down:?}");
    assert_eq!(
        stats.dropped.get(),
        down.dropped_queue_full,
        "queue drops reach the exporter's health counters"
    );
    assert!(down.queued <= 64, "{down:?}");
    assert!(stats.failed.get() > 0, "exports to a closed port fail");

    let (peer, _) = receiver("http", &["--port", &port.to_string()]);
    drop(tracer.start("after recovery"));
    provider.force_flush(WAIT).unwrap();
    let got = decoded(&peer, "traces");
    assert_eq!(got["spans"][0]["name"], "after recovery");
    assert!(stats.exported.get() >= 1);
}

#[test]
fn oversize_requests_are_split() {
    let (peer, port) = receiver("http", &[]);
    let exporter = config(Protocol::HttpProtobuf, port)
        .with_max_request_bytes(2_000)
        .span_exporter()
        .unwrap();
    let stats = exporter.stats();
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::new(exporter))
        .build()
        .unwrap();
    let tracer = provider.tracer("t");
    for i in 0..64 {
        let mut span = tracer.start(format!("span-{i}"));
        span.set_attribute("payload", "x".repeat(100));
    }
    provider.force_flush(WAIT).unwrap();
    let mut seen = 0;
    let mut requests = 0;
    while seen < 64 {
        seen += decoded(&peer, "traces")["spans"].as_array().unwrap().len();
        requests += 1;
    }
    assert_eq!(seen, 64);
    assert!(
        requests >= 4,
        "64 spans of ~150 bytes in 2 kB requests: {requests}"
    );
    assert_eq!(stats.exported.get(), 64);
}
