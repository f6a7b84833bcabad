//! The span exporter trait: where finished spans leave the process.

use super::span::SpanData;
use crate::common::error::ExportError;
use crate::common::resource::Resource;
use std::time::Duration;

/// One batch of finished spans and what an exporter needs to send them.
#[derive(Debug, Clone, Copy)]
pub struct SpanBatch<'a> {
    /// The resource all spans in the batch belong to.
    pub resource: &'a Resource,
    /// The spans, in the order they ended (per thread).
    pub spans: &'a [SpanData],
    /// How long the export may take before the pipeline stops waiting for it.
    pub timeout: Duration,
}

/// Sends finished spans somewhere.
///
/// Exporters run on the SDK's own threads, never on the thread that recorded the span, so
/// they may block (on I/O, or on a private async runtime) without hurting the application.
pub trait SpanExporter: Send + Sync + 'static {
    /// Exports one batch. A failed batch is counted and dropped; retrying is the
    /// exporter's own business.
    fn export(&self, batch: SpanBatch<'_>) -> Result<(), ExportError>;

    /// Delivers anything the exporter buffers itself.
    fn force_flush(&self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Releases resources; no export follows.
    fn shutdown(&self) -> Result<(), ExportError> {
        Ok(())
    }

    /// The exporter's health counters, published as `loupe.sdk.exporter.*`; a batch
    /// processor adds the spans it drops for a full queue to them.
    fn stats(&self) -> Option<std::sync::Arc<crate::common::stats::ExporterStats>> {
        None
    }
}

impl<T: SpanExporter + ?Sized> SpanExporter for Box<T> {
    fn export(&self, batch: SpanBatch<'_>) -> Result<(), ExportError> {
        (**self).export(batch)
    }
    fn stats(&self) -> Option<std::sync::Arc<crate::common::stats::ExporterStats>> {
        (**self).stats()
    }
    fn force_flush(&self) -> Result<(), ExportError> {
        (**self).force_flush()
    }
    fn shutdown(&self) -> Result<(), ExportError> {
        (**self).shutdown()
    }
}

impl<T: SpanExporter + ?Sized> SpanExporter for std::sync::Arc<T> {
    fn export(&self, batch: SpanBatch<'_>) -> Result<(), ExportError> {
        (**self).export(batch)
    }
    fn stats(&self) -> Option<std::sync::Arc<crate::common::stats::ExporterStats>> {
        (**self).stats()
    }
    fn force_flush(&self) -> Result<(), ExportError> {
        (**self).force_flush()
    }
    fn shutdown(&self) -> Result<(), ExportError> {
        (**self).shutdown()
    }
}

/// Discards everything. Useful to measure the pipeline without I/O.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopSpanExporter;

impl SpanExporter for NoopSpanExporter {
    fn export(&self, _: SpanBatch<'_>) -> Result<(), ExportError> {
        Ok(())
    }
}
