//! Configuration of the stream pack's metrics.

/// Buckets (seconds) of `query_latency_seconds`: 10 µs to 10 s, enough to read p50, p95
/// and p99 per query (which the seed's `quantile` label asks for) of micro-batches too.
pub const QUERY_LATENCY_BUCKETS: [f64; 17] = [
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
    0.1, 0.25, 1.0, 2.5, 10.0,
];

/// Buckets (milliseconds, as seed 004 records them) of `processor.processing.duration`.
pub const PROCESSING_DURATION_BUCKETS_MS: [f64; 12] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0,
];

/// The label value that query ids (or stream names) beyond the configured maximum fold into.
pub const OVERFLOW_LABEL: &str = "other";

/// How [`StreamMetrics`](super::StreamMetrics) names and bounds its series.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamMetricsConfig {
    /// Most distinct `query_id` label values; later ids fold into
    /// [`overflow_label`](Self::overflow_label) and each folded recording is counted in
    /// `query_id_overflow_total{label="query_id"}`. Default: 100.
    pub max_query_ids: usize,
    /// Most distinct `stream_name` label values, folded the same way
    /// (`query_id_overflow_total{label="stream_name"}`). Default: 100.
    pub max_stream_names: usize,
    /// The label value excess ids fold into. Default: [`OVERFLOW_LABEL`] (`other`).
    pub overflow_label: String,
    /// Buckets of `query_latency_seconds`. Default: [`QUERY_LATENCY_BUCKETS`].
    pub latency_buckets: Vec<f64>,
    /// Buckets of `processor.processing.duration` in milliseconds. Default:
    /// [`PROCESSING_DURATION_BUCKETS_MS`].
    pub processing_buckets_ms: Vec<f64>,
}

impl Default for StreamMetricsConfig {
    fn default() -> Self {
        StreamMetricsConfig {
            max_query_ids: 100,
            max_stream_names: 100,
            overflow_label: OVERFLOW_LABEL.to_owned(),
            latency_buckets: QUERY_LATENCY_BUCKETS.to_vec(),
            processing_buckets_ms: PROCESSING_DURATION_BUCKETS_MS.to_vec(),
        }
    }
}
