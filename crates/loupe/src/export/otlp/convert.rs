//! Loupe's data model → the generated OTLP protobuf types (`opentelemetry-proto`).

use crate::common::attribute::{Array, KeyValue, Value};
use crate::common::resource::Resource;
use crate::common::scope::InstrumentationScope;
use crate::metrics::{
    ExponentialHistogramPoint, HistogramPoint, Metric, MetricData, NumberPoint, NumberValue,
    ResourceMetrics, Temporality,
};
use crate::trace::{SpanData, SpanKind, Status};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1 as pc;
use opentelemetry_proto::tonic::logs::v1 as pl;
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

pub(crate) fn log_record(r: &crate::logs::LogRecord) -> pl::LogRecord {
    pl::LogRecord {
        time_unix_nano: r.timestamp.map(nanos).unwrap_or(0),
        observed_time_unix_nano: nanos(r.observed_timestamp),
        severity_number: i32::from(r.severity_number),
        severity_text: r.severity_text.to_string(),
        body: r.body.as_ref().map(any_value),
        attributes: attributes(&r.attributes),
        dropped_attributes_count: 0,
        flags: u32::from(r.trace_flags.bits()),
        trace_id: if r.trace_id.is_valid() {
            r.trace_id.to_bytes().to_vec()
        } else {
            Vec::new()
        },
        span_id: if r.span_id.is_valid() {
            r.span_id.to_bytes().to_vec()
        } else {
            Vec::new()
        },
        event_name: r.event_name.as_deref().unwrap_or_default().to_string(),
    }
}

/// One export request for `records`, grouped by instrumentation scope.
pub(crate) fn logs_request(
    resource: &Resource,
    records: &[crate::logs::LogRecord],
) -> ExportLogsServiceRequest {
    let mut scopes: Vec<(&'static InstrumentationScope, Vec<pl::LogRecord>)> = Vec::new();
    for r in records {
        let converted = log_record(r);
        match scopes
            .iter_mut()
            .find(|(scope, _)| std::ptr::eq(*scope, r.scope))
        {
            Some((_, list)) => list.push(converted),
            None => scopes.push((r.scope, vec![converted])),
        }
    }
    ExportLogsServiceRequest {
        resource_logs: vec![pl::ResourceLogs {
            resource: Some(self::resource(resource)),
            scope_logs: scopes
                .into_iter()
                .map(|(sc, log_records)| pl::ScopeLogs {
                    scope: Some(scope(sc)),
                    log_records,
                    schema_url: sc.schema_url.clone().unwrap_or_default(),
                })
                .collect(),
            schema_url: resource.schema_url().unwrap_or_default().to_string(),
        }],
    }
}

/// Encodes spans straight to an OTLP/protobuf `ExportTraceServiceRequest`, reusing one
/// generated `Span` message (and its strings and vectors) for every span, so a steady
/// stream of batches allocates almost nothing. The envelope messages are encoded with their
/// generated types too; only their repeated child fields are appended one by one.
///
/// Keep one encoder (and one output buffer) per exporting thread for the fastest steady
/// state; [`encode_spans`](super::encode_spans) is the one-shot form.
#[derive(Default, Debug)]
pub struct SpanEncoder {
    scratch: pt::Span,
    /// The `ResourceSpans` fields other than `scope_spans`.
    resource_buf: Vec<u8>,
    /// One encoded `ScopeSpans` per scope in the batch (only the first `scopes` are in
    /// use); kept so their capacity is reused.
    scope_bufs: Vec<Vec<u8>>,
}

/// `ExportTraceServiceRequest.resource_spans`, `ResourceSpans.scope_spans`,
/// `ScopeSpans.spans`: the field numbers of the repeated fields appended by hand.
const REQUEST_RESOURCE_SPANS: u32 = 1;
const RESOURCE_SCOPE_SPANS: u32 = 2;
const SCOPE_SPANS: u32 = 2;

impl SpanEncoder {
    /// A fresh encoder.
    pub fn new() -> Self {
        SpanEncoder::default()
    }

    /// Appends the encoded request for `spans` to `out`.
    ///
    /// Each span is encoded once, into its scope's buffer; the envelope's lengths are
    /// then known, so `out` gets the headers and each scope's bytes with one copy.
    pub fn encode(&mut self, resource: &Resource, spans: &[SpanData], out: &mut Vec<u8>) {
        use prost::encoding::{encode_key, encode_varint, encoded_len_varint, key_len, WireType};
        use prost::Message;
        let mut scopes: Vec<(&'static InstrumentationScope, Vec<u32>)> = Vec::new();
        for (i, s) in spans.iter().enumerate() {
            match scopes
                .iter_mut()
                .find(|(scope, _)| std::ptr::eq(*scope, s.scope))
            {
                Some((_, list)) => list.push(i as u32),
                None => scopes.push((s.scope, vec![i as u32])),
            }
        }
        self.resource_buf.clear();
        pt::ResourceSpans {
            resource: Some(self::resource(resource)),
            scope_spans: Vec::new(),
            schema_url: resource.schema_url().unwrap_or_default().to_string(),
        }
        .encode_raw(&mut self.resource_buf);
        if self.scope_bufs.len() < scopes.len() {
            self.scope_bufs.resize_with(scopes.len(), Vec::new);
        }
        let mut resource_len = self.resource_buf.len();
        for ((sc, indices), buf) in scopes.iter().zip(&mut self.scope_bufs) {
            buf.clear();
            pt::ScopeSpans {
                scope: Some(scope(sc)),
                spans: Vec::new(),
                schema_url: sc.schema_url.clone().unwrap_or_default(),
            }
            .encode_raw(buf);
            for &i in indices {
                fill_span(&mut self.scratch, &spans[i as usize]);
                prost::encoding::message::encode(SCOPE_SPANS, &self.scratch, buf);
            }
            resource_len +=
                key_len(RESOURCE_SCOPE_SPANS) + encoded_len_varint(buf.len() as u64) + buf.len();
        }
        out.reserve(resource_len + 16);
        encode_key(REQUEST_RESOURCE_SPANS, WireType::LengthDelimited, out);
        encode_varint(resource_len as u64, out);
        out.extend_from_slice(&self.resource_buf);
        for buf in &self.scope_bufs[..scopes.len()] {
            encode_key(RESOURCE_SCOPE_SPANS, WireType::LengthDelimited, out);
            encode_varint(buf.len() as u64, out);
            out.extend_from_slice(buf);
        }
    }
}

fn set_bytes(dst: &mut Vec<u8>, src: &[u8]) {
    dst.clear();
    dst.extend_from_slice(src);
}

fn set_str(dst: &mut String, src: &str) {
    dst.clear();
    dst.push_str(src);
}

fn fill_value(dst: &mut Option<pc::AnyValue>, value: &Value) {
    use pc::any_value::Value as V;
    if let Value::String(s) = value {
        if let Some(pc::AnyValue {
            value: Some(V::StringValue(existing)),
        }) = dst
        {
            set_str(existing, s);
            return;
        }
    }
    *dst = Some(any_value(value));
}

fn fill_attributes(dst: &mut Vec<pc::KeyValue>, src: &[KeyValue]) {
    dst.truncate(src.len());
    for (i, kv) in src.iter().enumerate() {
        if i == dst.len() {
            dst.push(pc::KeyValue::default());
        }
        let d = &mut dst[i];
        set_str(&mut d.key, kv.key.as_str());
        fill_value(&mut d.value, &kv.value);
    }
}

fn fill_span(s: &mut pt::Span, d: &SpanData) {
    let ctx = &d.span_context;
    set_bytes(&mut s.trace_id, &ctx.trace_id().to_bytes());
    set_bytes(&mut s.span_id, &ctx.span_id().to_bytes());
    s.trace_state.clear();
    if !ctx.trace_state().is_empty() {
        s.trace_state.push_str(&ctx.trace_state().header());
    }
    s.parent_span_id.clear();
    if d.parent_span_id.is_valid() {
        s.parent_span_id
            .extend_from_slice(&d.parent_span_id.to_bytes());
    }
    s.flags = u32::from(ctx.trace_flags().bits()) | HAS_IS_REMOTE;
    if d.parent_is_remote {
        s.flags |= IS_REMOTE;
    }
    set_str(&mut s.name, &d.name);
    s.kind = span_kind(d.kind) as i32;
    s.start_time_unix_nano = nanos(d.start_time);
    s.end_time_unix_nano = nanos(d.end_time);
    fill_attributes(&mut s.attributes, &d.attributes);
    s.dropped_attributes_count = d.dropped_attributes_count;
    s.events.truncate(d.events.len());
    for (i, e) in d.events.iter().enumerate() {
        if i == s.events.len() {
            s.events.push(pt::span::Event::default());
        }
        let dst = &mut s.events[i];
        dst.time_unix_nano = nanos(e.timestamp);
        set_str(&mut dst.name, &e.name);
        fill_attributes(&mut dst.attributes, &e.attributes);
        dst.dropped_attributes_count = e.dropped_attributes_count;
    }
    s.dropped_events_count = d.dropped_events_count;
    if d.links.is_empty() {
        s.links.clear();
    } else {
        s.links = span(d).links;
    }
    s.dropped_links_count = d.dropped_links_count;
    s.status = status(&d.status);
}

#[cfg(test)]
mod tests;
