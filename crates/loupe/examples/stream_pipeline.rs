//! Seed 003's integration example: an EventFlux-style query pipeline instrumented with
//! Loupe's stream pack.
//!
//! `cargo run -p loupe --example stream_pipeline`
//!
//! 100,000 trades arrive as JSON payloads on `StockStream`, in batches of 500. Three
//! queries run over tumbling windows of 1,000 events (volume-weighted average price of
//! everything, of high-volume trades, of one symbol). Each batch gets the pipeline spans
//! (`query.execution` → ingestion, filter, window, aggregation, emit; 1% of traces sampled
//! with [`TraceIdRatioSampler`]) and the pack's metrics (events, latency, buffer
//! utilisation, backpressure, watermark lag, window triggers). The program then prints a
//! summary read back from the collected metrics and exits. The pipeline itself is in
//! `workloads/stream.rs`, shared with the demo, the coverage tests and the overhead
//! benchmark.

#[path = "workloads/stream.rs"]
#[allow(dead_code)]
mod workload;

use std::time::Instant;

use loupe::metrics::{HistogramPoint, MeterProvider, MetricData, ResourceMetrics};
use loupe::trace::{
    InMemorySpanExporter, SimpleSpanProcessor, TraceIdRatioSampler, TracerProvider,
};
use workload::{Pipeline, STREAM};

const EVENTS: u64 = 100_000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spans = InMemorySpanExporter::default();
    // Keep the provider alive until the end: dropping it shuts its tracers down.
    let provider = TracerProvider::builder()
        .with_sampler(TraceIdRatioSampler::new(0.01)?)
        .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
        .build()?;
    let meters = MeterProvider::builder().build();
    let mut pipeline = Pipeline::new(&provider.tracer("eventflux"), &meters.meter("eventflux"))?;

    let start = Instant::now();
    while pipeline.produced() < EVENTS {
        pipeline.run_batch();
    }
    let elapsed = start.elapsed();
    pipeline.finish();

    let collected = meters.collect();
    println!(
        "{EVENTS} events in {:.1} ms: {:.0} events/s; {} spans sampled",
        elapsed.as_secs_f64() * 1000.0,
        EVENTS as f64 / elapsed.as_secs_f64(),
        spans.finished_spans().len(),
    );
    for query in &pipeline.queries {
        let processed = number(&collected, "query_events_processed_total", query.id);
        let p99 = latency(&collected, query.id).and_then(|p| quantile(&p, 0.99));
        println!(
            "  {:<18} processed {:>7} passed {:>6} emitted {:>4} p99 {}",
            query.id,
            processed,
            query.seen,
            query.emitted,
            p99.map_or("n/a".to_owned(), |s| format!("<= {:.3} ms", s * 1000.0)),
        );
        println!("  {:<18} last output {}", "", query.last_output);
    }
    let backpressure = match collected
        .metric("stream_backpressure_events_total")
        .map(|m| &m.data)
    {
        Some(MetricData::Sum { points, .. }) => points.iter().map(|p| p.value.as_f64()).sum(),
        _ => 0.0,
    };
    println!("  backpressure events on {STREAM}: {backpressure}");
    Ok(())
}

fn number(m: &ResourceMetrics, name: &str, query_id: &str) -> f64 {
    match m.metric(name).map(|m| &m.data) {
        Some(MetricData::Sum { points, .. }) => points
            .iter()
            .filter(|p| {
                p.attributes
                    .iter()
                    .any(|kv| kv.key.as_str() == "query_id" && kv.value.to_string() == query_id)
            })
            .map(|p| p.value.as_f64())
            .sum(),
        _ => 0.0,
    }
}

fn latency(m: &ResourceMetrics, query_id: &str) -> Option<HistogramPoint> {
    match &m.metric("query_latency_seconds")?.data {
        MetricData::Histogram { points, .. } => points
            .iter()
            .find(|p| {
                p.attributes
                    .iter()
                    .any(|kv| kv.value.to_string() == query_id)
            })
            .cloned(),
        _ => None,
    }
}

/// The upper bound of the bucket holding the q-quantile (the maximum for the last bucket).
fn quantile(p: &HistogramPoint, q: f64) -> Option<f64> {
    let rank = (q * p.count as f64).ceil() as u64;
    let mut seen = 0;
    for (i, count) in p.bucket_counts.iter().enumerate() {
        seen += count;
        if seen >= rank.max(1) {
            return p.bounds.get(i).copied().or(p.max);
        }
    }
    p.max
}
