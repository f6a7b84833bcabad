//! Loupe's demo: a small message bus records spans and metrics, then prints them.
//!
//! `cargo run -p loupe --example demo` (add `-- --json` for JSON lines).
//!
//! It runs a bounded workload (a publisher and three plugins handling 20 messages),
//! carries the trace context inside each message, and exits after printing every span,
//! the metrics, and what the pipeline itself counted.

use loupe::export::{StdoutExporter, StdoutFormat};
use loupe::facade::attributes;
use loupe::metrics::{MeterProvider, PeriodicReader};
use loupe::trace::{BatchSpanProcessor, SpanKind, TracerProvider};
use loupe::{CoreTelemetry, KeyValue, Resource, SpanStatus, Telemetry, TelemetryExt};
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let format = if std::env::args().any(|a| a == "--json") {
        StdoutFormat::JsonLines
    } else {
        StdoutFormat::Pretty
    };
    let resource = Resource::builder()
        .with_service_name("echo-core-demo")
        .with_service_version("0.1.0")
        .build();

    let spans = BatchSpanProcessor::new(StdoutExporter::new(format));
    let tracer_provider = TracerProvider::builder()
        .with_resource(resource.clone())
        .with_span_processor(spans.clone())
        .build()?;
    let meter_provider = MeterProvider::builder()
        .with_resource(resource)
        .with_reader(PeriodicReader::builder(StdoutExporter::new(format)).build())
        .build();

    // The native API for the hot path: a pre-bound counter and a histogram.
    let meter = meter_provider.meter("demo.bus");
    let published = meter
        .u64_counter("messaging.published")
        .with_unit("{message}")
        .build()?;
    let published_audio = published.bind(&[KeyValue::new("message.topic", "audio.uploaded")]);
    let latency = meter
        .f64_histogram("plugin.message.processing_time")
        .with_unit("s")
        .build()?;

    // The seed facade for plugin code.
    let telemetry = CoreTelemetry::with_scope(&tracer_provider, &meter_provider, "echo-core");
    let tracer = tracer_provider.tracer("demo.bus");

    for i in 0..20u32 {
        let mut publish = tracer
            .span_builder("message.publish")
            .with_kind(SpanKind::Producer)
            .start();
        publish.set_attribute("message.id", i64::from(i));
        published_audio.add(1);
        // The publisher puts its context in the message; plugins continue the trace.
        let carried = loupe::TraceContext::from_span_context(publish.span_context());
        publish.end();

        let parent = telemetry.parse_trace_context(&carried);
        for plugin in ["validator", "transcription", "database"] {
            let started = Instant::now();
            let span = telemetry.create_span_with_parent(
                "plugin.process_message",
                Some(attributes::with_values(&[
                    ("plugin.name", plugin),
                    ("message.topic", "audio.uploaded"),
                ])),
                parent.as_ref(),
            );
            telemetry.with_span(span, || {
                let current = telemetry.current_span();
                if plugin == "validator" && i % 7 == 3 {
                    if let Some(span) = &current {
                        span.add_event(
                            "schema.rejected",
                            Some(attributes::with_value("reason", "missing field")),
                        );
                        span.set_status(SpanStatus::Error, Some("invalid message"));
                    }
                    telemetry.record_counter(
                        "plugin.errors",
                        1,
                        Some(attributes::with_value("error.type", "processing")),
                    );
                }
                std::thread::sleep(Duration::from_micros(200 + u64::from(i % 5) * 100));
            });
            telemetry.record_counter(
                "plugin.messages.processed",
                1,
                Some(attributes::with_value("plugin.name", plugin)),
            );
            latency.record(
                started.elapsed().as_secs_f64(),
                &[KeyValue::new("plugin.name", plugin)],
            );
        }
    }

    tracer_provider.shutdown(Duration::from_secs(10))?;
    meter_provider.shutdown(Duration::from_secs(10))?;
    let stats = spans.stats();
    println!(
        "\npipeline: {} spans exported in {} batches, {} dropped (queue full), {} failed exports",
        stats.exported, stats.export_calls, stats.dropped_queue_full, stats.export_failed
    );
    Ok(())
}
