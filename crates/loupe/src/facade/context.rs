//! `TelemetryContext`: a telemetry handle enriched with the message being processed.

use super::{BoxedSpan, Telemetry, TraceContext};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// The message currently being processed (seed 000 §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageContext {
    /// The topic the message came from.
    pub topic: String,
    /// The message id.
    pub message_id: Uuid,
}

/// A telemetry handle that adds `message.topic` and `message.id` to the spans it creates.
///
/// The message context is shared by every user of this `TelemetryContext`: give each
/// concurrent message processor its own (they are cheap: an `Arc` and a lock that is only
/// taken when spans are created or the context changes).
pub struct TelemetryContext {
    telemetry: Arc<dyn Telemetry>,
    message_context: Mutex<Option<MessageContext>>,
}

impl std::fmt::Debug for TelemetryContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryContext")
            .field("message_context", &self.message_context())
            .finish()
    }
}

impl TelemetryContext {
    /// Wraps a telemetry implementation.
    pub fn new(telemetry: Arc<dyn Telemetry>) -> Self {
        TelemetryContext {
            telemetry,
            message_context: Mutex::new(None),
        }
    }

    /// The wrapped implementation.
    pub fn telemetry(&self) -> &Arc<dyn Telemetry> {
        &self.telemetry
    }

    /// Sets the message being processed.
    pub fn set_current_message_context(&self, topic: String, message_id: Uuid) {
        *self
            .message_context
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(MessageContext { topic, message_id });
    }

    /// Clears the message context.
    pub fn clear_current_message_context(&self) {
        *self
            .message_context
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The message being processed, if set.
    pub fn message_context(&self) -> Option<MessageContext> {
        self.message_context
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn enrich(&self, attributes: Option<HashMap<String, String>>) -> HashMap<String, String> {
        let mut attrs = attributes.unwrap_or_default();
        if let Some(ctx) = self.message_context() {
            attrs.insert(super::attributes::keys::MESSAGE_TOPIC.into(), ctx.topic);
            attrs.insert(
                super::attributes::keys::MESSAGE_ID.into(),
                ctx.message_id.to_string(),
            );
        }
        attrs
    }

    /// Starts a span carrying the message context.
    pub fn create_span(
        &self,
        name: &str,
        attributes: Option<HashMap<String, String>>,
    ) -> Option<BoxedSpan> {
        self.telemetry
            .create_span(name, Some(self.enrich(attributes)))
    }

    /// Starts a child of `parent` carrying the message context.
    pub fn create_span_with_parent(
        &self,
        name: &str,
        attributes: Option<HashMap<String, String>>,
        parent: Option<&BoxedSpan>,
    ) -> Option<BoxedSpan> {
        self.telemetry
            .create_span_with_parent(name, Some(self.enrich(attributes)), parent)
    }

    /// Adds to a counter.
    pub fn record_counter(
        &self,
        name: &str,
        value: u64,
        attributes: Option<HashMap<String, String>>,
    ) {
        self.telemetry.record_counter(name, value, attributes);
    }

    /// Sets a gauge.
    pub fn record_gauge(
        &self,
        name: &str,
        value: f64,
        attributes: Option<HashMap<String, String>>,
    ) {
        self.telemetry.record_gauge(name, value, attributes);
    }

    /// Records a histogram measurement.
    pub fn record_histogram(
        &self,
        name: &str,
        value: f64,
        attributes: Option<HashMap<String, String>>,
    ) {
        self.telemetry.record_histogram(name, value, attributes);
    }

    /// The current span.
    pub fn current_span(&self) -> Option<BoxedSpan> {
        self.telemetry.current_span()
    }

    /// The message form of a span's context.
    pub fn create_trace_context(&self, span: &BoxedSpan) -> Option<TraceContext> {
        self.telemetry.create_trace_context(span)
    }

    /// A parent handle for a context taken from a message.
    pub fn parse_trace_context(&self, context: &TraceContext) -> Option<BoxedSpan> {
        self.telemetry.parse_trace_context(context)
    }

    /// Logs with the telemetry context (000 §3.3 `log_with_context`): the record carries
    /// `attributes`, the current span's attributes (the call's win on a clash), the message
    /// context as `message.topic` / `message.id`, and the current span's trace and span
    /// ids. It goes to the process-wide log pipeline ([`crate::logs::logger`]), target
    /// `echo_core`.
    pub fn log(
        &self,
        level: crate::logs::Severity,
        message: &str,
        attributes: Option<HashMap<String, String>>,
    ) {
        let logger = crate::logs::logger("echo_core");
        if !logger.enabled(level) {
            return;
        }
        let span = self.current_span();
        let mut all: HashMap<String, String> = span
            .as_ref()
            .map(|s| s.attributes().clone())
            .unwrap_or_default();
        all.extend(attributes.unwrap_or_default());
        if let Some(cx) = self.message_context() {
            all.insert("message.topic".into(), cx.topic);
            all.insert("message.id".into(), cx.message_id.to_string());
        }
        let emit = || logger.log(level, message.to_owned(), all);
        match span.and_then(|s| s.span_context()) {
            Some(sc) => {
                let _current = crate::trace::Context::current()
                    .with_span_context(sc)
                    .attach();
                emit();
            }
            None => emit(),
        }
    }
}

/// 000 §3.3's `log_with_context`: [`TelemetryContext::log`] as a free function.
pub fn log_with_context(
    level: crate::logs::Severity,
    message: &str,
    attributes: Option<HashMap<String, String>>,
    telemetry: &TelemetryContext,
) {
    telemetry.log(level, message, attributes);
}
