//! The LLM pack (seed 001): spans and metrics for services that call large language models.
//!
//! - [`RequestSpan`] is the top-level span of one request. It carries a
//!   [`CorrelationId`](crate::logs::CorrelationId) (give the same id to the request's
//!   [`Logger`](crate::logs::Logger) with `with_correlation_id`), provider, model, user and
//!   session, the request parameters, token usage, time to first token, duration, finish
//!   reason and errors. [`ChildSpan`]s time the steps inside it.
//! - [`LLMMetrics`] records the seed's eight metrics (`llm_simulator_request_duration_seconds`,
//!   `_tokens_total`, `_requests_total`, `_errors_total`, `_active_requests`, `_ttft_seconds`,
//!   `_tokens_per_second`, `_cost_dollars`; the prefix is configurable), the OpenTelemetry
//!   GenAI ones (`gen_ai.client.operation.duration`, `gen_ai.client.token.usage`,
//!   `gen_ai.client.operation.time_to_first_chunk`), or both: see [`MetricNaming`].
//!   Cost comes from a [`PricingTable`] whose default holds the seed's prices.
//! - [`LLMMetrics::start_request`] returns an [`ActiveRequest`] guard. The active-requests
//!   gauge goes down exactly once when the guard is finished or dropped, so a failed,
//!   timed-out or cancelled request never leaves it high. [`LLMMetrics::record_error`]
//!   alone counts an error without touching the gauge.
//!
//! ```
//! use loupe::logs::CorrelationId;
//! use loupe::metrics::MeterProvider;
//! use loupe::packs::llm::{
//!     LLMMetrics, LlmMetricsConfig, LlmRequest, LlmResponse, RequestSpan, TokenUsage,
//! };
//! use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, TracerProvider};
//!
//! let spans = InMemorySpanExporter::default();
//! // Keep the provider alive: dropping it shuts its tracers down.
//! let provider = TracerProvider::builder()
//!     .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
//!     .build()?;
//! let tracer = provider.tracer("gateway");
//! let meters = MeterProvider::builder().build();
//! let metrics = LLMMetrics::new(&meters.meter("gateway"), LlmMetricsConfig::default())?;
//!
//! let mut span = RequestSpan::new(&tracer, "req-1", CorrelationId::new_v4());
//! span.set_provider("openai", "gpt-4");
//! span.record_request(&LlmRequest { max_tokens: Some(256), stream: true, ..Default::default() });
//! let mut request = metrics.start_request("openai", "gpt-4");
//!
//! let call = span.create_child_span("llm.provider.call");
//! request.first_token(); // the first streamed chunk arrived
//! let usage = TokenUsage::new(1_000, 500);
//! call.complete();
//!
//! span.record_response(&LlmResponse {
//!     usage: Some(usage),
//!     time_to_first_token: request.time_to_first_token(),
//!     finish_reason: "stop".into(),
//! });
//! request.complete(&usage);
//! span.complete();
//!
//! assert_eq!(metrics.cost("openai", "gpt-4", &usage), Some(0.06)); // $30/M in, $60/M out
//! assert!(meters.collect().metric("llm_simulator_cost_dollars").is_some());
//! assert_eq!(spans.finished_spans().len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod metrics;
mod pricing;
mod span;

pub use config::{
    LlmMetricsConfig, MetricNaming, RequestStatus, TokenUsage, GEN_AI_DURATION_BUCKETS,
    GEN_AI_TOKEN_BUCKETS, SEED_TTFT_BUCKETS,
};
pub use metrics::{ActiveRequest, LLMMetrics};
pub use pricing::{ModelPrice, PricingTable};
pub use span::{estimate_tokens, ChildSpan, LlmRequest, LlmResponse, RequestMetadata, RequestSpan};
