//! The process-wide propagator, and the seeds' convenience functions over it.

use super::carrier::{Extractor, Injector};
use super::propagator::{CompositePropagator, TextMapPropagator};
use crate::trace::Context;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

static GLOBAL: RwLock<Option<Arc<dyn TextMapPropagator>>> = RwLock::new(None);
/// Bumped on every change, so threads know when their cached copy is stale.
static GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Each thread borrows its own copy: reading the propagator on every request then
    // touches neither the lock nor a reference count that other threads share.
    static CACHE: RefCell<Option<(u64, Arc<dyn TextMapPropagator>)>> = const { RefCell::new(None) };
}

fn default_propagator() -> &'static Arc<dyn TextMapPropagator> {
    static DEFAULT: OnceLock<Arc<dyn TextMapPropagator>> = OnceLock::new();
    DEFAULT.get_or_init(|| Arc::new(CompositePropagator::w3c()))
}

fn load() -> Arc<dyn TextMapPropagator> {
    let global = GLOBAL.read().unwrap_or_else(PoisonError::into_inner);
    match &*global {
        Some(p) => Arc::clone(p),
        None => Arc::clone(default_propagator()),
    }
}

/// Sets the process-wide propagator that [`inject_context`], [`extract_context`] and
/// Loupe's integrations use. The default is W3C Trace Context then W3C Baggage
/// ([`CompositePropagator::w3c`]); build one from `OTEL_PROPAGATORS` with
/// [`from_env`](super::from_env).
pub fn set_text_map_propagator(propagator: impl TextMapPropagator + 'static) {
    let mut global = GLOBAL.write().unwrap_or_else(PoisonError::into_inner);
    *global = Some(Arc::new(propagator));
    GENERATION.fetch_add(1, Ordering::Release);
}

/// The process-wide propagator (see [`set_text_map_propagator`]).
pub fn text_map_propagator() -> Arc<dyn TextMapPropagator> {
    load()
}

/// Runs `f` with the process-wide propagator, borrowed from a per-thread copy: the
/// cheapest way to read it on a hot path (no lock, no shared reference count).
pub fn with_text_map_propagator<T>(f: impl FnOnce(&dyn TextMapPropagator) -> T) -> T {
    // The generation is read before the propagator, so a copy is never newer than the
    // generation it is filed under, and a change is seen by the next call.
    let generation = GENERATION.load(Ordering::Acquire);
    let mut f = Some(f);
    let out = CACHE
        .try_with(|cache| {
            let fresh = |c: &Option<(u64, _)>| c.as_ref().is_some_and(|(g, _)| *g == generation);
            if !cache.try_borrow().is_ok_and(|c| fresh(&c)) {
                if let Ok(mut c) = cache.try_borrow_mut() {
                    *c = Some((generation, load()));
                }
            }
            let c = cache.try_borrow().ok()?;
            let (g, propagator) = c.as_ref()?;
            if *g != generation {
                return None;
            }
            let f = f.take()?;
            Some(f(&**propagator))
        })
        .ok()
        .flatten();
    match (out, f) {
        (Some(out), _) => out,
        // Thread teardown, or a propagator that reads the global from inside itself.
        (None, Some(f)) => f(&*load()),
        (None, None) => unreachable!("`f` is taken only when it runs"),
    }
}

/// Injects `cx` into `carrier` with the process-wide propagator (seed 001). The carrier
/// is a `HashMap<String, String>`, an [`http::HeaderMap`], or any [`Injector`].
pub fn inject_context(cx: &Context, carrier: &mut dyn Injector) {
    with_text_map_propagator(|p| p.inject_context(cx, carrier));
}

/// Extracts a context from `carrier` with the process-wide propagator, on top of the
/// current context (seed 001). Attach the result, or use it as a span's parent.
pub fn extract_context(carrier: &dyn Extractor) -> Context {
    with_text_map_propagator(|p| p.extract(carrier))
}

/// [`inject_context`] under the name seed 004 uses.
pub fn inject_into_headers(cx: &Context, carrier: &mut dyn Injector) {
    inject_context(cx, carrier);
}

/// [`extract_context`] under the name seed 004 uses.
pub fn extract_from_headers(carrier: &dyn Extractor) -> Context {
    extract_context(carrier)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::{from_names, get_baggage, with_baggage, BaggageItem, NoopPropagator};
    use crate::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use std::collections::HashMap;

    /// One test owns the global, so no other test sees it change.
    #[test]
    fn the_global_propagator_defaults_to_w3c_and_can_be_replaced() {
        let sc = SpanContext::new(
            TraceId::from_bytes([0xab; 16]),
            SpanId::from_bytes([0xcd; 8]),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let cx = with_baggage(
            &Context::new().with_span_context(sc),
            [BaggageItem::new("user-id", "12345")],
        );

        let mut headers = HashMap::new();
        inject_context(&cx, &mut headers);
        assert_eq!(
            headers["traceparent"],
            format!("00-{}-{}-01", "ab".repeat(16), "cd".repeat(8))
        );
        assert_eq!(headers["baggage"], "user-id=12345");
        let back = extract_context(&headers);
        assert_eq!(
            back.span_context().unwrap().trace_id(),
            TraceId::from_bytes([0xab; 16])
        );
        assert_eq!(get_baggage(&back, "user-id"), Some("12345"));
        assert_eq!(
            text_map_propagator().fields(),
            ["traceparent", "tracestate", "baggage"]
        );

        // Another thread sees the change too, and so does this one's cached copy.
        set_text_map_propagator(from_names(["b3"]).unwrap());
        let mut headers = HashMap::new();
        inject_into_headers(&cx, &mut headers);
        assert_eq!(headers.keys().collect::<Vec<_>>(), ["b3"]);
        let fields = std::thread::spawn(|| with_text_map_propagator(|p| p.fields().to_vec()))
            .join()
            .unwrap();
        assert_eq!(fields, ["b3"]);
        assert!(extract_from_headers(&headers).span_context().is_some());

        set_text_map_propagator(NoopPropagator);
        let mut headers: HashMap<String, String> = HashMap::new();
        inject_context(&cx, &mut headers);
        assert!(headers.is_empty());

        // Reentrant use (a propagator that reads the global) does not deadlock or panic.
        let nested = with_text_map_propagator(|_| with_text_map_propagator(|p| p.fields().len()));
        assert_eq!(nested, 0);

        set_text_map_propagator(CompositePropagator::w3c());
        assert_eq!(text_map_propagator().fields().len(), 3);
    }
}
