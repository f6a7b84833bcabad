//! The pipeline span hierarchy of one event batch (seed 003 "Tracing Strategy").

use std::time::{Duration, Instant};

use crate::trace::{Context, Span, SpanContext, SpanKind, Status, Tracer};
use crate::{KeyValue, Value};

/// A stage of the seed's pipeline, in order: ingestion → filter → window → aggregation →
/// emit. Each is a child span of the batch's `query.execution` span.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PipelineStage {
    /// `event.ingestion` (source read, stream junction send).
    Ingestion,
    /// `filter.processing` (expression evaluation).
    Filter,
    /// `window.processing` (event accumulation, window trigger).
    Window,
    /// `aggregation.processing` (state update, computation).
    Aggregation,
    /// `output.emission` (sink formatting, network send).
    Emit,
}

impl PipelineStage {
    /// Every stage, in pipeline order.
    pub const ALL: [PipelineStage; 5] = [
        PipelineStage::Ingestion,
        PipelineStage::Filter,
        PipelineStage::Window,
        PipelineStage::Aggregation,
        PipelineStage::Emit,
    ];

    /// The span name: `event.ingestion`, `filter.processing`, `window.processing`,
    /// `aggregation.processing` or `output.emission`.
    pub fn span_name(self) -> &'static str {
        match self {
            PipelineStage::Ingestion => "event.ingestion",
            PipelineStage::Filter => "filter.processing",
            PipelineStage::Window => "window.processing",
            PipelineStage::Aggregation => "aggregation.processing",
            PipelineStage::Emit => "output.emission",
        }
    }

    /// The `processor.type` attribute and `operation_type` label: `ingestion`, `filter`,
    /// `window`, `aggregation` or `emit`.
    pub fn operation_type(self) -> &'static str {
        match self {
            PipelineStage::Ingestion => "ingestion",
            PipelineStage::Filter => "filter",
            PipelineStage::Window => "window",
            PipelineStage::Aggregation => "aggregation",
            PipelineStage::Emit => "emit",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

/// The spans of one event batch through one query: a `query.execution` root (attributes
/// `query.id`, `stream.name`, `event.count`) whose children are the [`PipelineStage`]s.
///
/// [`ingest`](Self::ingest) starts the root and its `event.ingestion` child;
/// [`stage`](Self::stage) starts the later stages, and [`StageSpan::step`] the seed's
/// sub-steps (`expression.evaluation`, `window.trigger`, ...). Every span ends on
/// `complete` or when dropped.
#[derive(Debug)]
pub struct PipelineSpans {
    span: Span,
    tracer: Tracer,
    context: Context,
    errored: bool,
}

impl PipelineSpans {
    /// Starts `query.execution` for a batch of `event_count` events read from `stream_name`
    /// by `query_id`, as a child of the current span (or a root when there is none), and
    /// returns it with its `event.ingestion` stage started.
    pub fn ingest(
        tracer: &Tracer,
        query_id: &str,
        stream_name: &str,
        event_count: u64,
    ) -> (Self, StageSpan) {
        let parent = Context::current();
        let span = tracer
            .span_builder("query.execution")
            .with_kind(SpanKind::Consumer)
            .with_parent_context(&parent)
            .with_attributes([
                KeyValue::new("query.id", query_id.to_owned()),
                KeyValue::new("stream.name", stream_name.to_owned()),
                KeyValue::new("event.count", event_count),
            ])
            .start();
        let context = parent.with_span_context(span.span_context().clone());
        let pipeline = PipelineSpans {
            span,
            tracer: tracer.clone(),
            context,
            errored: false,
        };
        let ingestion = pipeline.stage(PipelineStage::Ingestion);
        (pipeline, ingestion)
    }

    /// Starts `stage` as a child of `query.execution`.
    pub fn stage(&self, stage: PipelineStage) -> StageSpan {
        StageSpan::new(&self.tracer, &self.context, stage.span_name())
            .with_attribute("processor.type", stage.operation_type())
    }

    /// Records an error on `query.execution`: status error and the `exception` event.
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        self.errored = true;
        self.span.record_error(error);
    }

    /// Sets an attribute on `query.execution`, e.g. `window.type`.
    pub fn set_attribute(&mut self, key: &'static str, value: impl Into<Value>) {
        self.span.set_attribute(key, value);
    }

    /// The context whose active span is `query.execution`, for propagation and async work.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The ids of `query.execution`.
    pub fn span_context(&self) -> &SpanContext {
        self.span.span_context()
    }

    /// Ends `query.execution` with status ok, unless an error was recorded.
    pub fn complete(mut self) {
        if !self.errored {
            self.span.set_status(Status::Ok);
        }
        self.span.end();
    }
}

/// One stage (or sub-step) of a batch: an internal span. Ends on
/// [`complete`](Self::complete) or drop.
#[derive(Debug)]
pub struct StageSpan {
    span: Span,
    tracer: Tracer,
    context: Context,
    start: Instant,
    errored: bool,
}

impl StageSpan {
    fn new(tracer: &Tracer, parent: &Context, name: &'static str) -> Self {
        let span = tracer
            .span_builder(name)
            .with_kind(SpanKind::Internal)
            .with_parent_context(parent)
            .start();
        let context = parent.with_span_context(span.span_context().clone());
        StageSpan {
            span,
            tracer: tracer.clone(),
            context,
            start: Instant::now(),
            errored: false,
        }
    }

    fn with_attribute(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.span.set_attribute(key, value);
        self
    }

    /// Starts a sub-step of this stage (the seed names `source.read`,
    /// `stream.junction.send`, `expression.evaluation`, `event.accumulation`,
    /// `window.trigger`, `state.update`, `computation`, `sink.formatting`, `network.send`).
    pub fn step(&self, name: &'static str) -> StageSpan {
        StageSpan::new(&self.tracer, &self.context, name)
    }

    /// Sets an attribute, e.g. `window.type` or `event.count`.
    pub fn set_attribute(&mut self, key: &'static str, value: impl Into<Value>) {
        self.span.set_attribute(key, value);
    }

    /// Records an error: status error and the `exception` event.
    pub fn record_error<E: std::error::Error + ?Sized>(&mut self, error: &E) {
        self.errored = true;
        self.span.record_error(error);
    }

    /// The context whose active span is this one.
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The span's ids.
    pub fn span_context(&self) -> &SpanContext {
        self.span.span_context()
    }

    /// Time since the span started (feed it to
    /// [`StreamMetrics::record_stage_duration`](super::StreamMetrics::record_stage_duration)).
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Ends the span with status ok unless an error was recorded, and returns its duration.
    pub fn complete(mut self) -> Duration {
        let elapsed = self.start.elapsed();
        if !self.errored {
            self.span.set_status(Status::Ok);
        }
        self.span.end();
        elapsed
    }
}
