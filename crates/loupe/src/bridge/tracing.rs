//! The `tracing` bridge: a [`tracing_subscriber::Layer`] that turns `tracing` spans into
//! Loupe spans and, optionally, `tracing` events into Loupe log records.
//!
//! * **Spans.** Each `tracing` span starts a Loupe span named after it (or after its
//!   `otel.name` field), with its fields as typed attributes. Its parent is the explicit
//!   `parent:` if one was given; otherwise the current span — which is Loupe's current
//!   [`Context`](crate::trace::Context), so a native Loupe span or a context extracted from
//!   request headers and attached becomes the parent too. Entering a `tracing` span makes
//!   its Loupe span current on that thread, so Loupe loggers, propagation and native child
//!   spans see it. The span ends when it closes, at the time it was last exited.
//! * **Events.** With [`LoupeLayer::with_logs`], every event the provider's filter keeps
//!   becomes a [`LogRecord`](crate::logs::LogRecord): the level is the severity, the `message` field the body, the
//!   other fields typed attributes, the target the scope (and what the filter matches), and
//!   the trace context that of the event's span.
//!
//! Special span fields, as `tracing-opentelemetry` reads them: `otel.name` renames the
//! span, `otel.kind` sets its kind (`server`, `client`, `producer`, `consumer`,
//! `internal`), `otel.status_code` (`ok`, `error`) and `otel.status_message` its status.
//! An `ERROR` event inside a span marks that span failed, with the event's message as the
//! description, unless `otel.status_code` says otherwise
//! ([`with_error_events_to_status`](LoupeLayer::with_error_events_to_status)).
//! With [`LoupeLayer::with_location`] (the default) spans carry `code.file.path`,
//! `code.line.number` and `code.module.name`.
//!
//! ```
//! use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, TracerProvider};
//! use loupe::Value;
//! use tracing_subscriber::layer::SubscriberExt as _;
//!
//! #[tracing::instrument]
//! fn place_order(order_id: u64) {
//!     charge_card(order_id * 100);
//! }
//!
//! #[tracing::instrument(fields(otel.kind = "client"))]
//! fn charge_card(cents: u64) {}
//!
//! let exporter = InMemorySpanExporter::default();
//! let provider = TracerProvider::builder()
//!     .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
//!     .build()?;
//! let subscriber =
//!     tracing_subscriber::registry().with(loupe::bridge::tracing::layer(provider.tracer("shop")));
//!
//! tracing::subscriber::with_default(subscriber, || place_order(7));
//!
//! let order = exporter.span("place_order").expect("exported when it closed");
//! let charge = exporter.span("charge_card").expect("exported when it closed");
//! assert_eq!(charge.parent_span_id, order.span_context.span_id());
//! assert_eq!(charge.span_context.trace_id(), order.span_context.trace_id());
//! assert_eq!(order.attribute("order_id"), Some(&Value::I64(7)));
//! assert_eq!(charge.kind, loupe::trace::SpanKind::Client);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod current;
mod fields;

use crate::common::attribute::{KeyValue, Value};
use crate::logs::{LoggerProvider, Severity};
use crate::trace::{Context as LoupeContext, Link, Span, SpanBuilder, SpanContext, Status, Tracer};
use fields::{with_scratch, EventFields, SpanFields, Special, StatusCode};
use std::borrow::Cow;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;
use tracing_core::span::{Attributes, Id, Record};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// A layer that records `tracing` spans into `tracer`: shorthand for [`LoupeLayer::new`].
pub fn layer(tracer: Tracer) -> LoupeLayer {
    LoupeLayer::new(tracer)
}

/// A [`Layer`] that records `tracing` spans as Loupe spans and (with
/// [`with_logs`](LoupeLayer::with_logs)) `tracing` events as Loupe log records.
///
/// Add it to a registry: `tracing_subscriber::registry().with(LoupeLayer::new(tracer))`.
/// See the [module documentation](self) for what is recorded.
pub struct LoupeLayer {
    tracer: Tracer,
    logs: Option<LoggerProvider>,
    /// The lowest severity number the log filter keeps for any target (`u8::MAX`: none),
    /// so most disabled events are rejected with one comparison.
    logs_floor: u8,
    location: bool,
    error_status: bool,
    /// Tells this layer's entries apart on the per-thread stack of entered spans (span ids
    /// are only unique within one subscriber).
    id: u64,
}

impl fmt::Debug for LoupeLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoupeLayer")
            .field("tracer", &self.tracer)
            .field("logs", &self.logs.is_some())
            .field("location", &self.location)
            .finish()
    }
}

impl LoupeLayer {
    /// A layer that records spans into `tracer`; events are ignored until
    /// [`with_logs`](Self::with_logs) is called. Code locations are recorded.
    pub fn new(tracer: Tracer) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        LoupeLayer {
            tracer,
            logs: None,
            logs_floor: u8::MAX,
            location: true,
            error_status: true,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// Turns events into log records emitted to `provider`, whose filter decides (by the
    /// event's target and level) which are kept. Default: events are not recorded.
    #[must_use]
    pub fn with_logs(mut self, provider: LoggerProvider) -> Self {
        self.logs_floor = provider
            .filter()
            .most_verbose()
            .map_or(u8::MAX, |s| s as u8);
        self.logs = Some(provider);
        self
    }

    /// Whether spans carry `code.file.path`, `code.line.number` and `code.module.name`
    /// from the callsite. Default: true.
    #[must_use]
    pub fn with_location(mut self, location: bool) -> Self {
        self.location = location;
        self
    }

    /// Whether an `ERROR` event marks the span it happens in as failed: status error, with
    /// the event's message as the description (unless `otel.status_code` was recorded
    /// on the span, or an earlier error event already set it). Default: true, as in
    /// `tracing-opentelemetry`.
    #[must_use]
    pub fn with_error_events_to_status(mut self, enabled: bool) -> Self {
        self.error_status = enabled;
        self
    }

    /// Marks the span `event` belongs to (or its nearest recorded ancestor) as failed.
    fn mark_error<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let span = match event.parent() {
            Some(id) => ctx.span(id),
            None if event.is_contextual() => ctx.lookup_current(),
            None => None,
        };
        let Some(span) = span else { return };
        let Some(target) = span
            .scope()
            .find(|s| s.extensions().get::<SpanState>().is_some())
        else {
            return;
        };
        let settable = target
            .extensions()
            .get::<SpanState>()
            .is_some_and(|state| state.status.is_none() && state.span.is_recording());
        if !settable {
            return; // set already, or nothing records it: don't format the message
        }
        // Visit before locking the extensions: a field's `Debug` may touch this span.
        let mut message = MessageOnly(None);
        event.record(&mut message);
        let mut extensions = target.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            if state.status.is_none() {
                state.status = Some(StatusCode::Error);
                state.status_message = Some(Cow::Owned(message.0.unwrap_or_default()));
            }
        }
    }

    /// The Loupe span context of the span `id`, or of its nearest ancestor this layer
    /// recorded (a per-layer filter may hide some).
    fn span_context_of<S>(&self, id: &Id, ctx: &Context<'_, S>) -> Option<SpanContext>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        ctx.span_scope(id)?.find_map(|span| {
            span.extensions()
                .get::<SpanState>()
                .map(|state| state.span.span_context().clone())
        })
    }

    /// The span context a contextual span or event belongs to.
    ///
    /// Loupe's current context comes first: entering a `tracing` span attaches its Loupe
    /// span, so this is the current `tracing` span — unless something more recent was made
    /// current since (a native Loupe span, a context extracted from headers), which is then
    /// the better parent. It is also cheaper than a registry lookup.
    fn current_span_context<S>(&self, ctx: &Context<'_, S>) -> Option<SpanContext>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        LoupeContext::current_span_context()
            .filter(SpanContext::is_valid)
            .or_else(|| {
                let current = ctx.lookup_current()?;
                self.span_context_of(&current.id(), ctx)
            })
    }

    fn location(&self, meta: &'static Metadata<'static>, attributes: &mut Vec<KeyValue>) {
        if !self.location {
            return;
        }
        if let Some(file) = meta.file() {
            attributes.push(KeyValue::new("code.file.path", file));
        }
        if let Some(line) = meta.line() {
            attributes.push(KeyValue::new("code.line.number", i64::from(line)));
        }
        if let Some(module) = meta.module_path() {
            attributes.push(KeyValue::new("code.module.name", module));
        }
    }
}

/// Reads only an event's `message` field.
struct MessageOnly(Option<String>);

impl tracing_core::field::Visit for MessageOnly {
    fn record_str(&mut self, field: &tracing_core::Field, value: &str) {
        if field.name() == "message" {
            self.0 = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &tracing_core::Field, value: &dyn fmt::Debug) {
        if field.name() == "message" {
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// What the layer keeps in a `tracing` span's extensions.
struct SpanState {
    span: Span,
    status: Option<StatusCode>,
    status_message: Option<Cow<'static, str>>,
    last_exit: Option<SystemTime>,
}

impl SpanState {
    fn apply(&mut self, special: Special) {
        if let Some(name) = special.name {
            self.span.update_name(name);
        }
        if special.status.is_some() {
            self.status = special.status;
        }
        if special.status_message.is_some() {
            self.status_message = special.status_message;
        }
    }

    fn end(mut self) {
        match self.status {
            Some(StatusCode::Ok) => self.span.set_status(Status::Ok),
            Some(StatusCode::Error) => self.span.set_status(Status::error(
                self.status_message.take().unwrap_or_default(),
            )),
            None => {}
        }
        // A span's work ends when it is last exited; it may close much later, when the
        // last handle to it drops.
        let end = self.last_exit.unwrap_or_else(crate::common::clock::now);
        self.span.end_with_timestamp(end);
    }
}

fn severity(level: &Level) -> Severity {
    match *level {
        Level::ERROR => Severity::Error,
        Level::WARN => Severity::Warn,
        Level::INFO => Severity::Info,
        Level::DEBUG => Severity::Debug,
        _ => Severity::Trace,
    }
}

impl<S> Layer<S> for LoupeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else { return };
        let meta = attrs.metadata();
        let parent = if let Some(parent) = attrs.parent() {
            self.span_context_of(parent, &ctx)
        } else if attrs.is_contextual() {
            self.current_span_context(&ctx)
        } else {
            None
        };
        let (builder, special): (SpanBuilder<'_>, Special) = with_scratch(|attributes| {
            self.location(meta, attributes);
            let mut fields = SpanFields {
                attributes,
                special: Special::default(),
            };
            attrs.record(&mut fields);
            let special = fields.special;
            let name = special.name.clone().unwrap_or(Cow::Borrowed(meta.name()));
            let builder = self
                .tracer
                .span_builder(name)
                .with_kind(special.kind.unwrap_or_default())
                .with_attributes(attributes.drain(..));
            (builder, special)
        });
        let span = match parent {
            Some(parent) => builder.with_parent(parent),
            None => builder.as_root(),
        }
        .start();
        span_ref.extensions_mut().replace(SpanState {
            span,
            status: special.status,
            status_message: special.status_message,
            last_exit: None,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else { return };
        let recording = span_ref
            .extensions()
            .get::<SpanState>()
            .is_some_and(|state| state.span.is_recording());
        if !recording {
            return; // Nothing to record into: don't format the values.
        }
        with_scratch(|attributes| {
            // Visit before locking the extensions: a field's `Debug` may touch this span.
            let mut fields = SpanFields {
                attributes,
                special: Special::default(),
            };
            values.record(&mut fields);
            let special = fields.special;
            let mut extensions = span_ref.extensions_mut();
            if let Some(state) = extensions.get_mut::<SpanState>() {
                state.span.set_attributes(attributes.drain(..));
                state.apply(special);
            }
        });
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        let Some(linked) = self.span_context_of(follows, &ctx) else {
            return;
        };
        let Some(span_ref) = ctx.span(id) else { return };
        let mut extensions = span_ref.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            state.span.add_link(Link::new(linked));
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(id) else { return };
        let context = span_ref
            .extensions()
            .get::<SpanState>()
            .map(|state| state.span.span_context().clone());
        if let Some(context) = context {
            current::enter(self.id, id.into_u64(), context);
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        current::exit(self.id, id.into_u64());
        let Some(span_ref) = ctx.span(id) else { return };
        let mut extensions = span_ref.extensions_mut();
        if let Some(state) = extensions.get_mut::<SpanState>() {
            if state.span.is_recording() {
                state.last_exit = Some(crate::common::clock::now());
            }
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(span_ref) = ctx.span(&id) else {
            return;
        };
        let state = span_ref.extensions_mut().remove::<SpanState>();
        drop(span_ref);
        // Ended with no lock held: processors may export synchronously.
        if let Some(state) = state {
            state.end();
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let meta = event.metadata();
        if self.error_status && *meta.level() == Level::ERROR {
            self.mark_error(event, &ctx);
        }
        let Some(provider) = &self.logs else { return };
        let severity = severity(meta.level());
        if (severity as u8) < self.logs_floor || !provider.enabled(meta.target(), severity) {
            return;
        }
        let context = if let Some(parent) = event.parent() {
            self.span_context_of(parent, &ctx)
        } else if event.is_contextual() {
            self.current_span_context(&ctx)
        } else {
            None
        };
        // Filled in place, in a record a sink thread gave back when there is one.
        provider.emit_filled(severity, Value::String(Cow::Borrowed("")), |record| {
            record.body = with_scratch(|attributes| {
                let mut fields = EventFields {
                    body: None,
                    attributes,
                    has_exception: false,
                };
                event.record(&mut fields);
                let body = fields.body;
                // Moved into the record's own vector; the scratch buffer keeps its
                // capacity.
                record.attributes.append(attributes);
                body
            });
            record.scope = crate::logs::interned_scope(meta.target());
            if let Some(sc) = context.filter(SpanContext::is_valid) {
                record.trace_id = sc.trace_id();
                record.span_id = sc.span_id();
                record.trace_flags = sc.trace_flags();
            }
        });
    }
}
