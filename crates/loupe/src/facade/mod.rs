//! The Echo Core telemetry facade (seed 000 §2): one object-safe [`Telemetry`] trait with
//! string-map attributes, and three implementations — [`CoreTelemetry`] (the real
//! pipeline), [`NoopTelemetry`] (free) and [`MockTelemetry`] (records calls for tests).
//!
//! ```
//! use loupe::facade::{attributes, MockTelemetry, SpanStatus, Telemetry};
//!
//! let telemetry = MockTelemetry::new();
//! let span = telemetry.create_span("process_message", Some(attributes::with_value("plugin.name", "validator")));
//! if let Some(span) = &span {
//!     let _guard = span.enter(); // ends the span when dropped
//!     span.add_event("starting_processing", None);
//!     span.set_status(SpanStatus::Ok, None);
//! }
//! telemetry.record_counter("plugin.messages.processed", 1, None);
//!
//! assert!(telemetry.span_named("process_message").unwrap().ended);
//! assert_eq!(telemetry.counter_total("plugin.messages.processed"), 1);
//! ```

pub mod attributes;
mod context;
mod core;
mod mock;
mod noop;
mod span;

pub use self::core::CoreTelemetry;
pub use context::{log_with_context, MessageContext, TelemetryContext};
pub use mock::{MockSpan, MockTelemetry};
pub use noop::NoopTelemetry;
pub use span::{BoxedSpan, Span, SpanGuard};

use crate::trace::{
    ContextGuard, ParseError, SpanContext, SpanId, TraceFlags, TraceId, TraceState,
};
use serde::{Deserialize, Serialize};
use std::any::Any;
use std::collections::HashMap;

/// The outcome recorded on a span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SpanStatus {
    /// Not set.
    Unset,
    /// Succeeded.
    Ok,
    /// Failed.
    Error,
}

impl std::fmt::Display for SpanStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SpanStatus::Unset => "unset",
            SpanStatus::Ok => "ok",
            SpanStatus::Error => "error",
        })
    }
}

/// Trace context as carried inside a message (seed 000 §3.4, §6.1): hex ids, flags and
/// the W3C trace state.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TraceContext {
    /// 32 lowercase hex characters.
    pub trace_id: String,
    /// 16 lowercase hex characters.
    pub span_id: String,
    /// W3C trace flags (bit 0: sampled).
    pub trace_flags: u8,
    /// The `tracestate` header value, if any.
    pub trace_state: Option<String>,
}

impl TraceContext {
    /// The message form of a span context.
    pub fn from_span_context(sc: &SpanContext) -> Self {
        TraceContext {
            trace_id: sc.trace_id().to_hex_string(),
            span_id: sc.span_id().to_hex_string(),
            trace_flags: sc.trace_flags().bits(),
            trace_state: (!sc.trace_state().is_empty()).then(|| sc.trace_state().header()),
        }
    }

    /// Parses into a remote span context. Invalid ids are an error; an invalid trace state
    /// is dropped (the ids still propagate), as W3C Trace Context requires.
    pub fn to_span_context(&self) -> Result<SpanContext, ParseError> {
        let trace_id = TraceId::from_hex(&self.trace_id)?;
        let span_id = SpanId::from_hex(&self.span_id)?;
        if !trace_id.is_valid() || !span_id.is_valid() {
            return Err(ParseError::Length {
                expected: 32,
                got: 0,
            });
        }
        let state = self
            .trace_state
            .as_deref()
            .and_then(|s| TraceState::from_header(s).ok())
            .unwrap_or_default();
        Ok(SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::new(self.trace_flags),
            true,
            state,
        ))
    }
}

/// Lets `dyn Telemetry` be downcast to its implementation in tests.
pub trait AsAny {
    /// `self` as `Any`.
    fn as_any(&self) -> &dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The seed's telemetry interface. Object-safe, so components hold `Arc<dyn Telemetry>`.
///
/// Attribute maps convert into typed string attributes. The generic
/// [`with_span`](TelemetryExt::with_span) lives on [`TelemetryExt`] so this trait stays
/// object-safe.
pub trait Telemetry: AsAny + Send + Sync + 'static {
    /// Starts a span, child of the current span.
    fn create_span(
        &self,
        name: &str,
        attributes: Option<HashMap<String, String>>,
    ) -> Option<BoxedSpan>;

    /// Starts a span, child of `parent` (a local span or one from
    /// [`parse_trace_context`](Self::parse_trace_context)), or of the current span if `None`.
    fn create_span_with_parent(
        &self,
        name: &str,
        attributes: Option<HashMap<String, String>>,
        parent: Option<&BoxedSpan>,
    ) -> Option<BoxedSpan>;

    /// Sets a span's status.
    fn set_span_status(&self, span: &BoxedSpan, status: SpanStatus, description: Option<&str>) {
        span.set_status(status, description);
    }

    /// Adds an event to a span.
    fn add_span_event(
        &self,
        span: &BoxedSpan,
        name: &str,
        attributes: Option<HashMap<String, String>>,
    ) {
        span.add_event(name, attributes);
    }

    /// Adds to a counter.
    fn record_counter(&self, name: &str, value: u64, attributes: Option<HashMap<String, String>>);

    /// Sets a gauge.
    fn record_gauge(&self, name: &str, value: f64, attributes: Option<HashMap<String, String>>);

    /// Records a histogram measurement.
    fn record_histogram(&self, name: &str, value: f64, attributes: Option<HashMap<String, String>>);

    /// The span current on this thread (or task, inside the future wrappers).
    fn current_span(&self) -> Option<BoxedSpan>;

    /// Makes `span` current until the guard drops: the object-safe primitive under
    /// [`TelemetryExt::with_span`].
    fn enter_span(&self, span: &BoxedSpan) -> Option<ContextGuard>;

    /// The message form of a span's context, to put in a `BaseMessage`.
    fn create_trace_context(&self, span: &BoxedSpan) -> Option<TraceContext>;

    /// A span handle for a context taken from a message, to use as a parent.
    fn parse_trace_context(&self, context: &TraceContext) -> Option<BoxedSpan>;
}

impl dyn Telemetry {
    /// The implementation behind a `dyn Telemetry`, if it is a `T`.
    pub fn downcast_ref<T: Telemetry>(&self) -> Option<&T> {
        self.as_any().downcast_ref()
    }
}

/// Generic helpers on every [`Telemetry`], including `dyn Telemetry`.
pub trait TelemetryExt: Telemetry {
    /// Runs `f` with `span` current, then ends the span. With `None`, just runs `f`.
    fn with_span<T, F: FnOnce() -> T>(&self, span: Option<BoxedSpan>, f: F) -> T {
        let Some(span) = span else { return f() };
        let guard = self.enter_span(&span);
        let out = f();
        drop(guard);
        span.end();
        out
    }
}

impl<T: Telemetry + ?Sized> TelemetryExt for T {}

pub(crate) fn to_key_values(attributes: Option<HashMap<String, String>>) -> Vec<crate::KeyValue> {
    attributes
        .map(crate::common::attribute::from_string_map)
        .unwrap_or_default()
}
