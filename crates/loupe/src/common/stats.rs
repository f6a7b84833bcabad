//! Process-wide counters of what the SDK dropped or altered, so nothing is lost silently.
//!
//! These events are rare (bad input), so plain shared atomics are fine here; the hot paths
//! never touch them. Per-pipeline counters (queue drops, exports) live with each pipeline.

use std::sync::atomic::{AtomicU64, Ordering};

/// A monotonically increasing count.
#[derive(Debug, Default)]
pub struct StatCounter(AtomicU64);

impl StatCounter {
    /// Adds one.
    #[inline]
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// The current count.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// What the SDK dropped or changed because the input broke a rule.
#[derive(Debug, Default)]
pub struct SdkStats {
    /// Span, event or link attributes with an empty key (dropped).
    pub empty_keys: StatCounter,
    /// String attribute values cut to the configured maximum length.
    pub values_truncated: StatCounter,
    /// Measurements that were NaN or infinite (dropped).
    pub non_finite_measurements: StatCounter,
    /// Negative increments to monotonic counters (dropped).
    pub negative_increments: StatCounter,
    /// Measurements with an empty attribute key (the attribute was dropped).
    pub metric_empty_keys: StatCounter,
    /// Facade calls that named an instrument already registered with another kind.
    pub instrument_conflicts: StatCounter,
    /// Spans started or ended after their `TracerProvider` was shut down or dropped (not
    /// recorded).
    pub spans_after_shutdown: StatCounter,
}

static STATS: SdkStats = SdkStats {
    empty_keys: StatCounter(AtomicU64::new(0)),
    values_truncated: StatCounter(AtomicU64::new(0)),
    non_finite_measurements: StatCounter(AtomicU64::new(0)),
    negative_increments: StatCounter(AtomicU64::new(0)),
    metric_empty_keys: StatCounter(AtomicU64::new(0)),
    instrument_conflicts: StatCounter(AtomicU64::new(0)),
    spans_after_shutdown: StatCounter(AtomicU64::new(0)),
};

/// The start time of the process-wide counters' cumulative series: the first time a meter
/// provider was built (or they were read).
pub(crate) fn sdk_stats_start() -> std::time::SystemTime {
    static START: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::SystemTime::now)
}

/// The process-wide SDK counters.
pub fn sdk_stats() -> &'static SdkStats {
    &STATS
}

/// Upper bounds, in seconds, of the export-duration buckets.
pub const EXPORT_DURATION_BOUNDS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// The health of one exporter: what it delivered, dropped, failed and retried, and how long
/// its exports took. Published by every meter provider as `loupe.sdk.exporter.*` metrics.
#[derive(Debug)]
pub struct ExporterStats {
    /// The exporter, e.g. `otlp_grpc`, `zipkin`, `statsd`.
    pub exporter: &'static str,
    /// The signal: `traces`, `metrics` or `logs`.
    pub signal: &'static str,
    /// Items (spans, data points, log records) the peer accepted.
    pub exported: StatCounter,
    /// Items in exports that failed for good (after retries, or not retryable).
    pub failed: StatCounter,
    /// Items the peer rejected in a partial success, or that could not be encoded.
    pub rejected: StatCounter,
    /// Retried attempts.
    pub retries: StatCounter,
    /// Items dropped before they reached the exporter (a full batch queue).
    pub dropped: StatCounter,
    duration_count: StatCounter,
    duration_sum_nanos: StatCounter,
    duration_buckets: [StatCounter; EXPORT_DURATION_BOUNDS.len() + 1],
    /// When the exporter registered: the start of its cumulative series.
    pub(crate) registered: std::time::SystemTime,
}

/// A copy of an exporter's export-duration histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct DurationSnapshot {
    /// Exports measured.
    pub count: u64,
    /// Their total duration in seconds.
    pub sum_seconds: f64,
    /// Counts per bucket of [`EXPORT_DURATION_BOUNDS`] (the last is unbounded).
    pub buckets: Vec<u64>,
}

impl ExporterStats {
    /// Records how long one export took.
    pub fn record_duration(&self, elapsed: std::time::Duration) {
        let secs = elapsed.as_secs_f64();
        let idx = EXPORT_DURATION_BOUNDS.partition_point(|b| *b < secs);
        self.duration_buckets[idx].bump();
        self.duration_count.bump();
        self.duration_sum_nanos
            .add(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
    }

    /// The export-duration histogram so far.
    pub fn durations(&self) -> DurationSnapshot {
        DurationSnapshot {
            count: self.duration_count.get(),
            sum_seconds: self.duration_sum_nanos.get() as f64 / 1e9,
            buckets: self.duration_buckets.iter().map(StatCounter::get).collect(),
        }
    }
}

static EXPORTERS: std::sync::Mutex<Vec<std::sync::Weak<ExporterStats>>> =
    std::sync::Mutex::new(Vec::new());

/// Creates the health counters of a new exporter and makes them visible to every meter
/// provider's collection; they disappear when the exporter is dropped.
pub fn register_exporter(
    exporter: &'static str,
    signal: &'static str,
) -> std::sync::Arc<ExporterStats> {
    let stats = std::sync::Arc::new(ExporterStats {
        exporter,
        signal,
        exported: StatCounter::default(),
        failed: StatCounter::default(),
        rejected: StatCounter::default(),
        retries: StatCounter::default(),
        dropped: StatCounter::default(),
        duration_count: StatCounter::default(),
        duration_sum_nanos: StatCounter::default(),
        duration_buckets: Default::default(),
        registered: std::time::SystemTime::now(),
    });
    let mut all = EXPORTERS.lock().unwrap_or_else(|p| p.into_inner());
    all.retain(|w| w.strong_count() > 0);
    all.push(std::sync::Arc::downgrade(&stats));
    stats
}

/// The health counters of every live exporter in the process.
pub fn exporter_stats() -> Vec<std::sync::Arc<ExporterStats>> {
    EXPORTERS
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .filter_map(std::sync::Weak::upgrade)
        .collect()
}
