//! W3C Trace Context (level 2): the `traceparent` and `tracestate` headers.

use super::carrier::{Extractor, Injector};
use super::hex;
use super::propagator::TextMapPropagator;
use crate::trace::{Context, SpanContext, SpanId, TraceFlags, TraceId, TraceState};

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const FIELDS: [&str; 2] = [TRACEPARENT, TRACESTATE];

/// The length of a version-00 `traceparent`: `00-` + 32 + `-` + 16 + `-` + 2.
const TRACEPARENT_LEN: usize = 55;

/// W3C Trace Context (level 2): `traceparent` and `tracestate`.
///
/// Injects `traceparent: 00-{trace id}-{span id}-{flags}` for the context's span (the
/// flags byte whole, so the sampled and random bits both travel) and `tracestate` when the
/// span has one. Inject writes the span the context carries: for an outgoing request,
/// start a client span and inject a context holding it, so the callee's parent is that
/// span and not yours.
///
/// Extraction follows the specification's parsing rules:
///
/// * ids and flags are lowercase hex; the all-zero trace id or span id is invalid;
/// * version `ff` is invalid; version `00` must be exactly 55 characters;
/// * a higher version is read by its first four fields, and must either end there or
///   continue with `-` (data a future version adds); it is re-injected as version `00`;
/// * optional white space around the value is ignored; a repeated `traceparent` header
///   is ambiguous and ignored;
/// * repeated `tracestate` headers are combined in order; an invalid `tracestate` (bad
///   key or value, a duplicate key, more than 32 members) is dropped whole, and the
///   `traceparent` still applies.
///
/// The extracted span context is marked remote. A missing or invalid `traceparent` leaves
/// the context unchanged.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextPropagator {
    _private: (),
}

impl TraceContextPropagator {
    /// The W3C Trace Context propagator.
    pub const fn new() -> Self {
        TraceContextPropagator { _private: () }
    }
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, carrier: &mut dyn Injector) {
        let Some(sc) = cx.span_context().filter(|sc| sc.is_valid()) else {
            return;
        };
        let header = traceparent(sc.trace_id(), sc.span_id(), sc.trace_flags());
        debug_assert!(header.is_ascii());
        // SAFETY: every byte is ASCII: the template's, or a hex digit that
        // `hex::encode_into` took from `0-9a-f`. (UTF-8 validation was a tenth of
        // `inject`.)
        carrier.set_str(TRACEPARENT, unsafe {
            std::str::from_utf8_unchecked(&header)
        });
        if !sc.trace_state().is_empty() {
            carrier.set_str(TRACESTATE, sc.trace_state().as_header());
        }
    }

    fn extract_with_context(&self, cx: &Context, carrier: &dyn Extractor) -> Context {
        match extract_span_context(carrier) {
            Some(sc) => cx.with_span_context(sc),
            None => cx.clone(),
        }
    }

    fn fields(&self) -> &[&'static str] {
        &FIELDS
    }
}

/// A version-00 `traceparent` value (ASCII).
fn traceparent(trace_id: TraceId, span_id: SpanId, flags: TraceFlags) -> [u8; TRACEPARENT_LEN] {
    let mut out = *b"00-00000000000000000000000000000000-0000000000000000-00";
    hex::encode_into(&trace_id.to_bytes(), &mut out[3..35]);
    hex::encode_into(&span_id.to_bytes(), &mut out[36..52]);
    hex::encode_into(&[flags.bits()], &mut out[53..55]);
    out
}

fn extract_span_context(carrier: &dyn Extractor) -> Option<SpanContext> {
    let mut values = carrier.get_all(TRACEPARENT);
    let value = values.next()?;
    if values.next().is_some() {
        // Two parents: the specification says to start a new trace.
        return None;
    }
    let (trace_id, span_id, flags) = parse_traceparent(value)?;
    Some(SpanContext::new(
        trace_id,
        span_id,
        flags,
        true,
        extract_trace_state(carrier),
    ))
}

/// Parses a `traceparent` value; `None` when the specification says to ignore it.
fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let mut b = value.as_bytes();
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    if b.len() < TRACEPARENT_LEN || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let [version] = hex::decode::<1>(&b[0..2])?;
    let trailing_ok = match version {
        0xff => false,
        0x00 => b.len() == TRACEPARENT_LEN,
        // A future version may append fields, each after a dash.
        _ => b.len() == TRACEPARENT_LEN || b[TRACEPARENT_LEN] == b'-',
    };
    if !trailing_ok {
        return None;
    }
    let trace_id = TraceId::from_bytes(hex::decode::<16>(&b[3..35])?);
    let span_id = SpanId::from_bytes(hex::decode::<8>(&b[36..52])?);
    let [flags] = hex::decode::<1>(&b[53..55])?;
    (trace_id.is_valid() && span_id.is_valid()).then_some((
        trace_id,
        span_id,
        TraceFlags::new(flags),
    ))
}

fn extract_trace_state(carrier: &dyn Extractor) -> TraceState {
    let mut values = carrier.get_all(TRACESTATE);
    let Some(first) = values.next() else {
        return TraceState::NONE;
    };
    let parsed = match values.next() {
        None => TraceState::from_header(first),
        Some(second) => {
            let mut joined = String::from(first);
            for value in std::iter::once(second).chain(values) {
                joined.push(',');
                joined.push_str(value);
            }
            TraceState::from_header(&joined)
        }
    };
    parsed.unwrap_or_default()
}

#[cfg(test)]
mod tests;
