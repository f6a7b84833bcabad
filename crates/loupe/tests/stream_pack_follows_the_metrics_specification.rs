//! The stream pack records seed 003's query, stream and system metric families and seed
//! 004's processor ones under the seeds' names, units and labels; folds excess query ids;
//! and builds the ingestion → filter → window → aggregation → emit span hierarchy.

#[path = "support/recorded.rs"]
mod recorded;
use recorded::{histogram, keys, number};

use std::time::{Duration, SystemTime};

use loupe::metrics::{MeterProvider, MetricData, ResourceMetrics};
use loupe::packs::stream::{
    PipelineSpans, PipelineStage, StreamMetrics, StreamMetricsConfig, OVERFLOW_LABEL,
};
use loupe::trace::{InMemorySpanExporter, SpanKind, Tracer, TracerProvider};

fn metrics(config: StreamMetricsConfig) -> (MeterProvider, StreamMetrics) {
    let meters = MeterProvider::builder().build();
    let metrics = StreamMetrics::new(&meters.meter("stream-test"), config).unwrap();
    (meters, metrics)
}

fn tracer() -> (InMemorySpanExporter, TracerProvider, Tracer) {
    recorded::tracer("stream-test")
}

/// `(kind, unit, label keys of every point)` of `name`.
fn shape(m: &ResourceMetrics, name: &str) -> (&'static str, String, Vec<Vec<String>>) {
    let metric = m.metric(name).unwrap_or_else(|| panic!("{name} missing"));
    let (kind, labels) = match &metric.data {
        MetricData::Sum { points, .. } => {
            ("sum", points.iter().map(|p| keys(&p.attributes)).collect())
        }
        MetricData::Gauge { points } => (
            "gauge",
            points.iter().map(|p| keys(&p.attributes)).collect(),
        ),
        MetricData::Histogram { points, .. } => (
            "histogram",
            points.iter().map(|p| keys(&p.attributes)).collect(),
        ),
        MetricData::ExponentialHistogram { points, .. } => (
            "exponential",
            points.iter().map(|p| keys(&p.attributes)).collect(),
        ),
    };
    (kind, metric.unit.clone(), labels)
}

fn record_everything(metrics: &StreamMetrics) {
    metrics.query_started();
    metrics.record_batch("q1", "StockStream", 100, Duration::from_millis(3));
    metrics.record_emitted("q1", "AvgStream", 4);
    metrics.record_error("q1", "parse");
    metrics.record_window_size("q1", "tumbling", 4096);
    metrics.record_window_trigger("q1", "tumbling");
    metrics.record_dropped("q1", 2);
    metrics.record_buffer_utilization("q1", 3, 4);
    metrics.record_received("StockStream", 100);
    metrics.record_sent("StockStream", 98);
    metrics.set_subscribers("StockStream", 2);
    metrics.record_backpressure("StockStream", 7);
    metrics.record_stream_buffer("StockStream", 2048, Duration::from_millis(1500));
    metrics.set_memory_usage("window", 1 << 20);
    metrics.set_runtime(12.5, 8);
    metrics.set_connections_active("grpc", 3);
    metrics.record_connection("grpc", "success", None);
    metrics.record_connection("grpc", "failure", Some("timeout"));
    metrics.record_stage_duration(PipelineStage::Filter, Duration::from_millis(2));
    let now = SystemTime::now();
    metrics.record_watermark("0", now - Duration::from_millis(1000), now);
}

fn s(v: &[&str]) -> Vec<Vec<String>> {
    vec![v.iter().map(|k| k.to_string()).collect()]
}

#[test]
fn every_seed_family_appears_with_its_name_kind_unit_and_labels() {
    let (meters, metrics) = metrics(StreamMetricsConfig::default());
    record_everything(&metrics);
    let m = meters.collect();
    let expected: &[(&str, &str, &str, &[&str])] = &[
        (
            "query_events_processed_total",
            "sum",
            "{event}",
            &["query_id", "stream_name"],
        ),
        (
            "query_events_emitted_total",
            "sum",
            "{event}",
            &["output_stream", "query_id"],
        ),
        ("query_latency_seconds", "histogram", "s", &["query_id"]),
        (
            "query_execution_errors_total",
            "sum",
            "{error}",
            &["error_type", "query_id"],
        ),
        ("query_active_count", "gauge", "{query}", &[]),
        (
            "query_window_size_bytes",
            "gauge",
            "By",
            &["query_id", "window_type"],
        ),
        ("query_buffer_utilization", "gauge", "1", &["query_id"]),
        (
            "stream_events_received_total",
            "sum",
            "{event}",
            &["stream_name"],
        ),
        (
            "stream_events_sent_total",
            "sum",
            "{event}",
            &["stream_name"],
        ),
        (
            "stream_subscribers_active",
            "gauge",
            "{subscriber}",
            &["stream_name"],
        ),
        (
            "stream_backpressure_events_total",
            "sum",
            "{event}",
            &["stream_name"],
        ),
        ("stream_buffer_size_bytes", "gauge", "By", &["stream_name"]),
        (
            "stream_oldest_event_age_seconds",
            "gauge",
            "s",
            &["stream_name"],
        ),
        ("eventflux_uptime_seconds", "sum", "s", &[]),
        (
            "eventflux_memory_usage_bytes",
            "gauge",
            "By",
            &["component"],
        ),
        ("eventflux_cpu_usage_percent", "gauge", "%", &[]),
        ("eventflux_threads_active", "gauge", "{thread}", &[]),
        ("connections_active", "gauge", "{connection}", &["protocol"]),
        ("processor.events.dropped", "sum", "{event}", &["query_id"]),
        (
            "processor.window.triggers",
            "sum",
            "{trigger}",
            &["query_id", "window_type"],
        ),
        (
            "processor.processing.duration",
            "histogram",
            "ms",
            &["operation_type"],
        ),
        ("processor.watermark.lag", "gauge", "ms", &["partition_id"]),
    ];
    for (name, kind, unit, labels) in expected {
        assert_eq!(
            shape(&m, name),
            (*kind, unit.to_string(), s(labels)),
            "{name}"
        );
    }
    let (kind, _, labels) = shape(&m, "connections_total");
    assert_eq!(kind, "sum");
    assert!(labels.iter().all(|l| l == &["protocol", "result"]));
    assert_eq!(
        shape(&m, "connection_errors_total").2,
        s(&["error_type", "protocol"])
    );

    assert_eq!(
        number(&m, "query_events_processed_total", &[("query_id", "q1")]),
        Some(100.0)
    );
    assert_eq!(
        number(
            &m,
            "query_events_emitted_total",
            &[("output_stream", "AvgStream")]
        ),
        Some(4.0)
    );
    assert_eq!(number(&m, "query_active_count", &[]), Some(1.0));
    assert_eq!(
        number(
            &m,
            "query_window_size_bytes",
            &[("window_type", "tumbling")]
        ),
        Some(4096.0)
    );
    assert_eq!(
        number(
            &m,
            "stream_events_sent_total",
            &[("stream_name", "StockStream")]
        ),
        Some(98.0)
    );
    assert_eq!(
        number(&m, "connections_total", &[("result", "failure")]),
        Some(1.0)
    );
    assert_eq!(
        number(&m, "connection_errors_total", &[("error_type", "timeout")]),
        Some(1.0)
    );
    assert_eq!(number(&m, "eventflux_cpu_usage_percent", &[]), Some(12.5));
    assert!(number(&m, "eventflux_uptime_seconds", &[]).unwrap() >= 0.0);
    let latency = histogram(&m, "query_latency_seconds", &[("query_id", "q1")]).unwrap();
    assert_eq!(latency.count, 1);
    assert!((latency.sum - 0.003).abs() < 1e-9);
    let filter = histogram(
        &m,
        "processor.processing.duration",
        &[("operation_type", "filter")],
    )
    .unwrap();
    assert!((filter.sum - 2.0).abs() < 1e-9, "recorded in milliseconds");
    // Families never recorded for a label set export no empty series.
    assert!(histogram(
        &m,
        "processor.processing.duration",
        &[("operation_type", "emit")]
    )
    .is_none());
}

#[test]
fn backpressure_buffer_utilisation_and_watermark_lag_have_the_recorded_values() {
    let (meters, metrics) = metrics(StreamMetricsConfig::default());
    metrics.record_backpressure("Orders", 5);
    metrics.record_backpressure("Orders", 3);
    assert_eq!(metrics.record_buffer_utilization("q", 256, 1024), 0.25);
    assert_eq!(metrics.record_buffer_utilization("full", 2000, 1024), 1.0);
    assert_eq!(metrics.record_buffer_utilization("empty", 0, 0), 0.0);
    metrics.record_stream_buffer("Orders", 512, Duration::from_millis(250));
    let now = SystemTime::now();
    let lag = metrics.record_watermark("3", now - Duration::from_millis(1500), now);
    assert_eq!(lag, Duration::from_millis(1500));
    let ahead = metrics.record_watermark("4", now + Duration::from_secs(1), now);
    assert_eq!(ahead, Duration::ZERO);

    let m = meters.collect();
    assert_eq!(
        number(
            &m,
            "stream_backpressure_events_total",
            &[("stream_name", "Orders")]
        ),
        Some(8.0)
    );
    assert_eq!(
        number(&m, "query_buffer_utilization", &[("query_id", "q")]),
        Some(0.25)
    );
    assert_eq!(
        number(&m, "query_buffer_utilization", &[("query_id", "full")]),
        Some(1.0)
    );
    assert_eq!(
        number(&m, "stream_buffer_size_bytes", &[("stream_name", "Orders")]),
        Some(512.0)
    );
    assert_eq!(
        number(
            &m,
            "stream_oldest_event_age_seconds",
            &[("stream_name", "Orders")]
        ),
        Some(0.25)
    );
    let lag = number(&m, "processor.watermark.lag", &[("partition_id", "3")]).unwrap();
    assert!((lag - 1500.0).abs() < 1e-6, "lag in ms, got {lag}");
    assert_eq!(
        number(&m, "processor.watermark.lag", &[("partition_id", "4")]),
        Some(0.0)
    );
}

#[test]
fn query_ids_beyond_the_maximum_fold_into_other_and_the_fold_is_counted() {
    let config = StreamMetricsConfig {
        max_query_ids: 3,
        ..StreamMetricsConfig::default()
    };
    let (meters, metrics) = metrics(config);
    for i in 0..10 {
        metrics.record_batch(&format!("q{i}"), "S", 1, Duration::from_millis(1));
    }
    // A known id keeps its own series once the set is full.
    metrics.record_batch("q0", "S", 1, Duration::from_millis(1));
    assert_eq!(metrics.tracked_query_ids(), 3);

    let m = meters.collect();
    let (_, _, labels) = shape(&m, "query_events_processed_total");
    assert_eq!(labels.len(), 4, "three ids plus {OVERFLOW_LABEL}");
    assert_eq!(
        number(&m, "query_events_processed_total", &[("query_id", "q0")]),
        Some(2.0)
    );
    assert_eq!(
        number(&m, "query_events_processed_total", &[("query_id", "q1")]),
        Some(1.0)
    );
    assert_eq!(
        number(&m, "query_events_processed_total", &[("query_id", "q9")]),
        None
    );
    assert_eq!(
        number(
            &m,
            "query_events_processed_total",
            &[("query_id", OVERFLOW_LABEL)]
        ),
        Some(7.0)
    );
    assert_eq!(
        histogram(&m, "query_latency_seconds", &[("query_id", OVERFLOW_LABEL)]).map(|p| p.count),
        Some(7)
    );
    assert_eq!(
        number(&m, "query_id_overflow_total", &[("label", "query_id")]),
        Some(7.0)
    );
}

#[test]
fn a_batch_produces_the_seed_span_hierarchy_with_correct_parents() {
    let (spans, _provider, tracer) = tracer();
    let (mut batch, ingestion) = PipelineSpans::ingest(&tracer, "q1", "StockStream", 50);
    ingestion.step("source.read").complete();
    ingestion.complete();
    let filter = batch.stage(PipelineStage::Filter);
    filter.step("expression.evaluation").complete();
    filter.complete();
    let mut window = batch.stage(PipelineStage::Window);
    window.set_attribute("window.type", "tumbling");
    window.step("window.trigger").complete();
    window.complete();
    batch.stage(PipelineStage::Aggregation).complete();
    batch.stage(PipelineStage::Emit).complete();
    batch.set_attribute("window.type", "tumbling");
    let root_id = batch.span_context().span_id();
    batch.complete();

    let finished = spans.finished_spans();
    let by_name = |name: &str| {
        finished
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name} missing"))
    };
    let root = by_name("query.execution");
    assert_eq!(root.span_context.span_id(), root_id);
    assert_eq!(root.kind, SpanKind::Consumer);
    assert_eq!(
        root.attribute("query.id").map(|v| v.to_string()),
        Some("q1".into())
    );
    assert_eq!(
        root.attribute("stream.name").map(|v| v.to_string()),
        Some("StockStream".into())
    );
    assert_eq!(
        root.attribute("event.count").map(|v| v.to_string()),
        Some("50".into())
    );
    for stage in PipelineStage::ALL {
        let span = by_name(stage.span_name());
        assert_eq!(span.parent_span_id, root_id, "{}", stage.span_name());
        assert_eq!(span.span_context.trace_id(), root.span_context.trace_id());
        assert_eq!(
            span.attribute("processor.type").map(|v| v.to_string()),
            Some(stage.operation_type().to_owned())
        );
    }
    for (step, stage) in [
        ("source.read", PipelineStage::Ingestion),
        ("expression.evaluation", PipelineStage::Filter),
        ("window.trigger", PipelineStage::Window),
    ] {
        assert_eq!(
            by_name(step).parent_span_id,
            by_name(stage.span_name()).span_context.span_id(),
            "{step}"
        );
    }
    assert_eq!(finished.len(), 9);
}
