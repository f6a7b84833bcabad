//! The span, metric and attribute names of seed 000 §5–6, in one place.

/// Span of a lifecycle event is `plugin.{event}`: `plugin.init`, `plugin.shutdown`,
/// `plugin.pause`, `plugin.resume`.
pub const SPAN_PREFIX: &str = "plugin.";
/// Span of one message handled by one plugin.
pub const PROCESS_MESSAGE_SPAN: &str = "plugin.process_message";
/// Span recorded by [`report_error`](super::PluginTelemetry::report_error).
pub const ERROR_SPAN: &str = "plugin.error";
/// Span of a publish, the parent of every plugin span the message causes.
pub const PUBLISH_SPAN: &str = "message.publish";

/// Counter: every lifecycle event started (`event` = `init`, `shutdown`, `pause`, `resume`).
pub const LIFECYCLE_EVENTS: &str = "plugin.lifecycle.events";
/// Counter: lifecycle events that succeeded.
pub const LIFECYCLE_SUCCESS: &str = "plugin.lifecycle.success";
/// Counter: lifecycle events that failed (with `error` and `error.type`).
pub const LIFECYCLE_ERRORS: &str = "plugin.lifecycle.errors";
/// Counter: messages handed to a plugin.
pub const MESSAGES_RECEIVED: &str = "plugin.messages.received";
/// Counter: messages by outcome (`status`, see
/// [`ProcessingStatus::as_str`](super::ProcessingStatus::as_str)).
pub const MESSAGE_STATUS: &str = "plugin.message.status";
/// Counter: errors, with `error` and `error.type`.
pub const ERRORS: &str = "plugin.errors";
/// Counter: messages published (a Loupe addition: the seed names none).
pub const MESSAGES_PUBLISHED: &str = "message.published";

/// Histogram: time one plugin spent on one message, milliseconds.
pub const PROCESSING_TIME_MS: &str = "plugin.message.processing_time_ms";
/// Histogram (§6.4): from the message timestamp to the end of processing, milliseconds.
pub const END_TO_END_LATENCY_MS: &str = "message.end_to_end_latency_ms";
/// Histogram (§6.4): from `processing_started` to the end of processing, milliseconds.
pub const PROCESSING_LATENCY_MS: &str = "message.processing_latency_ms";
/// Histogram (§6.4): from `queued_at` to `dequeued_at`, milliseconds.
pub const QUEUE_LATENCY_MS: &str = "message.queue_latency_ms";

/// Gauge: resident memory, bytes.
pub const MEMORY_USAGE_BYTES: &str = "plugin.memory_usage_bytes";
/// Gauge: CPU use, percent.
pub const CPU_USAGE_PERCENT: &str = "plugin.cpu_usage_percent";
/// Gauge: worker threads.
pub const THREAD_COUNT: &str = "plugin.thread_count";
/// Gauge: messages waiting.
pub const QUEUE_DEPTH: &str = "plugin.queue_depth";

/// Attribute: the lifecycle event.
pub const EVENT: &str = "event";
/// Attribute: the processing outcome.
pub const STATUS: &str = "status";
