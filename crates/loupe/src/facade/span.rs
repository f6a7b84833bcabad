//! `BoxedSpan`, the facade's span handle, and `SpanGuard`, which ends it on drop.

use super::SpanStatus;
use crate::trace::SpanContext;
use std::collections::HashMap;
use std::sync::Arc;

/// What a facade span implementation does. All methods take `&self`: facade spans are
/// shared (the current-span lookup hands out more handles to the same span).
pub trait Span: Send + Sync + 'static {
    /// Sets the status.
    fn set_status(&self, status: SpanStatus, description: Option<&str>);
    /// Adds an event.
    fn add_event(&self, name: &str, attributes: Option<HashMap<String, String>>);
    /// Ends the span; later calls do nothing.
    fn end(&self);
    /// Sets an attribute.
    fn set_attribute(&self, _key: &str, _value: &str) {}
    /// The span's context, for parenting and propagation.
    fn span_context(&self) -> Option<SpanContext> {
        None
    }
}

/// A span handle from a [`Telemetry`](super::Telemetry) implementation.
///
/// One pointer wide, so `Option<BoxedSpan>` costs nothing to return when telemetry is off.
#[derive(Clone)]
pub struct BoxedSpan {
    inner: Arc<Boxed>,
}

struct Boxed {
    span: Box<dyn Span>,
    attributes: HashMap<String, String>,
    name: String,
}

impl std::fmt::Debug for BoxedSpan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoxedSpan")
            .field("name", &self.inner.name)
            .field("attributes", &self.inner.attributes)
            .field("context", &self.inner.span.span_context())
            .finish()
    }
}

impl BoxedSpan {
    /// Wraps an implementation with its name and creation attributes.
    pub fn new<S: Span>(span: S, name: String, attributes: HashMap<String, String>) -> Self {
        BoxedSpan {
            inner: Arc::new(Boxed {
                span: Box::new(span),
                attributes,
                name,
            }),
        }
    }

    /// The span's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The attributes given at creation.
    pub fn attributes(&self) -> &HashMap<String, String> {
        &self.inner.attributes
    }

    /// Sets the status.
    pub fn set_status(&self, status: SpanStatus, description: Option<&str>) {
        self.inner.span.set_status(status, description);
    }

    /// Adds an event.
    pub fn add_event(&self, name: &str, attributes: Option<HashMap<String, String>>) {
        self.inner.span.add_event(name, attributes);
    }

    /// Sets an attribute.
    pub fn set_attribute(&self, key: &str, value: &str) {
        self.inner.span.set_attribute(key, value);
    }

    /// Ends the span.
    pub fn end(self) {
        self.inner.span.end();
    }

    /// A guard that ends the span when dropped (so early returns and `?` still end it).
    pub fn enter(&self) -> SpanGuard<'_> {
        SpanGuard { span: Some(self) }
    }

    /// The span's context.
    pub fn span_context(&self) -> Option<SpanContext> {
        self.inner.span.span_context()
    }

    /// The trace id in hex (seed 000 §3.3's log correlation).
    pub fn trace_id(&self) -> Option<String> {
        self.span_context().map(|c| c.trace_id().to_string())
    }

    /// The span id in hex.
    pub fn span_id(&self) -> Option<String> {
        self.span_context().map(|c| c.span_id().to_string())
    }
}

/// Ends its span when dropped. Created by [`BoxedSpan::enter`]. It does not make the span
/// current: use [`TelemetryExt::with_span`](super::TelemetryExt::with_span) for that.
#[must_use = "the span ends as soon as the guard is dropped"]
#[derive(Debug)]
pub struct SpanGuard<'a> {
    span: Option<&'a BoxedSpan>,
}

impl Drop for SpanGuard<'_> {
    fn drop(&mut self) {
        if let Some(span) = self.span.take() {
            span.inner.span.end();
        }
    }
}

/// A handle to a span known only by its context (a remote parent, or a native span that
/// is current): usable as a parent, records nothing.
pub(crate) struct ContextOnlySpan(pub(crate) SpanContext);

impl Span for ContextOnlySpan {
    fn set_status(&self, _: SpanStatus, _: Option<&str>) {}
    fn add_event(&self, _: &str, _: Option<HashMap<String, String>>) {}
    fn end(&self) {}
    fn span_context(&self) -> Option<SpanContext> {
        Some(self.0.clone())
    }
}

/// The facade span that is current, stored in the [`Context`](crate::trace::Context).
#[derive(Clone)]
pub(crate) struct ActiveFacadeSpan(pub(crate) BoxedSpan);

/// Makes a facade span current (shared by the implementations that track a current span).
pub(crate) fn attach(span: &BoxedSpan) -> Option<crate::trace::ContextGuard> {
    let sc = span.span_context()?;
    Some(
        crate::trace::Context::current()
            .with_span_context(sc)
            .with_value(ActiveFacadeSpan(span.clone()))
            .attach(),
    )
}

/// The current span as a facade handle: the facade span itself if one was entered, else a
/// context-only handle for a native span that is current.
pub(crate) fn current() -> Option<BoxedSpan> {
    crate::trace::Context::map_current(|cx| {
        let sc = cx.span_context()?;
        match cx.get::<ActiveFacadeSpan>() {
            Some(active) if active.0.span_context().as_ref() == Some(sc) => Some(active.0.clone()),
            _ => Some(BoxedSpan::new(
                ContextOnlySpan(sc.clone()),
                String::new(),
                HashMap::new(),
            )),
        }
    })
}
