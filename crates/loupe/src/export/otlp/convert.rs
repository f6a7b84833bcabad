//! Loupe's data model → the generated OTLP protobuf types (`opentelemetry-proto`).

use crate::common::attribute::{Array, KeyValue, Value};
use crate::common::resource::Resource;
use crate::common::scope::InstrumentationScope;
use crate::metrics::{
    ExponentialHistogramPoint, HistogramPoint, Metric, MetricData, NumberPoint, NumberValue,
    ResourceMetrics, Temporality,
};
use crate::trace::{SpanData, SpanKind, Status};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::metrics::v1 as pm;
use opentelemetry_proto::tonic::resource::v1 as pr;
use opentelemetry_proto::tonic::trace::v1 as pt;
use std::time::{SystemTime, UNIX_EPOCH};

/// `SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK`: the `is_remote` bit below is meaningful.
const HAS_IS_REMOTE: u32 = 0x100;
/// `SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK`.
const IS_REMOTE: u32 = 0x200;

pub(crate) fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub(crate) fn any_value(value: &Value) -> pc::AnyValue {
    use pc::any_value::Value as V;
    let v = match value {
        Value::Bool(b) => V::BoolValue(*b),
        Value::I64(i) => V::IntValue(*i),
        Value::F64(f) => V::DoubleValue(*f),
        Value::String(s) => V::StringValue(s.to_string()),
        Value::Array(array) => {
            let values = match array {
                Array::Bool(v) => v.iter().map(|b| V::BoolValue(*b)).collect::<Vec<_>>(),
                Array::I64(v) => v.iter().map(|i| V::IntValue(*i)).collect(),
                Array::F64(v) => v.iter().map(|f| V::DoubleValue(*f)).collect(),
                Array::String(v) => v.iter().map(|s| V::StringValue(s.to_string())).collect(),
            };
            V::ArrayValue(pc::ArrayValue {
                values: values
                    .into_iter()
                    .map(|v| pc::AnyValue { value: Some(v) })
                    .collect(),
            })
        }
    };
    pc::AnyValue { value: Some(v) }
}

pub(crate) fn attributes(attrs: &[KeyValue]) -> Vec<pc::KeyValue> {
    attrs
        .iter()
        .map(|kv| pc::KeyValue {
            key: kv.key.as_str().to_string(),
            value: Some(any_value(&kv.value)),
            ..Default::default()
        })
        .collect()
}

pub(crate) fn resource(resource: &Resource) -> pr::Resource {
    pr::Resource {
        attributes: attributes(resource.attributes()),
        ..Default::default()
    }
}

pub(crate) fn scope(scope: &InstrumentationScope) -> pc::InstrumentationScope {
    pc::InstrumentationScope {
        name: scope.name.clone(),
        version: scope.version.clone().unwrap_or_default(),
        attributes: attributes(&scope.attributes),
        dropped_attributes_count: 0,
    }
}

fn span_kind(kind: SpanKind) -> pt::span::SpanKind {
    match kind {
        SpanKind::Internal => pt::span::SpanKind::Internal,
        SpanKind::Server => pt::span::SpanKind::Server,
        SpanKind::Client => pt::span::SpanKind::Client,
        SpanKind::Producer => pt::span::SpanKind::Producer,
        SpanKind::Consumer => pt::span::SpanKind::Consumer,
    }
}

fn status(status: &Status) -> Option<pt::Status> {
    use pt::status::StatusCode;
    match status {
        Status::Unset => None,
        Status::Ok => Some(pt::Status {
            message: String::new(),
            code: StatusCode::Ok as i32,
        }),
        Status::Error { description } => Some(pt::Status {
            message: description.to_string(),
            code: StatusCode::Error as i32,
        }),
    }
}

pub(crate) fn span(span: &SpanData) -> pt::Span {
    let ctx = &span.span_context;
    let parent_span_id = if span.parent_span_id.is_valid() {
        span.parent_span_id.to_bytes().to_vec()
    } else {
        Vec::new()
    };
    let mut flags = u32::from(ctx.trace_flags().bits()) | HAS_IS_REMOTE;
    if span.parent_is_remote {
        flags |= IS_REMOTE;
    }
    pt::Span {
        trace_id: ctx.trace_id().to_bytes().to_vec(),
        span_id: ctx.span_id().to_bytes().to_vec(),
        trace_state: ctx.trace_state().header(),
        parent_span_id,
        flags,
        name: span.name.to_string(),
        kind: span_kind(span.kind) as i32,
        start_time_unix_nano: nanos(span.start_time),
        end_time_unix_nano: nanos(span.end_time),
        attributes: attributes(&span.attributes),
        dropped_attributes_count: span.dropped_attributes_count,
        events: span
            .events
            .iter()
            .map(|e| pt::span::Event {
                time_unix_nano: nanos(e.timestamp),
                name: e.name.to_string(),
                attributes: attributes(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: span.dropped_events_count,
        links: span
            .links
            .iter()
            .map(|l| {
                let mut flags = u32::from(l.span_context.trace_flags().bits()) | HAS_IS_REMOTE;
                if l.span_context.is_remote() {
                    flags |= IS_REMOTE;
                }
                pt::span::Link {
                    trace_id: l.span_context.trace_id().to_bytes().to_vec(),
                    span_id: l.span_context.span_id().to_bytes().to_vec(),
                    trace_state: l.span_context.trace_state().header(),
                    attributes: attributes(&l.attributes),
                    dropped_attributes_count: l.dropped_attributes_count,
                    flags,
                }
            })
            .collect(),
        dropped_links_count: span.dropped_links_count,
        status: status(&span.status),
    }
}

/// One export request for `spans`, grouped by instrumentation scope in order of first
/// appearance.
pub(crate) fn trace_request(resource: &Resource, spans: &[SpanData]) -> ExportTraceServiceRequest {
    let mut scopes: Vec<(&'static InstrumentationScope, Vec<pt::Span>)> = Vec::new();
    for s in spans {
        let converted = span(s);
        match scopes
            .iter_mut()
            .find(|(scope, _)| std::ptr::eq(*scope, s.scope))
        {
            Some((_, list)) => list.push(converted),
            None => scopes.push((s.scope, vec![converted])),
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![pt::ResourceSpans {
            resource: Some(self::resource(resource)),
            scope_spans: scopes
                .into_iter()
                .map(|(sc, spans)| pt::ScopeSpans {
                    scope: Some(scope(sc)),
                    spans,
                    schema_url: sc.schema_url.clone().unwrap_or_default(),
                })
                .collect(),
            schema_url: resource.schema_url().unwrap_or_default().to_string(),
        }],
    }
}

fn temporality(t: Temporality) -> i32 {
    match t {
        Temporality::Cumulative => pm::AggregationTemporality::Cumulative as i32,
        Temporality::Delta => pm::AggregationTemporality::Delta as i32,
    }
}

fn number_point(p: &NumberPoint) -> pm::NumberDataPoint {
    use pm::number_data_point::Value as V;
    pm::NumberDataPoint {
        attributes: attributes(&p.attributes),
        start_time_unix_nano: nanos(p.start_time),
        time_unix_nano: nanos(p.time),
        value: Some(match p.value {
            NumberValue::U64(v) => V::AsInt(i64::try_from(v).unwrap_or(i64::MAX)),
            NumberValue::I64(v) => V::AsInt(v),
            NumberValue::F64(v) => V::AsDouble(v),
        }),
        ..Default::default()
    }
}

fn histogram_point(p: &HistogramPoint) -> pm::HistogramDataPoint {
    pm::HistogramDataPoint {
        attributes: attributes(&p.attributes),
        start_time_unix_nano: nanos(p.start_time),
        time_unix_nano: nanos(p.time),
        count: p.count,
        sum: Some(p.sum),
        bucket_counts: p.bucket_counts.clone(),
        explicit_bounds: p.bounds.to_vec(),
        min: p.min,
        max: p.max,
        ..Default::default()
    }
}

fn exponential_point(p: &ExponentialHistogramPoint) -> pm::ExponentialHistogramDataPoint {
    use pm::exponential_histogram_data_point::Buckets;
    let d = &p.data;
    let buckets = |b: &crate::metrics::exponential::ExpoBuckets| {
        (!b.counts.is_empty()).then(|| Buckets {
            offset: b.offset,
            bucket_counts: b.counts.clone(),
        })
    };
    pm::ExponentialHistogramDataPoint {
        attributes: attributes(&p.attributes),
        start_time_unix_nano: nanos(p.start_time),
        time_unix_nano: nanos(p.time),
        count: d.count,
        sum: Some(d.sum),
        scale: i32::from(d.scale),
        zero_count: d.zero_count,
        positive: buckets(&d.positive),
        negative: buckets(&d.negative),
        min: d.min,
        max: d.max,
        ..Default::default()
    }
}

pub(crate) fn metric(m: &Metric) -> pm::Metric {
    use pm::metric::Data;
    let data = match &m.data {
        MetricData::Sum {
            points,
            temporality: t,
            is_monotonic,
        } => Data::Sum(pm::Sum {
            data_points: points.iter().map(number_point).collect(),
            aggregation_temporality: temporality(*t),
            is_monotonic: *is_monotonic,
        }),
        MetricData::Gauge { points } => Data::Gauge(pm::Gauge {
            data_points: points.iter().map(number_point).collect(),
        }),
        MetricData::Histogram {
            points,
            temporality: t,
        } => Data::Histogram(pm::Histogram {
            data_points: points.iter().map(histogram_point).collect(),
            aggregation_temporality: temporality(*t),
        }),
        MetricData::ExponentialHistogram {
            points,
            temporality: t,
        } => Data::ExponentialHistogram(pm::ExponentialHistogram {
            data_points: points.iter().map(exponential_point).collect(),
            aggregation_temporality: temporality(*t),
        }),
    };
    pm::Metric {
        name: m.name.clone(),
        description: m.description.clone(),
        unit: m.unit.clone(),
        data: Some(data),
        ..Default::default()
    }
}

/// Data points in a metric: what the exporter counts as items.
pub(crate) fn point_count(m: &Metric) -> usize {
    match &m.data {
        MetricData::Sum { points, .. } | MetricData::Gauge { points } => points.len(),
        MetricData::Histogram { points, .. } => points.len(),
        MetricData::ExponentialHistogram { points, .. } => points.len(),
    }
}

/// One export request for the metrics of `metrics` selected by `(scope index, metric index)`.
pub(crate) fn metrics_request(
    metrics: &ResourceMetrics,
    selection: &[(usize, usize)],
) -> ExportMetricsServiceRequest {
    let mut scopes: Vec<pm::ScopeMetrics> = Vec::new();
    let mut current: Option<usize> = None;
    for &(si, mi) in selection {
        let sm = &metrics.scope_metrics[si];
        if current != Some(si) {
            current = Some(si);
            scopes.push(pm::ScopeMetrics {
                scope: Some(scope(sm.scope)),
                metrics: Vec::new(),
                schema_url: sm.scope.schema_url.clone().unwrap_or_default(),
            });
        }
        if let Some(last) = scopes.last_mut() {
            last.metrics.push(metric(&sm.metrics[mi]));
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![pm::ResourceMetrics {
            resource: Some(resource(&metrics.resource)),
            scope_metrics: scopes,
            schema_url: metrics
                .resource
                .schema_url()
                .unwrap_or_default()
                .to_string(),
        }],
    }
}
