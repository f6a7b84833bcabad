//! Log records in the OpenTelemetry data model, and the exporter trait that ships them.
//!
//! This is the foundation the structured logger builds on: a [`LogRecord`] carries a
//! timestamp, a severity (OpenTelemetry's severity numbers, with the text), a typed body,
//! attributes and the trace context it was emitted in; a [`LogExporter`] sends batches of
//! them (the OTLP exporter is `loupe::export::otlp::OtlpConfig::log_exporter`).
//!
//! ```
//! use loupe::logs::{LogRecord, Severity};
//! use loupe::KeyValue;
//!
//! let record = LogRecord::new(Severity::Warn, "queue almost full")
//!     .with_attribute(KeyValue::new("queue.depth", 980i64))
//!     .with_current_trace_context();
//! assert_eq!(record.severity_text, "WARN");
//! ```

use crate::common::attribute::{KeyValue, Value};
use crate::common::error::ExportError;
use crate::common::resource::Resource;
use crate::common::scope::InstrumentationScope;
use crate::trace::{Context, SpanId, TraceFlags, TraceId};
use std::borrow::Cow;
use std::time::{Duration, SystemTime};

/// OpenTelemetry's severity, by its canonical number (`SeverityNumber`): each level starts
/// a range of four (`Info` = 9, `Info2`..`Info4` = 10..12 are expressed with
/// [`LogRecord::severity_number`] directly).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// 1: fine-grained debugging.
    Trace = 1,
    /// 5: debugging.
    Debug = 5,
    /// 9: informational.
    Info = 9,
    /// 13: a warning.
    Warn = 13,
    /// 17: an error.
    Error = 17,
    /// 21: a fatal error.
    Fatal = 21,
}

impl Severity {
    /// `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Trace => "TRACE",
            Severity::Debug => "DEBUG",
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Error => "ERROR",
            Severity::Fatal => "FATAL",
        }
    }
}

/// One log record.
#[derive(Clone, Debug, PartialEq)]
pub struct LogRecord {
    /// When the event happened, if the source knows.
    pub timestamp: Option<SystemTime>,
    /// When Loupe saw the record.
    pub observed_timestamp: SystemTime,
    /// The severity number, 1–24 (0 = unspecified).
    pub severity_number: u8,
    /// The severity as the source wrote it.
    pub severity_text: Cow<'static, str>,
    /// The message, or a structured body.
    pub body: Option<Value>,
    /// Typed fields.
    pub attributes: Vec<KeyValue>,
    /// The trace the record was emitted in (invalid when none).
    pub trace_id: TraceId,
    /// The span the record was emitted in (invalid when none).
    pub span_id: SpanId,
    /// The trace flags of that span.
    pub trace_flags: TraceFlags,
    /// The event name, for records that are events.
    pub event_name: Option<Cow<'static, str>>,
    /// The instrumentation scope (the logger's name).
    pub scope: &'static InstrumentationScope,
}

impl LogRecord {
    /// A record observed now, with a severity and a message body, in the `loupe` scope.
    pub fn new(severity: Severity, body: impl Into<Value>) -> Self {
        let now = SystemTime::now();
        LogRecord {
            timestamp: Some(now),
            observed_timestamp: now,
            severity_number: severity as u8,
            severity_text: Cow::Borrowed(severity.as_str()),
            body: Some(body.into()),
            attributes: Vec::new(),
            trace_id: TraceId::INVALID,
            span_id: SpanId::INVALID,
            trace_flags: TraceFlags::NONE,
            event_name: None,
            scope: default_scope(),
        }
    }

    /// Adds an attribute.
    pub fn with_attribute(mut self, kv: KeyValue) -> Self {
        self.attributes.push(kv);
        self
    }

    /// Sets the instrumentation scope (the logger name).
    pub fn with_scope(mut self, scope: &'static InstrumentationScope) -> Self {
        self.scope = scope;
        self
    }

    /// Ties the record to the current span, if there is one.
    pub fn with_current_trace_context(mut self) -> Self {
        Context::map_current(|cx| {
            if let Some(sc) = cx.span_context().filter(|sc| sc.is_valid()) {
                self.trace_id = sc.trace_id();
                self.span_id = sc.span_id();
                self.trace_flags = sc.trace_flags();
            }
        });
        self
    }
}

fn default_scope() -> &'static InstrumentationScope {
    static SCOPE: std::sync::OnceLock<&'static InstrumentationScope> = std::sync::OnceLock::new();
    SCOPE.get_or_init(|| InstrumentationScope::new("loupe").intern())
}

/// One batch of log records and what an exporter needs to send them.
#[derive(Debug, Clone, Copy)]
pub struct LogBatch<'a> {
    /// The resource of the records.
    pub resource: &'a Resource,
    /// The records.
    pub records: &'a [LogRecord],
    /// How long the export may take.
    pub timeout: Duration,
}

/// Sends log records somewhere. Like span exporters, log exporters run on the SDK's own
/// threads and may block.
pub trait LogExporter: Send + Sync + 'static {
    /// Exports one batch.
    fn export(&self, batch: LogBatch<'_>) -> Result<(), ExportError>;

    /// Delivers anything the exporter buffers itself.
    fn force_flush(&self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Releases resources; no export follows.
    fn shutdown(&self) -> Result<(), ExportError> {
        Ok(())
    }
}
