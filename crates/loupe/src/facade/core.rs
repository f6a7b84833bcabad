//! `CoreTelemetry`: the facade over Loupe's own pipeline.

use super::span::{attach, current, ContextOnlySpan};
use super::{to_key_values, BoxedSpan, Span, SpanStatus, Telemetry, TraceContext};
use crate::common::stats::sdk_stats;
use crate::metrics::{Counter, Gauge, Histogram, Meter, MeterProvider};
use crate::trace::{ContextGuard, SpanContext, Status, Tracer, TracerProvider};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

/// The real pipeline behind the seed's [`Telemetry`] trait.
///
/// Instruments are created on first use by name (the facade's `record_*` calls) and
/// cached; a name already registered with another kind is counted as a conflict
/// (`SdkStats::instrument_conflicts`) and the measurement dropped, never a panic.
pub struct CoreTelemetry {
    tracer: Tracer,
    meter: Meter,
    counters: RwLock<FxHashMap<String, Counter<u64>>>,
    gauges: RwLock<FxHashMap<String, Gauge<f64>>>,
    histograms: RwLock<FxHashMap<String, Histogram<f64>>>,
}

impl std::fmt::Debug for CoreTelemetry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreTelemetry")
            .field("tracer", &self.tracer)
            .field("meter", &self.meter)
            .finish()
    }
}

impl CoreTelemetry {
    /// A facade over the two providers, with the instrumentation scope `loupe.facade`.
    pub fn new(tracer_provider: &TracerProvider, meter_provider: &MeterProvider) -> Self {
        Self::with_scope(tracer_provider, meter_provider, "loupe.facade")
    }

    /// A facade whose spans and metrics carry the given instrumentation scope
    /// (the seed uses `echo-core`).
    pub fn with_scope(
        tracer_provider: &TracerProvider,
        meter_provider: &MeterProvider,
        scope: &str,
    ) -> Self {
        CoreTelemetry {
            tracer: tracer_provider.tracer(scope),
            meter: meter_provider.meter(scope),
            counters: RwLock::default(),
            gauges: RwLock::default(),
            histograms: RwLock::default(),
        }
    }

    /// The tracer, for code that wants the native span API.
    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }

    /// The meter, for code that wants pre-bound instruments.
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    fn start(
        &self,
        name: &str,
        attributes: Option<HashMap<String, String>>,
        parent: Option<SpanContext>,
    ) -> BoxedSpan {
        let attrs = attributes.unwrap_or_default();
        let mut builder = self
            .tracer
            .span_builder(name.to_owned())
            .with_attributes(to_key_values(Some(attrs.clone())));
        if let Some(parent) = parent {
            builder = builder.with_parent(parent);
        }
        let span = builder.start();
        let context = span.span_context().clone();
        BoxedSpan::new(
            CoreSpan {
                span: Mutex::new(span),
                context,
            },
            name.to_owned(),
            attrs,
        )
    }
}

/// Looks up (or registers once) a named instrument, caching it by name.
fn cached<I: Clone>(
    cache: &RwLock<FxHashMap<String, I>>,
    name: &str,
    register: impl FnOnce() -> Result<I, crate::metrics::MetricError>,
) -> Option<I> {
    if let Some(found) = cache.read().unwrap_or_else(|p| p.into_inner()).get(name) {
        return Some(found.clone());
    }
    match register() {
        Ok(instrument) => {
            cache
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(name.to_owned(), instrument.clone());
            Some(instrument)
        }
        Err(_) => {
            sdk_stats().instrument_conflicts.bump();
            None
        }
    }
}

impl Telemetry for CoreTelemetry {
    fn create_span(
        &self,
        name: &str,
        attributes: Option<HashMap<String, String>>,
    ) -> Option<BoxedSpan> {
        Some(self.start(name, attributes, None))
    }

    fn create_span_with_parent(
        &self,
        name: &str,
        attributes: Option<HashMap<String, String>>,
        parent: Option<&BoxedSpan>,
    ) -> Option<BoxedSpan> {
        Some(self.start(name, attributes, parent.and_then(BoxedSpan::span_context)))
    }

    fn record_counter(&self, name: &str, value: u64, attributes: Option<HashMap<String, String>>) {
        if let Some(c) = cached(&self.counters, name, || {
            self.meter.u64_counter(name).build()
        }) {
            c.add(value, &to_key_values(attributes));
        }
    }

    fn record_gauge(&self, name: &str, value: f64, attributes: Option<HashMap<String, String>>) {
        if let Some(g) = cached(&self.gauges, name, || self.meter.f64_gauge(name).build()) {
            g.record(value, &to_key_values(attributes));
        }
    }

    fn record_histogram(
        &self,
        name: &str,
        value: f64,
        attributes: Option<HashMap<String, String>>,
    ) {
        if let Some(h) = cached(&self.histograms, name, || {
            self.meter.f64_histogram(name).build()
        }) {
            h.record(value, &to_key_values(attributes));
        }
    }

    fn current_span(&self) -> Option<BoxedSpan> {
        current()
    }

    fn enter_span(&self, span: &BoxedSpan) -> Option<ContextGuard> {
        attach(span)
    }

    fn create_trace_context(&self, span: &BoxedSpan) -> Option<TraceContext> {
        span.span_context()
            .filter(SpanContext::is_valid)
            .map(|sc| TraceContext::from_span_context(&sc))
    }

    fn parse_trace_context(&self, context: &TraceContext) -> Option<BoxedSpan> {
        let sc = context.to_span_context().ok()?;
        Some(BoxedSpan::new(
            ContextOnlySpan(sc),
            String::new(),
            HashMap::new(),
        ))
    }
}

/// A native span behind the facade's `&self` interface.
struct CoreSpan {
    span: Mutex<crate::trace::Span>,
    context: SpanContext,
}

impl Span for CoreSpan {
    fn set_status(&self, status: SpanStatus, description: Option<&str>) {
        let status = match status {
            SpanStatus::Unset => Status::Unset,
            SpanStatus::Ok => Status::Ok,
            SpanStatus::Error => Status::error(description.unwrap_or_default().to_owned()),
        };
        self.span
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_status(status);
    }

    fn add_event(&self, name: &str, attributes: Option<HashMap<String, String>>) {
        self.span
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add_event(name.to_owned(), to_key_values(attributes));
    }

    fn end(&self) {
        self.span.lock().unwrap_or_else(|p| p.into_inner()).end();
    }

    fn set_attribute(&self, key: &str, value: &str) {
        self.span
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .set_attribute(key.to_owned(), value.to_owned());
    }

    fn span_context(&self) -> Option<SpanContext> {
        Some(self.context.clone())
    }
}
