//! `MockTelemetry`: records every call so tests can assert on a component's telemetry.

use super::span::{attach, current};
use super::{BoxedSpan, Span, SpanStatus, Telemetry, TraceContext};
use crate::export::InMemorySpanExporter;
use crate::metrics::{Meter, MeterProvider, MetricData, NumberValue, ResourceMetrics};
use crate::trace::{
    ContextGuard, SimpleSpanProcessor, SpanContext, SpanData, SpanId, TraceFlags, TraceId,
    TraceState, Tracer, TracerProvider,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Calls<T> = Mutex<Vec<(String, T, HashMap<String, String>)>>;

struct Recorded {
    counters: Calls<u64>,
    gauges: Calls<f64>,
    histograms: Calls<f64>,
    spans: Mutex<Vec<MockSpan>>,
    native: Native,
}

/// A real pipeline for code that records on a [`Meter`] or [`Tracer`] directly (the
/// instrumentation packs): what it records shows up in the mock's assertions too.
struct Native {
    meters: MeterProvider,
    meter: Meter,
    // Keeps the tracer's pipeline alive.
    _tracers: TracerProvider,
    tracer: Tracer,
    spans: InMemorySpanExporter,
    /// What the meter held at the last `reset()`.
    baseline: Mutex<Option<ResourceMetrics>>,
}

impl Default for Recorded {
    fn default() -> Self {
        let meters = MeterProvider::builder().build();
        let spans = InMemorySpanExporter::default();
        let tracers = TracerProvider::builder()
            .with_span_processor(SimpleSpanProcessor::new(spans.clone()))
            .build()
            .expect("the default tracer provider configuration is valid");
        Recorded {
            counters: Mutex::default(),
            gauges: Mutex::default(),
            histograms: Mutex::default(),
            spans: Mutex::default(),
            native: Native {
                meter: meters.meter("loupe.mock"),
                meters,
                tracer: tracers.tracer("loupe.mock"),
                _tracers: tracers,
                spans,
                baseline: Mutex::new(None),
            },
        }
    }
}

/// A span as the mock recorded it.
#[derive(Clone, Debug, PartialEq)]
pub struct MockSpan {
    /// The span name.
    pub name: String,
    /// Attributes at creation plus any set later.
    pub attributes: HashMap<String, String>,
    /// Events in order, with their attributes.
    pub events: Vec<(String, Option<HashMap<String, String>>)>,
    /// The last status set, with its description.
    pub status: Option<(SpanStatus, Option<String>)>,
    /// Whether the span was ended.
    pub ended: bool,
    /// The parent's span id (hex), if the span had a parent.
    pub parent_id: Option<String>,
    /// The span's id (hex).
    pub span_id: String,
    /// The trace id (hex).
    pub trace_id: String,
}

impl MockSpan {
    fn from_span_data(span: &SpanData) -> MockSpan {
        let text = |attributes: &[crate::KeyValue]| {
            attributes
                .iter()
                .map(|kv| (kv.key.as_str().to_owned(), kv.value.to_string()))
                .collect::<HashMap<_, _>>()
        };
        let parent = span.parent_span_id;
        MockSpan {
            name: span.name.to_string(),
            attributes: text(&span.attributes),
            events: span
                .events
                .iter()
                .map(|e| {
                    let attributes = (!e.attributes.is_empty()).then(|| text(&e.attributes));
                    (e.name.to_string(), attributes)
                })
                .collect(),
            status: match &span.status {
                crate::trace::Status::Unset => None,
                crate::trace::Status::Ok => Some((SpanStatus::Ok, None)),
                crate::trace::Status::Error { description } => {
                    Some((SpanStatus::Error, Some(description.to_string())))
                }
            },
            ended: true,
            parent_id: (parent != SpanId::INVALID).then(|| parent.to_string()),
            span_id: span.span_context.span_id().to_hex_string(),
            trace_id: span.span_context.trace_id().to_hex_string(),
        }
    }
}

/// Records counters, gauges, histograms and spans (with parent ids, events, status and
/// the ended flag). Clones share the records.
#[derive(Clone, Default)]
pub struct MockTelemetry {
    recorded: Arc<Recorded>,
}

impl std::fmt::Debug for MockTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockTelemetry")
            .field("spans", &self.spans().len())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl MockTelemetry {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Every `record_counter` call: (name, value, attributes).
    pub fn counter_calls(&self) -> Vec<(String, u64, HashMap<String, String>)> {
        lock(&self.recorded.counters).clone()
    }

    /// Every `record_gauge` call.
    pub fn gauge_calls(&self) -> Vec<(String, f64, HashMap<String, String>)> {
        lock(&self.recorded.gauges).clone()
    }

    /// Every `record_histogram` call.
    pub fn histogram_calls(&self) -> Vec<(String, f64, HashMap<String, String>)> {
        lock(&self.recorded.histograms).clone()
    }

    /// Every span: the facade's in creation order, then the ended spans of
    /// [`tracer`](Self::tracer) in the order they ended.
    pub fn spans(&self) -> Vec<MockSpan> {
        let mut spans = lock(&self.recorded.spans).clone();
        let native = self.recorded.native.spans.finished_spans();
        spans.extend(native.iter().map(MockSpan::from_span_data));
        spans
    }

    /// Forgets everything recorded. Instruments on [`meter`](Self::meter) keep their
    /// cumulative state (and [`collect`](Self::collect) shows it), but
    /// [`counter_total`](Self::counter_total) and [`histogram_count`](Self::histogram_count)
    /// count only what was recorded since.
    pub fn reset(&self) {
        lock(&self.recorded.counters).clear();
        lock(&self.recorded.gauges).clear();
        lock(&self.recorded.histograms).clear();
        lock(&self.recorded.spans).clear();
        self.recorded.native.spans.reset();
        *lock(&self.recorded.native.baseline) = Some(self.collect());
    }

    /// `f` of what the meter recorded since the last `reset()`.
    fn native_since_reset<T: std::ops::Sub<Output = T>>(
        &self,
        f: impl Fn(&ResourceMetrics) -> T,
    ) -> T {
        let now = f(&self.collect());
        match &*lock(&self.recorded.native.baseline) {
            Some(baseline) => now - f(baseline),
            None => now,
        }
    }

    /// A meter whose instruments feed this mock: for components that take a [`Meter`]
    /// (the instrumentation packs). Read it back with [`counter_total`](Self::counter_total),
    /// [`histogram_count`](Self::histogram_count) or [`collect`](Self::collect).
    pub fn meter(&self) -> &Meter {
        &self.recorded.native.meter
    }

    /// A tracer whose ended spans appear in [`spans`](Self::spans).
    pub fn tracer(&self) -> &Tracer {
        &self.recorded.native.tracer
    }

    /// Everything recorded on [`meter`](Self::meter) so far (cumulative).
    pub fn collect(&self) -> ResourceMetrics {
        self.recorded.native.meters.collect()
    }

    /// The first span with this name.
    pub fn span_named(&self, name: &str) -> Option<MockSpan> {
        self.spans().into_iter().find(|s| s.name == name)
    }

    /// The spans whose parent is the first span named `parent`.
    pub fn children_of(&self, parent: &str) -> Vec<MockSpan> {
        let spans = self.spans();
        let Some(parent) = spans.iter().find(|s| s.name == parent) else {
            return Vec::new();
        };
        spans
            .iter()
            .filter(|s| s.parent_id.as_deref() == Some(&parent.span_id))
            .cloned()
            .collect()
    }

    /// The sum of every `record_counter` value for `name`, plus every series of the
    /// counter `name` recorded on [`meter`](Self::meter).
    pub fn counter_total(&self, name: &str) -> u64 {
        let facade: u64 = lock(&self.recorded.counters)
            .iter()
            .filter(|(n, ..)| n == name)
            .map(|(_, v, _)| v)
            .sum();
        // Integer points are summed exactly; float counters are rounded.
        let native = self.native_since_reset(|rm| match rm.metric(name).map(|m| &m.data) {
            Some(MetricData::Sum { points, .. }) => points
                .iter()
                .map(|p| match p.value {
                    NumberValue::U64(v) => i128::from(v),
                    NumberValue::I64(v) => i128::from(v),
                    NumberValue::F64(v) => v.round() as i128,
                })
                .sum(),
            _ => 0,
        });
        (i128::from(facade) + native).clamp(0, i128::from(u64::MAX)) as u64
    }

    /// How many values were recorded for histogram `name`, through the facade and on
    /// [`meter`](Self::meter).
    pub fn histogram_count(&self, name: &str) -> u64 {
        let facade = self.histogram_values(name).len() as u64;
        let native = self.native_since_reset(|rm| match rm.metric(name).map(|m| &m.data) {
            Some(MetricData::Histogram { points, .. }) => points.iter().map(|p| p.count).sum(),
            Some(MetricData::ExponentialHistogram { points, .. }) => {
                points.iter().map(|p| p.data.count).sum()
            }
            _ => 0,
        });
        facade + native
    }

    /// The last value recorded for gauge `name`.
    pub fn last_gauge(&self, name: &str) -> Option<f64> {
        lock(&self.recorded.gauges)
            .iter()
            .rev()
            .find(|(n, ..)| n == name)
            .map(|(_, v, _)| *v)
    }

    /// Every value recorded for histogram `name`.
    pub fn histogram_values(&self, name: &str) -> Vec<f64> {
        lock(&self.recorded.histograms)
            .iter()
            .filter(|(n, ..)| n == name)
            .map(|(_, v, _)| *v)
            .collect()
    }

    fn push_span(&self, span: MockSpan, context: SpanContext) -> BoxedSpan {
        let (name, attributes) = (span.name.clone(), span.attributes.clone());
        let mut spans = lock(&self.recorded.spans);
        let index = spans.len();
        spans.push(span);
        drop(spans);
        BoxedSpan::new(
            MockSpanHandle {
                recorded: Arc::clone(&self.recorded),
                index,
                context,
            },
            name,
            attributes,
        )
    }

    fn start(
        &self,
        name: &str,
        attributes: Option<HashMap<String, String>>,
        parent: Option<SpanContext>,
    ) -> BoxedSpan {
        let trace_id = parent
            .as_ref()
            .map_or_else(TraceId::random, SpanContext::trace_id);
        let context = SpanContext::new(
            trace_id,
            SpanId::random(),
            TraceFlags::SAMPLED,
            false,
            TraceState::NONE,
        );
        let span = MockSpan {
            name: name.to_owned(),
            attributes: attributes.unwrap_or_default(),
            events: Vec::new(),
            status: None,
            ended: false,
            parent_id: parent.map(|p| p.span_id().to_hex_string()),
            span_id: context.span_id().to_hex_string(),
            trace_id: trace_id.to_string(),
        };
        self.push_span(span, context)
    }
}

impl Telemetry for MockTelemetry {
    fn create_span(
        &self,
        name: &str,
        attributes: Option<HashMap<String, String>>,
    ) -> Option<BoxedSpan> {
        let parent = crate::trace::Context::map_current(|cx| cx.span_context().cloned());
        Some(self.start(name, attributes, parent))
    }

    fn create_span_with_parent(
        &self,
        name: &str,
        attributes: Option<HashMap<String, String>>,
        parent: Option<&BoxedSpan>,
    ) -> Option<BoxedSpan> {
        match parent.and_then(BoxedSpan::span_context) {
            Some(parent) => Some(self.start(name, attributes, Some(parent))),
            None => self.create_span(name, attributes),
        }
    }

    fn record_counter(&self, name: &str, value: u64, attributes: Option<HashMap<String, String>>) {
        lock(&self.recorded.counters).push((
            name.to_owned(),
            value,
            attributes.unwrap_or_default(),
        ));
    }

    fn record_gauge(&self, name: &str, value: f64, attributes: Option<HashMap<String, String>>) {
        lock(&self.recorded.gauges).push((name.to_owned(), value, attributes.unwrap_or_default()));
    }

    fn record_histogram(
        &self,
        name: &str,
        value: f64,
        attributes: Option<HashMap<String, String>>,
    ) {
        lock(&self.recorded.histograms).push((
            name.to_owned(),
            value,
            attributes.unwrap_or_default(),
        ));
    }

    fn current_span(&self) -> Option<BoxedSpan> {
        current()
    }

    fn enter_span(&self, span: &BoxedSpan) -> Option<ContextGuard> {
        attach(span)
    }

    fn create_trace_context(&self, span: &BoxedSpan) -> Option<TraceContext> {
        span.span_context()
            .map(|sc| TraceContext::from_span_context(&sc))
    }

    /// Records a span standing for the remote parent, named after the recorded span with
    /// that id (or `remote` if unknown), so the round trip is visible in `spans()`.
    fn parse_trace_context(&self, context: &TraceContext) -> Option<BoxedSpan> {
        let sc = context.to_span_context().ok()?;
        let known = lock(&self.recorded.spans)
            .iter()
            .find(|s| s.span_id == context.span_id)
            .cloned();
        let span = MockSpan {
            name: known
                .as_ref()
                .map_or_else(|| "remote".to_owned(), |s| s.name.clone()),
            attributes: known.map(|s| s.attributes).unwrap_or_default(),
            events: Vec::new(),
            status: None,
            ended: false,
            parent_id: None,
            span_id: context.span_id.clone(),
            trace_id: context.trace_id.clone(),
        };
        Some(self.push_span(span, sc))
    }
}

struct MockSpanHandle {
    recorded: Arc<Recorded>,
    index: usize,
    context: SpanContext,
}

impl MockSpanHandle {
    fn update(&self, f: impl FnOnce(&mut MockSpan)) {
        // After `reset()` the slot may hold another span: only update our own.
        let id = self.context.span_id().to_hex_string();
        if let Some(span) = lock(&self.recorded.spans)
            .get_mut(self.index)
            .filter(|s| s.span_id == id)
        {
            f(span);
        }
    }
}

impl Span for MockSpanHandle {
    fn set_status(&self, status: SpanStatus, description: Option<&str>) {
        self.update(|s| s.status = Some((status, description.map(str::to_owned))));
    }

    fn add_event(&self, name: &str, attributes: Option<HashMap<String, String>>) {
        self.update(|s| s.events.push((name.to_owned(), attributes)));
    }

    fn end(&self) {
        self.update(|s| s.ended = true);
    }

    fn set_attribute(&self, key: &str, value: &str) {
        self.update(|s| {
            s.attributes.insert(key.to_owned(), value.to_owned());
        });
    }

    fn span_context(&self) -> Option<SpanContext> {
        Some(self.context.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_from_the_meter_are_exact_and_restart_at_reset() {
        let mock = MockTelemetry::new();
        let big = mock.meter().u64_counter("big").build().unwrap();
        big.add(u64::MAX / 2 + 3, &[]);
        big.add(1, &[crate::KeyValue::new("k", "v")]);
        assert_eq!(mock.counter_total("big"), u64::MAX / 2 + 4);
        let queue = mock.meter().i64_up_down_counter("queue").build().unwrap();
        queue.add(5, &[]);
        queue.add(-2, &[]);
        assert_eq!(mock.counter_total("queue"), 3);
        mock.record_counter("big", 2, None);
        assert_eq!(mock.counter_total("big"), u64::MAX / 2 + 6);

        let latency = mock.meter().f64_histogram("latency").build().unwrap();
        latency.record(0.1, &[]);
        mock.reset();
        assert_eq!(mock.counter_total("big"), 0);
        assert_eq!(mock.histogram_count("latency"), 0);
        big.add(7, &[]);
        latency.record(0.2, &[]);
        assert_eq!(mock.counter_total("big"), 7);
        assert_eq!(mock.histogram_count("latency"), 1);
    }
}
