//! The stream-processing pack (seeds 003 and 004): metrics and spans for EventFlux-style
//! query pipelines.
//!
//! - [`StreamMetrics`] records the seed's query, stream and system families
//!   (`query_events_processed_total`, `query_latency_seconds`, `query_buffer_utilization`,
//!   `stream_backpressure_events_total`, `eventflux_uptime_seconds`, `connections_total`,
//!   ...) and seed 004's `processor.*` ones (window triggers, dropped events, stage
//!   durations and `processor.watermark.lag`), under the seed's names and labels.
//! - Query ids are cardinality guarded: beyond
//!   [`StreamMetricsConfig::max_query_ids`] new ids fold into the `other` label value and
//!   each folded recording is counted in `query_id_overflow_total{label="query_id"}`.
//!   Stream names are guarded the same way.
//! - [`PipelineSpans::ingest`] starts the spans of one event batch: a `query.execution` root
//!   whose children are the [`PipelineStage`]s ingestion → filter → window → aggregation →
//!   emit, each of which can hold the seed's sub-steps ([`StageSpan::step`]).
//!
//! ```
//! use std::time::{Duration, SystemTime};
//!
//! use loupe::metrics::MeterProvider;
//! use loupe::packs::stream::{PipelineSpans, PipelineStage, StreamMetrics, StreamMetricsConfig};
//! use loupe::trace::{InMemorySpanExporter, SimpleSpanProcessor, TracerProvider};
//!
//! let spans = InMemorySpanExporter::default();
//! // Keep the provider alive: dropping it shuts its tracers down.
//! let provider = TracerProvider::builder()
//!     .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
//!     .build()?;
//! let tracer = provider.tracer("eventflux");
//! let meters = MeterProvider::builder().build();
//! let metrics = StreamMetrics::new(&meters.meter("eventflux"), StreamMetricsConfig::default())?;
//!
//! let (batch, ingestion) = PipelineSpans::ingest(&tracer, "stock_avg", "StockStream", 64);
//! metrics.record_received("StockStream", 64);
//! ingestion.complete();
//! for stage in [PipelineStage::Filter, PipelineStage::Window, PipelineStage::Aggregation] {
//!     let span = batch.stage(stage);
//!     metrics.record_stage_duration(stage, span.complete());
//! }
//! let emit = batch.stage(PipelineStage::Emit);
//! metrics.record_emitted("stock_avg", "AvgStream", 1);
//! emit.complete();
//! batch.complete();
//! metrics.record_batch("stock_avg", "StockStream", 64, Duration::from_micros(250));
//! assert_eq!(metrics.record_buffer_utilization("stock_avg", 512, 1024), 0.5);
//! let now = SystemTime::now();
//! metrics.record_watermark("0", now - Duration::from_secs(1), now);
//!
//! let collected = meters.collect();
//! assert!(collected.metric("query_events_processed_total").is_some());
//! assert!(collected.metric("processor.watermark.lag").is_some());
//! assert_eq!(spans.finished_spans().len(), 6);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod config;
mod guard;
mod metrics;
mod span;

pub use config::{
    StreamMetricsConfig, OVERFLOW_LABEL, PROCESSING_DURATION_BUCKETS_MS, QUERY_LATENCY_BUCKETS,
};
pub use metrics::StreamMetrics;
pub use span::{PipelineSpans, PipelineStage, StageSpan};
