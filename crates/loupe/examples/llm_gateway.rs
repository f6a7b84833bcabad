//! Seed 001's integration example: an LLM gateway instrumented with Loupe's LLM pack.
//!
//! `cargo run -p loupe --example llm_gateway`
//!
//! Fifty requests go to simulated OpenAI and Anthropic models (the seed's priced models)
//! with random latency, streaming (time to first token), errors and timeouts (the gateway
//! itself is in `workloads/llm.rs`, shared with the demo and the coverage tests). Each request
//! gets a [`RequestSpan`] with a child span for the provider call and an [`ActiveRequest`]
//! guard for the metrics. The program then prints a summary read back from the collected
//! metrics: requests, errors, tokens, cost and p99 duration.

#[path = "workloads/llm.rs"]
#[allow(dead_code)]
mod llm;

use loupe::metrics::{MeterProvider, MetricData, ResourceMetrics};
use loupe::packs::llm::{LLMMetrics, LlmMetricsConfig};
use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, TracerProvider};

const REQUESTS: u64 = 50;

/// The sum of every point of a counter.
fn total(metrics: &ResourceMetrics, name: &str) -> f64 {
    match metrics.metric(name).map(|m| &m.data) {
        Some(MetricData::Sum { points, .. }) => points.iter().map(|p| p.value.as_f64()).sum(),
        _ => 0.0,
    }
}

/// The p99 of a histogram across its points, as the upper bound of the bucket it falls in.
fn p99(metrics: &ResourceMetrics, name: &str) -> Option<f64> {
    let Some(MetricData::Histogram { points, .. }) = metrics.metric(name).map(|m| &m.data) else {
        return None;
    };
    let bounds = &points.first()?.bounds;
    let mut counts = vec![0_u64; bounds.len() + 1];
    for point in points {
        for (sum, n) in counts.iter_mut().zip(&point.bucket_counts) {
            *sum += n;
        }
    }
    let rank = (counts.iter().sum::<u64>() as f64 * 0.99).ceil() as u64;
    let mut seen = 0;
    for (i, n) in counts.iter().enumerate() {
        seen += n;
        if seen >= rank {
            return Some(bounds.get(i).copied().unwrap_or(f64::INFINITY));
        }
    }
    None
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let spans = InMemorySpanExporter::default();
    // Kept alive until the end: dropping the provider shuts its tracers down.
    let provider = TracerProvider::builder()
        .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
        .build()?;
    let tracer = provider.tracer("llm-gateway");
    let meters = MeterProvider::builder().build();
    let metrics = LLMMetrics::new(&meters.meter("llm-gateway"), LlmMetricsConfig::default())?;

    let tasks: Vec<_> = (0..REQUESTS)
        .map(|n| {
            let (tracer, metrics) = (tracer.clone(), metrics.clone());
            tokio::spawn(async move { llm::handle(&tracer, &metrics, n, 1.0).await })
        })
        .collect();
    for task in tasks {
        task.await?;
    }

    let m = meters.collect();
    println!("requests   {}", total(&m, "llm_simulator_requests_total"));
    println!("errors     {}", total(&m, "llm_simulator_errors_total"));
    println!("tokens     {}", total(&m, "llm_simulator_tokens_total"));
    println!("cost       ${:.4}", total(&m, "llm_simulator_cost_dollars"));
    println!("active     {}", total(&m, "llm_simulator_active_requests"));
    if let Some(p99) = p99(&m, "llm_simulator_request_duration_seconds") {
        println!("p99        <= {p99}s");
    }
    println!("spans      {}", spans.finished_spans().len());
    Ok(())
}
