//! The structured logger: levels, typed fields, persistent context fields, correlation ids
//! and the current trace attached to every record, fed to sinks without blocking.

use super::filter::LogFilter;
use super::processor::LogProcessor;
use super::sink::{LogSink, SinkQueue};
use super::{LogRecord, Severity};
use crate::common::attribute::{Array, KeyValue, Value};
use crate::common::error::ExportError;
use crate::common::resource::Resource;
use crate::common::scope::InstrumentationScope;
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Records each sink's queue holds before new records are dropped (001's
/// `max_queue_size`).
pub const DEFAULT_QUEUE_SIZE: usize = 2048;

/// A request's correlation id (001's `CorrelationId`): a UUID carried on every record the
/// request logs, as the `correlation_id` field.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct CorrelationId(uuid::Uuid);

impl CorrelationId {
    /// A random (version 4) id.
    pub fn new_v4() -> Self {
        CorrelationId(uuid::Uuid::new_v4())
    }

    /// Parses the hyphenated (or simple) UUID form.
    pub fn parse(s: &str) -> Result<Self, uuid::Error> {
        uuid::Uuid::parse_str(s).map(CorrelationId)
    }

    /// The UUID.
    pub fn as_uuid(&self) -> &uuid::Uuid {
        &self.0
    }
}

impl From<uuid::Uuid> for CorrelationId {
    fn from(u: uuid::Uuid) -> Self {
        CorrelationId(u)
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

impl std::str::FromStr for CorrelationId {
    type Err = uuid::Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CorrelationId::parse(s)
    }
}

impl From<CorrelationId> for Value {
    fn from(id: CorrelationId) -> Self {
        Value::String(Cow::Owned(id.to_string()))
    }
}

/// Fields given to one log call: `()`, a `Vec` or array of [`KeyValue`]s, or the seed's
/// `HashMap<String, serde_json::Value>`.
pub trait IntoFields {
    /// Appends the fields to `out`.
    fn into_fields(self, out: &mut Vec<KeyValue>);
}

/// Fields written by a closure, straight into the record: what the `log_*!` macros
/// pass. Not part of the API.
#[doc(hidden)]
pub struct __FieldsWith<F>(pub F);

impl<F: FnOnce(&mut Vec<KeyValue>)> IntoFields for __FieldsWith<F> {
    #[inline]
    fn into_fields(self, out: &mut Vec<KeyValue>) {
        (self.0)(out);
    }
}

impl IntoFields for () {
    fn into_fields(self, _: &mut Vec<KeyValue>) {}
}

impl IntoFields for Vec<KeyValue> {
    fn into_fields(self, out: &mut Vec<KeyValue>) {
        // Take the vector over only when `out` could not hold the fields anyway: a
        // recycled record's vector already has room.
        if out.is_empty() && out.capacity() < self.len() {
            *out = self;
        } else {
            out.extend(self);
        }
    }
}

impl<const N: usize> IntoFields for [KeyValue; N] {
    fn into_fields(self, out: &mut Vec<KeyValue>) {
        out.extend(self);
    }
}

impl IntoFields for &[KeyValue] {
    fn into_fields(self, out: &mut Vec<KeyValue>) {
        out.extend_from_slice(self);
    }
}

impl<K: Into<String>> IntoFields for HashMap<K, serde_json::Value> {
    fn into_fields(self, out: &mut Vec<KeyValue>) {
        let mut fields: Vec<KeyValue> = self
            .into_iter()
            .map(|(k, v)| KeyValue::new(k.into(), json_to_value(v)))
            .collect();
        // A map has no order; sort so output is stable.
        fields.sort_by(|a, b| a.key.cmp(&b.key));
        out.extend(fields);
    }
}

impl<K: Into<String>> IntoFields for HashMap<K, String> {
    fn into_fields(self, out: &mut Vec<KeyValue>) {
        let mut fields: Vec<KeyValue> = self
            .into_iter()
            .map(|(k, v)| KeyValue::new(k.into(), v))
            .collect();
        fields.sort_by(|a, b| a.key.cmp(&b.key));
        out.extend(fields);
    }
}

/// A JSON value as a typed attribute value: numbers stay numbers, homogeneous arrays stay
/// arrays, objects and mixed arrays become their JSON text.
pub fn json_to_value(v: serde_json::Value) -> Value {
    use serde_json::Value as J;
    match v {
        J::Bool(b) => Value::Bool(b),
        J::Number(n) => match n.as_i64() {
            Some(i) => Value::I64(i),
            None => Value::F64(n.as_f64().unwrap_or(f64::NAN)),
        },
        J::String(s) => Value::String(Cow::Owned(s)),
        J::Null => Value::String(Cow::Borrowed("null")),
        J::Array(items) => {
            if items.iter().all(J::is_string) {
                Value::Array(Array::String(
                    items
                        .into_iter()
                        .filter_map(|i| match i {
                            J::String(s) => Some(Cow::Owned(s)),
                            _ => None,
                        })
                        .collect(),
                ))
            } else if items.iter().all(J::is_i64) {
                Value::Array(Array::I64(items.iter().filter_map(J::as_i64).collect()))
            } else if items.iter().all(J::is_number) {
                Value::Array(Array::F64(items.iter().filter_map(J::as_f64).collect()))
            } else if items.iter().all(J::is_boolean) {
                Value::Array(Array::Bool(items.iter().filter_map(J::as_bool).collect()))
            } else {
                Value::String(Cow::Owned(J::Array(items).to_string()))
            }
        }
        obj @ J::Object(_) => Value::String(Cow::Owned(obj.to_string())),
    }
}

impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Self {
        json_to_value(v)
    }
}

struct SinkHandle {
    queue: Arc<SinkQueue>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

struct Shared {
    resource: Resource,
    filter: LogFilter,
    sinks: Vec<SinkHandle>,
    shut_down: std::sync::atomic::AtomicBool,
}

impl Shared {
    fn emit(&self, record: LogRecord) {
        self.emit_shared(Arc::new(record));
    }

    fn emit_shared(&self, record: Arc<LogRecord>) {
        // The last sink takes the caller's handle: with one sink (the usual case) no
        // reference count is touched here, so the sink thread's `Arc::get_mut` is the
        // only write to it.
        if let Some((last, others)) = self.sinks.split_last() {
            for sink in others {
                sink.queue.push(Arc::clone(&record));
            }
            last.queue.push(record);
        }
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        use std::sync::atomic::Ordering;
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let deadline = Instant::now() + timeout;
        let mut result = Ok(());
        for sink in &self.sinks {
            if let Err(e) = sink.queue.shutdown(deadline, timeout) {
                result = Err(e);
                continue;
            }
            let handle = sink.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(handle) = handle {
                // The thread has stopped; joining only reclaims it.
                if handle.thread().id() != std::thread::current().id() {
                    let _ = handle.join();
                }
            }
        }
        result
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let _ = self.shutdown(Duration::from_secs(5));
    }
}

/// Owns the log pipeline: the level filter, the processors and the sinks, each behind
/// its own bounded queue and thread. Cheap to clone; dropping the last clone flushes.
///
/// ```
/// use loupe::logs::{ConsoleSink, LogFormat, LoggerProvider, Redact};
/// use std::time::Duration;
///
/// let provider = LoggerProvider::builder()
///     .with_filter("info,my_app::db=debug".parse()?)
///     .with_processor(Redact::default())
///     .with_sink(ConsoleSink::stdout(LogFormat::Json))
///     .build()?;
/// let logger = provider.logger("my_app");
/// loupe::log_info!(logger, "user signed in", user_id: 42, password: "hunter2");
/// provider.shutdown(Duration::from_secs(5))?; // prints `"password":"[REDACTED]"`
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct LoggerProvider {
    shared: Arc<Shared>,
}

impl fmt::Debug for LoggerProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggerProvider")
            .field("filter", &self.shared.filter)
            .field(
                "sinks",
                &self
                    .shared
                    .sinks
                    .iter()
                    .map(|s| s.queue.stats.exporter)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Builds a [`LoggerProvider`].
pub struct LoggerProviderBuilder {
    resource: Resource,
    filter: LogFilter,
    processors: Vec<Box<dyn LogProcessor>>,
    sinks: Vec<Box<dyn LogSink>>,
    queue_size: usize,
}

impl fmt::Debug for LoggerProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoggerProviderBuilder")
            .field("filter", &self.filter)
            .field("processors", &self.processors.len())
            .field(
                "sinks",
                &self.sinks.iter().map(|s| s.name()).collect::<Vec<_>>(),
            )
            .field("queue_size", &self.queue_size)
            .finish()
    }
}

impl LoggerProviderBuilder {
    /// The resource sinks that export (OTLP, Elasticsearch) attach.
    #[must_use]
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = resource;
        self
    }

    /// Which targets and levels pass (default `info`).
    #[must_use]
    pub fn with_filter(mut self, filter: LogFilter) -> Self {
        self.filter = filter;
        self
    }

    /// Adds a processor; processors run in order on each sink's thread.
    #[must_use]
    pub fn with_processor(mut self, processor: impl LogProcessor) -> Self {
        self.processors.push(Box::new(processor));
        self
    }

    /// Adds a sink.
    #[must_use]
    pub fn with_sink(mut self, sink: impl LogSink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }

    /// Adds a boxed sink.
    #[must_use]
    pub fn with_boxed_sink(mut self, sink: Box<dyn LogSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// Records each sink's queue holds before new ones are dropped (default 2048). A sink
    /// holds at most twice this: a full queue plus the batch it is working through.
    /// Finished records are kept for reuse, up to the largest queue size of any provider
    /// (at most 65,536), so logging in bursts does not allocate per record.
    #[must_use]
    pub fn with_queue_size(mut self, n: usize) -> Self {
        self.queue_size = n.max(1);
        self
    }

    /// Starts one thread per sink.
    pub fn build(self) -> Result<LoggerProvider, ExportError> {
        let processors: Arc<[Box<dyn LogProcessor>]> = self.processors.into();
        super::pool::allow(self.queue_size);
        let mut sinks = Vec::with_capacity(self.sinks.len());
        for sink in self.sinks {
            let (queue, thread) = SinkQueue::start(
                sink,
                self.queue_size,
                self.resource.clone(),
                Arc::clone(&processors),
            )
            .map_err(|e| ExportError::from_source("starting a log sink thread", e))?;
            sinks.push(SinkHandle {
                queue,
                thread: Mutex::new(Some(thread)),
            });
        }
        Ok(LoggerProvider {
            shared: Arc::new(Shared {
                resource: self.resource,
                filter: self.filter,
                sinks,
                shut_down: Default::default(),
            }),
        })
    }
}

impl LoggerProvider {
    /// A builder with the defaults: `info`, no processors, no sinks, queues of 2048.
    pub fn builder() -> LoggerProviderBuilder {
        LoggerProviderBuilder {
            resource: Resource::default(),
            filter: LogFilter::default(),
            processors: Vec::new(),
            sinks: Vec::new(),
            queue_size: DEFAULT_QUEUE_SIZE,
        }
    }

    /// A logger whose records carry `name` as their target (and scope).
    pub fn logger(&self, name: impl Into<Cow<'static, str>>) -> Logger {
        let scope = scope_for(name.into());
        Logger {
            threshold: self.shared.filter.threshold(&scope.name),
            shared: Some(Arc::clone(&self.shared)),
            scope,
            context: Arc::from([]),
        }
    }

    /// Whether both are handles to the same pipeline.
    pub fn ptr_eq(&self, other: &LoggerProvider) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The resource records are exported with.
    pub fn resource(&self) -> &Resource {
        &self.shared.resource
    }

    /// The level filter.
    pub fn filter(&self) -> &LogFilter {
        &self.shared.filter
    }

    /// Whether a record of `severity` from `target` would be kept.
    #[inline]
    pub fn enabled(&self, target: &str, severity: Severity) -> bool {
        self.shared.filter.enabled(target, severity)
    }

    /// Hands a finished record to the sinks if the filter keeps its target (its scope
    /// name) and severity; for bridges that build records themselves.
    pub fn emit(&self, record: LogRecord) {
        if self
            .shared
            .filter
            .enabled(&record.scope.name, severity_of(record.severity_number))
        {
            self.shared.emit(record);
        }
    }

    /// [`emit`](LoggerProvider::emit) for the bridges, with a record built in place: a
    /// recycled one when a sink gave one back. `fill` completes a record observed now
    /// with `severity` and `body`; the filter then applies as in `emit`.
    #[cfg(any(feature = "tracing", feature = "log"))]
    pub(crate) fn emit_filled(
        &self,
        severity: Severity,
        body: Value,
        fill: impl FnOnce(&mut LogRecord),
    ) {
        let record = super::pool::record(severity, body, fill);
        if self
            .shared
            .filter
            .enabled(&record.scope.name, severity_of(record.severity_number))
        {
            self.shared.emit_shared(record);
        }
    }

    /// Waits until every sink has delivered what was logged before the call.
    pub fn force_flush(&self, timeout: Duration) -> Result<(), ExportError> {
        let deadline = Instant::now() + timeout;
        let mut result = Ok(());
        for sink in &self.shared.sinks {
            if let Err(e) = sink.queue.flush(deadline, timeout) {
                result = Err(e);
            }
        }
        result
    }

    /// Flushes and stops every sink; later records are dropped and counted.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        self.shared.shutdown(timeout)
    }
}

/// The severity level a severity number falls in.
pub(crate) fn severity_of(number: u8) -> Severity {
    match number {
        0..=4 => Severity::Trace,
        5..=8 => Severity::Debug,
        9..=12 => Severity::Info,
        13..=16 => Severity::Warn,
        17..=20 => Severity::Error,
        _ => Severity::Fatal,
    }
}

/// Interned scopes: one per logger name, shared by every record from it.
fn scope_for(name: Cow<'static, str>) -> &'static InstrumentationScope {
    static SCOPES: RwLock<Option<HashMap<String, &'static InstrumentationScope>>> =
        RwLock::new(None);
    if let Some(scope) = SCOPES
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|m| m.get(name.as_ref()))
    {
        return scope;
    }
    let mut scopes = SCOPES.write().unwrap_or_else(|p| p.into_inner());
    let scopes = scopes.get_or_insert_with(HashMap::new);
    if let Some(scope) = scopes.get(name.as_ref()) {
        return scope;
    }
    let scope = InstrumentationScope::new(name.as_ref()).intern();
    // Bounded so that names built at run time cannot leak without limit.
    if scopes.len() < 4096 {
        scopes.insert(name.into_owned(), scope);
    }
    scope
}

/// The interned scope of a target, cached per thread (the bridges look one up per
/// record). Targets are usually `module_path!()` — static, so their address identifies
/// them — but may be any string, so a hit is confirmed by name.
#[cfg(any(feature = "tracing", feature = "log"))]
pub(crate) fn interned_scope(target: &str) -> &'static InstrumentationScope {
    let key = (target.as_ptr() as usize, target.len());
    let cached = TARGET_SCOPES
        .try_with(|cell| cell.try_borrow().ok()?.get(&key).copied())
        .ok()
        .flatten()
        .filter(|scope| scope.name == target);
    if let Some(scope) = cached {
        return scope;
    }
    let scope = scope_for(Cow::Owned(target.to_owned()));
    let _ = TARGET_SCOPES.try_with(|cell| {
        if let Ok(mut map) = cell.try_borrow_mut() {
            if map.len() >= 4096 {
                map.clear();
            }
            map.insert(key, scope);
        }
    });
    scope
}

thread_local! {
    static TARGET_SCOPES: RefCell<FxHashMap<(usize, usize), &'static InstrumentationScope>> =
        RefCell::new(FxHashMap::default());
}

/// Emits log records for one target (001's `StructuredLogger`). Cheap to clone; a logger
/// with context fields or a correlation id is a new value, the original is unchanged.
///
/// Every record carries the logger's context fields, its correlation id and — when it is
/// emitted inside a span — the span's trace id and span id.
#[derive(Clone)]
pub struct Logger {
    shared: Option<Arc<Shared>>,
    scope: &'static InstrumentationScope,
    threshold: u8,
    context: Arc<[KeyValue]>,
}

/// 001's name for [`Logger`].
pub type StructuredLogger = Logger;

impl fmt::Debug for Logger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Logger")
            .field("target", &self.scope.name)
            .field("context", &self.context)
            .finish()
    }
}

impl Logger {
    /// A logger that drops everything (what [`logger`](super::logger) returns before a
    /// provider is installed).
    pub fn noop(name: impl Into<Cow<'static, str>>) -> Logger {
        Logger {
            shared: None,
            scope: scope_for(name.into()),
            threshold: u8::MAX,
            context: Arc::from([]),
        }
    }

    /// The target records carry.
    pub fn target(&self) -> &str {
        &self.scope.name
    }

    /// A copy that adds `key = value` to every record (001's `with_context`).
    #[must_use]
    pub fn with_context(&self, key: impl Into<crate::Key>, value: impl Into<Value>) -> Logger {
        let key = key.into();
        let mut context: Vec<KeyValue> = self
            .context
            .iter()
            .filter(|kv| kv.key != key)
            .cloned()
            .collect();
        context.push(KeyValue {
            key,
            value: value.into(),
        });
        Logger {
            context: context.into(),
            ..self.clone()
        }
    }

    /// A copy whose records carry `correlation_id` (001's `with_correlation_id`).
    #[must_use]
    pub fn with_correlation_id(&self, id: CorrelationId) -> Logger {
        self.with_context("correlation_id", id)
    }

    /// Whether records of `severity` from this logger are kept.
    #[inline]
    pub fn enabled(&self, severity: Severity) -> bool {
        severity as u8 >= self.threshold
    }

    /// Logs `message` with `fields`, if the level is enabled.
    #[inline]
    pub fn log(&self, severity: Severity, message: impl Into<Value>, fields: impl IntoFields) {
        if !self.enabled(severity) {
            return;
        }
        self.emit(severity, message.into(), fields);
    }

    fn emit(&self, severity: Severity, message: Value, fields: impl IntoFields) {
        let Some(shared) = &self.shared else { return };
        // Filled in place, in a record a sink thread gave back when there is one.
        let record = super::pool::record(severity, message, |record| {
            record.scope = self.scope;
            record.set_current_trace_context();
            fields.into_fields(&mut record.attributes);
            if !self.context.is_empty() {
                record.attributes.extend(self.context.iter().cloned());
            }
        });
        shared.emit_shared(record);
    }

    /// Logs at TRACE.
    pub fn trace(&self, message: impl Into<Value>, fields: impl IntoFields) {
        self.log(Severity::Trace, message, fields);
    }

    /// Logs at DEBUG.
    pub fn debug(&self, message: impl Into<Value>, fields: impl IntoFields) {
        self.log(Severity::Debug, message, fields);
    }

    /// Logs at INFO.
    pub fn info(&self, message: impl Into<Value>, fields: impl IntoFields) {
        self.log(Severity::Info, message, fields);
    }

    /// Logs at WARN.
    pub fn warn(&self, message: impl Into<Value>, fields: impl IntoFields) {
        self.log(Severity::Warn, message, fields);
    }

    /// Logs at ERROR.
    pub fn error(&self, message: impl Into<Value>, fields: impl IntoFields) {
        self.log(Severity::Error, message, fields);
    }
}

static GLOBAL: RwLock<Option<LoggerProvider>> = RwLock::new(None);

/// Installs `provider` as the process-wide log pipeline that [`logger`] and the bridges
/// use, returning the previous one.
pub fn set_logger_provider(provider: LoggerProvider) -> Option<LoggerProvider> {
    GLOBAL
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .replace(provider)
}

/// The process-wide log pipeline, if one is installed.
pub fn logger_provider() -> Option<LoggerProvider> {
    GLOBAL.read().unwrap_or_else(|p| p.into_inner()).clone()
}

/// Removes the process-wide provider (it flushes when its last clone drops).
pub fn take_logger_provider() -> Option<LoggerProvider> {
    GLOBAL.write().unwrap_or_else(|p| p.into_inner()).take()
}

/// A logger from the process-wide provider, or one that drops everything when none is
/// installed. Call it once and keep the logger: the level check is then one comparison.
pub fn logger(name: impl Into<Cow<'static, str>>) -> Logger {
    match logger_provider() {
        Some(p) => p.logger(name),
        None => Logger::noop(name),
    }
}

/// Logs at a level with `key: value` fields: the engine of [`log_info!`](crate::log_info)
/// and its siblings. Fields are only evaluated when the level is enabled.
#[macro_export]
macro_rules! log_at {
    ($level:expr, $logger:expr, $msg:expr $(, $key:tt : $value:expr)* $(,)?) => {{
        let logger = &$logger;
        let level = $level;
        if logger.enabled(level) {
            // The fields are built straight into the record's own (usually recycled)
            // vector: no allocation and no copy of their own.
            logger.log(
                level,
                $msg,
                $crate::logs::__FieldsWith(|fields: &mut ::std::vec::Vec<$crate::KeyValue>| {
                    fields.reserve(0 $(+ $crate::__loupe_one!($key))*);
                    $($crate::common::attribute::__push_attribute(fields, $crate::__loupe_field_key!($key), $value);)*
                }),
            );
        }
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __loupe_one {
    ($key:tt) => {
        1
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __loupe_field_key {
    ($key:ident) => {
        stringify!($key)
    };
    ($key:literal) => {
        $key
    };
}

/// Logs at TRACE: `log_trace!(logger, "message", key: value, "dotted.key": value)`.
#[macro_export]
macro_rules! log_trace {
    ($logger:expr, $($rest:tt)*) => { $crate::log_at!($crate::logs::Severity::Trace, $logger, $($rest)*) };
}

/// Logs at DEBUG: `log_debug!(logger, "message", key: value, "dotted.key": value)`.
#[macro_export]
macro_rules! log_debug {
    ($logger:expr, $($rest:tt)*) => { $crate::log_at!($crate::logs::Severity::Debug, $logger, $($rest)*) };
}

/// Logs at INFO (001's `log_info!`):
/// `log_info!(logger, "Request processed", request_id: "req-123", duration_ms: 150)`.
#[macro_export]
macro_rules! log_info {
    ($logger:expr, $($rest:tt)*) => { $crate::log_at!($crate::logs::Severity::Info, $logger, $($rest)*) };
}

/// Logs at WARN: `log_warn!(logger, "message", key: value, "dotted.key": value)`.
#[macro_export]
macro_rules! log_warn {
    ($logger:expr, $($rest:tt)*) => { $crate::log_at!($crate::logs::Severity::Warn, $logger, $($rest)*) };
}

/// Logs at ERROR (001's `log_error!`): `log_error!(logger, "Request failed", status: 500)`.
#[macro_export]
macro_rules! log_error {
    ($logger:expr, $($rest:tt)*) => { $crate::log_at!($crate::logs::Severity::Error, $logger, $($rest)*) };
}
