//! Span processors: hooks at span start and end, between the tracer and the exporters.

use super::export::{SpanBatch, SpanExporter};
use super::ids::SpanContext;
use super::span::SpanData;
use crate::common::error::ExportError;
use crate::common::resource::Resource;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Sees every recorded span when it starts and when it ends.
///
/// `on_start` and `on_end` run on the application's thread: they must be quick and must
/// never block on I/O.
pub trait SpanProcessor: Send + Sync + 'static {
    /// Called when a recording span starts; may enrich it (e.g. add attributes).
    fn on_start(&self, _span: &mut SpanData, _parent: Option<&SpanContext>) {}

    /// Called when a recording span ends.
    fn on_end(&self, span: SpanData);

    /// [`on_end`](Self::on_end), for a span that ended where it was recorded. A processor
    /// that keeps spans overrides it to move the span straight to where it keeps it
    /// (`std::mem::replace`), rather than through the copies of a by-value call; the
    /// default moves the span out and passes it to `on_end`. Whatever is left in `span`
    /// is dropped.
    fn on_end_in_place(&self, span: &mut SpanData) {
        self.on_end(std::mem::replace(span, SpanData::empty()));
    }

    /// Exports what has been handed over so far, within `timeout`.
    fn force_flush(&self, timeout: Duration) -> Result<(), ExportError>;

    /// Flushes and stops, within `timeout`.
    fn shutdown(&self, timeout: Duration) -> Result<(), ExportError>;

    /// Receives the provider's resource when the provider is built.
    fn set_resource(&self, _resource: &Arc<Resource>) {}
}

/// Exports each sampled span as it ends, on the ending thread. For tests and debugging
/// only: it blocks the caller for the duration of the export. Use
/// [`BatchSpanProcessor`](super::BatchSpanProcessor) in services.
pub struct SimpleSpanProcessor {
    exporter: Mutex<Box<dyn SpanExporter>>,
    resource: OnceLock<Arc<Resource>>,
}

impl SimpleSpanProcessor {
    /// Wraps an exporter.
    pub fn new(exporter: impl SpanExporter) -> Self {
        SimpleSpanProcessor {
            exporter: Mutex::new(Box::new(exporter)),
            resource: OnceLock::new(),
        }
    }
}

impl SpanProcessor for SimpleSpanProcessor {
    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let resource = self.resource.get_or_init(|| Arc::new(Resource::default()));
        let exporter = self.exporter.lock().unwrap_or_else(|p| p.into_inner());
        let _ = exporter.export(SpanBatch {
            resource,
            spans: std::slice::from_ref(&span),
            timeout: Duration::from_secs(30),
        });
    }

    fn force_flush(&self, _timeout: Duration) -> Result<(), ExportError> {
        self.exporter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .force_flush()
    }

    fn shutdown(&self, _timeout: Duration) -> Result<(), ExportError> {
        self.exporter
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .shutdown()
    }

    fn set_resource(&self, resource: &Arc<Resource>) {
        let _ = self.resource.set(Arc::clone(resource));
    }
}
