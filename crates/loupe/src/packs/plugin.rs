//! The plugin pack (seed 000 §5–6): lifecycle spans and counters, an instrumented
//! `process_message`, classified error reports, resource gauges, and message-flow tracing
//! with the §6.4 latency histograms.
//!
//! A [`PluginTelemetry`] is one plugin's handle on an `Arc<dyn Telemetry>` (the seed
//! facade: [`CoreTelemetry`](crate::CoreTelemetry) in production,
//! [`MockTelemetry`](crate::facade::MockTelemetry) in tests). It pre-builds the plugin's
//! attributes once, so each recording only clones a small map.
//!
//! - [`PluginTelemetry::lifecycle`] wraps `init`, `shutdown`, `pause` and `resume`: span
//!   `plugin.{event}`, counters `plugin.lifecycle.events` and `plugin.lifecycle.success` or
//!   `plugin.lifecycle.errors`.
//! - [`PluginTelemetry::process_message`] wraps a message handler: span
//!   `plugin.process_message` (child of the publisher span carried in
//!   [`BaseMessage::trace_context`], current while the handler runs), counters
//!   `plugin.messages.received` and `plugin.message.status` (`status` from
//!   [`ProcessingStatus::as_str`], or `error`), histogram `plugin.message.processing_time_ms`,
//!   and the §6.4 histograms `message.end_to_end_latency_ms`,
//!   `message.processing_latency_ms` and `message.queue_latency_ms`.
//! - [`PluginTelemetry::report_error`] counts `plugin.errors` with the seed's `error.type`
//!   ([`PluginError::error_type`]) and records a `plugin.error` span.
//! - [`PluginTelemetry::record_resource_usage`] sets the §5.3 gauges.
//! - [`publish`] starts the `message.publish` span and puts its context in the message.
//!
//! Every name is in [`names`].
//!
//! ```
//! use loupe::facade::MockTelemetry;
//! use loupe::packs::plugin::{
//!     publish, BaseMessage, LifecycleEvent, PluginError, PluginTelemetry, ProcessingStatus,
//! };
//! use std::sync::Arc;
//!
//! let mock = Arc::new(MockTelemetry::new());
//! let validator = PluginTelemetry::new(mock.clone(), "validator", "1.0.0");
//! validator.lifecycle(LifecycleEvent::Init, || Ok::<_, PluginError>(()))?;
//!
//! let mut message = BaseMessage::new("recorder", serde_json::json!({"text": "hello"}));
//! if let Some(span) = publish(mock.as_ref(), "transcript.raw", &mut message) {
//!     span.end();
//! }
//! let status = validator.process_message("transcript.raw", &message, |m| {
//!     if m.data.get("text").is_some() {
//!         Ok(ProcessingStatus::Acknowledged)
//!     } else {
//!         Err(PluginError::InvalidInput("no text".into()))
//!     }
//! })?;
//! assert_eq!(status, ProcessingStatus::Acknowledged);
//!
//! let process = mock.span_named("plugin.process_message").unwrap();
//! let publish = mock.span_named("message.publish").unwrap();
//! assert_eq!(process.parent_id, Some(publish.span_id)); // the trace follows the message
//! assert_eq!(mock.counter_total("plugin.message.status"), 1);
//! assert_eq!(mock.histogram_values("message.end_to_end_latency_ms").len(), 1);
//! # Ok::<(), PluginError>(())
//! ```

mod message;
pub mod names;

pub use message::{
    BaseMessage, LifecycleEvent, PluginError, ProcessingStatus, ResourceUsage, ERROR_STATUS,
};

use crate::facade::attributes::keys;
use crate::facade::{BoxedSpan, SpanStatus, Telemetry};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

type Attributes = HashMap<String, String>;

/// One plugin's telemetry: its name and version bound to a seed facade.
#[derive(Clone)]
pub struct PluginTelemetry {
    telemetry: Arc<dyn Telemetry>,
    /// `plugin.name` only: the attributes of metrics.
    plugin: Attributes,
    /// `plugin.name` and `plugin.version`: the attributes of lifecycle spans.
    plugin_versioned: Attributes,
    name: String,
}

impl std::fmt::Debug for PluginTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginTelemetry")
            .field("attributes", &self.plugin_versioned)
            .finish()
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `later - earlier` in milliseconds, `0` if the clock went backwards.
fn millis_between(earlier: SystemTime, later: SystemTime) -> f64 {
    millis(later.duration_since(earlier).unwrap_or_default())
}

impl PluginTelemetry {
    /// The telemetry of plugin `name` at `version`.
    pub fn new(
        telemetry: Arc<dyn Telemetry>,
        name: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        let name = name.into();
        let plugin = HashMap::from([(keys::PLUGIN_NAME.to_owned(), name.clone())]);
        let mut plugin_versioned = plugin.clone();
        plugin_versioned.insert(keys::PLUGIN_VERSION.to_owned(), version.into());
        PluginTelemetry {
            telemetry,
            plugin,
            plugin_versioned,
            name,
        }
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The facade this plugin records through.
    pub fn telemetry(&self) -> &Arc<dyn Telemetry> {
        &self.telemetry
    }

    fn with(&self, extra: &[(&str, &str)]) -> Attributes {
        let mut attrs = self.plugin.clone();
        for (k, v) in extra {
            attrs.insert((*k).to_owned(), (*v).to_owned());
        }
        attrs
    }

    /// Runs a lifecycle step `f` inside span `plugin.{event}` (made current, so spans `f`
    /// creates are its children) and counts it: `plugin.lifecycle.events`, then
    /// `plugin.lifecycle.success` or `plugin.lifecycle.errors` (with `error` and
    /// `error.type`; the span's status becomes error). Returns what `f` returned.
    pub fn lifecycle<T>(
        &self,
        event: LifecycleEvent,
        f: impl FnOnce() -> Result<T, PluginError>,
    ) -> Result<T, PluginError> {
        let span = self
            .telemetry
            .create_span(event.span_name(), Some(self.plugin_versioned.clone()));
        let counted = self.with(&[(names::EVENT, event.as_str())]);
        self.telemetry
            .record_counter(names::LIFECYCLE_EVENTS, 1, Some(counted.clone()));
        let result = self.run_in(span.as_ref(), f);
        match &result {
            Ok(_) => {
                self.telemetry
                    .record_counter(names::LIFECYCLE_SUCCESS, 1, Some(counted));
                if let Some(span) = &span {
                    span.set_status(SpanStatus::Ok, None);
                }
            }
            Err(e) => {
                let message = e.to_string();
                let mut attrs = counted;
                attrs.insert(keys::ERROR.to_owned(), message.clone());
                attrs.insert(keys::ERROR_TYPE.to_owned(), e.error_type().to_owned());
                self.telemetry
                    .record_counter(names::LIFECYCLE_ERRORS, 1, Some(attrs));
                if let Some(span) = &span {
                    span.set_status(SpanStatus::Error, Some(&message));
                }
            }
        }
        if let Some(span) = span {
            span.end();
        }
        result
    }

    /// Runs `f` with `span` current (when there is one).
    fn run_in<T>(&self, span: Option<&BoxedSpan>, f: impl FnOnce() -> T) -> T {
        let _current = span.and_then(|s| self.telemetry.enter_span(s));
        f()
    }

    /// Runs the handler `process` on a message received on `topic`, instrumented as seed
    /// 000 §5.2 and §6.4 describe.
    ///
    /// The span `plugin.process_message` (`plugin.name`, `message.topic`, `message.id`) is
    /// the child of the span in `message.trace_context`, or of the current span if the
    /// message carries none, and is current while `process` runs. Recorded:
    /// `plugin.messages.received`; `plugin.message.processing_time_ms`;
    /// `plugin.message.status` with `status` = [`ProcessingStatus::as_str`], or
    /// [`ERROR_STATUS`] when `process` fails, which also [reports](Self::report_error) the
    /// error; and the latency histograms of [`record_latency`](Self::record_latency), with
    /// the start of this call standing in for an unset `processing_started` or
    /// `dequeued_at`. A [`ProcessingStatus::Failed`] outcome sets the span's status to
    /// error; other outcomes set it to ok.
    pub fn process_message(
        &self,
        topic: &str,
        message: &BaseMessage,
        process: impl FnOnce(&BaseMessage) -> Result<ProcessingStatus, PluginError>,
    ) -> Result<ProcessingStatus, PluginError> {
        let started_at = SystemTime::now();
        let started = Instant::now();
        let telemetry = &self.telemetry;
        let parent = message
            .trace_context
            .as_ref()
            .and_then(|cx| telemetry.parse_trace_context(cx));
        let id = message.id.to_string();
        let span = telemetry.create_span_with_parent(
            names::PROCESS_MESSAGE_SPAN,
            Some(self.with(&[
                (keys::MESSAGE_TOPIC, topic),
                (keys::MESSAGE_ID, id.as_str()),
            ])),
            parent.as_ref(),
        );
        let by_topic = self.with(&[(keys::MESSAGE_TOPIC, topic)]);
        telemetry.record_counter(names::MESSAGES_RECEIVED, 1, Some(by_topic.clone()));

        let result = self.run_in(span.as_ref(), || {
            let result = process(message);
            if let Err(e) = &result {
                // Inside the span, so the `plugin.error` span is its child.
                self.report_error(e, Some(by_topic.clone()));
            }
            result
        });

        telemetry.record_histogram(
            names::PROCESSING_TIME_MS,
            millis(started.elapsed()),
            Some(by_topic.clone()),
        );
        let (status, span_status, description) = match &result {
            Ok(ProcessingStatus::Failed(reason)) => {
                ("failed", SpanStatus::Error, Some(reason.as_str()))
            }
            Ok(status) => (status.as_str(), SpanStatus::Ok, None),
            Err(_) => (ERROR_STATUS, SpanStatus::Error, None),
        };
        let mut by_status = by_topic;
        by_status.insert(names::STATUS.to_owned(), status.to_owned());
        telemetry.record_counter(names::MESSAGE_STATUS, 1, Some(by_status));
        if let Some(span) = span {
            match (&result, description) {
                (Err(e), _) => span.set_status(span_status, Some(&e.to_string())),
                (_, description) => span.set_status(span_status, description),
            }
            span.set_attribute(names::STATUS, status);
            span.end();
        }
        self.latency(topic, message, started_at, SystemTime::now());
        result
    }

    /// Records seed 000 §6.4's latency histograms for `message`, as of now, with
    /// `message.topic` and `plugin.name`: `message.end_to_end_latency_ms` (from
    /// `timestamp`), `message.processing_latency_ms` (from `processing_started`, if set)
    /// and `message.queue_latency_ms` (from `queued_at` to `dequeued_at` or now, if
    /// `queued_at` is set). [`process_message`](Self::process_message) calls this itself.
    pub fn record_latency(&self, topic: &str, message: &BaseMessage) {
        let now = SystemTime::now();
        let started = message.processing_started.unwrap_or(now);
        self.latency(topic, message, started, now);
    }

    fn latency(&self, topic: &str, message: &BaseMessage, started: SystemTime, now: SystemTime) {
        let attrs = self.with(&[(keys::MESSAGE_TOPIC, topic)]);
        let telemetry = &self.telemetry;
        telemetry.record_histogram(
            names::END_TO_END_LATENCY_MS,
            millis_between(message.timestamp, now),
            Some(attrs.clone()),
        );
        let processing_started = message.processing_started.unwrap_or(started);
        telemetry.record_histogram(
            names::PROCESSING_LATENCY_MS,
            millis_between(processing_started, now),
            Some(attrs.clone()),
        );
        if let Some(queued) = message.queued_at {
            let dequeued = message.dequeued_at.unwrap_or(started);
            telemetry.record_histogram(
                names::QUEUE_LATENCY_MS,
                millis_between(queued, dequeued),
                Some(attrs),
            );
        }
    }

    /// Reports an error (seed 000 §5.4): counts `plugin.errors` with `plugin.name`,
    /// `error`, `error.type` ([`PluginError::error_type`]) and the `context` attributes,
    /// and records an ended `plugin.error` span (child of the current span) with those
    /// attributes, an `error_details` event and an error status.
    pub fn report_error(&self, error: &PluginError, context: Option<HashMap<String, String>>) {
        let message = error.to_string();
        let mut attrs = context.unwrap_or_default();
        attrs.extend(self.plugin.clone());
        attrs.insert(keys::ERROR.to_owned(), message.clone());
        attrs.insert(keys::ERROR_TYPE.to_owned(), error.error_type().to_owned());
        self.telemetry
            .record_counter(names::ERRORS, 1, Some(attrs.clone()));
        if let Some(span) = self.telemetry.create_span(names::ERROR_SPAN, Some(attrs)) {
            span.add_event(
                "error_details",
                Some(HashMap::from([(
                    "error_message".to_owned(),
                    message.clone(),
                )])),
            );
            span.set_status(SpanStatus::Error, Some(&message));
            span.end();
        }
    }

    /// Sets the resource gauges of seed 000 §5.3 for the fields that are set:
    /// `plugin.memory_usage_bytes`, `plugin.cpu_usage_percent`, `plugin.thread_count`,
    /// `plugin.queue_depth`.
    pub fn record_resource_usage(&self, usage: &ResourceUsage) {
        let gauges = [
            (
                names::MEMORY_USAGE_BYTES,
                usage.memory_bytes.map(|v| v as f64),
            ),
            (names::CPU_USAGE_PERCENT, usage.cpu_percent),
            (names::THREAD_COUNT, usage.thread_count.map(|v| v as f64)),
            (names::QUEUE_DEPTH, usage.queue_depth.map(|v| v as f64)),
        ];
        for (name, value) in gauges {
            if let Some(value) = value {
                self.telemetry
                    .record_gauge(name, value, Some(self.plugin.clone()));
            }
        }
    }
}

/// Starts the `message.publish` span (seed 000 §6.2; `message.topic`, `message.id`, child
/// of the current span), puts its context in `message.trace_context`, and counts
/// `message.published`. End the returned span when the publish is done. With telemetry
/// off (no span), the message's trace context is left as it was.
pub fn publish(
    telemetry: &dyn Telemetry,
    topic: &str,
    message: &mut BaseMessage,
) -> Option<BoxedSpan> {
    let topic_attr = HashMap::from([(keys::MESSAGE_TOPIC.to_owned(), topic.to_owned())]);
    telemetry.record_counter(names::MESSAGES_PUBLISHED, 1, Some(topic_attr.clone()));
    let mut attrs = topic_attr;
    attrs.insert(keys::MESSAGE_ID.to_owned(), message.id.to_string());
    let span = telemetry.create_span(names::PUBLISH_SPAN, Some(attrs))?;
    if let Some(context) = telemetry.create_trace_context(&span) {
        message.trace_context = Some(context);
    }
    Some(span)
}
