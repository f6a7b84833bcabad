//! Structured logging: a logger with levels, typed fields, context fields and correlation
//! ids; records in the OpenTelemetry data model tied to the current trace; JSON, pretty and
//! logfmt output; `RUST_LOG`-style filtering; processors (add fields, exclude, redact); and
//! sinks (console, rotating files, OTLP, Elasticsearch), each behind a bounded queue so a
//! slow sink never blocks the code that logs.
//!
//! ```
//! use loupe::logs::{ConsoleSink, CorrelationId, LogFormat, LoggerProvider};
//! use loupe::log_info;
//!
//! let provider = LoggerProvider::builder()
//!     .with_sink(ConsoleSink::stdout(LogFormat::Json))
//!     .build()?;
//! let logger = provider
//!     .logger("llm_simulator::api")
//!     .with_context("service", "llm-simulator")
//!     .with_correlation_id(CorrelationId::new_v4());
//! log_info!(logger, "Request processed", request_id: "req-123", duration_ms: 150, status: "success");
//! provider.force_flush(std::time::Duration::from_secs(1))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A [`LogRecord`] carries a timestamp, a severity (OpenTelemetry's severity numbers, with
//! the text), a typed body, attributes and the trace context it was emitted in; a
//! [`LogExporter`] sends batches of them (the OTLP exporter is
//! `loupe::export::otlp::OtlpConfig::log_exporter`; [`ExporterSink`] feeds one).
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

#[cfg(feature = "http-export")]
mod elasticsearch;
mod file;
mod filter;
mod format;
mod json_line;
mod logger;
mod pool;
mod processor;
mod sink;

#[cfg(feature = "http-export")]
pub use elasticsearch::{ElasticsearchSink, ElasticsearchSinkBuilder};
pub use file::{FileSink, FileSinkBuilder, FileSinkError, RotationPolicy};
pub use filter::LogFilter;
pub use format::LogFormat;
#[doc(hidden)]
pub use logger::__FieldsWith;
#[cfg(any(feature = "tracing", feature = "log"))]
pub(crate) use logger::interned_scope;
pub use logger::{
    json_to_value, logger, logger_provider, set_logger_provider, take_logger_provider,
    CorrelationId, IntoFields, Logger, LoggerProvider, LoggerProviderBuilder, StructuredLogger,
    DEFAULT_QUEUE_SIZE,
};
pub use processor::{
    AddFields, ExcludeByField, LogProcessor, Redact, DEFAULT_SECRET_KEYS, REDACTED,
};
pub use sink::{ConsoleSink, ExporterSink, InMemoryLogSink, LogSink, SinkContext};

use crate::common::attribute::{KeyValue, Value};
use crate::common::error::ExportError;
use crate::common::resource::Resource;
use crate::common::scope::InstrumentationScope;
use crate::trace::{Context, SpanId, TraceFlags, TraceId};
use std::borrow::Cow;
use std::time::{Duration, SystemTime};

/// The level of a log record: [`Severity`] under the name logging libraries use.
pub type Level = Severity;

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
        let now = crate::common::clock::now();
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

    /// Makes a recycled record (see `pool`) a new record observed now, as
    /// [`new`](LogRecord::new) would; the field vector is kept as it is.
    fn refill(&mut self, severity: Severity, body: Value) {
        // Field by field: building a record and assigning it would copy a struct just
        // written, which stalls on store forwarding.
        let now = crate::common::clock::now();
        self.timestamp = Some(now);
        self.observed_timestamp = now;
        self.severity_number = severity as u8;
        self.severity_text = Cow::Borrowed(severity.as_str());
        self.body = Some(body);
        self.trace_id = TraceId::INVALID;
        self.span_id = SpanId::INVALID;
        self.trace_flags = TraceFlags::NONE;
        self.event_name = None;
        self.scope = default_scope();
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
        self.set_current_trace_context();
        self
    }

    pub(crate) fn set_current_trace_context(&mut self) {
        if let Some((trace_id, span_id, flags)) = Context::current_ids() {
            self.trace_id = trace_id;
            self.span_id = span_id;
            self.trace_flags = flags;
        }
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
