//! Collected metrics, shaped like OTLP: resource → scope → metric → data points.

use super::exponential::ExpoSnapshot;
use crate::common::attribute::KeyValue;
use crate::common::resource::Resource;
use crate::common::scope::InstrumentationScope;
use std::sync::Arc;
use std::time::SystemTime;

/// Whether points accumulate since the series started or since the last collection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Hash)]
pub enum Temporality {
    /// Totals since the series started (Prometheus' model; the default).
    #[default]
    Cumulative,
    /// Changes since the previous collection (StatsD's model). Up-down counters stay
    /// cumulative, as the OpenTelemetry delta preference specifies.
    Delta,
}

/// Everything one collection produced.
#[derive(Clone, Debug, PartialEq)]
pub struct ResourceMetrics {
    /// The resource of the meter provider.
    pub resource: Arc<Resource>,
    /// Metrics grouped by instrumentation scope.
    pub scope_metrics: Vec<ScopeMetrics>,
}

impl ResourceMetrics {
    /// Finds a metric by name in any scope.
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.scope_metrics
            .iter()
            .flat_map(|s| s.metrics.iter())
            .find(|m| m.name == name)
    }

    /// Every metric, with its scope.
    pub fn metrics(&self) -> impl Iterator<Item = (&InstrumentationScope, &Metric)> {
        self.scope_metrics
            .iter()
            .flat_map(|s| s.metrics.iter().map(move |m| (s.scope, m)))
    }
}

/// The metrics of one instrumentation scope.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopeMetrics {
    /// The scope.
    pub scope: &'static InstrumentationScope,
    /// Its metrics.
    pub metrics: Vec<Metric>,
}

/// One instrument's collected data.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// The instrument name.
    pub name: String,
    /// The description given at registration.
    pub description: String,
    /// The unit (UCUM), e.g. `s`, `By`, `{request}`.
    pub unit: String,
    /// The points.
    pub data: MetricData,
}

/// The points of a metric, by aggregation.
#[derive(Clone, Debug, PartialEq)]
pub enum MetricData {
    /// Counters and up-down counters.
    Sum {
        /// One point per attribute set.
        points: Vec<NumberPoint>,
        /// Cumulative or delta.
        temporality: Temporality,
        /// True for counters (never decrease).
        is_monotonic: bool,
    },
    /// Gauges: the last value per attribute set.
    Gauge {
        /// One point per attribute set.
        points: Vec<NumberPoint>,
    },
    /// Explicit-bucket histograms.
    Histogram {
        /// One point per attribute set.
        points: Vec<HistogramPoint>,
        /// Cumulative or delta.
        temporality: Temporality,
    },
    /// Base-2 exponential histograms.
    ExponentialHistogram {
        /// One point per attribute set.
        points: Vec<ExponentialHistogramPoint>,
        /// Cumulative or delta.
        temporality: Temporality,
    },
}

/// A number, keeping the instrument's type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NumberValue {
    /// From a `u64` instrument.
    U64(u64),
    /// From an `i64` instrument.
    I64(i64),
    /// From an `f64` instrument.
    F64(f64),
}

impl NumberValue {
    /// The value as a float (for display and analytics).
    pub fn as_f64(self) -> f64 {
        match self {
            NumberValue::U64(v) => v as f64,
            NumberValue::I64(v) => v as f64,
            NumberValue::F64(v) => v,
        }
    }
}

/// A sum or gauge point.
#[derive(Clone, Debug, PartialEq)]
pub struct NumberPoint {
    /// The attribute set, sorted by key, shared with the series it was read from (so a
    /// collection copies no attributes).
    pub attributes: Arc<[KeyValue]>,
    /// Start of the accumulation window.
    pub start_time: SystemTime,
    /// When the point was collected.
    pub time: SystemTime,
    /// The value.
    pub value: NumberValue,
}

/// An explicit-bucket histogram point.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramPoint {
    /// The attribute set, sorted by key, shared with the series it was read from (so a
    /// collection copies no attributes).
    pub attributes: Arc<[KeyValue]>,
    /// Start of the accumulation window.
    pub start_time: SystemTime,
    /// When the point was collected.
    pub time: SystemTime,
    /// Number of measurements.
    pub count: u64,
    /// Sum of measurements.
    pub sum: f64,
    /// Smallest measurement (cumulative points only).
    pub min: Option<f64>,
    /// Largest measurement (cumulative points only).
    pub max: Option<f64>,
    /// Upper bounds of the buckets, ascending (the last bucket is unbounded).
    pub bounds: Arc<[f64]>,
    /// Counts per bucket; `bounds.len() + 1` entries.
    pub bucket_counts: Vec<u64>,
}

/// A base-2 exponential histogram point.
#[derive(Clone, Debug, PartialEq)]
pub struct ExponentialHistogramPoint {
    /// The attribute set, sorted by key, shared with the series it was read from (so a
    /// collection copies no attributes).
    pub attributes: Arc<[KeyValue]>,
    /// Start of the accumulation window.
    pub start_time: SystemTime,
    /// When the point was collected.
    pub time: SystemTime,
    /// Scale, buckets, zero count, count, sum, min and max.
    pub data: ExpoSnapshot,
}

impl ExponentialHistogramPoint {
    /// Estimates the q-quantile (0.0–1.0) from the buckets.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.data.quantile(q)
    }
}
