//! Seed 001's integration example: an LLM gateway instrumented with Loupe's LLM pack.
//!
//! `cargo run -p loupe --example llm_gateway`
//!
//! Fifty requests go to simulated OpenAI and Anthropic models (the seed's priced models)
//! with random latency, streaming (time to first token), errors and timeouts. Each request
//! gets a [`RequestSpan`] with a child span for the provider call and an [`ActiveRequest`]
//! guard for the metrics. The program then prints a summary read back from the collected
//! metrics: requests, errors, tokens, cost and p99 duration.

use std::time::Duration;

use loupe::logs::CorrelationId;
use loupe::metrics::{MeterProvider, MetricData, ResourceMetrics};
use loupe::packs::llm::{
    ActiveRequest, LLMMetrics, LlmMetricsConfig, LlmRequest, LlmResponse, RequestSpan, TokenUsage,
};
use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, TracerProvider};

const MODELS: [(&str, &str); 4] = [
    ("openai", "gpt-4"),
    ("openai", "gpt-3.5-turbo"),
    ("anthropic", "claude-3-opus"),
    ("anthropic", "claude-3-sonnet"),
];
const REQUESTS: usize = 50;
const TIMEOUT: Duration = Duration::from_millis(400);

/// A simulated provider failure.
#[derive(Debug)]
struct ProviderError(&'static str);

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "provider error: {}", self.0)
    }
}

impl std::error::Error for ProviderError {}

/// Streams a fake completion: waits for the first token, then for the rest.
async fn call_provider(
    request: &mut ActiveRequest,
    prompt_tokens: u64,
) -> Result<TokenUsage, ProviderError> {
    tokio::time::sleep(Duration::from_millis(fastrand::u64(20..150))).await;
    if fastrand::f64() < 0.1 {
        return Err(ProviderError("rate_limited"));
    }
    request.first_token();
    // Now and then a stream stalls past the gateway's timeout.
    let stream_ms = if fastrand::f64() < 0.06 {
        1_000
    } else {
        fastrand::u64(10..200)
    };
    tokio::time::sleep(Duration::from_millis(stream_ms)).await;
    Ok(TokenUsage::new(prompt_tokens, fastrand::u64(20..400)))
}

async fn handle(tracer: loupe::trace::Tracer, metrics: LLMMetrics, n: usize) {
    let (provider, model) = MODELS[n % MODELS.len()];
    let mut span = RequestSpan::new(&tracer, &format!("req-{n}"), CorrelationId::new_v4());
    span.set_provider(provider, model);
    span.set_user_context(&format!("user-{}", n % 7), None);
    let prompt_tokens = fastrand::u64(50..800);
    span.record_request(&LlmRequest {
        max_tokens: Some(512),
        stream: true,
        prompt_tokens: Some(prompt_tokens),
        ..LlmRequest::default()
    });

    let mut request = metrics.start_request(provider, model);
    let mut call = span.create_child_span("llm.provider.call");
    match tokio::time::timeout(TIMEOUT, call_provider(&mut request, prompt_tokens)).await {
        Ok(Ok(usage)) => {
            call.complete();
            span.record_response(&LlmResponse {
                usage: Some(usage),
                time_to_first_token: request.time_to_first_token(),
                finish_reason: "stop".into(),
            });
            request.complete(&usage);
            span.complete();
        }
        Ok(Err(error)) => {
            call.record_error(&error);
            span.record_error(&error);
            request.fail(error.0, &TokenUsage::new(prompt_tokens, 0));
        }
        Err(elapsed) => {
            call.record_error(&elapsed);
            span.record_error(&elapsed);
            request.timed_out();
        }
    }
}

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
        .map(|n| tokio::spawn(handle(tracer.clone(), metrics.clone(), n)))
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
