//! The stdout exporter's JSON lines and pretty output, and the periodic metric reader.

use loupe::export::{StdoutExporter, StdoutFormat};
use loupe::metrics::{
    InMemoryMetricExporter, MeterProvider, MetricData, NumberValue, PeriodicReader, Temporality,
};
use loupe::trace::{SimpleSpanProcessor, TracerProvider};
use loupe::{KeyValue, Resource};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[test]
fn spans_become_one_json_object_per_line() {
    let out = Buffer::default();
    let provider = TracerProvider::builder()
        .with_resource(Resource::builder().with_service_name("svc").build())
        .with_span_processor(SimpleSpanProcessor::new(StdoutExporter::with_writer(
            StdoutFormat::JsonLines,
            out.clone(),
        )))
        .build()
        .unwrap();
    let tracer = provider.tracer("scope-a");
    tracer.in_span("parent", |span| {
        span.set_attribute("n", 3i64);
        span.add_event("hello", vec![KeyValue::new("k", "v")]);
        tracer.start("child");
    });
    let lines: Vec<serde_json::Value> = out
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let (child, parent) = (&lines[0], &lines[1]);
    assert_eq!(parent["name"], "parent");
    assert_eq!(parent["scope"], "scope-a");
    assert_eq!(parent["resource"]["service.name"], "svc");
    assert_eq!(parent["attributes"]["n"], 3);
    assert_eq!(parent["events"][0]["attributes"]["k"], "v");
    assert_eq!(child["parent_span_id"], parent["span_id"]);
    assert_eq!(child["trace_id"].as_str().unwrap().len(), 32);
    assert!(parent["parent_span_id"].is_null());
}

#[test]
fn pretty_output_is_readable() {
    let out = Buffer::default();
    let provider = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(StdoutExporter::with_writer(
            StdoutFormat::Pretty,
            out.clone(),
        )))
        .build()
        .unwrap();
    provider
        .tracer("t")
        .in_span("checkout", |span| span.set_attribute("items", 2i64));
    let text = out.text();
    assert!(text.starts_with("span checkout [internal]"), "{text}");
    assert!(text.contains("attributes: items=2"), "{text}");
}

#[test]
fn the_periodic_reader_exports_on_flush_and_at_shutdown() {
    let exporter = InMemoryMetricExporter::with_temporality(Temporality::Delta);
    let json = Buffer::default();
    let provider = MeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(exporter.clone())
                .with_interval(Duration::from_secs(3600))
                .build(),
        )
        .with_reader(
            PeriodicReader::builder(StdoutExporter::with_writer(
                StdoutFormat::JsonLines,
                json.clone(),
            ))
            .build(),
        )
        .build();
    let counter = provider.meter("svc").u64_counter("jobs").build().unwrap();
    counter.add(4, &[KeyValue::new("queue", "a")]);
    provider.force_flush(Duration::from_secs(20)).unwrap();
    counter.add(1, &[KeyValue::new("queue", "a")]);
    provider.shutdown(Duration::from_secs(20)).unwrap();
    let exports = exporter.exported();
    assert_eq!(exports.len(), 2, "one on flush, one at shutdown");
    let value = |i: usize| match &exports[i].metric("jobs").unwrap().data {
        MetricData::Sum {
            points,
            temporality,
            ..
        } => (points[0].value, *temporality),
        other => panic!("{other:?}"),
    };
    assert_eq!(value(0), (NumberValue::U64(4), Temporality::Delta));
    assert_eq!(value(1), (NumberValue::U64(1), Temporality::Delta));
    let text = json.text();
    let line: serde_json::Value = serde_json::from_str(text.lines().next_back().unwrap()).unwrap();
    assert_eq!(
        (
            line["name"].as_str(),
            line["value"].as_u64(),
            line["attributes"]["queue"].as_str()
        ),
        (Some("jobs"), Some(5), Some("a"))
    );
}
