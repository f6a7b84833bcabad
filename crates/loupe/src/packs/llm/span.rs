//! Request and child spans for LLM calls (seed 001, "Distributed Tracing").

use std::time::{Duration, Instant};

use crate::logs::CorrelationId;
use crate::trace::{Context, Span, SpanContext, SpanKind, Status, Tracer};
use crate::{KeyValue, Value};

use super::TokenUsage;

/// What is known about a request: its id and, once set, provider, model, user and session.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RequestMetadata {
    /// The caller's request id.
    pub request_id: String,
    /// The provider, e.g. `openai`.
    pub provider: Option<String>,
    /// The model, e.g. `gpt-4`.
    pub model: Option<String>,
    /// The end user.
    pub user_id: Option<String>,
    /// The user's session.
    pub session_id: Option<String>,
}

/// The parameters of a request, as recorded on its span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmRequest {
    /// The completion token limit.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    pub top_p: Option<f64>,
    /// Whether the response streams.
    pub stream: bool,
    /// Prompt tokens, when known before the call (see [`estimate_tokens`]).
    pub prompt_tokens: Option<u64>,
}

/// The outcome of a request, as recorded on its span.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LlmResponse {
    /// Token usage reported by the provider.
    pub usage: Option<TokenUsage>,
    /// When the first token (or chunk) arrived, measured from the request start.
    pub time_to_first_token: Option<Duration>,
    /// Why generation stopped, e.g. `stop` or `length`.
    pub finish_reason: String,
}

/// The seed's rough prompt-size estimate: one token per four bytes of text.
pub fn estimate_tokens(text: &str) -> u64 {
    (text.len() / 4) as u64
}

/// The top-level span of one LLM request (a server span named `llm.request`).
///
/// It carries the request id and a [`CorrelationId`] (the id the request's logs carry too),
/// and records provider, model, user, request parameters, token usage, time to first token,
/// duration, finish reason and errors under the seed's `llm.*` names and the OpenTelemetry
/// GenAI names (`gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.usage.*`).
///
/// The span ends on [`complete`](Self::complete), or when dropped (with its status unset,
/// or error if [`record_error`](Self::record_error) was called). To make it the parent of
/// spans started inside async work, run the work with
/// `.with_context(request.context().clone())` ([`crate::trace::FutureExt`]).
#[derive(Debug)]
pub struct RequestSpan {
    span: Span,
    tracer: Tracer,
    context: Context,
    correlation_id: CorrelationId,
    start: Instant,
    metadata: RequestMetadata,
    errored: bool,
}

impl RequestSpan {
    /// Starts the span as a child of the current span (or as a root when there is none).
    ///
    /// The span is named `llm.request` rather than the seed's `llm.request.{id}`: span
    /// names should have low cardinality, so the id goes into the `request.id` attribute.
    pub fn new(tracer: &Tracer, request_id: &str, correlation_id: CorrelationId) -> Self {
        let span = tracer
            .span_builder("llm.request")
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("request.id", request_id.to_owned()),
                KeyValue::new("correlation.id", correlation_id),
            ])
            .start();
        let context = Context::current().with_span_context(span.span_context().clone());
        RequestSpan {
            span,
            tracer: tracer.clone(),
            context,
            correlation_id,
            start: Instant::now(),
            metadata: RequestMetadata {
                request_id: request_id.to_owned(),
                ..RequestMetadata::default()
            },
            errored: false,
        }
    }

    /// Records the provider and model (`llm.provider`, `llm.model`, `gen_ai.provider.name`,
    /// `gen_ai.request.model`).
    pub fn set_provider(&mut self, provider: &str, model: &str) {
        self.metadata.provider = Some(provider.to_owned());
        self.metadata.model = Some(model.to_owned());
        self.span.set_attributes([
            KeyValue::new("llm.provider", provider.to_owned()),
            KeyValue::new("llm.model", model.to_owned()),
            KeyValue::new("gen_ai.provider.name", provider.to_owned()),
            KeyValue::new("gen_ai.request.model", model.to_owned()),
        ]);
    }

    /// Records the end user (`user.id`) and, if given, the session (`session.id`).
    pub fn set_user_context(&mut self, user_id: &str, session_id: Option<&str>) {
        self.metadata.user_id = Some(user_id.to_owned());
        self.span.set_attribute("user.id", user_id.to_owned());
        if let Some(session) = session_id {
            self.metadata.session_id = Some(session.to_owned());
            self.span.set_attribute("session.id", session.to_owned());
        }
    }

    /// Records the request parameters and adds the `llm.request.start` event.
    pub fn record_request(&mut self, request: &LlmRequest) {
        if let Some(max_tokens) = request.max_tokens {
            self.span.set_attribute("llm.max_tokens", max_tokens);
            self.span
                .set_attribute("gen_ai.request.max_tokens", max_tokens);
        }
        if let Some(temperature) = request.temperature {
            self.span.set_attribute("llm.temperature", temperature);
            self.span
                .set_attribute("gen_ai.request.temperature", temperature);
        }
        if let Some(top_p) = request.top_p {
            self.span.set_attribute("llm.top_p", top_p);
            self.span.set_attribute("gen_ai.request.top_p", top_p);
        }
        self.span.set_attribute("llm.stream", request.stream);
        if let Some(tokens) = request.prompt_tokens {
            self.span.set_attribute("llm.prompt_tokens", tokens);
        }
        self.span.add_event("llm.request.start", Vec::new());
    }

    /// Records usage, duration since the span started, time to first token and finish
    /// reason, and adds the `llm.response.complete` event.
    pub fn record_response(&mut self, response: &LlmResponse) {
        if let Some(usage) = &response.usage {
            self.span.set_attributes([
                KeyValue::new("llm.prompt_tokens", usage.prompt_tokens),
                KeyValue::new("llm.completion_tokens", usage.completion_tokens),
                KeyValue::new("llm.total_tokens", usage.total_tokens),
                KeyValue::new("gen_ai.usage.input_tokens", usage.prompt_tokens),
                KeyValue::new("gen_ai.usage.output_tokens", usage.completion_tokens),
            ]);
        }
        self.span
            .set_attribute("llm.duration_ms", millis(self.start.elapsed()));
        if let Some(ttft) = response.time_to_first_token {
            self.span.set_attribute("llm.ttft_ms", millis(ttft));
        }
        self.span
            .set_attribute("llm.finish_reason", response.finish_reason.clone());
        self.span.set_attribute(
            "gen_ai.response.finish_reasons",
            Value::from(vec![response.finish_reason.clone()]),
        );
        let tokens = response.usage.as_ref().map_or(0, |u| u.total_tokens);
        self.span.add_event(
            "llm.response.complete",
            vec![KeyValue::new("tokens", tokens)],
        );
    }

    /// Records an error: status error, the `exception` event, and the seed's `error`,
    /// `error.type` and `error.message` attributes.
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        self.errored = true;
        self.span.record_error(error);
        self.span.set_attributes([
            KeyValue::new("error", true),
            KeyValue::new("error.type", type_name_of::<E>()),
            KeyValue::new("error.message", error.to_string()),
        ]);
    }

    /// Starts an internal child span carrying this request's correlation id.
    pub fn create_child_span(&self, name: &'static str) -> ChildSpan {
        ChildSpan::new(&self.tracer, &self.context, name, self.correlation_id)
    }

    /// The request's correlation id.
    pub fn correlation_id(&self) -> &CorrelationId {
        &self.correlation_id
    }

    /// The context whose active span is this one, for propagation and async work.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The span's ids.
    pub fn span_context(&self) -> &SpanContext {
        self.span.span_context()
    }

    /// What has been recorded about the request.
    pub fn metadata(&self) -> &RequestMetadata {
        &self.metadata
    }

    /// Time since the span started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Ends the span with status ok, unless an error was recorded.
    pub fn complete(mut self) {
        // `set_status` would replace an error with ok, so keep the error.
        if !self.errored {
            self.span.set_status(Status::Ok);
        }
        self.span.end();
    }
}

/// A nested operation inside a request (provider call, token counting, ...): an internal
/// span with the request's `correlation.id`. Ends on [`complete`](Self::complete) or drop.
#[derive(Debug)]
pub struct ChildSpan {
    span: Span,
    context: Context,
    start: Instant,
    errored: bool,
}

impl ChildSpan {
    fn new(
        tracer: &Tracer,
        parent: &Context,
        name: &'static str,
        correlation_id: CorrelationId,
    ) -> Self {
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_parent_context(parent)
            .with_attribute("correlation.id", correlation_id)
            .start();
        let context = parent.with_span_context(span.span_context().clone());
        ChildSpan {
            span,
            context,
            start: Instant::now(),
            errored: false,
        }
    }

    /// Sets an attribute.
    pub fn set_attribute(&mut self, key: &'static str, value: impl Into<Value>) {
        self.span.set_attribute(key, value);
    }

    /// Adds an event.
    pub fn add_event(&mut self, name: &'static str, attributes: Vec<KeyValue>) {
        self.span.add_event(name, attributes);
    }

    /// Records an error: status error and the `exception` event.
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        self.errored = true;
        self.span.record_error(error);
    }

    /// The context whose active span is this one.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The span's ids.
    pub fn span_context(&self) -> &SpanContext {
        self.span.span_context()
    }

    /// Ends the span, recording `duration_ms`; status ok unless an error was recorded.
    pub fn complete(mut self) {
        self.span
            .set_attribute("duration_ms", millis(self.start.elapsed()));
        if !self.errored {
            self.span.set_status(Status::Ok);
        }
        self.span.end();
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn type_name_of<E: ?Sized>() -> &'static str {
    let full = std::any::type_name::<E>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::")
        .next()
        .unwrap_or(base)
        .trim_start_matches("dyn ")
}
