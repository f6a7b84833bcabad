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
}

static STATS: SdkStats = SdkStats {
    empty_keys: StatCounter(AtomicU64::new(0)),
    values_truncated: StatCounter(AtomicU64::new(0)),
    non_finite_measurements: StatCounter(AtomicU64::new(0)),
    negative_increments: StatCounter(AtomicU64::new(0)),
    metric_empty_keys: StatCounter(AtomicU64::new(0)),
    instrument_conflicts: StatCounter(AtomicU64::new(0)),
};

/// The process-wide SDK counters.
pub fn sdk_stats() -> &'static SdkStats {
    &STATS
}
