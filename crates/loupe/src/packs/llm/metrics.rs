//! The LLM metrics (seed 001, "LLM Metrics") and the active-request guard.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use crate::metrics::{Bound, Counter, Gauge, Histogram, Meter, MetricError, UpDownCounter};
use crate::KeyValue;

use super::{
    LlmMetricsConfig, ModelPrice, PricingTable, RequestStatus, TokenUsage, GEN_AI_DURATION_BUCKETS,
    GEN_AI_TOKEN_BUCKETS,
};

struct SeedInstruments {
    duration: Histogram<f64>,
    tokens: Counter<u64>,
    ttft: Histogram<f64>,
}

struct GenAiInstruments {
    duration: Histogram<f64>,
    tokens: Histogram<u64>,
    ttfc: Histogram<f64>,
    operation: String,
}

struct Instruments {
    seed: Option<SeedInstruments>,
    gen_ai: Option<GenAiInstruments>,
    requests: Counter<u64>,
    errors: Counter<u64>,
    active: UpDownCounter<i64>,
    tokens_per_second: Gauge<f64>,
    cost: Counter<f64>,
    pricing: PricingTable,
}

/// Handles bound to one `(provider, model)`, created on first use of each label set so
/// that statuses never seen export no empty series.
struct ModelHandles {
    provider: Arc<str>,
    model: Arc<str>,
    price: Option<ModelPrice>,
    active: Bound<UpDownCounter<i64>>,
    requests: [OnceLock<Bound<Counter<u64>>>; RequestStatus::ALL],
    duration: [OnceLock<Bound<Histogram<f64>>>; RequestStatus::ALL],
    prompt_tokens: OnceLock<Bound<Counter<u64>>>,
    completion_tokens: OnceLock<Bound<Counter<u64>>>,
    ttft: OnceLock<Bound<Histogram<f64>>>,
    tokens_per_second: OnceLock<Bound<Gauge<f64>>>,
    cost: OnceLock<Bound<Counter<f64>>>,
    gen_ai_duration: OnceLock<Bound<Histogram<f64>>>,
    gen_ai_input: OnceLock<Bound<Histogram<u64>>>,
    gen_ai_output: OnceLock<Bound<Histogram<u64>>>,
    gen_ai_ttfc: OnceLock<Bound<Histogram<f64>>>,
}

impl ModelHandles {
    fn new(inst: &Instruments, provider: &str, model: &str) -> Self {
        ModelHandles {
            provider: provider.into(),
            model: model.into(),
            price: inst.pricing.price(provider, model),
            active: inst
                .active
                .bind(&[KeyValue::new("provider", provider.to_owned())]),
            requests: Default::default(),
            duration: Default::default(),
            prompt_tokens: OnceLock::new(),
            completion_tokens: OnceLock::new(),
            ttft: OnceLock::new(),
            tokens_per_second: OnceLock::new(),
            cost: OnceLock::new(),
            gen_ai_duration: OnceLock::new(),
            gen_ai_input: OnceLock::new(),
            gen_ai_output: OnceLock::new(),
            gen_ai_ttfc: OnceLock::new(),
        }
    }

    fn labels(&self) -> [KeyValue; 2] {
        [
            KeyValue::new("provider", self.provider.to_string()),
            KeyValue::new("model", self.model.to_string()),
        ]
    }

    fn labels_with(&self, key: &'static str, value: &'static str) -> [KeyValue; 3] {
        let [p, m] = self.labels();
        [p, m, KeyValue::new(key, value)]
    }

    fn gen_ai_labels(&self, operation: &str) -> Vec<KeyValue> {
        vec![
            KeyValue::new("gen_ai.operation.name", operation.to_owned()),
            KeyValue::new("gen_ai.provider.name", self.provider.to_string()),
            KeyValue::new("gen_ai.request.model", self.model.to_string()),
        ]
    }
}

/// The seed's LLM metrics, recorded through a Loupe [`Meter`].
///
/// Recording looks up handles bound to the request's `(provider, model)` under a read lock
/// (a write lock only the first time a pair is seen), then updates atomics: no attribute
/// sets are built on the hot path.
///
/// The active-requests up-down counter is only moved by [`ActiveRequest`]: it goes up in
/// [`start_request`](Self::start_request) and down exactly once when the guard finishes or
/// drops, so it stays right on errors, timeouts and cancelled futures.
///
/// Cheap to clone: clones share the instruments.
#[derive(Clone)]
pub struct LLMMetrics {
    inner: Arc<Inner>,
}

/// Bound handles by provider, then model (two levels so lookups borrow `&str`).
type ModelCache = HashMap<Arc<str>, HashMap<Arc<str>, Arc<ModelHandles>>>;

struct Inner {
    inst: Instruments,
    models: RwLock<ModelCache>,
}

impl std::fmt::Debug for LLMMetrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LLMMetrics").finish_non_exhaustive()
    }
}

impl LLMMetrics {
    /// Registers the instruments `config` asks for on `meter`.
    ///
    /// Fails when a name is invalid (a bad prefix), buckets are not finite and strictly
    /// increasing, or a name is already registered on `meter` as another kind.
    pub fn new(meter: &Meter, config: LlmMetricsConfig) -> Result<Self, MetricError> {
        let p = &config.prefix;
        let seed = if config.naming.seed() {
            Some(SeedInstruments {
                duration: meter
                    .f64_histogram(format!("{p}_request_duration_seconds"))
                    .with_description("LLM request duration in seconds")
                    .with_unit("s")
                    .with_boundaries(config.duration_buckets.clone())
                    .build()?,
                tokens: meter
                    .u64_counter(format!("{p}_tokens_total"))
                    .with_description("Total tokens processed")
                    .with_unit("tokens")
                    .build()?,
                ttft: meter
                    .f64_histogram(format!("{p}_ttft_seconds"))
                    .with_description("Time to first token in seconds")
                    .with_unit("s")
                    .with_boundaries(config.ttft_buckets.clone())
                    .build()?,
            })
        } else {
            None
        };
        let gen_ai = if config.naming.gen_ai() {
            Some(GenAiInstruments {
                duration: meter
                    .f64_histogram("gen_ai.client.operation.duration")
                    .with_description("GenAI operation duration")
                    .with_unit("s")
                    .with_boundaries(GEN_AI_DURATION_BUCKETS.to_vec())
                    .build()?,
                tokens: meter
                    .u64_histogram("gen_ai.client.token.usage")
                    .with_description("Number of input and output tokens used")
                    .with_unit("{token}")
                    .with_boundaries(GEN_AI_TOKEN_BUCKETS.to_vec())
                    .build()?,
                ttfc: meter
                    .f64_histogram("gen_ai.client.operation.time_to_first_chunk")
                    .with_description("Time to receive the first chunk of a streamed response")
                    .with_unit("s")
                    .with_boundaries(GEN_AI_DURATION_BUCKETS.to_vec())
                    .build()?,
                operation: config.operation_name.clone(),
            })
        } else {
            None
        };
        let inst = Instruments {
            seed,
            gen_ai,
            requests: meter
                .u64_counter(format!("{p}_requests_total"))
                .with_description("Total requests processed")
                .with_unit("requests")
                .build()?,
            errors: meter
                .u64_counter(format!("{p}_errors_total"))
                .with_description("Total errors encountered")
                .with_unit("errors")
                .build()?,
            active: meter
                .i64_up_down_counter(format!("{p}_active_requests"))
                .with_description("Currently active requests")
                .with_unit("requests")
                .build()?,
            tokens_per_second: meter
                .f64_gauge(format!("{p}_tokens_per_second"))
                .with_description("Tokens generated per second")
                .with_unit("tokens/s")
                .build()?,
            cost: meter
                .f64_counter(format!("{p}_cost_dollars"))
                .with_description("Total cost in USD")
                .with_unit("USD")
                .build()?,
            pricing: config.pricing,
        };
        Ok(LLMMetrics {
            inner: Arc::new(Inner {
                inst,
                models: RwLock::new(HashMap::new()),
            }),
        })
    }

    /// Marks a request to `provider`'s `model` as started: the active-requests gauge goes
    /// up by one, and down exactly once when the returned guard is finished or dropped.
    pub fn start_request(&self, provider: &str, model: &str) -> ActiveRequest {
        let handles = self.inner.handles(provider, model);
        handles.active.add(1);
        ActiveRequest {
            inner: Arc::clone(&self.inner),
            handles,
            start: Instant::now(),
            ttft: None,
            ended: false,
        }
    }

    /// Records a finished request: its count and duration by status, token counts, time to
    /// first token, tokens per second and cost. Does not touch the active-requests gauge
    /// (the [`ActiveRequest`] guard owns it).
    pub fn record_request_complete(
        &self,
        provider: &str,
        model: &str,
        duration: Duration,
        status: RequestStatus,
        usage: &TokenUsage,
        ttft: Option<Duration>,
    ) {
        let handles = self.inner.handles(provider, model);
        self.inner
            .record_complete(&handles, duration, status, None, usage, ttft);
    }

    /// Counts an error (`{prefix}_errors_total{provider, error_type}`). Does not move the
    /// active-requests gauge, so an error reported without a start leaves it unchanged.
    pub fn record_error(&self, provider: &str, error_type: &str) {
        self.inner.record_error(provider, error_type);
    }

    /// The dollar cost of `usage` on `provider`'s `model` under the configured prices.
    pub fn cost(&self, provider: &str, model: &str, usage: &TokenUsage) -> Option<f64> {
        self.inner.inst.pricing.cost(provider, model, usage)
    }
}

impl Inner {
    fn record_error(&self, provider: &str, error_type: &str) {
        self.inst.errors.add(
            1,
            &[
                KeyValue::new("provider", provider.to_owned()),
                KeyValue::new("error_type", error_type.to_owned()),
            ],
        );
    }

    fn handles(&self, provider: &str, model: &str) -> Arc<ModelHandles> {
        {
            let models = self.models.read().unwrap_or_else(|e| e.into_inner());
            if let Some(h) = models.get(provider).and_then(|m| m.get(model)) {
                return Arc::clone(h);
            }
        }
        let mut models = self.models.write().unwrap_or_else(|e| e.into_inner());
        let by_model = models.entry(Arc::from(provider)).or_default();
        let handles = by_model
            .entry(Arc::from(model))
            .or_insert_with(|| Arc::new(ModelHandles::new(&self.inst, provider, model)));
        Arc::clone(handles)
    }

    fn record_complete(
        &self,
        h: &ModelHandles,
        duration: Duration,
        status: RequestStatus,
        error_type: Option<&str>,
        usage: &TokenUsage,
        ttft: Option<Duration>,
    ) {
        let inst = &self.inst;
        let secs = duration.as_secs_f64();
        let i = status.index();
        h.requests[i]
            .get_or_init(|| {
                inst.requests
                    .bind(&h.labels_with("status", status.as_str()))
            })
            .add(1);
        if let Some(seed) = &inst.seed {
            h.duration[i]
                .get_or_init(|| {
                    seed.duration
                        .bind(&h.labels_with("status", status.as_str()))
                })
                .record(secs);
            if usage.prompt_tokens > 0 {
                h.prompt_tokens
                    .get_or_init(|| seed.tokens.bind(&h.labels_with("type", "prompt")))
                    .add(usage.prompt_tokens);
            }
            if usage.completion_tokens > 0 {
                h.completion_tokens
                    .get_or_init(|| seed.tokens.bind(&h.labels_with("type", "completion")))
                    .add(usage.completion_tokens);
            }
            if let Some(ttft) = ttft {
                h.ttft
                    .get_or_init(|| seed.ttft.bind(&h.labels()))
                    .record(ttft.as_secs_f64());
            }
        }
        if let Some(g) = &inst.gen_ai {
            if status == RequestStatus::Success {
                h.gen_ai_duration
                    .get_or_init(|| g.duration.bind(&h.gen_ai_labels(&g.operation)))
                    .record(secs);
            } else {
                // Failures are rarer and carry a free-form `error.type`: not worth caching.
                let mut attrs = h.gen_ai_labels(&g.operation);
                let error_type = error_type.unwrap_or(status.as_str()).to_owned();
                attrs.push(KeyValue::new("error.type", error_type));
                g.duration.record(secs, &attrs);
            }
            if usage.prompt_tokens > 0 || usage.completion_tokens > 0 {
                h.gen_ai_input
                    .get_or_init(|| {
                        g.tokens
                            .bind(&token_type(h.gen_ai_labels(&g.operation), "input"))
                    })
                    .record(usage.prompt_tokens);
                h.gen_ai_output
                    .get_or_init(|| {
                        g.tokens
                            .bind(&token_type(h.gen_ai_labels(&g.operation), "output"))
                    })
                    .record(usage.completion_tokens);
            }
            if let Some(ttft) = ttft {
                h.gen_ai_ttfc
                    .get_or_init(|| g.ttfc.bind(&h.gen_ai_labels(&g.operation)))
                    .record(ttft.as_secs_f64());
            }
        }
        if secs > 0.0 && usage.completion_tokens > 0 {
            h.tokens_per_second
                .get_or_init(|| inst.tokens_per_second.bind(&h.labels()))
                .record(usage.completion_tokens as f64 / secs);
        }
        if let Some(price) = h.price {
            let cost = price.cost(usage);
            if cost > 0.0 {
                h.cost.get_or_init(|| inst.cost.bind(&h.labels())).add(cost);
            }
        }
    }
}

fn token_type(mut attrs: Vec<KeyValue>, kind: &'static str) -> Vec<KeyValue> {
    attrs.push(KeyValue::new("gen_ai.token.type", kind));
    attrs
}

/// One in-flight request, returned by [`LLMMetrics::start_request`].
///
/// Finish it with [`complete`](Self::complete), [`fail`](Self::fail) or
/// [`timed_out`](Self::timed_out). Dropping it unfinished (a cancelled future, a `?` that
/// returned early) records the request as `cancelled`. Either way the active-requests gauge
/// goes down exactly once.
#[must_use = "dropping the guard ends the request as cancelled"]
pub struct ActiveRequest {
    inner: Arc<Inner>,
    handles: Arc<ModelHandles>,
    start: Instant,
    ttft: Option<Duration>,
    ended: bool,
}

impl std::fmt::Debug for ActiveRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActiveRequest")
            .field("provider", &self.handles.provider)
            .field("model", &self.handles.model)
            .field("elapsed", &self.start.elapsed())
            .finish_non_exhaustive()
    }
}

impl ActiveRequest {
    /// Notes that the first token (or chunk) arrived now; recorded when the request ends.
    /// Only the first call counts.
    pub fn first_token(&mut self) {
        if self.ttft.is_none() {
            self.ttft = Some(self.start.elapsed());
        }
    }

    /// Time since the request started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The time to first token noted so far.
    pub fn time_to_first_token(&self) -> Option<Duration> {
        self.ttft
    }

    /// Ends the request successfully with its token usage.
    pub fn complete(mut self, usage: &TokenUsage) {
        self.end(RequestStatus::Success, None, usage);
    }

    /// Ends the request as failed: counts the error under `error_type` and the request
    /// under status `error`, with the tokens already spent (if any).
    pub fn fail(mut self, error_type: &str, usage: &TokenUsage) {
        self.inner.record_error(&self.handles.provider, error_type);
        self.end(RequestStatus::Error, Some(error_type), usage);
    }

    /// Ends the request as timed out (status `timeout`; also counted as error `timeout`).
    pub fn timed_out(mut self) {
        self.inner.record_error(&self.handles.provider, "timeout");
        self.end(
            RequestStatus::Timeout,
            Some("timeout"),
            &TokenUsage::default(),
        );
    }

    fn end(&mut self, status: RequestStatus, error_type: Option<&str>, usage: &TokenUsage) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        self.inner.record_complete(
            &self.handles,
            self.start.elapsed(),
            status,
            error_type,
            usage,
            self.ttft,
        );
        self.handles.active.add(-1);
    }
}

impl Drop for ActiveRequest {
    fn drop(&mut self) {
        self.end(RequestStatus::Cancelled, None, &TokenUsage::default());
    }
}
