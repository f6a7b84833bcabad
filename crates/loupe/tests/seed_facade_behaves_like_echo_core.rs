//! Seed 000 §8.1's telemetry tests, in spirit, against the three facade implementations.

use loupe::facade::{attributes, BoxedSpan, MockTelemetry, TelemetryContext};
use loupe::metrics::{MeterProvider, MetricData, NumberValue};
use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, Status, TracerProvider};
use loupe::{CoreTelemetry, NoopTelemetry, SpanStatus, Telemetry, TelemetryExt, Value};
use std::sync::Arc;

#[tokio::test]
async fn test_telemetry_span_creation() {
    let telemetry: Arc<dyn Telemetry> = Arc::new(MockTelemetry::new());
    let span = telemetry.create_span("test_span", Some(attributes::with_value("key", "value")));
    assert!(span.is_some());
    let span = span.unwrap();
    span.add_event("test_event", None);
    span.set_status(SpanStatus::Ok, None);
    span.end();

    let spans = telemetry
        .as_ref()
        .downcast_ref::<MockTelemetry>()
        .unwrap()
        .spans();
    assert_eq!(spans.len(), 1);
    assert_eq!(spans[0].name, "test_span");
    assert_eq!(spans[0].attributes.get("key").unwrap(), "value");
    assert_eq!(spans[0].events.len(), 1);
    assert_eq!(spans[0].events[0].0, "test_event");
    assert_eq!(spans[0].status, Some((SpanStatus::Ok, None)));
    assert!(spans[0].ended);
}

#[tokio::test]
async fn test_telemetry_metrics_recording() {
    let telemetry: Arc<dyn Telemetry> = Arc::new(MockTelemetry::new());
    telemetry.record_counter(
        "test_counter",
        1,
        Some(attributes::with_value("key", "value")),
    );
    telemetry.record_gauge(
        "test_gauge",
        42.0,
        Some(attributes::with_value("key", "value")),
    );
    telemetry.record_histogram(
        "test_histogram",
        100.0,
        Some(attributes::with_value("key", "value")),
    );

    let mock = telemetry.as_ref().downcast_ref::<MockTelemetry>().unwrap();
    let counter_calls = mock.counter_calls();
    assert_eq!(counter_calls.len(), 1);
    assert_eq!(
        (counter_calls[0].0.as_str(), counter_calls[0].1),
        ("test_counter", 1)
    );
    assert_eq!(mock.gauge_calls()[0].1, 42.0);
    assert_eq!(mock.histogram_calls()[0].1, 100.0);
    mock.reset();
    assert!(mock.counter_calls().is_empty() && mock.spans().is_empty());
}

#[tokio::test]
async fn test_trace_context_propagation() {
    let telemetry = Arc::new(MockTelemetry::new());
    let span = telemetry.create_span("parent_span", None).unwrap();
    let context = telemetry.create_trace_context(&span).unwrap();
    let parsed_span = telemetry.parse_trace_context(&context).unwrap();
    assert_eq!(parsed_span.name(), "parent_span");

    let _child_span = telemetry
        .create_span_with_parent(
            "child_span",
            Some(attributes::with_value("key", "value")),
            Some(&parsed_span),
        )
        .unwrap();
    let spans = telemetry.spans();
    assert_eq!(spans.len(), 3); // parent, parsed, child
    assert_eq!(spans[2].name, "child_span");
    assert_eq!(
        spans[2].parent_id.as_deref(),
        Some(spans[0].span_id.as_str())
    );
    assert_eq!(spans[2].trace_id, spans[0].trace_id);
}

#[test]
fn the_mock_tracks_the_current_span_and_guards_end_spans() {
    let telemetry = MockTelemetry::new();
    let outer = telemetry.create_span("outer", None);
    let result = telemetry.with_span(outer, || {
        let current = telemetry.current_span().expect("outer is current");
        assert_eq!(current.name(), "outer");
        let inner = telemetry.create_span("inner", None).unwrap();
        let _guard = inner.enter();
        current.set_status(SpanStatus::Error, Some("boom"));
        7
    });
    assert_eq!(result, 7);
    assert!(telemetry.current_span().is_none());
    let outer = telemetry.span_named("outer").unwrap();
    assert!(outer.ended, "with_span ends the span");
    assert_eq!(outer.status, Some((SpanStatus::Error, Some("boom".into()))));
    let children = telemetry.children_of("outer");
    assert_eq!(children.len(), 1);
    assert!(children[0].ended, "the guard ended the inner span");
}

fn core() -> (
    CoreTelemetry,
    InMemorySpanExporter,
    MeterProvider,
    TracerProvider,
) {
    let exporter = InMemorySpanExporter::default();
    let tracer_provider = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    let meter_provider = MeterProvider::builder().build();
    (
        CoreTelemetry::with_scope(&tracer_provider, &meter_provider, "echo-core"),
        exporter,
        meter_provider,
        tracer_provider,
    )
}

#[test]
fn core_telemetry_records_real_spans_and_metrics() {
    let (telemetry, exporter, meters, _tracers) = core();
    let telemetry: Arc<dyn Telemetry> = Arc::new(telemetry);
    let span = telemetry
        .create_span(
            "process_message",
            Some(attributes::with_values(&[
                ("plugin.name", "validator"),
                ("message.topic", "audio"),
            ])),
        )
        .unwrap();
    telemetry.add_span_event(&span, "starting_processing", None);
    telemetry.set_span_status(&span, SpanStatus::Error, Some("invalid schema"));
    span.end();
    telemetry.record_counter(
        "plugin.messages.received",
        2,
        Some(attributes::with_value("plugin.name", "validator")),
    );
    telemetry.record_counter(
        "plugin.messages.received",
        3,
        Some(attributes::with_value("plugin.name", "validator")),
    );
    telemetry.record_gauge("worker_pool.workers", 4.0, None);
    telemetry.record_histogram("plugin.message.processing_time_ms", 12.5, None);
    // A name already used with another kind is dropped and counted, not a panic.
    telemetry.record_gauge("plugin.messages.received", 1.0, None);

    let data = exporter.span("process_message").unwrap();
    assert_eq!(data.scope.name, "echo-core");
    assert_eq!(
        data.attribute("plugin.name"),
        Some(&Value::from("validator"))
    );
    assert_eq!(data.events[0].name, "starting_processing");
    assert_eq!(data.status, Status::error("invalid schema"));

    let metrics = meters.collect();
    let MetricData::Sum { points, .. } = &metrics.metric("plugin.messages.received").unwrap().data
    else {
        panic!()
    };
    assert_eq!(points[0].value, NumberValue::U64(5));
    assert!(metrics.metric("worker_pool.workers").is_some());
    assert!(metrics
        .metric("plugin.message.processing_time_ms")
        .is_some());
    assert!(loupe::common::stats::sdk_stats().instrument_conflicts.get() >= 1);
}

#[test]
fn core_trace_context_round_trips_through_a_message() {
    let (telemetry, exporter, _meters, _tracers) = core();
    let publish = telemetry.create_span("message.publish", None).unwrap();
    let carried = telemetry.create_trace_context(&publish).unwrap();
    assert_eq!(carried.trace_id.len(), 32);
    assert_eq!(carried.trace_flags & 1, 1);
    // What the consumer receives, serialized inside a BaseMessage.
    let json = serde_json::to_string(&carried).unwrap();
    let received: loupe::TraceContext = serde_json::from_str(&json).unwrap();
    let parent = telemetry.parse_trace_context(&received).unwrap();
    let consume = telemetry
        .create_span_with_parent("message.consume", None, Some(&parent))
        .unwrap();
    consume.end();
    publish.end();
    let publish = exporter.span("message.publish").unwrap();
    let consume = exporter.span("message.consume").unwrap();
    assert_eq!(
        consume.span_context.trace_id(),
        publish.span_context.trace_id()
    );
    assert_eq!(consume.parent_span_id, publish.span_context.span_id());
    assert!(consume.parent_is_remote);
    let garbage = loupe::TraceContext {
        trace_id: "zz".into(),
        span_id: "0".into(),
        trace_flags: 1,
        trace_state: None,
    };
    assert!(telemetry.parse_trace_context(&garbage).is_none());
}

#[test]
fn core_with_span_makes_the_span_current_for_children() {
    let (telemetry, exporter, _meters, _tracers) = core();
    let parent = telemetry.create_span("handle", None).unwrap();
    let parent_ctx = parent.span_context().unwrap();
    telemetry.with_span(Some(parent), || {
        let current: BoxedSpan = telemetry.current_span().unwrap();
        assert_eq!(current.span_id(), Some(parent_ctx.span_id().to_string()));
        current.set_attribute("set.through.current", "yes");
        telemetry.create_span("step", None).unwrap().end();
    });
    let handle = exporter.span("handle").expect("with_span ended the span");
    assert_eq!(
        handle.attribute("set.through.current"),
        Some(&Value::from("yes"))
    );
    assert_eq!(
        exporter.span("step").unwrap().parent_span_id,
        parent_ctx.span_id()
    );
}

#[test]
fn telemetry_context_adds_the_message_context_to_spans() {
    let mock = Arc::new(MockTelemetry::new());
    let ctx = TelemetryContext::new(mock.clone());
    let id = uuid::Uuid::new_v4();
    ctx.set_current_message_context("audio.transcribe".into(), id);
    ctx.create_span("process", None).unwrap().end();
    ctx.clear_current_message_context();
    ctx.create_span("idle", None).unwrap().end();
    let process = mock.span_named("process").unwrap();
    assert_eq!(
        process.attributes.get("message.topic").map(String::as_str),
        Some("audio.transcribe")
    );
    assert_eq!(process.attributes.get("message.id"), Some(&id.to_string()));
    assert!(mock.span_named("idle").unwrap().attributes.is_empty());
}

#[test]
fn noop_telemetry_does_nothing() {
    let telemetry: Arc<dyn Telemetry> = Arc::new(NoopTelemetry);
    assert!(telemetry.create_span("x", None).is_none());
    assert!(telemetry.current_span().is_none());
    telemetry.record_counter("x", 1, None);
    assert_eq!(telemetry.with_span(None, || 3), 3);
    assert!(telemetry.as_ref().downcast_ref::<MockTelemetry>().is_none());
}
