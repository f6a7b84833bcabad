//! The seed's message, outcomes and errors (000 §5.2, §5.4, §6.1).

use crate::facade::TraceContext;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};
use uuid::Uuid;

/// A message on the bus (000 §6.1): the payload plus what tracing and latency analysis need.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BaseMessage {
    /// Unique id, recorded as `message.id`.
    pub id: Uuid,
    /// When the message was created: the start of the end-to-end latency.
    pub timestamp: SystemTime,
    /// Who created it.
    pub source: String,
    /// The payload.
    pub data: serde_json::Value,
    /// The publisher span, so consumers continue its trace.
    pub trace_context: Option<TraceContext>,
    /// When the message entered a queue (the seed's `queued_at` metadata).
    pub queued_at: Option<SystemTime>,
    /// When it left the queue (`dequeued_at`); if unset, the start of processing is used.
    pub dequeued_at: Option<SystemTime>,
    /// When the pipeline started processing it (`processing_started`).
    pub processing_started: Option<SystemTime>,
}

impl BaseMessage {
    /// A message with a new id, timestamped now, with no trace context or timings.
    pub fn new(source: impl Into<String>, data: serde_json::Value) -> Self {
        BaseMessage {
            id: Uuid::new_v4(),
            timestamp: SystemTime::now(),
            source: source.into(),
            data,
            trace_context: None,
            queued_at: None,
            dequeued_at: None,
            processing_started: None,
        }
    }

    /// The message with this trace context.
    #[must_use]
    pub fn with_trace_context(mut self, context: Option<TraceContext>) -> Self {
        self.trace_context = context;
        self
    }
}

/// What a plugin did with a message (000 §5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProcessingStatus {
    /// Handled: `acknowledged`.
    Acknowledged,
    /// Skipped for now, to be retried after the delay: `retry_later`.
    RetryLater(Duration),
    /// Rejected, with the reason: `failed`. The span's status is set to error.
    Failed(String),
    /// Handled and passed on to the topic: `forward`.
    Forward(String),
}

impl ProcessingStatus {
    /// The `status` attribute: `acknowledged`, `retry_later`, `failed` or `forward`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ProcessingStatus::Acknowledged => "acknowledged",
            ProcessingStatus::RetryLater(_) => "retry_later",
            ProcessingStatus::Failed(_) => "failed",
            ProcessingStatus::Forward(_) => "forward",
        }
    }
}

/// `status` recorded when processing returns an error (a Loupe addition, so that every
/// received message is counted under one status).
pub const ERROR_STATUS: &str = "error";

/// A plugin failure, classified as the seed's `error.type` (000 §5.4).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PluginError {
    /// The plugin could not start.
    #[error("initialization failed: {0}")]
    Initialization(String),
    /// A message could not be processed.
    #[error("processing failed: {0}")]
    Processing(String),
    /// The plugin could not stop cleanly.
    #[error("shutdown failed: {0}")]
    Shutdown(String),
    /// The plugin's configuration is invalid; fix it and restart the plugin.
    #[error("invalid configuration: {0}")]
    Configuration(String),
    /// A pool, queue or quota ran out; retry later or raise the limit.
    #[error("resource exhausted: {0}")]
    ResourceExhausted(String),
    /// A service the plugin depends on failed.
    #[error("external service failed: {0}")]
    ExternalService(String),
    /// An operation took too long.
    #[error("timed out: {0}")]
    Timeout(String),
    /// Something the plugin looked up does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The message or argument is malformed.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Anything else: `error.type` is `unknown`.
    #[error("{0}")]
    Other(String),
}

impl PluginError {
    /// The `error.type` attribute: `initialization`, `processing`, `shutdown`,
    /// `configuration`, `resource_exhausted`, `external_service`, `timeout`, `not_found`,
    /// `invalid_input` or `unknown`.
    pub fn error_type(&self) -> &'static str {
        match self {
            PluginError::Initialization(_) => "initialization",
            PluginError::Processing(_) => "processing",
            PluginError::Shutdown(_) => "shutdown",
            PluginError::Configuration(_) => "configuration",
            PluginError::ResourceExhausted(_) => "resource_exhausted",
            PluginError::ExternalService(_) => "external_service",
            PluginError::Timeout(_) => "timeout",
            PluginError::NotFound(_) => "not_found",
            PluginError::InvalidInput(_) => "invalid_input",
            PluginError::Other(_) => "unknown",
        }
    }
}

/// A plugin lifecycle event (000 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LifecycleEvent {
    /// Start-up.
    Init,
    /// Stop.
    Shutdown,
    /// Temporary stop.
    Pause,
    /// Restart after a pause.
    Resume,
}

impl LifecycleEvent {
    /// The `event` attribute: `init`, `shutdown`, `pause` or `resume`.
    pub fn as_str(self) -> &'static str {
        match self {
            LifecycleEvent::Init => "init",
            LifecycleEvent::Shutdown => "shutdown",
            LifecycleEvent::Pause => "pause",
            LifecycleEvent::Resume => "resume",
        }
    }

    /// The span name: `plugin.init`, `plugin.shutdown`, `plugin.pause` or `plugin.resume`.
    pub fn span_name(self) -> &'static str {
        match self {
            LifecycleEvent::Init => "plugin.init",
            LifecycleEvent::Shutdown => "plugin.shutdown",
            LifecycleEvent::Pause => "plugin.pause",
            LifecycleEvent::Resume => "plugin.resume",
        }
    }
}

/// A plugin's resource use (000 §5.3). Unset fields are not recorded.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ResourceUsage {
    /// Resident memory, bytes: `plugin.memory_usage_bytes`.
    pub memory_bytes: Option<u64>,
    /// CPU use, percent: `plugin.cpu_usage_percent`.
    pub cpu_percent: Option<f64>,
    /// Worker threads: `plugin.thread_count`.
    pub thread_count: Option<usize>,
    /// Messages waiting: `plugin.queue_depth`.
    pub queue_depth: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_seed() {
        assert_eq!(PluginError::Other("x".into()).error_type(), "unknown");
        assert_eq!(
            PluginError::ResourceExhausted("pool".into()).error_type(),
            "resource_exhausted"
        );
        assert_eq!(
            ProcessingStatus::RetryLater(Duration::from_secs(1)).as_str(),
            "retry_later"
        );
        assert_eq!(LifecycleEvent::Pause.span_name(), "plugin.pause");
        assert_eq!(
            PluginError::Timeout("db".into()).to_string(),
            "timed out: db"
        );
    }
}
