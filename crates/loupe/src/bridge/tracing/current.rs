//! Which `tracing` span is current in Loupe's [`Context`] on this thread.
//!
//! Entering a span attaches its Loupe span context; the guard that restores the previous
//! context is not `Send`, so each thread keeps a stack of the spans it entered.

use crate::trace::{Context, ContextGuard, SpanContext};
use std::cell::RefCell;

/// An entered span on this thread's stack, with the guard that keeps it current.
struct Entered {
    layer: u64,
    span: u64,
    context: SpanContext,
    _guard: ContextGuard,
}

thread_local! {
    /// Spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<Entered>> = const { RefCell::new(Vec::new()) };
}

/// Makes `context` current on this thread, remembering it for [`exit`].
pub(super) fn enter(layer: u64, span: u64, context: SpanContext) {
    let guard = Context::current()
        .with_span_context(context.clone())
        .attach();
    let entry = Entered {
        layer,
        span,
        context,
        _guard: guard,
    };
    let rejected = ENTERED
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut stack) => {
                stack.push(entry);
                None
            }
            Err(_) => Some(entry),
        })
        .unwrap_or(None);
    // Could not remember it (thread teardown): restore the previous context at once.
    drop(rejected);
}

/// Restores the context from before the innermost entry of `span` on this thread.
///
/// Guards restore a snapshot, so they must drop innermost first. When a span exits out of
/// order (not the innermost), the spans entered after it are unwound, its guard dropped,
/// and they are made current again on top — the state a well-nested exit would give.
pub(super) fn exit(layer: u64, span: u64) {
    let taken = ENTERED
        .try_with(|cell| {
            let mut stack = cell.try_borrow_mut().ok()?;
            let at = stack
                .iter()
                .rposition(|e| e.layer == layer && e.span == span)?;
            let above = stack.split_off(at + 1);
            let entry = stack.pop()?;
            Some((entry, above))
        })
        .ok()
        .flatten();
    // Guards are dropped outside the borrow: dropping a context may run user code.
    let Some((entry, mut above)) = taken else {
        return;
    };
    if above.is_empty() {
        drop(entry);
        return;
    }
    let reenter: Vec<(u64, u64, SpanContext)> = above
        .iter()
        .map(|e| (e.layer, e.span, e.context.clone()))
        .collect();
    while let Some(inner) = above.pop() {
        drop(inner);
    }
    drop(entry);
    for (layer, span, context) in reenter {
        enter(layer, span, context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{SpanId, TraceFlags, TraceId, TraceState};

    #[test]
    fn an_exit_that_is_not_innermost_keeps_the_inner_span_current() {
        let sc = |n: u8| {
            SpanContext::new(
                TraceId::from_bytes([n; 16]),
                SpanId::from_bytes([n; 8]),
                TraceFlags::SAMPLED,
                false,
                TraceState::NONE,
            )
        };
        let current = || Context::current().span_context().map(|s| s.span_id());
        enter(1, 1, sc(1));
        enter(1, 2, sc(2));
        exit(1, 1); // out of order
        assert_eq!(current(), Some(sc(2).span_id()));
        exit(1, 2);
        assert_eq!(current(), None);
        exit(1, 3); // never entered: ignored
        assert_eq!(current(), None);
    }
}
