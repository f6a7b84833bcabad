//! Distributed tracing: tracers, spans, sampling, limits, processors and export.
//!
//! ```
//! use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, SpanKind, TracerProvider};
//!
//! let exporter = InMemorySpanExporter::default();
//! let provider = TracerProvider::builder()
//!     .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
//!     .build()?;
//! let tracer = provider.tracer("checkout");
//!
//! let mut parent = tracer.span_builder("handle_order").with_kind(SpanKind::Server).start();
//! parent.set_attribute("order.id", 42i64);
//! {
//!     let _current = parent.enter();
//!     let mut child = tracer.start("charge_card"); // child of `parent`
//!     child.add_event("card.accepted", vec![]);
//! } // child ends here
//! parent.end();
//!
//! let spans = exporter.finished_spans();
//! assert_eq!(spans.len(), 2);
//! assert_eq!(spans[0].parent_span_id, spans[1].span_context.span_id());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod batch;
mod context;
mod export;
mod future;
mod ids;
mod limits;
mod processor;
mod ring;
mod sampler;
mod slot;
mod span;
mod trace_state;
mod tracer;

pub use crate::export::memory::InMemorySpanExporter;
pub use batch::{BatchConfig, BatchSpanProcessor, BatchStats};
pub use context::{Context, ContextGuard};
pub use export::{NoopSpanExporter, SpanBatch, SpanExporter};
#[cfg(feature = "tokio")]
pub use future::spawn;
pub use future::{FutureExt, InSpan, WithContext};
pub use ids::{
    ParseError, SpanContext, SpanId, TraceFlags, TraceId, TraceState, MAX_TRACE_STATE_MEMBERS,
};
pub use limits::SpanLimits;
pub use processor::{SimpleSpanProcessor, SpanProcessor};
pub use sampler::{
    AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, RateLimitingSampler, Sampler,
    SamplingDecision, SamplingParams, SamplingResult, TraceIdRatioSampler,
};
pub use span::{EnteredSpan, Event, Link, Span, SpanData, SpanKind, Status};
pub use tracer::{SpanBuilder, Tracer, TracerProvider, TracerProviderBuilder};
