//! The current context: which span is active on this thread (or in this task), plus
//! values other layers attach (baggage, the facade's active span).

use super::ids::{SpanContext, SpanId, TraceFlags, TraceId};
use std::any::{Any, TypeId};
use std::cell::RefCell;
use std::marker::PhantomData;
use std::sync::Arc;

type Entries = Arc<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>;

/// An immutable set of values that travels with the work: the active span's context and
/// any typed values (at most one per type). Cheap to clone.
#[derive(Clone, Default)]
pub struct Context {
    span: Option<SpanContext>,
    entries: Option<Entries>,
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("span", &self.span)
            .field("entries", &self.entries.as_ref().map_or(0, |e| e.len()))
            .finish()
    }
}

thread_local! {
    static CURRENT: RefCell<Context> = const { RefCell::new(Context { span: None, entries: None }) };
}

impl Context {
    /// An empty context: no span, no values.
    pub fn new() -> Self {
        Context::default()
    }

    /// A copy of this thread's current context.
    pub fn current() -> Self {
        CURRENT.try_with(|c| c.borrow().clone()).unwrap_or_default()
    }

    /// Runs `f` on (a copy of) the current context.
    pub fn map_current<T>(f: impl FnOnce(&Context) -> T) -> T {
        f(&Context::current())
    }

    /// The active span's context, if there is one (current span lookups start here).
    pub(crate) fn current_span_context() -> Option<SpanContext> {
        CURRENT.try_with(|c| c.borrow().span.clone()).ok().flatten()
    }

    /// The ids and flags of the current span, if it is valid, without copying its trace
    /// state (log records read them on every call).
    pub(crate) fn current_ids() -> Option<(TraceId, SpanId, TraceFlags)> {
        CURRENT
            .try_with(|c| {
                c.borrow()
                    .span
                    .as_ref()
                    .filter(|sc| sc.is_valid())
                    .map(|sc| (sc.trace_id(), sc.span_id(), sc.trace_flags()))
            })
            .ok()
            .flatten()
    }

    /// The span context this context carries.
    pub fn span_context(&self) -> Option<&SpanContext> {
        self.span.as_ref()
    }

    /// A copy whose active span is `span` (a local span or one extracted from a carrier).
    #[must_use]
    pub fn with_span_context(&self, span: SpanContext) -> Self {
        Context {
            span: Some(span),
            entries: self.entries.clone(),
        }
    }

    /// A copy carrying `value`, replacing an earlier value of the same type.
    #[must_use]
    pub fn with_value<T: Send + Sync + 'static>(&self, value: T) -> Self {
        let mut entries: Vec<_> = self
            .entries
            .as_ref()
            .map(|e| {
                e.iter()
                    .filter(|(id, _)| *id != TypeId::of::<T>())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        entries.push((TypeId::of::<T>(), Arc::new(value)));
        Context {
            span: self.span.clone(),
            entries: Some(Arc::new(entries)),
        }
    }

    /// The value of type `T`, if one was attached.
    pub fn get<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.entries
            .as_ref()?
            .iter()
            .find(|(id, _)| *id == TypeId::of::<T>())
            .and_then(|(_, v)| v.downcast_ref())
    }

    /// Makes this the current context on this thread until the guard drops.
    pub fn attach(self) -> ContextGuard {
        let previous = CURRENT
            .try_with(|c| std::mem::replace(&mut *c.borrow_mut(), self))
            .ok();
        ContextGuard {
            previous,
            _not_send: PhantomData,
        }
    }
}

/// Restores the previous context when dropped. Not `Send`: it belongs to the thread that
/// attached it. Across `.await`, use [`FutureExt`](super::FutureExt) instead.
#[must_use = "the context is detached as soon as the guard is dropped"]
#[derive(Debug)]
pub struct ContextGuard {
    previous: Option<Context>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{SpanId, TraceFlags, TraceId, TraceState};

    fn sc(n: u8) -> SpanContext {
        SpanContext::new(
            TraceId::from_bytes([n; 16]),
            SpanId::from_bytes([n; 8]),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        )
    }

    #[test]
    fn guards_restore_the_previous_context_in_order() {
        assert!(Context::current().span_context().is_none());
        let outer = Context::new().with_span_context(sc(1)).attach();
        {
            let _inner = Context::current().with_span_context(sc(2)).attach();
            assert_eq!(Context::current().span_context(), Some(&sc(2)));
        }
        assert_eq!(Context::current().span_context(), Some(&sc(1)));
        drop(outer);
        assert!(Context::current().span_context().is_none());
    }

    #[test]
    fn typed_values_replace_by_type() {
        let cx = Context::new()
            .with_value(1u32)
            .with_value("a")
            .with_value(2u32);
        assert_eq!(cx.get::<u32>(), Some(&2));
        assert_eq!(cx.get::<&str>(), Some(&"a"));
        assert_eq!(cx.get::<u64>(), None);
    }
}
