//! The message carrier: [`TraceContext`] inside a `BaseMessage` (seed 000 §3.4, §6.1).
//!
//! A message bus has no headers, so the span context travels as a typed field: the
//! publisher takes [`TraceContext::current`] (or [`TraceContext::from_context`]) into the
//! message; the consumer turns it back into a parent with [`TraceContext::to_context`].

use crate::facade::TraceContext;
use crate::trace::{Context, SpanContext};

impl TraceContext {
    /// The message form of the span `cx` carries; `None` when it carries no valid span.
    pub fn from_context(cx: &Context) -> Option<TraceContext> {
        cx.span_context()
            .filter(|sc| sc.is_valid())
            .map(TraceContext::from_span_context)
    }

    /// The message form of the current span; `None` when no span is current.
    pub fn current() -> Option<TraceContext> {
        Context::current_span_context()
            .filter(SpanContext::is_valid)
            .map(|sc| TraceContext::from_span_context(&sc))
    }

    /// A context whose span is this message's publisher span (a remote parent): attach it,
    /// or pass it to `SpanBuilder::with_parent_context`, and the consumer's span becomes
    /// the publisher span's child. The same rules as the `traceparent` header apply:
    /// malformed or all-zero ids give an empty context (a new trace starts), and an
    /// invalid trace state is dropped while the ids still apply.
    pub fn to_context(&self) -> Context {
        match self.to_span_context() {
            Ok(sc) => Context::new().with_span_context(sc),
            Err(_) => Context::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::facade::TraceContext;
    use crate::trace::{Context, SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    fn span_context(flags: u8) -> SpanContext {
        SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::new(flags),
            false,
            TraceState::from_header("congo=t61rcWkgMzE").unwrap(),
        )
    }

    #[test]
    fn round_trips_through_json() {
        let cx = Context::new().with_span_context(span_context(0x03));
        let message = TraceContext::from_context(&cx).unwrap();
        assert_eq!(message.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(message.trace_flags, 0x03);
        let json = serde_json::to_string(&message).unwrap();
        let back: TraceContext = serde_json::from_str(&json).unwrap();
        let sc = back.to_context().span_context().unwrap().clone();
        assert!(sc.is_remote());
        assert_eq!(sc, span_context(0x03).clone_remote());
    }

    #[test]
    fn no_span_no_message_context() {
        assert_eq!(TraceContext::from_context(&Context::new()), None);
        let invalid = Context::new().with_span_context(SpanContext::INVALID);
        assert_eq!(TraceContext::from_context(&invalid), None);
        assert_eq!(TraceContext::current(), None);
        let _guard = Context::new().with_span_context(span_context(1)).attach();
        assert_eq!(
            TraceContext::current().map(|m| m.span_id),
            Some("00f067aa0ba902b7".to_string())
        );
    }

    #[test]
    fn malformed_message_contexts_start_a_new_trace() {
        let good = TraceContext::from_span_context(&span_context(1));
        for bad in [
            TraceContext {
                trace_id: good.trace_id.to_uppercase(),
                ..good.clone()
            },
            TraceContext {
                span_id: "0".repeat(16),
                ..good.clone()
            },
            TraceContext {
                trace_id: "xyz".into(),
                ..good.clone()
            },
        ] {
            assert!(bad.to_context().span_context().is_none(), "{bad:?}");
        }
        let bad_state = TraceContext {
            trace_state: Some("BAD".into()),
            ..good
        };
        let sc = bad_state.to_context().span_context().unwrap().clone();
        assert!(sc.trace_state().is_empty());
    }

    trait CloneRemote {
        fn clone_remote(&self) -> SpanContext;
    }

    impl CloneRemote for SpanContext {
        fn clone_remote(&self) -> SpanContext {
            SpanContext::new(
                self.trace_id(),
                self.span_id(),
                self.trace_flags(),
                true,
                self.trace_state().clone(),
            )
        }
    }
}
