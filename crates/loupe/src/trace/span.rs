//! Spans: the recording handle ([`Span`]) and the finished record exporters see ([`SpanData`]).

use super::context::{Context, ContextGuard};
use super::ids::SpanContext;
use super::limits::SpanLimits;
use super::tracer::{with_provider, Parent, ProviderId};
use crate::common::attribute::{Key, KeyValue, Value};
use crate::common::scope::InstrumentationScope;
use std::borrow::Cow;
use std::time::SystemTime;

/// The role of a span in a trace, as OTLP defines it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SpanKind {
    /// An operation inside the application (the default).
    #[default]
    Internal,
    /// The server side of a synchronous request.
    Server,
    /// The client side of a synchronous request.
    Client,
    /// The sender of an asynchronous message.
    Producer,
    /// The receiver of an asynchronous message.
    Consumer,
}

/// The outcome of a span's operation.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Status {
    /// Not set: the default; backends treat it as success.
    #[default]
    Unset,
    /// Explicitly successful. Once set, later status changes are ignored (OpenTelemetry rule).
    Ok,
    /// Failed, with a description.
    Error {
        /// What went wrong.
        description: Cow<'static, str>,
    },
}

impl Status {
    /// An error status with a description.
    pub fn error(description: impl Into<Cow<'static, str>>) -> Self {
        Status::Error {
            description: description.into(),
        }
    }
}

/// A timestamped event inside a span.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The event's name.
    pub name: Cow<'static, str>,
    /// When it happened.
    pub timestamp: SystemTime,
    /// Its attributes.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the per-event limit.
    pub dropped_attributes_count: u32,
}

/// A link from a span to another span, possibly in another trace.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// The linked span.
    pub span_context: SpanContext,
    /// Attributes describing the link.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the per-link limit.
    pub dropped_attributes_count: u32,
}

impl Link {
    /// A link with no attributes.
    pub fn new(span_context: SpanContext) -> Self {
        Link {
            span_context,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
        }
    }

    /// A link with attributes.
    pub fn with_attributes(span_context: SpanContext, attributes: Vec<KeyValue>) -> Self {
        Link {
            span_context,
            attributes,
            dropped_attributes_count: 0,
        }
    }
}

/// A finished (or, inside processors, in-flight) span: what exporters receive.
#[derive(Clone, Debug, PartialEq)]
pub struct SpanData {
    /// The span's own ids, flags and trace state.
    pub span_context: SpanContext,
    /// The parent's span id, or [`SpanId::INVALID`](super::SpanId::INVALID) for a root span.
    pub parent_span_id: super::ids::SpanId,
    /// Whether the parent came from another process.
    pub parent_is_remote: bool,
    /// The span's name.
    pub name: Cow<'static, str>,
    /// The span's kind.
    pub kind: SpanKind,
    /// When the span started.
    pub start_time: SystemTime,
    /// When the span ended (equal to `start_time` until it ends).
    pub end_time: SystemTime,
    /// The span's attributes, unique by key.
    pub attributes: Vec<KeyValue>,
    /// Attributes dropped by the span limits.
    pub dropped_attributes_count: u32,
    /// Events, in the order they were added.
    pub events: Vec<Event>,
    /// Events dropped by the span limits.
    pub dropped_events_count: u32,
    /// Links to other spans.
    pub links: Vec<Link>,
    /// Links dropped by the span limits.
    pub dropped_links_count: u32,
    /// The span's status.
    pub status: Status,
    /// The instrumentation scope of the tracer that created it.
    pub scope: &'static InstrumentationScope,
}

impl SpanData {
    /// Nothing: what a span leaves behind when a processor takes its data. Free to build
    /// and to drop.
    pub(crate) fn empty() -> SpanData {
        static NO_SCOPE: InstrumentationScope = InstrumentationScope {
            name: String::new(),
            version: None,
            schema_url: None,
            attributes: Vec::new(),
        };
        SpanData {
            span_context: SpanContext::INVALID,
            parent_span_id: super::ids::SpanId::INVALID,
            parent_is_remote: false,
            name: Cow::Borrowed(""),
            kind: SpanKind::Internal,
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Vec::new(),
            dropped_events_count: 0,
            links: Vec::new(),
            dropped_links_count: 0,
            status: Status::Unset,
            scope: &NO_SCOPE,
        }
    }

    /// Moves the data to `dst`, leaving `self` owning nothing: its name, attributes,
    /// events, links, status and trace state are emptied; the plain fields (ids, times,
    /// counts, kind) keep stale values. Cheaper than `mem::replace(self, empty())`, which
    /// the compiler builds partly on the stack and copies back with loads that cannot be
    /// forwarded from the stores just made (a quarter of a batch processor's hand-off).
    ///
    /// # Safety
    ///
    /// `dst` is valid for writing a `SpanData` and holds nothing that needs dropping (it
    /// is overwritten without being dropped).
    #[inline(always)]
    pub(crate) unsafe fn move_to(&mut self, dst: *mut SpanData) {
        use std::ptr::addr_of_mut;
        let me: *mut SpanData = self;
        // SAFETY: `dst` is writable (the caller's promise) and cannot overlap `self`,
        // which is borrowed mutably. After the copy, `dst` owns what `self` owned, so the
        // owning fields of `self` are overwritten without being dropped.
        unsafe {
            std::ptr::copy_nonoverlapping(me, dst, 1);
            addr_of_mut!((*me).span_context).write(SpanContext::INVALID);
            addr_of_mut!((*me).name).write(Cow::Borrowed(""));
            addr_of_mut!((*me).attributes).write(Vec::new());
            addr_of_mut!((*me).events).write(Vec::new());
            addr_of_mut!((*me).links).write(Vec::new());
            addr_of_mut!((*me).status).write(Status::Unset);
        }
    }

    /// The value of an attribute, if set.
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| &kv.value)
    }
}

/// Adds `kv` to `attrs` under the limits: replaces an existing key, drops empty keys and
/// attributes past the count limit (counting them), truncates long string values.
pub(crate) fn push_attribute(
    attrs: &mut Vec<KeyValue>,
    dropped: &mut u32,
    mut kv: KeyValue,
    max_count: usize,
    max_value_len: Option<usize>,
) {
    if kv.key.as_str().is_empty() {
        *dropped = dropped.saturating_add(1);
        crate::common::stats::sdk_stats().empty_keys.bump();
        return;
    }
    if let Some(max) = max_value_len {
        if kv.value.truncate(max) {
            crate::common::stats::sdk_stats().values_truncated.bump();
        }
    }
    if let Some(existing) = attrs.iter_mut().find(|e| e.key == kv.key) {
        existing.value = kv.value;
    } else if attrs.len() < max_count {
        attrs.push(kv);
    } else {
        *dropped = dropped.saturating_add(1);
    }
}

pub(crate) fn limited_attributes(
    input: Vec<KeyValue>,
    max_count: usize,
    max_value_len: Option<usize>,
) -> (Vec<KeyValue>, u32) {
    // The common case (few attributes, unique non-empty keys, no length limit) keeps the
    // caller's vector as it is: no copy, no allocation.
    let clean = input.len() <= max_count
        && max_value_len.is_none()
        && input.iter().enumerate().all(|(i, kv)| {
            !kv.key.as_str().is_empty() && input[..i].iter().all(|earlier| earlier.key != kv.key)
        });
    if clean {
        return (input, 0);
    }
    let input = input.into_iter();
    let mut attrs = Vec::with_capacity(input.size_hint().0.min(max_count));
    let mut dropped = 0;
    for kv in input {
        push_attribute(&mut attrs, &mut dropped, kv, max_count, max_value_len);
    }
    (attrs, dropped)
}

/// What a span records, from its builder's first call to its end: one heap block that
/// the builder fills, the span keeps, and ending hands back to the thread's pool (see
/// `trace/slot.rs`). Builders and spans are then a pointer and a context: moving them
/// along a chain of builder calls copies a few words, not a few hundred bytes.
pub(crate) struct Recording {
    pub(crate) data: SpanData,
    pub(crate) limits: SpanLimits,
    pub(crate) provider: ProviderId,
    /// The builder's choice of parent; taken when the span starts.
    pub(crate) parent: Parent,
    /// Whether the builder set `data.start_time` (otherwise the span starts now).
    pub(crate) start_time_given: bool,
}

/// A span being recorded. Ends when [`Span::end`] is called or when it is dropped.
///
/// Spans that were not sampled carry a valid [`SpanContext`] (so context still propagates)
/// but record nothing and cost no allocation.
pub struct Span {
    context: SpanContext,
    recording: Option<Box<Recording>>,
}

impl std::fmt::Debug for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Span")
            .field("context", &self.context)
            .field("recording", &self.recording.is_some())
            .finish()
    }
}

impl Span {
    pub(crate) fn new(context: SpanContext, recording: Option<Box<Recording>>) -> Self {
        Span { context, recording }
    }

    /// A span that records nothing, with the given context (useful to represent a remote
    /// parent, or in code paths with telemetry switched off).
    pub fn non_recording(context: SpanContext) -> Self {
        Span {
            context,
            recording: None,
        }
    }

    /// The span's context (ids, flags, trace state), for propagation and parenting.
    pub fn span_context(&self) -> &SpanContext {
        &self.context
    }

    /// Whether this span records attributes and events (it was sampled or recorded-only,
    /// and has not ended).
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Sets an attribute, replacing an earlier value for the same key.
    pub fn set_attribute(&mut self, key: impl Into<Key>, value: impl Into<Value>) {
        if let Some(rec) = &mut self.recording {
            let max = rec.limits.max_attributes_per_span as usize;
            let len = rec.limits.max_attribute_value_length;
            push_attribute(
                &mut rec.data.attributes,
                &mut rec.data.dropped_attributes_count,
                KeyValue::new(key, value),
                max,
                len,
            );
        }
    }

    /// Sets several attributes.
    pub fn set_attributes(&mut self, attributes: impl IntoIterator<Item = KeyValue>) {
        for kv in attributes {
            self.set_attribute(kv.key, kv.value);
        }
    }

    /// Adds an event stamped now.
    pub fn add_event(&mut self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        if self.recording.is_some() {
            self.add_event_with_timestamp(name, crate::common::clock::now(), attributes);
        }
    }

    /// Adds an event with an explicit timestamp.
    pub fn add_event_with_timestamp(
        &mut self,
        name: impl Into<Cow<'static, str>>,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) {
        let Some(rec) = &mut self.recording else {
            return;
        };
        if rec.data.events.len() >= rec.limits.max_events_per_span as usize {
            rec.data.dropped_events_count = rec.data.dropped_events_count.saturating_add(1);
            return;
        }
        let (attributes, dropped_attributes_count) = limited_attributes(
            attributes,
            rec.limits.max_attributes_per_event as usize,
            rec.limits.max_attribute_value_length,
        );
        rec.data.events.push(Event {
            name: name.into(),
            timestamp,
            attributes,
            dropped_attributes_count,
        });
    }

    /// Adds a link to another span after the start (prefer links on the builder: samplers
    /// only see those).
    pub fn add_link(&mut self, link: Link) {
        let Some(rec) = &mut self.recording else {
            return;
        };
        if rec.data.links.len() >= rec.limits.max_links_per_span as usize {
            rec.data.dropped_links_count = rec.data.dropped_links_count.saturating_add(1);
            return;
        }
        let (attributes, dropped) = limited_attributes(
            link.attributes,
            rec.limits.max_attributes_per_link as usize,
            rec.limits.max_attribute_value_length,
        );
        rec.data.links.push(Link {
            span_context: link.span_context,
            attributes,
            dropped_attributes_count: link.dropped_attributes_count + dropped,
        });
    }

    /// Records an error as the OpenTelemetry `exception` event (`exception.type`,
    /// `exception.message`). Does not change the status; see [`Span::record_error`].
    pub fn record_exception<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        self.record_exception_parts(short_type_name::<E>(), error.to_string());
    }

    /// Records an `exception` event from a type name and a message.
    pub fn record_exception_parts(
        &mut self,
        exception_type: impl Into<Value>,
        message: impl Into<Value>,
    ) {
        if self.recording.is_some() {
            self.add_event(
                "exception",
                vec![
                    KeyValue::new("exception.type", exception_type),
                    KeyValue::new("exception.message", message),
                ],
            );
        }
    }

    /// Records the `exception` event and sets the status to error with the error's message.
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        if self.recording.is_some() {
            let message = error.to_string();
            self.record_exception_parts(short_type_name::<E>(), message.clone());
            self.set_status(Status::error(message));
        }
    }

    /// Sets the status. `Unset` is ignored, and once `Ok` the status is final.
    pub fn set_status(&mut self, status: Status) {
        let Some(rec) = &mut self.recording else {
            return;
        };
        match (&rec.data.status, &status) {
            (_, Status::Unset) | (Status::Ok, _) => {}
            _ => rec.data.status = status,
        }
    }

    /// Renames the span.
    pub fn update_name(&mut self, name: impl Into<Cow<'static, str>>) {
        if let Some(rec) = &mut self.recording {
            rec.data.name = name.into();
        }
    }

    /// Ends the span now. Ending twice, or ending an unsampled span, does nothing.
    pub fn end(&mut self) {
        self.end_with_timestamp(crate::common::clock::now());
    }

    /// Ends the span at the given time.
    pub fn end_with_timestamp(&mut self, timestamp: SystemTime) {
        let Some(mut rec) = self.recording.take() else {
            return;
        };
        rec.data.end_time = timestamp.max(rec.data.start_time);
        // The data stays where it is until a processor moves it to where it keeps it:
        // `SpanData` is a few hundred bytes, and copying a struct that was just written
        // stalls on store forwarding (the copies were the largest cost of a span).
        let data = &mut rec.data;
        let ended = with_provider(rec.provider, |shared| shared.on_end(data));
        super::slot::give_back(rec);
        if !ended {
            super::tracer::span_after_shutdown();
        }
    }

    /// Makes this span the current one on this thread until the guard drops; spans started
    /// meanwhile become its children. The span itself still ends when it is dropped.
    pub fn enter(&self) -> ContextGuard {
        Context::current()
            .with_span_context(self.context.clone())
            .attach()
    }

    /// Makes this span current and ends it when the returned guard drops.
    pub fn entered(self) -> EnteredSpan {
        let guard = self.enter();
        EnteredSpan {
            span: self,
            _guard: guard,
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.end();
    }
}

/// A span that is current on this thread; ends it on drop. Created by [`Span::entered`].
#[derive(Debug)]
pub struct EnteredSpan {
    span: Span,
    _guard: ContextGuard,
}

impl std::ops::Deref for EnteredSpan {
    type Target = Span;
    fn deref(&self) -> &Span {
        &self.span
    }
}

impl std::ops::DerefMut for EnteredSpan {
    fn deref_mut(&mut self) -> &mut Span {
        &mut self.span
    }
}

/// The last path segment of a type name: `std::io::Error` → `Error`.
pub(crate) fn short_type_name<E: ?Sized>() -> &'static str {
    let full = std::any::type_name::<E>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::")
        .next()
        .unwrap_or(base)
        .trim_start_matches("dyn ")
}
