//! Context propagation across process boundaries (W3C Trace Context, W3C Baggage, B3).
//!
//! A trace spans services only if each call carries its context: the caller **injects**
//! the current span (and baggage) into the request's headers, and the callee
//! **extracts** it and starts its own span as a child of the caller's.
//!
//! * A [`TextMapPropagator`] speaks one format: [`TraceContextPropagator`] (W3C
//!   `traceparent` / `tracestate`), [`BaggagePropagator`] (W3C `baggage`),
//!   [`B3Propagator`] (Zipkin's `b3` or `X-B3-*`). [`CompositePropagator`] runs several;
//!   [`from_names`] and [`from_env`] build one from the `OTEL_PROPAGATORS` names.
//! * A carrier is where the fields go: [`Injector`] and [`Extractor`] are implemented for
//!   `HashMap<String, String>` and [`http::HeaderMap`]. Messages carry a typed
//!   [`TraceContext`](crate::TraceContext) instead: see
//!   [`TraceContext::from_context`](crate::TraceContext::from_context) and
//!   [`TraceContext::to_context`](crate::TraceContext::to_context).
//! * [`Baggage`] is application data that travels with the request: [`with_baggage`]
//!   adds to a context, [`get_baggage`] reads it.
//! * The process-wide propagator ([`set_text_map_propagator`], default W3C Trace Context
//!   then W3C Baggage) backs the shortcuts [`inject_context`] / [`extract_context`]
//!   (a.k.a. [`inject_into_headers`] / [`extract_from_headers`]).
//!
//! Propagation never fails a request: a missing or malformed field is ignored, and the
//! context stays as it was.
//!
//! ```
//! use loupe::propagation::{extract_context, get_baggage, inject_context, with_baggage, BaggageItem};
//! use loupe::trace::{Context, InMemorySpanExporter, SimpleSpanProcessor, SpanKind, TracerProvider};
//! use std::collections::HashMap;
//!
//! let exporter = InMemorySpanExporter::default();
//! let provider = TracerProvider::builder()
//!     .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
//!     .build()?;
//! let tracer = provider.tracer("example");
//!
//! // Caller: a client span for the outgoing call, its context injected into the headers.
//! let mut headers = HashMap::new();
//! {
//!     let client = tracer.span_builder("GET /stock").with_kind(SpanKind::Client).start();
//!     let _current = client.enter();
//!     let cx = with_baggage(&Context::current(), [BaggageItem::new("tenant-id", "acme")]);
//!     inject_context(&cx, &mut headers);
//! }
//! assert!(headers["traceparent"].starts_with("00-"));
//! assert_eq!(headers["baggage"], "tenant-id=acme");
//!
//! // Callee (another process, in real life): extract, then start the server span under it.
//! let cx = extract_context(&headers);
//! assert_eq!(get_baggage(&cx, "tenant-id"), Some("acme"));
//! let _attached = cx.attach();
//! tracer.span_builder("GET /stock").with_kind(SpanKind::Server).start().end();
//!
//! let spans = exporter.finished_spans();
//! let (client, server) = (&spans[0], &spans[1]);
//! assert_eq!(server.span_context.trace_id(), client.span_context.trace_id());
//! assert_eq!(server.parent_span_id, client.span_context.span_id());
//! assert!(server.parent_is_remote);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod b3;
mod baggage;
mod carrier;
mod global;
pub(crate) mod hex;
mod message;
mod propagator;
mod trace_context;

pub use b3::{B3Encoding, B3Propagator};
pub use baggage::{
    get_baggage, with_baggage, Baggage, BaggageItem, BaggagePropagator, MAX_BAGGAGE_BYTES,
    MAX_BAGGAGE_MEMBERS,
};
pub use carrier::{Extractor, Injector, Values};
pub use global::{
    extract_context, extract_from_headers, inject_context, inject_into_headers,
    set_text_map_propagator, text_map_propagator, with_text_map_propagator,
};
pub use propagator::{
    from_env, from_names, CompositePropagator, NoopPropagator, TextMapPropagator,
};
pub use trace_context::TraceContextPropagator;
