//! The stdout exporter: an indented, readable view for humans, or one JSON object per line
//! for machines.

use crate::common::attribute::{Array, KeyValue, Value};
use crate::common::error::ExportError;
use crate::metrics::{MetricData, MetricExporter, NumberValue, ResourceMetrics, Temporality};
use crate::trace::{SpanBatch, SpanData, SpanExporter, SpanKind, Status};
use serde_json::{json, Map, Value as Json};
use std::io::Write;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// How the stdout exporter writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum StdoutFormat {
    /// Indented text for people.
    #[default]
    Pretty,
    /// One JSON object per span or metric point, one per line.
    JsonLines,
}

/// Writes spans and metrics to stdout (or any writer).
pub struct StdoutExporter {
    format: StdoutFormat,
    out: Mutex<Box<dyn Write + Send>>,
    temporality: Temporality,
}

impl std::fmt::Debug for StdoutExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StdoutExporter")
            .field("format", &self.format)
            .finish()
    }
}

impl StdoutExporter {
    /// Writes in `format` to stdout.
    pub fn new(format: StdoutFormat) -> Self {
        Self::with_writer(format, std::io::stdout())
    }

    /// Writes in `format` to `writer` (a file, a buffer in tests).
    pub fn with_writer(format: StdoutFormat, writer: impl Write + Send + 'static) -> Self {
        StdoutExporter {
            format,
            out: Mutex::new(Box::new(writer)),
            temporality: Temporality::Cumulative,
        }
    }

    /// Asks for delta metrics instead of cumulative.
    #[must_use]
    pub fn with_temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = temporality;
        self
    }

    fn write(&self, text: &str) -> Result<(), ExportError> {
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        out.write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .map_err(|e| {
                ExportError::from_source("writing to the stdout exporter's output failed", e)
            })
    }
}

fn unix_nanos(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

pub(crate) fn json_value(v: &Value) -> Json {
    match v {
        Value::Bool(b) => json!(b),
        Value::I64(i) => json!(i),
        Value::F64(f) => json!(f),
        Value::String(s) => json!(s),
        Value::Array(Array::Bool(a)) => json!(a),
        Value::Array(Array::I64(a)) => json!(a),
        Value::Array(Array::F64(a)) => json!(a),
        Value::Array(Array::String(a)) => json!(a),
    }
}

fn json_attrs(attrs: &[KeyValue]) -> Json {
    Json::Object(
        attrs
            .iter()
            .map(|kv| (kv.key.to_string(), json_value(&kv.value)))
            .collect::<Map<_, _>>(),
    )
}

fn kind_name(kind: SpanKind) -> &'static str {
    match kind {
        SpanKind::Internal => "internal",
        SpanKind::Server => "server",
        SpanKind::Client => "client",
        SpanKind::Producer => "producer",
        SpanKind::Consumer => "consumer",
    }
}

/// The JSON-lines shape of one span.
pub(crate) fn span_json(span: &SpanData, resource: &crate::Resource) -> Json {
    let (code, message) = match &span.status {
        Status::Unset => ("unset", None),
        Status::Ok => ("ok", None),
        Status::Error { description } => ("error", Some(description.to_string())),
    };
    let parent = span
        .parent_span_id
        .is_valid()
        .then(|| span.parent_span_id.to_hex_string());
    json!({
        "type": "span",
        "resource": json_attrs(resource.attributes()),
        "scope": span.scope.name,
        "name": span.name,
        "trace_id": span.span_context.trace_id().to_hex_string(),
        "span_id": span.span_context.span_id().to_hex_string(),
        "parent_span_id": parent,
        "kind": kind_name(span.kind),
        "start_time_unix_nano": unix_nanos(span.start_time) as u64,
        "end_time_unix_nano": unix_nanos(span.end_time) as u64,
        "duration_ns": (unix_nanos(span.end_time).saturating_sub(unix_nanos(span.start_time))) as u64,
        "attributes": json_attrs(&span.attributes),
        "events": span.events.iter().map(|e| json!({
            "name": e.name,
            "time_unix_nano": unix_nanos(e.timestamp) as u64,
            "attributes": json_attrs(&e.attributes),
        })).collect::<Vec<_>>(),
        "links": span.links.iter().map(|l| json!({
            "trace_id": l.span_context.trace_id().to_hex_string(),
            "span_id": l.span_context.span_id().to_hex_string(),
            "attributes": json_attrs(&l.attributes),
        })).collect::<Vec<_>>(),
        "status": { "code": code, "message": message },
        "dropped": {
            "attributes": span.dropped_attributes_count,
            "events": span.dropped_events_count,
            "links": span.dropped_links_count,
        },
    })
}

fn number_json(v: NumberValue) -> Json {
    match v {
        NumberValue::U64(v) => json!(v),
        NumberValue::I64(v) => json!(v),
        NumberValue::F64(v) => json!(v),
    }
}

fn render_attrs(attrs: &[KeyValue]) -> String {
    attrs
        .iter()
        .map(|kv| format!("{}={}", kv.key, kv.value))
        .collect::<Vec<_>>()
        .join(" ")
}

fn pretty_span(span: &SpanData) -> String {
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .unwrap_or_default();
    let status = match &span.status {
        Status::Unset => String::new(),
        Status::Ok => " status=ok".into(),
        Status::Error { description } => format!(" status=error({description})"),
    };
    let parent = if span.parent_span_id.is_valid() {
        format!(" parent={}", span.parent_span_id)
    } else {
        String::new()
    };
    let mut text = format!(
        "span {} [{}] {:?} trace={} span={}{}{}\n",
        span.name,
        kind_name(span.kind),
        duration,
        span.span_context.trace_id(),
        span.span_context.span_id(),
        parent,
        status
    );
    if !span.attributes.is_empty() {
        text.push_str(&format!(
            "    attributes: {}\n",
            render_attrs(&span.attributes)
        ));
    }
    for event in &span.events {
        let at = event
            .timestamp
            .duration_since(span.start_time)
            .unwrap_or_default();
        text.push_str(&format!(
            "    event +{:?} {} {}\n",
            at,
            event.name,
            render_attrs(&event.attributes)
        ));
    }
    text
}

impl SpanExporter for StdoutExporter {
    fn export(&self, batch: SpanBatch<'_>) -> Result<(), ExportError> {
        let mut text = String::new();
        for span in batch.spans {
            match self.format {
                StdoutFormat::Pretty => text.push_str(&pretty_span(span)),
                StdoutFormat::JsonLines => {
                    text.push_str(&span_json(span, batch.resource).to_string());
                    text.push('\n');
                }
            }
        }
        self.write(&text)
    }
}

/// One JSON object per metric point.
pub(crate) fn metric_lines(metrics: &ResourceMetrics) -> Vec<Json> {
    let mut lines = Vec::new();
    for (scope, metric) in metrics.metrics() {
        let base = |kind: &str, attrs: &[KeyValue], time: SystemTime| {
            json!({
                "type": "metric",
                "scope": scope.name,
                "name": metric.name,
                "unit": metric.unit,
                "kind": kind,
                "attributes": json_attrs(attrs),
                "time_unix_nano": unix_nanos(time) as u64,
            })
        };
        let mut push = |mut line: Json, extra: Json| {
            if let (Some(obj), Json::Object(extra)) = (line.as_object_mut(), extra) {
                obj.extend(extra);
            }
            lines.push(line);
        };
        match &metric.data {
            MetricData::Sum {
                points,
                temporality,
                is_monotonic,
            } => {
                for p in points {
                    push(
                        base("sum", &p.attributes, p.time),
                        json!({"value": number_json(p.value), "temporality": format!("{temporality:?}").to_lowercase(), "monotonic": is_monotonic}),
                    );
                }
            }
            MetricData::Gauge { points } => {
                for p in points {
                    push(
                        base("gauge", &p.attributes, p.time),
                        json!({"value": number_json(p.value)}),
                    );
                }
            }
            MetricData::Histogram {
                points,
                temporality,
            } => {
                for p in points {
                    push(
                        base("histogram", &p.attributes, p.time),
                        json!({"count": p.count, "sum": p.sum, "min": p.min, "max": p.max, "bounds": &p.bounds[..],
                               "bucket_counts": p.bucket_counts, "temporality": format!("{temporality:?}").to_lowercase()}),
                    );
                }
            }
            MetricData::ExponentialHistogram {
                points,
                temporality,
            } => {
                for p in points {
                    push(
                        base("exponential_histogram", &p.attributes, p.time),
                        json!({"count": p.data.count, "sum": p.data.sum, "min": p.data.min, "max": p.data.max,
                               "scale": p.data.scale, "p50": p.quantile(0.5), "p99": p.quantile(0.99),
                               "temporality": format!("{temporality:?}").to_lowercase()}),
                    );
                }
            }
        }
    }
    lines
}

fn pretty_metrics(metrics: &ResourceMetrics) -> String {
    let mut text = String::new();
    for line in metric_lines(metrics) {
        let get = |k: &str| line.get(k).cloned().unwrap_or(Json::Null);
        let attrs = get("attributes");
        let attrs = attrs
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        format!(
                            "{k}={}",
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .unwrap_or_default();
        let name = get("name");
        let name = name.as_str().unwrap_or_default();
        let value = match get("kind").as_str() {
            Some("histogram") | Some("exponential_histogram") => {
                format!("count={} sum={}", get("count"), get("sum"))
            }
            _ => get("value").to_string(),
        };
        text.push_str(&format!("metric {name}{{{attrs}}} {value}\n"));
    }
    text
}

impl MetricExporter for StdoutExporter {
    fn export(&self, metrics: &ResourceMetrics) -> Result<(), ExportError> {
        match self.format {
            StdoutFormat::Pretty => self.write(&pretty_metrics(metrics)),
            StdoutFormat::JsonLines => {
                let text: String = metric_lines(metrics)
                    .into_iter()
                    .map(|l| l.to_string() + "\n")
                    .collect();
                self.write(&text)
            }
        }
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}
