//! `NoopTelemetry`: every call returns immediately; nothing is allocated or locked.

use super::{BoxedSpan, Telemetry, TraceContext};
use crate::metrics::Meter;
use crate::trace::{ContextGuard, Tracer};
use std::collections::HashMap;
use std::sync::OnceLock;

/// Telemetry switched off. Each method is an empty inline body: no allocation, no lock,
/// no atomic. (Attribute maps the caller builds are still the caller's cost: pass `None`.)
#[derive(Clone, Copy, Debug, Default)]
pub struct NoopTelemetry;

impl NoopTelemetry {
    /// [`Meter::noop`]: for components that take a meter (the instrumentation packs), so
    /// they can run with telemetry switched off, as [`CoreTelemetry::meter`] and
    /// [`MockTelemetry::meter`] give them a recording one.
    ///
    /// [`CoreTelemetry::meter`]: super::CoreTelemetry::meter
    /// [`MockTelemetry::meter`]: super::MockTelemetry::meter
    pub fn meter(&self) -> &'static Meter {
        static METER: OnceLock<Meter> = OnceLock::new();
        METER.get_or_init(Meter::noop)
    }

    /// [`Tracer::noop`]: its spans record nothing.
    pub fn tracer(&self) -> &'static Tracer {
        static TRACER: OnceLock<Tracer> = OnceLock::new();
        TRACER.get_or_init(Tracer::noop)
    }
}

impl Telemetry for NoopTelemetry {
    #[inline]
    fn create_span(&self, _: &str, _: Option<HashMap<String, String>>) -> Option<BoxedSpan> {
        None
    }
    #[inline]
    fn create_span_with_parent(
        &self,
        _: &str,
        _: Option<HashMap<String, String>>,
        _: Option<&BoxedSpan>,
    ) -> Option<BoxedSpan> {
        None
    }
    #[inline]
    fn record_counter(&self, _: &str, _: u64, _: Option<HashMap<String, String>>) {}
    #[inline]
    fn record_gauge(&self, _: &str, _: f64, _: Option<HashMap<String, String>>) {}
    #[inline]
    fn record_histogram(&self, _: &str, _: f64, _: Option<HashMap<String, String>>) {}
    #[inline]
    fn current_span(&self) -> Option<BoxedSpan> {
        None
    }
    #[inline]
    fn enter_span(&self, _: &BoxedSpan) -> Option<ContextGuard> {
        None
    }
    #[inline]
    fn create_trace_context(&self, _: &BoxedSpan) -> Option<TraceContext> {
        None
    }
    #[inline]
    fn parse_trace_context(&self, _: &TraceContext) -> Option<BoxedSpan> {
        None
    }
}
