//! The workload of the `llm_gateway` example (seed 001): requests to simulated OpenAI and
//! Anthropic models, instrumented with the LLM pack. Shared by the example, the demo and
//! the coverage tests.
//!
//! Each request gets a [`RequestSpan`] with a `llm.provider.call` child span and an
//! [`ActiveRequest`] guard for the metrics. The simulated provider streams: it waits for
//! the first token, then for the rest. Outcomes are fixed by the request number so every
//! run exercises every path: request `n` is rate-limited when `n % 10 == 3`, stalls past
//! the gateway's timeout when `n % 16 == 5`, and succeeds otherwise.

use std::time::Duration;

use loupe::logs::CorrelationId;
use loupe::packs::llm::{
    ActiveRequest, LLMMetrics, LlmRequest, LlmResponse, RequestSpan, TokenUsage,
};
use loupe::trace::Tracer;

/// The seed's priced models, as (provider, model).
pub const MODELS: [(&str, &str); 4] = [
    ("openai", "gpt-4"),
    ("openai", "gpt-3.5-turbo"),
    ("anthropic", "claude-3-opus"),
    ("anthropic", "claude-3-sonnet"),
];
/// The gateway's timeout per request, at pace 1.
pub const TIMEOUT: Duration = Duration::from_millis(400);

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The model answered.
    Completed,
    /// The provider refused (rate limited).
    Failed,
    /// The stream stalled past the timeout.
    TimedOut,
}

/// A simulated provider failure.
#[derive(Debug)]
pub struct ProviderError(pub &'static str);

impl std::fmt::Display for ProviderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "provider error: {}", self.0)
    }
}

impl std::error::Error for ProviderError {}

fn millis(range: std::ops::Range<u64>, pace: f64) -> Duration {
    Duration::from_millis(fastrand::u64(range)).mul_f64(pace)
}

/// Streams a fake completion: waits for the first token, then for the rest.
async fn call_provider(
    request: &mut ActiveRequest,
    n: u64,
    prompt_tokens: u64,
    pace: f64,
) -> Result<TokenUsage, ProviderError> {
    tokio::time::sleep(millis(20..150, pace)).await;
    if n % 10 == 3 {
        return Err(ProviderError("rate_limited"));
    }
    request.first_token();
    let stream = if n % 16 == 5 {
        TIMEOUT.mul_f64(2.5 * pace)
    } else {
        millis(10..200, pace)
    };
    tokio::time::sleep(stream).await;
    Ok(TokenUsage::new(prompt_tokens, fastrand::u64(20..400)))
}

/// Handles request `n`: its spans, its metrics, the provider call under the timeout.
/// `pace` scales every simulated delay and the timeout (1.0 for the example's timing).
pub async fn handle(tracer: &Tracer, metrics: &LLMMetrics, n: u64, pace: f64) -> Outcome {
    let (provider, model) = MODELS[n as usize % MODELS.len()];
    let mut span = RequestSpan::new(tracer, &format!("req-{n}"), CorrelationId::new_v4());
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
    let timeout = TIMEOUT.mul_f64(pace);
    match tokio::time::timeout(timeout, call_provider(&mut request, n, prompt_tokens, pace)).await {
        Ok(Ok(usage)) => {
            call.complete();
            span.record_response(&LlmResponse {
                usage: Some(usage),
                time_to_first_token: request.time_to_first_token(),
                finish_reason: "stop".into(),
            });
            request.complete(&usage);
            span.complete();
            Outcome::Completed
        }
        Ok(Err(error)) => {
            call.record_error(&error);
            span.record_error(&error);
            request.fail(error.0, &TokenUsage::new(prompt_tokens, 0));
            Outcome::Failed
        }
        Err(elapsed) => {
            call.record_error(&elapsed);
            span.record_error(&elapsed);
            request.timed_out();
            Outcome::TimedOut
        }
    }
}
