//! B3 (Zipkin): the single `b3` header and the multiple `X-B3-*` headers.

use super::carrier::{Extractor, Injector};
use super::hex;
use super::propagator::TextMapPropagator;
use crate::trace::{Context, SpanContext, SpanId, TraceFlags, TraceId, TraceState};

const B3: &str = "b3";
const TRACE_ID: &str = "x-b3-traceid";
const SPAN_ID: &str = "x-b3-spanid";
const SAMPLED: &str = "x-b3-sampled";
const FLAGS: &str = "x-b3-flags";
const PARENT_SPAN_ID: &str = "x-b3-parentspanid";

const SINGLE_FIELDS: [&str; 1] = [B3];
const MULTI_FIELDS: [&str; 4] = [TRACE_ID, SPAN_ID, SAMPLED, FLAGS];
const BOTH_FIELDS: [&str; 5] = [B3, TRACE_ID, SPAN_ID, SAMPLED, FLAGS];

/// Which B3 headers [`B3Propagator`] injects. Extraction always reads both forms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum B3Encoding {
    /// One `b3: {trace id}-{span id}-{sampling state}` header (the default; what
    /// `OTEL_PROPAGATORS=b3` selects).
    #[default]
    SingleHeader,
    /// `X-B3-TraceId`, `X-B3-SpanId` and `X-B3-Sampled` (or `X-B3-Flags` for debug): what
    /// `OTEL_PROPAGATORS=b3multi` selects.
    MultipleHeaders,
    /// Both forms, for peers that read only one of them.
    SingleAndMultipleHeaders,
}

/// B3 propagation, as Zipkin and older tracers speak it.
///
/// **Extract** reads the single `b3` header (`{trace id}-{span id}`, optionally
/// `-{sampling state}` and `-{parent span id}`) and the multiple headers
/// (`X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled`, `X-B3-Flags`, `X-B3-ParentSpanId`).
/// A valid single header wins over the multiple ones. Ids are lowercase hex; a 64-bit
/// trace id is left-padded with zeros to 128 bits. The sampling state is `1` (sampled),
/// `0` (not sampled) or `d` (debug, which implies sampled); `X-B3-Sampled` also accepts
/// the legacy `true` / `false`, and `X-B3-Flags: 1` means debug. An absent sampling state
/// ("defer") extracts as not sampled, as OpenTelemetry does. The sampling-only forms
/// (`b3: 0`, `b3: 1`, `b3: d`) carry no ids, so there is no parent to continue: the
/// context is left as it was, and a new trace starts. Anything malformed (uppercase hex,
/// bad lengths, an unknown sampling state, a malformed parent span id) is ignored whole.
///
/// **Inject** writes the current span's ids: the `span id` sent is the span the context
/// carries. B3 expects each hop to have its own span, so for an outgoing request start a
/// client span and inject a context holding it. Debug extracted from upstream is
/// remembered in the context and re-injected (`d`, or `X-B3-Flags: 1` without
/// `X-B3-Sampled`, as the B3 specification asks) for spans of the same trace. The parent
/// span id is not sent (it is optional), nor is the trace state (B3 has none).
#[derive(Clone, Copy, Debug, Default)]
pub struct B3Propagator {
    encoding: B3Encoding,
}

impl B3Propagator {
    /// Injects the single `b3` header.
    pub const fn single() -> Self {
        B3Propagator::with_encoding(B3Encoding::SingleHeader)
    }

    /// Injects the multiple `X-B3-*` headers.
    pub const fn multi() -> Self {
        B3Propagator::with_encoding(B3Encoding::MultipleHeaders)
    }

    /// Injects the headers `encoding` names.
    pub const fn with_encoding(encoding: B3Encoding) -> Self {
        B3Propagator { encoding }
    }

    /// The headers this propagator injects.
    pub fn encoding(&self) -> B3Encoding {
        self.encoding
    }
}

/// Remembers that upstream asked for debug on a trace, so it is propagated onwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct B3Debug(TraceId);

/// What a B3 sampling state says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Sampling {
    Defer,
    Deny,
    Accept,
    Debug,
}

impl Sampling {
    fn flags(self) -> TraceFlags {
        match self {
            Sampling::Accept | Sampling::Debug => TraceFlags::SAMPLED,
            Sampling::Defer | Sampling::Deny => TraceFlags::NONE,
        }
    }
}

impl TextMapPropagator for B3Propagator {
    fn inject_context(&self, cx: &Context, carrier: &mut dyn Injector) {
        let Some(sc) = cx.span_context().filter(|sc| sc.is_valid()) else {
            return;
        };
        let debug = sc.is_sampled() && cx.get::<B3Debug>().is_some_and(|d| d.0 == sc.trace_id());
        let mut ids = [0u8; 32 + 1 + 16];
        hex::encode_into(&sc.trace_id().to_bytes(), &mut ids[..32]);
        ids[32] = b'-';
        hex::encode_into(&sc.span_id().to_bytes(), &mut ids[33..]);
        let Ok(ids) = std::str::from_utf8(&ids) else {
            return;
        };
        let (trace_id, span_id) = (&ids[..32], &ids[33..]);

        if self.encoding != B3Encoding::MultipleHeaders {
            let state = match (debug, sc.is_sampled()) {
                (true, _) => 'd',
                (false, true) => '1',
                (false, false) => '0',
            };
            let mut single = String::with_capacity(ids.len() + 2);
            single.push_str(ids);
            single.push('-');
            single.push(state);
            carrier.set(B3, single);
        }
        if self.encoding != B3Encoding::SingleHeader {
            carrier.set_str(TRACE_ID, trace_id);
            carrier.set_str(SPAN_ID, span_id);
            if debug {
                carrier.set_str(FLAGS, "1");
            } else {
                carrier.set_str(SAMPLED, if sc.is_sampled() { "1" } else { "0" });
            }
        }
    }

    fn extract_with_context(&self, cx: &Context, carrier: &dyn Extractor) -> Context {
        let extracted = carrier
            .get(B3)
            .and_then(parse_single)
            .or_else(|| parse_multi(carrier));
        let Some((sc, sampling)) = extracted else {
            return cx.clone();
        };
        let trace_id = sc.trace_id();
        let cx = cx.with_span_context(sc);
        if sampling == Sampling::Debug {
            cx.with_value(B3Debug(trace_id))
        } else if cx.get::<B3Debug>().is_some() {
            // Forget a debug flag from an earlier extraction.
            cx.with_value(B3Debug(TraceId::INVALID))
        } else {
            cx
        }
    }

    fn fields(&self) -> &[&'static str] {
        match self.encoding {
            B3Encoding::SingleHeader => &SINGLE_FIELDS,
            B3Encoding::MultipleHeaders => &MULTI_FIELDS,
            B3Encoding::SingleAndMultipleHeaders => &BOTH_FIELDS,
        }
    }
}

fn trim_ows(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

/// A 64-bit (left-padded) or 128-bit trace id; `None` if malformed or all zero.
fn parse_trace_id(s: &str) -> Option<TraceId> {
    let id = match s.len() {
        16 => {
            let mut bytes = [0u8; 16];
            bytes[8..].copy_from_slice(&hex::decode::<8>(s.as_bytes())?);
            TraceId::from_bytes(bytes)
        }
        _ => TraceId::from_bytes(hex::decode::<16>(s.as_bytes())?),
    };
    id.is_valid().then_some(id)
}

fn parse_span_id(s: &str) -> Option<SpanId> {
    let id = SpanId::from_bytes(hex::decode::<8>(s.as_bytes())?);
    id.is_valid().then_some(id)
}

fn remote(trace_id: TraceId, span_id: SpanId, sampling: Sampling) -> (SpanContext, Sampling) {
    let sc = SpanContext::new(trace_id, span_id, sampling.flags(), true, TraceState::NONE);
    (sc, sampling)
}

/// `{trace id}-{span id}[-{sampling state}[-{parent span id}]]`. The sampling-only forms
/// carry no ids and give `None`.
fn parse_single(value: &str) -> Option<(SpanContext, Sampling)> {
    let mut parts = trim_ows(value).split('-');
    let trace_id = parse_trace_id(parts.next()?)?;
    let span_id = parse_span_id(parts.next()?)?;
    let sampling = match parts.next() {
        None => Sampling::Defer,
        Some("0") => Sampling::Deny,
        Some("1") => Sampling::Accept,
        Some("d") => Sampling::Debug,
        Some(_) => return None,
    };
    if let Some(parent) = parts.next() {
        parse_span_id(parent)?;
    }
    if parts.next().is_some() {
        return None;
    }
    Some(remote(trace_id, span_id, sampling))
}

fn parse_multi(carrier: &dyn Extractor) -> Option<(SpanContext, Sampling)> {
    let trace_id = parse_trace_id(trim_ows(carrier.get(TRACE_ID)?))?;
    let span_id = parse_span_id(trim_ows(carrier.get(SPAN_ID)?))?;
    if let Some(parent) = carrier.get(PARENT_SPAN_ID) {
        parse_span_id(trim_ows(parent))?;
    }
    let debug = carrier.get(FLAGS).map(trim_ows) == Some("1");
    let sampling = match carrier.get(SAMPLED).map(trim_ows) {
        _ if debug => Sampling::Debug,
        None => Sampling::Defer,
        Some("1" | "true") => Sampling::Accept,
        Some("0" | "false") => Sampling::Deny,
        Some(_) => return None,
    };
    Some(remote(trace_id, span_id, sampling))
}

#[cfg(test)]
mod tests;
