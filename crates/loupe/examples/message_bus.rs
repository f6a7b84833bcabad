//! A message bus whose plugins are instrumented by the plugin pack (seed 000 §5–6).
//!
//! `cargo run -p loupe --example message_bus`
//!
//! 30 messages are published on `transcript.raw`; the validator checks them, the
//! transcription plugin forwards them to `transcript.processed`, the database plugin stores
//! them. Every message carries its publisher's trace context, so each one yields one trace,
//! printed as the tree of 000 §6.3, failures marked `✗`. A metrics summary follows. The
//! bus and its plugins are in `workloads/bus.rs`, shared with the demo and the coverage
//! tests.

#[path = "workloads/bus.rs"]
#[allow(dead_code)]
mod bus;

use loupe::metrics::{MeterProvider, MetricData};
use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, SpanData, Status, TracerProvider};
use loupe::{CoreTelemetry, Telemetry};
use std::sync::Arc;

const MESSAGES: u64 = 30;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let exporter = InMemorySpanExporter::default();
    let tracers = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
        .build()?;
    let meters = MeterProvider::builder().build();
    let telemetry: Arc<dyn Telemetry> =
        Arc::new(CoreTelemetry::with_scope(&tracers, &meters, "echo-core"));

    let bus = bus::Bus::start(telemetry)?;
    for seq in 0..MESSAGES {
        bus.deliver(seq);
    }
    bus.stop()?;

    print_traces(&exporter.finished_spans());
    print_metrics(&meters);
    Ok(())
}

fn millis(span: &SpanData) -> f64 {
    let d = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    d.as_secs_f64() * 1000.0
}

fn label(span: &SpanData) -> String {
    let plugin = span
        .attribute("plugin.name")
        .map(|v| format!(" [{v}]"))
        .unwrap_or_default();
    let error = match &span.status {
        Status::Error { description } => format!(" ✗ {description}"),
        _ => String::new(),
    };
    format!("{}{plugin} ({:.2}ms){error}", span.name, millis(span))
}

fn print_tree(spans: &[SpanData], parent: &SpanData, indent: &str) {
    let children: Vec<_> = spans
        .iter()
        .filter(|s| s.parent_span_id == parent.span_context.span_id())
        .collect();
    for (i, child) in children.iter().enumerate() {
        let last = i + 1 == children.len();
        println!("{indent}{}─ {}", if last { "└" } else { "├" }, label(child));
        let deeper = format!("{indent}{}  ", if last { " " } else { "│" });
        print_tree(spans, child, &deeper);
    }
}

fn print_traces(spans: &[SpanData]) {
    for publish in spans.iter().filter(|s| s.name == "message.publish") {
        let trace_id = publish.span_context.trace_id();
        let in_trace: Vec<_> = spans
            .iter()
            .filter(|s| s.span_context.trace_id() == trace_id)
            .cloned()
            .collect();
        println!("Trace: {trace_id}\n└─ {}", label(publish));
        print_tree(&in_trace, publish, "   ");
    }
}

fn print_metrics(meters: &MeterProvider) {
    println!("\nMetrics:");
    for (_, metric) in meters.collect().metrics() {
        match &metric.data {
            MetricData::Sum { points, .. } => {
                let total: f64 = points.iter().map(|p| p.value.as_f64()).sum();
                println!(
                    "  {:<36} {total:>4} over {} series",
                    metric.name,
                    points.len()
                );
            }
            MetricData::Histogram { points, .. } => {
                let (count, sum) = points
                    .iter()
                    .fold((0, 0.0), |(c, s), p| (c + p.count, s + p.sum));
                let mean = if count == 0 { 0.0 } else { sum / count as f64 };
                println!("  {:<36} {count:>4} samples, mean {mean:.2}ms", metric.name);
            }
            _ => {}
        }
    }
}
