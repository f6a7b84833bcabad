//! Reading back what a test recorded: a tracer with an in-memory exporter, and metric
//! points found by name and attributes.

#![allow(dead_code)]

use loupe::metrics::{HistogramPoint, MetricData, ResourceMetrics};
use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, Tracer, TracerProvider};

/// A tracer whose spans land in the returned exporter; keep the provider alive.
pub fn tracer(scope: &'static str) -> (InMemorySpanExporter, TracerProvider, Tracer) {
    let spans = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
        .build()
        .unwrap();
    let tracer = provider.tracer(scope);
    (spans, provider, tracer)
}

pub fn has(attributes: &[loupe::KeyValue], wanted: &[(&str, &str)]) -> bool {
    wanted.iter().all(|(k, v)| {
        attributes
            .iter()
            .any(|kv| kv.key.as_str() == *k && kv.value.to_string() == *v)
    })
}

pub fn keys(attributes: &[loupe::KeyValue]) -> Vec<String> {
    let mut keys: Vec<String> = attributes
        .iter()
        .map(|kv| kv.key.as_str().to_owned())
        .collect();
    keys.sort();
    keys
}

pub fn number(m: &ResourceMetrics, name: &str, wanted: &[(&str, &str)]) -> Option<f64> {
    match &m.metric(name)?.data {
        MetricData::Sum { points, .. } | MetricData::Gauge { points } => points
            .iter()
            .find(|p| has(&p.attributes, wanted))
            .map(|p| p.value.as_f64()),
        _ => None,
    }
}

pub fn histogram(
    m: &ResourceMetrics,
    name: &str,
    wanted: &[(&str, &str)],
) -> Option<HistogramPoint> {
    match &m.metric(name)?.data {
        MetricData::Histogram { points, .. } => {
            points.iter().find(|p| has(&p.attributes, wanted)).cloned()
        }
        _ => None,
    }
}
