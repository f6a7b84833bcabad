//! Turning series into data points, cumulative or delta.

use super::cells::HistSnapshot;
use super::data::{
    ExponentialHistogramPoint, HistogramPoint, Metric, MetricData, NumberPoint, NumberValue,
    ResourceMetrics, ScopeMetrics, Temporality,
};
use super::exponential::ExpoSnapshot;
use super::instrument::{InstrumentCore, InstrumentKind, NumberKind, Observer};
use super::meter::MeterShared;
use super::series::{Aggregator, Series};
use crate::common::attribute::KeyValue;
use crate::common::scope::InstrumentationScope;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

/// What a delta reader remembers between collections.
#[derive(Default)]
pub(crate) struct DeltaState {
    previous: HashMap<u64, Previous>,
    last_collect: Option<SystemTime>,
}

enum Previous {
    Int(u64),
    Float(f64),
    Histogram(HistSnapshot),
    Exponential(ExpoSnapshot),
}

fn number(kind: NumberKind, bits: u64) -> NumberValue {
    match kind {
        NumberKind::U64 => NumberValue::U64(bits),
        NumberKind::I64 => NumberValue::I64(bits as i64),
        NumberKind::F64 => NumberValue::F64(f64::from_bits(bits)),
    }
}

enum Raw {
    Number(NumberValue),
    Histogram(HistSnapshot),
    Exponential(ExpoSnapshot),
}

fn read(series: &Series, kind: NumberKind) -> Option<Raw> {
    Some(match &series.agg {
        Aggregator::Sum(sum) => Raw::Number(match kind {
            NumberKind::F64 => NumberValue::F64(sum.float_total()),
            _ => number(kind, sum.int_total()),
        }),
        Aggregator::LastValue(cell) => Raw::Number(number(kind, cell.get()?)),
        Aggregator::Histogram(h) => Raw::Histogram(h.snapshot()),
        Aggregator::Exponential(h) => Raw::Exponential(h.snapshot()),
    })
}

/// Subtracts the previous cumulative value; `None` when nothing changed.
fn delta(raw: Raw, previous: Option<&Previous>) -> (Option<Raw>, Previous) {
    match raw {
        Raw::Number(NumberValue::F64(v)) => {
            let before = match previous {
                Some(Previous::Float(p)) => *p,
                _ => 0.0,
            };
            let d = v - before;
            (
                (d != 0.0).then_some(Raw::Number(NumberValue::F64(d))),
                Previous::Float(v),
            )
        }
        Raw::Number(n) => {
            let bits = match n {
                NumberValue::U64(v) => v,
                NumberValue::I64(v) => v as u64,
                NumberValue::F64(v) => v.to_bits(),
            };
            let before = match previous {
                Some(Previous::Int(p)) => *p,
                _ => 0,
            };
            let d = bits.wrapping_sub(before);
            let value = match n {
                NumberValue::I64(_) => NumberValue::I64(d as i64),
                _ => NumberValue::U64(d),
            };
            ((d != 0).then_some(Raw::Number(value)), Previous::Int(bits))
        }
        Raw::Histogram(h) => {
            let mut d = h.clone();
            if let Some(Previous::Histogram(p)) = previous {
                for (c, pc) in d.counts.iter_mut().zip(&p.counts) {
                    *c = c.saturating_sub(*pc);
                }
                d.count = d.count.saturating_sub(p.count);
                d.sum -= p.sum;
            }
            // Extremes of a window cannot be derived from two cumulative snapshots.
            d.min = None;
            d.max = None;
            (
                (d.count != 0).then_some(Raw::Histogram(d)),
                Previous::Histogram(h),
            )
        }
        Raw::Exponential(e) => {
            let d = match previous {
                Some(Previous::Exponential(p)) => e.delta_since(p),
                _ => ExpoSnapshot {
                    min: None,
                    max: None,
                    ..e.clone()
                },
            };
            (
                (d.count != 0).then_some(Raw::Exponential(d)),
                Previous::Exponential(e),
            )
        }
    }
}

fn temporality_for(kind: InstrumentKind, preferred: Temporality) -> Temporality {
    match kind {
        InstrumentKind::Counter | InstrumentKind::Histogram | InstrumentKind::ObservableCounter => {
            preferred
        }
        _ => Temporality::Cumulative,
    }
}

fn collect_instrument(
    inst: &InstrumentCore,
    preferred: Temporality,
    mut state: Option<&mut DeltaState>,
    now: SystemTime,
) -> Option<MetricData> {
    let d = &inst.descriptor;
    if !inst.callbacks.is_empty() {
        // Observable instruments report only what the callbacks observe this time.
        for series in inst.series.snapshot() {
            if let Aggregator::LastValue(cell) = &series.agg {
                cell.clear();
            }
        }
        let observer = Observer { core: inst };
        for callback in &inst.callbacks {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(&observer)));
        }
    }
    let temporality = temporality_for(d.kind, preferred);
    let window_start = state.as_ref().and_then(|s| s.last_collect);
    let all = inst.series.snapshot();
    // An instrument's points are all of one kind: that kind's vector is sized once
    // (grown by doubling, a 10,000-series scrape copied it, and faulted in fresh pages,
    // several times over).
    let histogram = matches!(d.kind, InstrumentKind::Histogram);
    let exponential = matches!(
        inst.series.kind(),
        super::series::AggregationKind::Exponential { .. }
    );
    let room = |expected: bool| if expected { all.len() } else { 0 };
    let mut numbers = Vec::with_capacity(room(!histogram));
    let mut histograms = Vec::with_capacity(room(histogram && !exponential));
    let mut exponentials = Vec::with_capacity(room(exponential));
    for series in all {
        let Some(raw) = read(&series, d.number) else {
            continue;
        };
        let is_gauge = matches!(
            d.kind,
            InstrumentKind::Gauge | InstrumentKind::ObservableGauge
        );
        let (raw, start_time) = match (&mut state, temporality) {
            (Some(state), Temporality::Delta) if !is_gauge => {
                let (changed, remember) = delta(raw, state.previous.get(&series.id));
                state.previous.insert(series.id, remember);
                match changed {
                    Some(raw) => (
                        raw,
                        window_start
                            .unwrap_or(series.start_time)
                            .max(series.start_time),
                    ),
                    None => continue,
                }
            }
            _ => (raw, series.start_time),
        };
        let attributes = Arc::clone(&series.attributes);
        match raw {
            Raw::Number(value) => numbers.push(NumberPoint {
                attributes,
                start_time,
                time: now,
                value,
            }),
            Raw::Histogram(h) => {
                let bounds = match &series.agg {
                    Aggregator::Histogram(cells) => Arc::clone(cells.bounds()),
                    _ => Arc::from(Vec::new()),
                };
                histograms.push(HistogramPoint {
                    attributes,
                    start_time,
                    time: now,
                    count: h.count,
                    sum: h.sum,
                    min: h.min,
                    max: h.max,
                    bounds,
                    bucket_counts: h.counts,
                })
            }
            Raw::Exponential(data) => exponentials.push(ExponentialHistogramPoint {
                attributes,
                start_time,
                time: now,
                data,
            }),
        }
    }
    Some(match d.kind {
        InstrumentKind::Counter | InstrumentKind::ObservableCounter => MetricData::Sum {
            points: numbers,
            temporality,
            is_monotonic: true,
        },
        InstrumentKind::UpDownCounter | InstrumentKind::ObservableUpDownCounter => {
            MetricData::Sum {
                points: numbers,
                temporality,
                is_monotonic: false,
            }
        }
        InstrumentKind::Gauge | InstrumentKind::ObservableGauge => {
            MetricData::Gauge { points: numbers }
        }
        InstrumentKind::Histogram if !exponentials.is_empty() => MetricData::ExponentialHistogram {
            points: exponentials,
            temporality,
        },
        InstrumentKind::Histogram => match inst.series.kind() {
            super::series::AggregationKind::Exponential { .. } => {
                MetricData::ExponentialHistogram {
                    points: exponentials,
                    temporality,
                }
            }
            _ => MetricData::Histogram {
                points: histograms,
                temporality,
            },
        },
    })
}

fn has_points(data: &MetricData) -> bool {
    match data {
        MetricData::Sum { points, .. } | MetricData::Gauge { points } => !points.is_empty(),
        MetricData::Histogram { points, .. } => !points.is_empty(),
        MetricData::ExponentialHistogram { points, .. } => !points.is_empty(),
    }
}

/// The SDK's own metrics about the metrics pipeline: overflowed and dropped measurements.
fn self_metrics(
    instruments: &[Arc<InstrumentCore>],
    now: SystemTime,
    start: SystemTime,
) -> Vec<Metric> {
    let mut overflow = Vec::new();
    let mut dropped = Vec::new();
    for inst in instruments {
        let attrs = vec![KeyValue::new("instrument", inst.descriptor.name.clone())];
        let point = |v: u64| NumberPoint {
            attributes: attrs.clone().into(),
            start_time: start,
            time: now,
            value: NumberValue::U64(v),
        };
        if inst.series.overflowed() > 0 {
            overflow.push(point(inst.series.overflowed()));
        }
        if inst.dropped.get() > 0 {
            dropped.push(point(inst.dropped.get()));
        }
    }
    let sum = |name: &str, description: &str, points: Vec<NumberPoint>| Metric {
        name: name.into(),
        description: description.into(),
        unit: "{measurement}".into(),
        data: MetricData::Sum {
            points,
            temporality: Temporality::Cumulative,
            is_monotonic: true,
        },
    };
    let mut out = Vec::new();
    if !overflow.is_empty() {
        out.push(sum(
            "loupe.sdk.metric.cardinality_overflow",
            "Measurements folded into the otel.metric.overflow series because the instrument reached its cardinality limit.",
            overflow,
        ));
    }
    if !dropped.is_empty() {
        out.push(sum(
            "loupe.sdk.metric.measurements_dropped",
            "Measurements dropped as invalid (NaN, infinite, or a negative counter increment).",
            dropped,
        ));
    }
    input_metrics(&mut out, now);
    exporter_metrics(&mut out, now);
    out
}

/// `loupe.sdk.input.dropped{reason}`: what the SDK dropped or cut, process-wide, because
/// the input broke a rule (only reasons that happened). Per-instrument measurement drops
/// are in `loupe.sdk.metric.measurements_dropped`.
fn input_metrics(out: &mut Vec<Metric>, now: SystemTime) {
    let stats = crate::common::stats::sdk_stats();
    // Process-wide series: one start time for every provider that publishes them.
    let start = crate::common::stats::sdk_stats_start();
    let points: Vec<NumberPoint> = [
        ("empty_attribute_key", stats.empty_keys.get()),
        ("empty_metric_attribute_key", stats.metric_empty_keys.get()),
        ("attribute_value_truncated", stats.values_truncated.get()),
        ("instrument_conflict", stats.instrument_conflicts.get()),
        ("span_after_shutdown", stats.spans_after_shutdown.get()),
    ]
    .into_iter()
    .filter(|(_, n)| *n > 0)
    .map(|(reason, n)| NumberPoint {
        attributes: vec![KeyValue::new("reason", reason)].into(),
        start_time: start,
        time: now,
        value: NumberValue::U64(n),
    })
    .collect();
    if points.is_empty() {
        return;
    }
    out.push(Metric {
        name: "loupe.sdk.input.dropped".into(),
        description: "Attributes, values, measurements or spans the SDK dropped or cut because they broke a rule (an empty key, an over-long value, a name registered as another kind, a span after shutdown).".into(),
        unit: "{item}".into(),
        data: MetricData::Sum {
            points,
            temporality: Temporality::Cumulative,
            is_monotonic: true,
        },
    });
}

/// `loupe.sdk.exporter.*`: what each live exporter delivered, failed, rejected and retried,
/// and how long its exports took. Each series starts when its exporter registered, the
/// same for every provider that publishes it.
fn exporter_metrics(out: &mut Vec<Metric>, now: SystemTime) {
    let exporters = crate::common::stats::exporter_stats();
    if exporters.is_empty() {
        return;
    }
    let attrs = |e: &crate::common::stats::ExporterStats| {
        vec![
            KeyValue::new("exporter", e.exporter),
            KeyValue::new("signal", e.signal),
        ]
    };
    let counter =
        |name: &str,
         unit: &str,
         description: &str,
         get: &dyn Fn(&crate::common::stats::ExporterStats) -> u64| Metric {
            name: name.into(),
            description: description.into(),
            unit: unit.into(),
            data: MetricData::Sum {
                points: exporters
                    .iter()
                    .map(|e| NumberPoint {
                        attributes: attrs(e).into(),
                        start_time: e.registered,
                        time: now,
                        value: NumberValue::U64(get(e)),
                    })
                    .collect(),
                temporality: Temporality::Cumulative,
                is_monotonic: true,
            },
        };
    out.push(counter(
        "loupe.sdk.exporter.exported",
        "{item}",
        "Spans, data points or log records the exporter's peer accepted.",
        &|e| e.exported.get(),
    ));
    out.push(counter(
        "loupe.sdk.exporter.failed",
        "{item}",
        "Items in exports that failed for good (retries exhausted or not retryable).",
        &|e| e.failed.get(),
    ));
    out.push(counter(
        "loupe.sdk.exporter.rejected",
        "{item}",
        "Items the peer rejected in a partial success, or that could not be encoded.",
        &|e| e.rejected.get(),
    ));
    out.push(counter(
        "loupe.sdk.exporter.dropped",
        "{item}",
        "Items dropped before reaching the exporter because its queue was full.",
        &|e| e.dropped.get(),
    ));
    out.push(counter(
        "loupe.sdk.exporter.retries",
        "{attempt}",
        "Export attempts retried after a retryable failure.",
        &|e| e.retries.get(),
    ));
    let bounds: Arc<[f64]> = Arc::from(&crate::common::stats::EXPORT_DURATION_BOUNDS[..]);
    out.push(Metric {
        name: "loupe.sdk.exporter.duration".into(),
        description: "How long each export took, retries included.".into(),
        unit: "s".into(),
        data: MetricData::Histogram {
            points: exporters
                .iter()
                .map(|e| {
                    let d = e.durations();
                    HistogramPoint {
                        attributes: attrs(e).into(),
                        start_time: e.registered,
                        time: now,
                        count: d.count,
                        sum: d.sum_seconds,
                        min: None,
                        max: None,
                        bounds: Arc::clone(&bounds),
                        bucket_counts: d.buckets,
                    }
                })
                .collect(),
            temporality: Temporality::Cumulative,
        },
    });
}

pub(crate) fn collect(
    shared: &MeterShared,
    preferred: Temporality,
    mut state: Option<&mut DeltaState>,
) -> ResourceMetrics {
    let now = SystemTime::now();
    let instruments = shared
        .instruments
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let mut scopes: Vec<ScopeMetrics> = Vec::new();
    for inst in &instruments {
        let Some(data) = collect_instrument(inst, preferred, state.as_deref_mut(), now) else {
            continue;
        };
        if !has_points(&data) {
            continue;
        }
        let d = &inst.descriptor;
        let metric = Metric {
            name: d.name.clone(),
            description: d.description.clone(),
            unit: d.unit.clone(),
            data,
        };
        match scopes.iter_mut().find(|s| std::ptr::eq(s.scope, d.scope)) {
            Some(scope) => scope.metrics.push(metric),
            None => scopes.push(ScopeMetrics {
                scope: d.scope,
                metrics: vec![metric],
            }),
        }
    }
    let sdk = self_metrics(&instruments, now, shared.start_time);
    if !sdk.is_empty() {
        let scope = InstrumentationScope::new("loupe")
            .with_version(env!("CARGO_PKG_VERSION"))
            .intern();
        scopes.push(ScopeMetrics {
            scope,
            metrics: sdk,
        });
    }
    if let Some(state) = state {
        state.last_collect = Some(now);
    }
    ResourceMetrics {
        resource: Arc::clone(&shared.resource),
        scope_metrics: scopes,
    }
}
