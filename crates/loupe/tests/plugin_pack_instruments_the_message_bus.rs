//! The plugin pack (seed 000 §5–6) records the seed's spans, counters, statuses, error
//! types and latency histograms, and carries the trace from publisher to plugin.

use loupe::facade::MockTelemetry;
use loupe::metrics::MeterProvider;
use loupe::packs::plugin::{
    names, publish, BaseMessage, LifecycleEvent, PluginError, PluginTelemetry, ProcessingStatus,
    ResourceUsage,
};
use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, TracerProvider};
use loupe::{CoreTelemetry, SpanStatus, Telemetry};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn plugin(name: &str) -> (Arc<MockTelemetry>, PluginTelemetry) {
    let mock = Arc::new(MockTelemetry::new());
    let plugin = PluginTelemetry::new(mock.clone(), name, "1.2.0");
    (mock, plugin)
}

fn attr<'a>(attrs: &'a std::collections::HashMap<String, String>, key: &str) -> Option<&'a str> {
    attrs.get(key).map(String::as_str)
}

fn counters_named(
    mock: &MockTelemetry,
    name: &str,
) -> Vec<std::collections::HashMap<String, String>> {
    mock.counter_calls()
        .into_iter()
        .filter(|(n, ..)| n == name)
        .map(|(_, _, attrs)| attrs)
        .collect()
}

#[test]
fn lifecycle_events_record_spans_and_counters() {
    let (mock, plugin) = plugin("validator");
    for event in [
        LifecycleEvent::Init,
        LifecycleEvent::Pause,
        LifecycleEvent::Resume,
    ] {
        assert_eq!(plugin.lifecycle(event, || Ok(7)), Ok(7));
    }
    let failed = plugin.lifecycle(LifecycleEvent::Shutdown, || {
        Err::<(), _>(PluginError::Timeout("workers did not stop".into()))
    });
    assert!(failed.is_err());

    for name in [
        "plugin.init",
        "plugin.pause",
        "plugin.resume",
        "plugin.shutdown",
    ] {
        let span = mock.span_named(name).expect(name);
        assert!(span.ended, "{name} ended");
        assert_eq!(attr(&span.attributes, "plugin.name"), Some("validator"));
        assert_eq!(attr(&span.attributes, "plugin.version"), Some("1.2.0"));
    }
    assert_eq!(
        mock.span_named("plugin.init").unwrap().status,
        Some((SpanStatus::Ok, None))
    );
    let shutdown = mock.span_named("plugin.shutdown").unwrap();
    assert_eq!(shutdown.status.map(|s| s.0), Some(SpanStatus::Error));

    let events: Vec<_> = counters_named(&mock, "plugin.lifecycle.events")
        .iter()
        .map(|a| attr(a, "event").unwrap().to_owned())
        .collect();
    assert_eq!(events, ["init", "pause", "resume", "shutdown"]);
    assert_eq!(mock.counter_total("plugin.lifecycle.success"), 3);
    let errors = counters_named(&mock, "plugin.lifecycle.errors");
    assert_eq!(errors.len(), 1);
    assert_eq!(attr(&errors[0], "event"), Some("shutdown"));
    assert_eq!(attr(&errors[0], "error.type"), Some("timeout"));
    assert_eq!(
        attr(&errors[0], "error"),
        Some("timed out: workers did not stop")
    );
}

#[test]
fn process_message_records_each_status_and_classifies_errors() {
    let (mock, plugin) = plugin("transcription");
    let message = BaseMessage::new("test", serde_json::json!({"audio": "a.wav"}));
    let outcomes: Vec<Result<ProcessingStatus, PluginError>> = vec![
        Ok(ProcessingStatus::Acknowledged),
        Ok(ProcessingStatus::Forward("transcript.processed".into())),
        Ok(ProcessingStatus::RetryLater(Duration::from_millis(50))),
        Ok(ProcessingStatus::Failed("unsupported codec".into())),
        Err(PluginError::ExternalService("deepgram returned 503".into())),
        Err(PluginError::InvalidInput("empty audio".into())),
        Err(PluginError::Other("???".into())),
    ];
    for outcome in outcomes.clone() {
        let got = plugin.process_message("audio.uploaded", &message, |_| outcome);
        assert_eq!(
            got,
            outcomes[mock.counter_total("plugin.messages.received") as usize - 1]
        );
    }

    assert_eq!(mock.counter_total("plugin.messages.received"), 7);
    let statuses: Vec<_> = counters_named(&mock, "plugin.message.status")
        .iter()
        .inspect(|a| {
            assert_eq!(attr(a, "plugin.name"), Some("transcription"));
            assert_eq!(attr(a, "message.topic"), Some("audio.uploaded"));
        })
        .map(|a| attr(a, "status").unwrap().to_owned())
        .collect();
    assert_eq!(
        statuses,
        [
            "acknowledged",
            "forward",
            "retry_later",
            "failed",
            "error",
            "error",
            "error"
        ]
    );
    let error_types: Vec<_> = counters_named(&mock, "plugin.errors")
        .iter()
        .map(|a| attr(a, "error.type").unwrap().to_owned())
        .collect();
    assert_eq!(
        error_types,
        ["external_service", "invalid_input", "unknown"]
    );
    assert_eq!(
        mock.histogram_values("plugin.message.processing_time_ms")
            .len(),
        7
    );

    let spans: Vec<_> = mock
        .spans()
        .into_iter()
        .filter(|s| s.name == "plugin.process_message")
        .collect();
    assert_eq!(spans.len(), 7);
    assert!(spans.iter().all(|s| s.ended));
    assert_eq!(
        attr(&spans[0].attributes, "message.id"),
        Some(message.id.to_string().as_str())
    );
    assert_eq!(spans[0].status, Some((SpanStatus::Ok, None)));
    assert_eq!(
        spans[3].status,
        Some((SpanStatus::Error, Some("unsupported codec".into())))
    );
    assert_eq!(
        spans[4].status.as_ref().map(|s| s.0),
        Some(SpanStatus::Error)
    );
    // The error report is a child of the processing span, with the seed's details event.
    let error_span = mock.span_named("plugin.error").unwrap();
    assert_eq!(
        error_span.parent_id.as_deref(),
        Some(spans[4].span_id.as_str())
    );
    assert_eq!(
        attr(&error_span.attributes, "error.type"),
        Some("external_service")
    );
    assert_eq!(error_span.events[0].0, "error_details");
}

#[test]
fn a_consumed_message_continues_the_publisher_trace() {
    // Through the mock facade.
    let (mock, plugin) = plugin("database");
    let mut message = BaseMessage::new("recorder", serde_json::Value::Null);
    let publish_span = publish(mock.as_ref(), "transcript.processed", &mut message).unwrap();
    publish_span.end();
    // The message crosses the bus serialized.
    let wire = serde_json::to_string(&message).unwrap();
    let received: BaseMessage = serde_json::from_str(&wire).unwrap();
    plugin
        .process_message("transcript.processed", &received, |_| {
            // Spans the handler creates nest under the processing span.
            let store = plugin
                .telemetry()
                .create_span("database.store", None)
                .unwrap();
            store.end();
            Ok(ProcessingStatus::Acknowledged)
        })
        .unwrap();
    let publisher = mock.span_named("message.publish").unwrap();
    let process = mock.span_named("plugin.process_message").unwrap();
    assert_eq!(
        process.parent_id.as_deref(),
        Some(publisher.span_id.as_str())
    );
    assert_eq!(process.trace_id, publisher.trace_id);
    assert_eq!(
        mock.children_of("plugin.process_message")[0].name,
        "database.store"
    );
    assert_eq!(mock.counter_total("message.published"), 1);

    // Through the real pipeline.
    let exporter = InMemorySpanExporter::default();
    let tracers = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    let meters = MeterProvider::builder().build();
    let core: Arc<dyn Telemetry> = Arc::new(CoreTelemetry::new(&tracers, &meters));
    let plugin = PluginTelemetry::new(core.clone(), "database", "1.0.0");
    let mut message = BaseMessage::new("recorder", serde_json::Value::Null);
    publish(core.as_ref(), "transcript.processed", &mut message)
        .unwrap()
        .end();
    plugin
        .process_message("transcript.processed", &message, |_| {
            Ok(ProcessingStatus::Acknowledged)
        })
        .unwrap();
    let publisher = exporter.span("message.publish").unwrap();
    let process = exporter.span("plugin.process_message").unwrap();
    assert_eq!(
        process.span_context.trace_id(),
        publisher.span_context.trace_id()
    );
    assert_eq!(process.parent_span_id, publisher.span_context.span_id());
    assert!(meters
        .collect()
        .metric("message.end_to_end_latency_ms")
        .is_some());
}

#[test]
fn latency_histograms_measure_end_to_end_processing_and_queue_time() {
    let (mock, plugin) = plugin("validator");
    let now = SystemTime::now();
    let mut message = BaseMessage::new("recorder", serde_json::Value::Null);
    message.timestamp = now - Duration::from_millis(500);
    message.queued_at = Some(now - Duration::from_millis(400));
    message.dequeued_at = Some(now - Duration::from_millis(100));
    message.processing_started = Some(now - Duration::from_millis(50));
    plugin
        .process_message("transcript.raw", &message, |_| {
            std::thread::sleep(Duration::from_millis(20));
            Ok(ProcessingStatus::Acknowledged)
        })
        .unwrap();

    let one = |name: &str| {
        let values = mock.histogram_values(name);
        assert_eq!(values.len(), 1, "{name}");
        values[0]
    };
    let end_to_end = one("message.end_to_end_latency_ms");
    assert!((520.0..5_000.0).contains(&end_to_end), "{end_to_end}");
    let processing = one("message.processing_latency_ms");
    assert!((70.0..5_000.0).contains(&processing), "{processing}");
    assert!((one("message.queue_latency_ms") - 300.0).abs() < 1.0);
    assert!(one("plugin.message.processing_time_ms") >= 20.0);
    let (_, _, attrs) = &mock.histogram_calls()[0];
    assert_eq!(attr(attrs, "message.topic"), Some("transcript.raw"));

    // Without queue timestamps there is no queue time; processing falls back to the call.
    mock.reset();
    let fresh = BaseMessage::new("recorder", serde_json::Value::Null);
    plugin
        .process_message("transcript.raw", &fresh, |_| {
            Ok(ProcessingStatus::Acknowledged)
        })
        .unwrap();
    assert!(mock.histogram_values("message.queue_latency_ms").is_empty());
    assert!(mock.histogram_values("message.processing_latency_ms")[0] < 1_000.0);
}

#[test]
fn resource_usage_sets_the_seed_gauges() {
    let (mock, plugin) = plugin("transcription");
    plugin.record_resource_usage(&ResourceUsage {
        memory_bytes: Some(64 << 20),
        cpu_percent: Some(12.5),
        thread_count: Some(4),
        queue_depth: None,
    });
    assert_eq!(
        mock.last_gauge("plugin.memory_usage_bytes"),
        Some(67_108_864.0)
    );
    assert_eq!(mock.last_gauge("plugin.cpu_usage_percent"), Some(12.5));
    assert_eq!(mock.last_gauge("plugin.thread_count"), Some(4.0));
    assert_eq!(
        mock.last_gauge("plugin.queue_depth"),
        None,
        "unset fields are skipped"
    );
    assert!(mock
        .gauge_calls()
        .iter()
        .all(|(_, _, a)| attr(a, "plugin.name") == Some("transcription")));
}

type Handler = fn(&BaseMessage) -> Result<ProcessingStatus, PluginError>;

/// Seed 000 §8.3: every plugin produces spans and counters carrying its name.
#[test]
fn test_plugin_telemetry_coverage() {
    let telemetry = Arc::new(MockTelemetry::new());
    let message = BaseMessage::new("test", serde_json::json!({"test": "data"}));
    let plugins: Vec<(&str, Handler)> = vec![
        ("validator", |_| Ok(ProcessingStatus::Acknowledged)),
        ("transcription", |_| {
            Ok(ProcessingStatus::Forward("transcript.processed".into()))
        }),
        ("database", |_| {
            Err(PluginError::ExternalService("down".into()))
        }),
    ];
    for (name, handler) in plugins {
        let plugin = PluginTelemetry::new(telemetry.clone(), name, "0.1.0");
        let _ = plugin.lifecycle(LifecycleEvent::Init, || Ok(()));
        let _ = plugin.process_message("test.topic", &message, handler);

        let mock = telemetry.as_ref();
        let has_name =
            |a: &std::collections::HashMap<String, String>| attr(a, "plugin.name") == Some(name);
        let spans = mock.spans();
        for expected in [names::PROCESS_MESSAGE_SPAN, "plugin.init"] {
            assert!(
                spans
                    .iter()
                    .any(|s| s.name == expected && has_name(&s.attributes) && s.ended),
                "plugin '{name}' did not create an ended {expected} span"
            );
        }
        let counters = mock.counter_calls();
        for expected in [
            names::LIFECYCLE_EVENTS,
            names::MESSAGES_RECEIVED,
            names::MESSAGE_STATUS,
        ] {
            assert!(
                counters
                    .iter()
                    .any(|(n, _, a)| n == expected && has_name(a)),
                "plugin '{name}' did not record {expected}"
            );
        }
        assert!(mock
            .histogram_calls()
            .iter()
            .any(|(n, _, a)| n == names::PROCESSING_TIME_MS && has_name(a)));
        mock.reset();
    }
}
