//! How the LLM metrics are named, bucketed and priced, and the values they record.

#[cfg(feature = "otlp")]
use crate::config::MetricsConfig;
use crate::metrics::DEFAULT_HISTOGRAM_BOUNDARIES;

use super::PricingTable;

/// The seed's time-to-first-token buckets, seconds.
pub const SEED_TTFT_BUCKETS: [f64; 7] = [0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0];

/// The GenAI semantic conventions' advice for `gen_ai.client.operation.duration` and
/// `gen_ai.client.operation.time_to_first_chunk`, seconds.
pub const GEN_AI_DURATION_BUCKETS: [f64; 14] = [
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];

/// The GenAI semantic conventions' advice for `gen_ai.client.token.usage`, tokens.
pub const GEN_AI_TOKEN_BUCKETS: [f64; 14] = [
    1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0,
    16777216.0, 67108864.0,
];

/// Which names the metrics are published under.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum MetricNaming {
    /// The seed's eight metrics: `{prefix}_request_duration_seconds`, `{prefix}_tokens_total`,
    /// `{prefix}_requests_total`, `{prefix}_errors_total`, `{prefix}_active_requests`,
    /// `{prefix}_ttft_seconds`, `{prefix}_tokens_per_second`, `{prefix}_cost_dollars`, with
    /// the seed's labels (`provider`, `model`, `status`, `type`, `error_type`).
    #[default]
    Seed,
    /// The OpenTelemetry GenAI semantic conventions: `gen_ai.client.operation.duration`,
    /// `gen_ai.client.token.usage` and `gen_ai.client.operation.time_to_first_chunk`
    /// replace the seed's duration, token and time-to-first-token metrics. The five seed
    /// metrics with no convention (requests, errors, active requests, tokens per second,
    /// cost) keep their seed names and labels.
    GenAi,
    /// Both sets: the eight seed metrics and the three GenAI ones.
    Both,
}

impl MetricNaming {
    pub(super) fn seed(self) -> bool {
        matches!(self, MetricNaming::Seed | MetricNaming::Both)
    }

    pub(super) fn gen_ai(self) -> bool {
        matches!(self, MetricNaming::GenAi | MetricNaming::Both)
    }
}

/// How [`LLMMetrics`](super::LLMMetrics) names and buckets its instruments and prices tokens.
#[derive(Clone, Debug, PartialEq)]
pub struct LlmMetricsConfig {
    /// Prefix of the seed metric names. Default `llm_simulator`.
    pub prefix: String,
    /// Seed names, GenAI names or both. Default [`MetricNaming::Seed`].
    pub naming: MetricNaming,
    /// Buckets of `{prefix}_request_duration_seconds`. Default the seed's
    /// (`0.005` to `10` seconds, [`DEFAULT_HISTOGRAM_BOUNDARIES`]).
    pub duration_buckets: Vec<f64>,
    /// Buckets of `{prefix}_ttft_seconds`. Default the seed's ([`SEED_TTFT_BUCKETS`]).
    pub ttft_buckets: Vec<f64>,
    /// `gen_ai.operation.name` on the GenAI metrics. Default `chat`.
    pub operation_name: String,
    /// Prices for the cost metric. Default the seed's ([`PricingTable::default`]).
    pub pricing: PricingTable,
}

impl Default for LlmMetricsConfig {
    fn default() -> Self {
        LlmMetricsConfig {
            prefix: "llm_simulator".to_owned(),
            naming: MetricNaming::Seed,
            duration_buckets: DEFAULT_HISTOGRAM_BOUNDARIES.to_vec(),
            ttft_buckets: SEED_TTFT_BUCKETS.to_vec(),
            operation_name: "chat".to_owned(),
            pricing: PricingTable::default(),
        }
    }
}

impl LlmMetricsConfig {
    /// The defaults, with the buckets from Loupe's metrics configuration (001's
    /// `metrics.duration_buckets` and `metrics.ttft_buckets`).
    #[cfg(feature = "otlp")]
    pub fn from_metrics_config(config: &MetricsConfig) -> Self {
        LlmMetricsConfig {
            duration_buckets: config.duration_buckets.clone(),
            ttft_buckets: config.ttft_buckets.clone(),
            ..LlmMetricsConfig::default()
        }
    }
}

/// How a request ended: the `status` label.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RequestStatus {
    /// Completed.
    Success,
    /// Failed.
    Error,
    /// Gave up waiting.
    Timeout,
    /// Abandoned by the caller (for example a dropped future).
    Cancelled,
}

impl RequestStatus {
    pub(super) const ALL: usize = 4;

    /// The label value: `success`, `error`, `timeout` or `cancelled`.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestStatus::Success => "success",
            RequestStatus::Error => "error",
            RequestStatus::Timeout => "timeout",
            RequestStatus::Cancelled => "cancelled",
        }
    }

    pub(super) fn index(self) -> usize {
        self as usize
    }
}

/// Tokens used by one request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokenUsage {
    /// Prompt (input) tokens.
    pub prompt_tokens: u64,
    /// Completion (output) tokens.
    pub completion_tokens: u64,
    /// Their sum.
    pub total_tokens: u64,
}

impl TokenUsage {
    /// Usage from prompt and completion counts; the total is their sum.
    pub fn new(prompt_tokens: u64, completion_tokens: u64) -> Self {
        TokenUsage {
            prompt_tokens,
            completion_tokens,
            total_tokens: prompt_tokens.saturating_add(completion_tokens),
        }
    }
}
