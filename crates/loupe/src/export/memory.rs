//! In-memory exporters: keep everything exported so tests can assert on it.

use crate::common::error::ExportError;
use crate::metrics::{MetricExporter, ResourceMetrics, Temporality};
use crate::trace::{SpanBatch, SpanData, SpanExporter};
use std::sync::{Arc, Mutex};

/// Keeps every exported span. Clones share the same storage.
#[derive(Clone, Debug, Default)]
pub struct InMemorySpanExporter {
    spans: Arc<Mutex<Vec<SpanData>>>,
}

impl InMemorySpanExporter {
    /// Every span exported so far, in export order.
    pub fn finished_spans(&self) -> Vec<SpanData> {
        self.spans.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The first exported span with this name.
    pub fn span(&self, name: &str) -> Option<SpanData> {
        self.spans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .find(|s| s.name == name)
            .cloned()
    }

    /// Forgets everything exported so far.
    pub fn reset(&self) {
        self.spans.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

impl SpanExporter for InMemorySpanExporter {
    fn export(&self, batch: SpanBatch<'_>) -> Result<(), ExportError> {
        self.spans
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(batch.spans);
        Ok(())
    }
}

/// Keeps every exported collection. Clones share the same storage.
#[derive(Clone, Debug, Default)]
pub struct InMemoryMetricExporter {
    exports: Arc<Mutex<Vec<ResourceMetrics>>>,
    temporality: Temporality,
}

impl InMemoryMetricExporter {
    /// An exporter asking for the given temporality.
    pub fn with_temporality(temporality: Temporality) -> Self {
        InMemoryMetricExporter {
            exports: Arc::default(),
            temporality,
        }
    }

    /// Every collection exported so far.
    pub fn exported(&self) -> Vec<ResourceMetrics> {
        self.exports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The most recent collection.
    pub fn latest(&self) -> Option<ResourceMetrics> {
        self.exports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .last()
            .cloned()
    }

    /// Forgets everything exported so far.
    pub fn reset(&self) {
        self.exports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl MetricExporter for InMemoryMetricExporter {
    fn export(&self, metrics: &ResourceMetrics) -> Result<(), ExportError> {
        self.exports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(metrics.clone());
        Ok(())
    }

    fn temporality(&self) -> Temporality {
        self.temporality
    }
}
