//! Span limits drop (and count) excess data, samplers decide what is exported, and bad
//! input never panics.

use loupe::trace::{
    AlwaysOffSampler, InMemorySpanExporter, Link, ParentBasedSampler, RateLimitingSampler,
    SimpleSpanProcessor, SpanContext, SpanId, SpanKind, SpanLimits, Status, TraceFlags, TraceId,
    TraceIdRatioSampler, TraceState, TracerProvider,
};
use loupe::{KeyValue, Value};
use std::time::{Duration, SystemTime};

fn pipeline(limits: SpanLimits) -> (TracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_span_limits(limits)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    (provider, exporter)
}

#[test]
fn limits_drop_excess_attributes_events_and_links_and_count_them() {
    let (provider, exporter) = pipeline(SpanLimits::default());
    let tracer = provider.tracer("t");
    let links = (0..40).map(|_| {
        Link::new(SpanContext::new(
            TraceId::random(),
            SpanId::random(),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ))
    });
    let mut span = tracer.span_builder("big").with_links(links).start();
    for i in 0..200i64 {
        span.set_attribute(format!("k{i}"), i);
    }
    span.set_attribute("k0", "replaced"); // an existing key is replaced, not dropped
    for i in 0..130 {
        span.add_event(format!("e{i}"), vec![]);
    }
    span.end();
    let data = exporter.span("big").unwrap();
    assert_eq!(
        (data.attributes.len(), data.dropped_attributes_count),
        (128, 72)
    );
    assert_eq!(data.attribute("k0"), Some(&Value::from("replaced")));
    assert_eq!((data.events.len(), data.dropped_events_count), (128, 2));
    assert_eq!((data.links.len(), data.dropped_links_count), (32, 8));
}

#[test]
fn oversize_values_are_truncated_and_empty_keys_dropped() {
    let limits = SpanLimits {
        max_attribute_value_length: Some(5),
        ..Default::default()
    };
    let (provider, exporter) = pipeline(limits);
    let mut span = provider
        .tracer("t")
        .span_builder("s")
        .with_attribute("", "no key")
        .start();
    span.set_attribute("long", "ünïcödé value");
    span.set_attribute("list", vec!["abcdefgh", "ok"]);
    span.set_attribute("number", 123456789i64);
    span.end();
    let data = exporter.span("s").unwrap();
    assert_eq!(data.attribute("long"), Some(&Value::from("ünïcö")));
    assert_eq!(
        data.attribute("list"),
        Some(&Value::from(vec!["abcde", "ok"]))
    );
    assert_eq!(data.attribute("number"), Some(&Value::I64(123456789)));
    assert_eq!(data.attribute(""), None);
    assert_eq!(data.dropped_attributes_count, 1);
}

#[test]
fn invalid_limits_are_configuration_errors() {
    let err = TracerProvider::builder()
        .with_span_limits(SpanLimits {
            max_events_per_span: 70_000,
            ..Default::default()
        })
        .build()
        .unwrap_err();
    assert_eq!(err.field, "max_events_per_span");
    assert!(err.to_string().contains("0 to 65536"), "{err}");
}

#[test]
fn exceptions_status_and_kind_are_recorded_as_opentelemetry_defines() {
    let (provider, exporter) = pipeline(SpanLimits::default());
    let mut span = provider
        .tracer("t")
        .span_builder("call")
        .with_kind(SpanKind::Client)
        .start();
    let err = std::io::Error::new(std::io::ErrorKind::TimedOut, "upstream timed out");
    span.record_error(&err);
    span.set_status(Status::Unset); // ignored
    span.end();
    let data = exporter.span("call").unwrap();
    assert_eq!(data.kind, SpanKind::Client);
    assert_eq!(data.status, Status::error("upstream timed out"));
    let event = &data.events[0];
    assert_eq!(event.name, "exception");
    assert!(event
        .attributes
        .contains(&KeyValue::new("exception.type", "Error")));
    assert!(event
        .attributes
        .contains(&KeyValue::new("exception.message", "upstream timed out")));

    let mut ok = provider.tracer("t").start("ok");
    ok.set_status(Status::Ok);
    ok.set_status(Status::error("too late")); // Ok is final
    ok.end();
    assert_eq!(exporter.span("ok").unwrap().status, Status::Ok);
}

#[test]
fn explicit_parents_roots_and_start_times_are_respected() {
    let (provider, exporter) = pipeline(SpanLimits::default());
    let tracer = provider.tracer("t");
    let remote = SpanContext::new(
        TraceId::random(),
        SpanId::random(),
        TraceFlags::SAMPLED,
        true,
        TraceState::NONE,
    );
    let start = SystemTime::now() - Duration::from_secs(10);
    tracer
        .span_builder("child-of-remote")
        .with_parent(remote.clone())
        .with_start_time(start)
        .start();
    tracer.in_span("outer", |_| {
        tracer.span_builder("fresh-root").as_root().start();
    });
    let child = exporter.span("child-of-remote").unwrap();
    assert_eq!(child.span_context.trace_id(), remote.trace_id());
    assert_eq!(child.parent_span_id, remote.span_id());
    assert!(child.parent_is_remote);
    assert_eq!(child.start_time, start);
    let root = exporter.span("fresh-root").unwrap();
    assert!(!root.parent_span_id.is_valid());
    assert_ne!(
        root.span_context.trace_id(),
        exporter.span("outer").unwrap().span_context.trace_id()
    );
}

#[test]
fn unsampled_spans_propagate_context_but_are_not_exported() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_sampler(AlwaysOffSampler)
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    let mut span = provider.tracer("t").start("dropped");
    assert!(!span.is_recording());
    assert!(span.span_context().is_valid());
    assert!(!span.span_context().is_sampled());
    span.set_attribute("ignored", true);
    span.end();
    assert!(exporter.finished_spans().is_empty());
}

#[test]
fn ratio_and_parent_based_sampling_keep_whole_traces() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_sampler(ParentBasedSampler::new(
            TraceIdRatioSampler::new(0.5).unwrap(),
        ))
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    let tracer = provider.tracer("t");
    for _ in 0..400 {
        tracer.in_span("root", |_| {
            tracer.start("child");
        });
    }
    let spans = exporter.finished_spans();
    let roots = spans.iter().filter(|s| s.name == "root").count();
    let children = spans.iter().filter(|s| s.name == "child").count();
    assert!((120..280).contains(&roots), "{roots} of 400 roots sampled");
    assert_eq!(roots, children, "children follow their root's decision");
}

#[test]
fn the_rate_limiting_sampler_caps_traces_per_second() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_sampler(ParentBasedSampler::new(
            RateLimitingSampler::new(5.0).unwrap(),
        ))
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    let tracer = provider.tracer("t");
    for _ in 0..1000 {
        tracer.start("root");
    }
    let kept = exporter.finished_spans().len();
    // A burst of one second's worth (5), plus whatever the refill allowed meanwhile.
    assert!((5..=15).contains(&kept), "kept {kept}");
}
