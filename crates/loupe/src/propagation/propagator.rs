//! The propagator trait, its composite and no-op forms, and construction from the names
//! `OTEL_PROPAGATORS` uses.

use super::b3::B3Propagator;
use super::baggage::BaggagePropagator;
use super::carrier::{Extractor, Injector};
use super::trace_context::TraceContextPropagator;
use crate::common::error::ConfigError;
use crate::trace::Context;
use std::fmt;
use std::sync::Arc;

/// Writes a [`Context`] into a carrier and reads it back on the other side, in one text
/// format (W3C Trace Context, W3C Baggage, B3, or several through
/// [`CompositePropagator`]).
///
/// Propagators never fail: a missing or malformed field leaves the context as it was.
pub trait TextMapPropagator: Send + Sync + fmt::Debug {
    /// Writes what `cx` carries (its span, its baggage) into `carrier`. Writes nothing
    /// when `cx` has nothing this format carries.
    fn inject_context(&self, cx: &Context, carrier: &mut dyn Injector);

    /// Returns `cx` updated with what `carrier` holds: a remote parent span, baggage. When
    /// the carrier holds nothing valid for this format, returns `cx` unchanged.
    fn extract_with_context(&self, cx: &Context, carrier: &dyn Extractor) -> Context;

    /// The field names [`inject_context`](Self::inject_context) writes, for carriers that
    /// must clear or allow-list them. Injection only sets fields (a span without trace
    /// state writes no `tracestate`), so a carrier reused across requests should have
    /// these removed first.
    fn fields(&self) -> &[&'static str];

    /// Injects the current context.
    fn inject(&self, carrier: &mut dyn Injector) {
        self.inject_context(&Context::current(), carrier);
    }

    /// Extracts into a copy of the current context.
    fn extract(&self, carrier: &dyn Extractor) -> Context {
        self.extract_with_context(&Context::current(), carrier)
    }
}

impl<P: TextMapPropagator + ?Sized> TextMapPropagator for Box<P> {
    fn inject_context(&self, cx: &Context, carrier: &mut dyn Injector) {
        (**self).inject_context(cx, carrier);
    }

    fn extract_with_context(&self, cx: &Context, carrier: &dyn Extractor) -> Context {
        (**self).extract_with_context(cx, carrier)
    }

    fn fields(&self) -> &[&'static str] {
        (**self).fields()
    }
}

impl<P: TextMapPropagator + ?Sized> TextMapPropagator for Arc<P> {
    fn inject_context(&self, cx: &Context, carrier: &mut dyn Injector) {
        (**self).inject_context(cx, carrier);
    }

    fn extract_with_context(&self, cx: &Context, carrier: &dyn Extractor) -> Context {
        (**self).extract_with_context(cx, carrier)
    }

    fn fields(&self) -> &[&'static str] {
        (**self).fields()
    }
}

/// Propagates nothing: injects no field, extracts the context unchanged. What
/// `OTEL_PROPAGATORS=none` selects.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopPropagator;

impl NoopPropagator {
    /// The no-op propagator.
    pub fn new() -> Self {
        NoopPropagator
    }
}

impl TextMapPropagator for NoopPropagator {
    fn inject_context(&self, _: &Context, _: &mut dyn Injector) {}

    fn extract_with_context(&self, cx: &Context, _: &dyn Extractor) -> Context {
        cx.clone()
    }

    fn fields(&self) -> &[&'static str] {
        &[]
    }
}

/// Several propagators as one: injection runs every one; extraction runs them in order,
/// each seeing the context the previous one returned (so with B3 listed after Trace
/// Context, a request carrying both takes its parent from B3).
#[derive(Debug)]
pub struct CompositePropagator {
    propagators: Vec<Box<dyn TextMapPropagator>>,
    fields: Vec<&'static str>,
}

impl CompositePropagator {
    /// Runs `propagators` in the given order. Empty propagates nothing.
    pub fn new(propagators: Vec<Box<dyn TextMapPropagator>>) -> Self {
        let mut fields: Vec<&'static str> = Vec::new();
        for field in propagators.iter().flat_map(|p| p.fields()) {
            if !fields.contains(field) {
                fields.push(field);
            }
        }
        CompositePropagator {
            propagators,
            fields,
        }
    }

    /// W3C Trace Context, then W3C Baggage: the OpenTelemetry default, and Loupe's.
    pub fn w3c() -> Self {
        CompositePropagator::new(vec![
            Box::new(TraceContextPropagator::new()),
            Box::new(BaggagePropagator::new()),
        ])
    }

    /// True when it holds no propagator (and so propagates nothing).
    pub fn is_empty(&self) -> bool {
        self.propagators.is_empty()
    }
}

impl TextMapPropagator for CompositePropagator {
    fn inject_context(&self, cx: &Context, carrier: &mut dyn Injector) {
        for p in &self.propagators {
            p.inject_context(cx, carrier);
        }
    }

    fn extract_with_context(&self, cx: &Context, carrier: &dyn Extractor) -> Context {
        let mut propagators = self.propagators.iter();
        let Some(first) = propagators.next() else {
            return cx.clone();
        };
        let first = first.extract_with_context(cx, carrier);
        propagators.fold(first, |cx, p| p.extract_with_context(&cx, carrier))
    }

    fn fields(&self) -> &[&'static str] {
        &self.fields
    }
}

const KNOWN_NAMES: &str = "tracecontext, baggage, b3, b3multi, none";

/// Builds the propagator the OpenTelemetry names select, in the order given:
/// `tracecontext` (W3C Trace Context), `baggage` (W3C Baggage), `b3` (B3 single header),
/// `b3multi` (B3 multiple headers) and `none`.
///
/// `none` disables propagation, even beside other names (as Loupe's configuration reads
/// `OTEL_PROPAGATORS`); an empty list does too. Names are trimmed; empty names and
/// repeats are ignored. An unknown name is an error naming it.
///
/// ```
/// use loupe::propagation::{self, TextMapPropagator};
///
/// let propagator = propagation::from_names(["tracecontext", "baggage"])?;
/// assert_eq!(propagator.fields(), ["traceparent", "tracestate", "baggage"]);
/// assert!(propagation::from_names(["jaeger"]).is_err());
/// # Ok::<(), loupe::ConfigError>(())
/// ```
pub fn from_names<I>(names: I) -> Result<CompositePropagator, ConfigError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    from_names_for("propagators", names)
}

fn from_names_for<I>(field: &'static str, names: I) -> Result<CompositePropagator, ConfigError>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    let mut seen: Vec<&'static str> = Vec::new();
    let mut propagators: Vec<Box<dyn TextMapPropagator>> = Vec::new();
    let mut none = false;
    for name in names {
        let name = name.as_ref().trim();
        let (known, propagator): (&'static str, Option<Box<dyn TextMapPropagator>>) = match name {
            "" => continue,
            "tracecontext" => (
                "tracecontext",
                Some(Box::new(TraceContextPropagator::new())),
            ),
            "baggage" => ("baggage", Some(Box::new(BaggagePropagator::new()))),
            "b3" => ("b3", Some(Box::new(B3Propagator::single()))),
            "b3multi" => ("b3multi", Some(Box::new(B3Propagator::multi()))),
            "none" => ("none", None),
            other => return Err(ConfigError::new(field, other, KNOWN_NAMES)),
        };
        if seen.contains(&known) {
            continue;
        }
        seen.push(known);
        match propagator {
            Some(p) => propagators.push(p),
            None => none = true,
        }
    }
    if none {
        propagators.clear();
    }
    Ok(CompositePropagator::new(propagators))
}

/// Builds the propagator `OTEL_PROPAGATORS` names (see [`from_names`]); unset or empty,
/// the default `tracecontext,baggage`.
pub fn from_env() -> Result<CompositePropagator, ConfigError> {
    from_env_with(|name| std::env::var(name).ok())
}

fn from_env_with(
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<CompositePropagator, ConfigError> {
    match lookup("OTEL_PROPAGATORS").filter(|v| !v.trim().is_empty()) {
        Some(value) => from_names_for("OTEL_PROPAGATORS", value.split(',')),
        None => Ok(CompositePropagator::w3c()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::propagation::{get_baggage, with_baggage, BaggageItem};
    use crate::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
    use std::collections::HashMap;

    fn sampled_context() -> Context {
        Context::new().with_span_context(SpanContext::new(
            TraceId::from_bytes([0x4b; 16]),
            SpanId::from_bytes([0x01; 8]),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        ))
    }

    #[test]
    fn names_build_the_propagators_in_order() {
        let p = from_names([
            "b3multi",
            " tracecontext ",
            "",
            "baggage",
            "b3",
            "tracecontext",
        ])
        .unwrap();
        assert_eq!(
            p.fields(),
            [
                "x-b3-traceid",
                "x-b3-spanid",
                "x-b3-sampled",
                "x-b3-flags",
                "traceparent",
                "tracestate",
                "baggage",
                "b3"
            ]
        );
        assert!(from_names(["none"]).unwrap().is_empty());
        assert!(from_names(["tracecontext", "none"]).unwrap().is_empty());
        assert!(from_names(Vec::<String>::new()).unwrap().is_empty());
    }

    #[test]
    fn unknown_names_are_errors_that_say_what_is_allowed() {
        let err = from_names(["tracecontext", "jaeger"]).unwrap_err();
        assert_eq!(err.field, "propagators");
        assert_eq!(err.value, "jaeger");
        assert_eq!(
            err.to_string(),
            "invalid configuration: `propagators` = jaeger (allowed: tracecontext, baggage, b3, b3multi, none)"
        );
        // Names are case-sensitive, as OTEL_PROPAGATORS is.
        assert!(from_names(["TraceContext"]).is_err());
    }

    #[test]
    fn the_environment_defaults_to_w3c() {
        let env = |value: Option<&'static str>| {
            move |name: &str| {
                assert_eq!(name, "OTEL_PROPAGATORS");
                value.map(str::to_string)
            }
        };
        let default = from_env_with(env(None)).unwrap();
        assert_eq!(default.fields(), ["traceparent", "tracestate", "baggage"]);
        assert_eq!(
            from_env_with(env(Some("  "))).unwrap().fields(),
            default.fields()
        );
        assert_eq!(from_env_with(env(Some("b3"))).unwrap().fields(), ["b3"]);
        assert!(from_env_with(env(Some("none"))).unwrap().is_empty());
        let err = from_env_with(env(Some("tracecontext,xray"))).unwrap_err();
        assert_eq!(
            (err.field, err.value.as_str()),
            ("OTEL_PROPAGATORS", "xray")
        );
    }

    #[test]
    fn composite_injects_all_and_extracts_in_order() {
        let p = CompositePropagator::w3c();
        let cx = with_baggage(&sampled_context(), [BaggageItem::new("user", "alice")]);
        let mut carrier = HashMap::new();
        p.inject_context(&cx, &mut carrier);
        assert_eq!(carrier.len(), 2, "{carrier:?}");
        let out = p.extract_with_context(&Context::new(), &carrier);
        assert_eq!(
            out.span_context().map(SpanContext::trace_id),
            Some(TraceId::from_bytes([0x4b; 16]))
        );
        assert_eq!(get_baggage(&out, "user"), Some("alice"));
    }

    #[test]
    fn later_propagators_win_on_extract() {
        let p = from_names(["tracecontext", "b3"]).unwrap();
        let mut carrier = HashMap::new();
        carrier.insert(
            "traceparent".to_string(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".to_string(),
        );
        carrier.insert(
            "b3".to_string(),
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1".to_string(),
        );
        let sc = p.extract_with_context(&Context::new(), &carrier);
        assert_eq!(
            sc.span_context().unwrap().trace_id().to_string(),
            "80f198ee56343ba864fe8b2a57d3eff7"
        );
    }

    #[test]
    fn noop_and_empty_composite_propagate_nothing() {
        let mut carrier: HashMap<String, String> = HashMap::new();
        NoopPropagator.inject_context(&sampled_context(), &mut carrier);
        CompositePropagator::new(vec![]).inject_context(&sampled_context(), &mut carrier);
        assert!(carrier.is_empty());
        carrier.insert(
            "traceparent".into(),
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into(),
        );
        let base = sampled_context();
        for p in [
            &NoopPropagator as &dyn TextMapPropagator,
            &CompositePropagator::new(vec![]),
        ] {
            let out = p.extract_with_context(&base, &carrier);
            assert_eq!(out.span_context(), base.span_context());
            assert!(p.fields().is_empty());
        }
    }

    #[test]
    fn boxed_and_shared_propagators_are_propagators() {
        let boxed: Box<dyn TextMapPropagator> = Box::new(TraceContextPropagator::new());
        let shared: Arc<dyn TextMapPropagator> = Arc::new(BaggagePropagator::new());
        let composite = CompositePropagator::new(vec![Box::new(boxed), Box::new(shared)]);
        assert_eq!(composite.fields(), ["traceparent", "tracestate", "baggage"]);
    }
}
