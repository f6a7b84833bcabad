//! `MockTelemetry`: records every call so tests can assert on a component's telemetry.

use super::span::{attach, current};
use super::{BoxedSpan, Span, SpanStatus, Telemetry, TraceContext};
use crate::trace::{ContextGuard, SpanContext, SpanId, TraceFlags, TraceId, TraceState};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Calls<T> = Mutex<Vec<(String, T, HashMap<String, String>)>>;

#[derive(Default)]
struct Recorded {
    counters: Calls<u64>,
    gauges: Calls<f64>,
    histograms: Calls<f64>,
    spans: Mutex<Vec<MockSpan>>,
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

    /// Every span, in creation order.
    pub fn spans(&self) -> Vec<MockSpan> {
        lock(&self.recorded.spans).clone()
    }

    /// Forgets everything recorded.
    pub fn reset(&self) {
        lock(&self.recorded.counters).clear();
        lock(&self.recorded.gauges).clear();
        lock(&self.recorded.histograms).clear();
        lock(&self.recorded.spans).clear();
    }

    /// The first span with this name.
    pub fn span_named(&self, name: &str) -> Option<MockSpan> {
        lock(&self.recorded.spans)
            .iter()
            .find(|s| s.name == name)
            .cloned()
    }

    /// The spans whose parent is the first span named `parent`.
    pub fn children_of(&self, parent: &str) -> Vec<MockSpan> {
        let Some(parent) = self.span_named(parent) else {
            return Vec::new();
        };
        lock(&self.recorded.spans)
            .iter()
            .filter(|s| s.parent_id.as_deref() == Some(&parent.span_id))
            .cloned()
            .collect()
    }

    /// The sum of every `record_counter` value for `name`.
    pub fn counter_total(&self, name: &str) -> u64 {
        lock(&self.recorded.counters)
            .iter()
            .filter(|(n, ..)| n == name)
            .map(|(_, v, _)| v)
            .sum()
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
            parent_id: parent.map(|p| p.span_id().to_string()),
            span_id: context.span_id().to_string(),
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
        let id = self.context.span_id().to_string();
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
