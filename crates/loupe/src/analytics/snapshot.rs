//! What one aggregation produced: counter totals, gauge values, histogram percentiles.

use super::insights::Insight;
use super::percentiles::{Buckets, Estimate, Percentiles};
use crate::common::attribute::KeyValue;
use crate::metrics::{MetricData, NumberValue, ResourceMetrics};
use std::time::SystemTime;

/// One aggregation of a meter provider's metrics, with the insights of the analyser if
/// one was attached (see [`MetricsAggregator::with_analyzer`](super::MetricsAggregator::with_analyzer)).
#[derive(Clone, Debug, PartialEq)]
pub struct AnalyticsSnapshot {
    /// When the metrics were collected.
    pub taken_at: SystemTime,
    /// Counters and up-down counters, one entry per attribute set.
    pub counters: Vec<CounterSummary>,
    /// Gauges, one entry per attribute set.
    pub gauges: Vec<GaugeSummary>,
    /// Histograms, one entry per attribute set.
    pub histograms: Vec<HistogramSummary>,
    /// The analyser's findings, most severe first; empty without an analyser.
    pub insights: Vec<Insight>,
}

/// The cumulative total of one counter series.
#[derive(Clone, Debug, PartialEq)]
pub struct CounterSummary {
    /// The instrument name.
    pub name: String,
    /// The instrument unit.
    pub unit: String,
    /// The series' attributes.
    pub attributes: Vec<KeyValue>,
    /// The total since the series started, in the instrument's number type.
    pub total: NumberValue,
    /// True for counters, false for up-down counters.
    pub is_monotonic: bool,
}

/// The last value of one gauge series.
#[derive(Clone, Debug, PartialEq)]
pub struct GaugeSummary {
    /// The instrument name.
    pub name: String,
    /// The instrument unit.
    pub unit: String,
    /// The series' attributes.
    pub attributes: Vec<KeyValue>,
    /// The last recorded value.
    pub value: NumberValue,
}

/// Count, sum, extremes and percentiles of one histogram series.
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramSummary {
    /// The instrument name.
    pub name: String,
    /// The instrument unit.
    pub unit: String,
    /// The series' attributes.
    pub attributes: Vec<KeyValue>,
    /// Number of measurements.
    pub count: u64,
    /// Sum of measurements.
    pub sum: f64,
    /// Smallest measurement, when known.
    pub min: Option<f64>,
    /// Largest measurement, when known.
    pub max: Option<f64>,
    /// p50/p90/p95/p99; `None` when the series is empty.
    pub percentiles: Option<Percentiles>,
    /// How the percentiles were estimated and their error bound.
    pub estimate: Estimate,
    buckets: Buckets,
}

impl HistogramSummary {
    /// Any q-quantile (0.0–1.0), estimated as the percentiles are; `None` when empty or
    /// `q` is out of range.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        self.buckets.quantile(q)
    }

    /// The mean, `sum / count`; `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum / self.count as f64)
    }
}

/// Whether `series` holds every attribute of `filter` (in any order).
fn has_all(series: &[KeyValue], filter: &[KeyValue]) -> bool {
    filter.iter().all(|kv| series.contains(kv))
}

impl AnalyticsSnapshot {
    /// Summarises a collection (use cumulative temporality for totals since start).
    pub fn from_metrics(metrics: &ResourceMetrics) -> Self {
        let mut out = AnalyticsSnapshot {
            taken_at: SystemTime::now(),
            counters: Vec::new(),
            gauges: Vec::new(),
            histograms: Vec::new(),
            insights: Vec::new(),
        };
        for (_, metric) in metrics.metrics() {
            let (name, unit) = (&metric.name, &metric.unit);
            match &metric.data {
                MetricData::Sum {
                    points,
                    is_monotonic,
                    ..
                } => out.counters.extend(points.iter().map(|p| CounterSummary {
                    name: name.clone(),
                    unit: unit.clone(),
                    attributes: p.attributes.to_vec(),
                    total: p.value,
                    is_monotonic: *is_monotonic,
                })),
                MetricData::Gauge { points } => {
                    out.gauges.extend(points.iter().map(|p| GaugeSummary {
                        name: name.clone(),
                        unit: unit.clone(),
                        attributes: p.attributes.to_vec(),
                        value: p.value,
                    }))
                }
                MetricData::Histogram { points, .. } => {
                    for p in points {
                        let buckets = Buckets::explicit(p);
                        out.histograms.push(HistogramSummary {
                            name: name.clone(),
                            unit: unit.clone(),
                            attributes: p.attributes.to_vec(),
                            count: p.count,
                            sum: p.sum,
                            min: p.min,
                            max: p.max,
                            percentiles: buckets.percentiles(),
                            estimate: buckets.estimate(),
                            buckets,
                        });
                    }
                }
                MetricData::ExponentialHistogram { points, .. } => {
                    for p in points {
                        let buckets = Buckets::Exponential(p.data.clone());
                        out.histograms.push(HistogramSummary {
                            name: name.clone(),
                            unit: unit.clone(),
                            attributes: p.attributes.to_vec(),
                            count: p.data.count,
                            sum: p.data.sum,
                            min: p.data.min,
                            max: p.data.max,
                            percentiles: buckets.percentiles(),
                            estimate: buckets.estimate(),
                            buckets,
                        });
                    }
                }
            }
        }
        out
    }

    /// The sum over every series of counter `name`; `None` if there is no such counter.
    pub fn counter_total(&self, name: &str) -> Option<f64> {
        self.counter_total_where(name, &[])
    }

    /// The sum over the series of counter `name` that carry every attribute in `filter`;
    /// `None` if no series matches.
    pub fn counter_total_where(&self, name: &str, filter: &[KeyValue]) -> Option<f64> {
        self.counters
            .iter()
            .filter(|c| c.name == name && has_all(&c.attributes, filter))
            .map(|c| c.total.as_f64())
            .reduce(|a, b| a + b)
    }

    /// The value of gauge `name` for exactly the attribute set `attributes` (any order).
    pub fn gauge(&self, name: &str, attributes: &[KeyValue]) -> Option<f64> {
        self.gauges
            .iter()
            .find(|g| {
                g.name == name
                    && g.attributes.len() == attributes.len()
                    && has_all(&g.attributes, attributes)
            })
            .map(|g| g.value.as_f64())
    }

    /// The highest current level of `name` over its series: a gauge's value or an
    /// up-down counter's total (queue depths are often either).
    pub fn level_max(&self, name: &str) -> Option<f64> {
        let gauges = self.gauges.iter().filter(|g| g.name == name);
        let levels = self
            .counters
            .iter()
            .filter(|c| c.name == name && !c.is_monotonic);
        gauges
            .map(|g| g.value.as_f64())
            .chain(levels.map(|c| c.total.as_f64()))
            .reduce(f64::max)
    }

    /// The first series of histogram `name` whose attributes include all of `filter`.
    pub fn histogram(&self, name: &str, filter: &[KeyValue]) -> Option<&HistogramSummary> {
        self.histograms
            .iter()
            .find(|h| h.name == name && has_all(&h.attributes, filter))
    }
}
