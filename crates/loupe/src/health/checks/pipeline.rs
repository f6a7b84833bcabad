//! A check of Loupe's own pipeline: exporters that fail, queues that fill up.

use crate::common::error::ConfigError;
use crate::common::stats::{exporter_stats, ExporterStats};
use crate::health::check::{CheckFuture, CheckResult, HealthCheck};
use crate::trace::BatchSpanProcessor;
use std::sync::{Arc, Mutex, Weak};

/// How full a queue is, as a [`PipelineCheck`] queue source reports it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueueStats {
    /// Items waiting now.
    pub queued: u64,
    /// The most items the queue holds.
    pub capacity: u64,
    /// Items dropped for a full queue so far (a running total).
    pub dropped: u64,
}

type ExporterSource = Box<dyn Fn() -> Vec<Arc<ExporterStats>> + Send + Sync>;
type QueueSource = Box<dyn Fn() -> QueueStats + Send + Sync>;

/// Unhealthy when Loupe itself is losing telemetry: an exporter whose exports fail while
/// none succeed, or a queue that is nearly full or dropping.
///
/// Between two runs, an exporter is failing when its `failed` count grew and its
/// `exported` count did not (one success in between means the peer is reachable and the
/// failures were transient). A queue is saturated when it holds at least the saturation
/// ratio of its capacity (default 90 %), or dropped items since the previous run. The first
/// run compares with zero. By default every exporter in the process is watched
/// ([`exporter_stats`]).
///
/// ```
/// use loupe::export::InMemorySpanExporter;
/// use loupe::health::PipelineCheck;
/// use loupe::trace::{BatchConfig, BatchSpanProcessor};
///
/// let config = BatchConfig::default();
/// let processor = BatchSpanProcessor::with_config(InMemorySpanExporter::default(), config)?;
/// let check = PipelineCheck::builder()
///     .with_span_queue("traces", &processor, config.max_queue_size)
///     .with_saturation(0.8)
///     .build()?;
/// # let _ = check;
/// # Ok::<(), loupe::ConfigError>(())
/// ```
pub struct PipelineCheck {
    exporters: Option<ExporterSource>,
    queues: Vec<(String, QueueSource)>,
    saturation: f64,
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for PipelineCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineCheck")
            .field("exporters", &self.exporters.is_some())
            .field(
                "queues",
                &self.queues.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            )
            .field("saturation", &self.saturation)
            .finish()
    }
}

/// Builds a [`PipelineCheck`].
#[must_use]
pub struct PipelineCheckBuilder {
    exporters: Option<ExporterSource>,
    queues: Vec<(String, QueueSource)>,
    saturation: f64,
}

impl std::fmt::Debug for PipelineCheckBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineCheckBuilder")
            .field("saturation", &self.saturation)
            .finish_non_exhaustive()
    }
}

/// Counts from the previous run.
#[derive(Default)]
struct Seen {
    exporters: Vec<(Weak<ExporterStats>, u64, u64)>,
    queues: Vec<u64>,
}

impl PipelineCheck {
    /// A check of every exporter in the process, and of no queue until one is added.
    pub fn builder() -> PipelineCheckBuilder {
        PipelineCheckBuilder {
            exporters: Some(Box::new(exporter_stats)),
            queues: Vec::new(),
            saturation: 0.9,
        }
    }
}

impl PipelineCheckBuilder {
    /// Watches the exporters `source` returns instead of every exporter in the process.
    pub fn with_exporters(
        mut self,
        source: impl Fn() -> Vec<Arc<ExporterStats>> + Send + Sync + 'static,
    ) -> Self {
        self.exporters = Some(Box::new(source));
        self
    }

    /// Watches no exporter, only queues.
    pub fn without_exporters(mut self) -> Self {
        self.exporters = None;
        self
    }

    /// Watches a queue whose fill `source` reports.
    pub fn with_queue(
        mut self,
        name: impl Into<String>,
        source: impl Fn() -> QueueStats + Send + Sync + 'static,
    ) -> Self {
        self.queues.push((name.into(), Box::new(source)));
        self
    }

    /// Watches a batch span processor's queue; `max_queue_size` is the one it was built
    /// with ([`BatchConfig::max_queue_size`](crate::trace::BatchConfig::max_queue_size)).
    /// The check keeps a handle to the processor.
    pub fn with_span_queue(
        self,
        name: impl Into<String>,
        processor: &BatchSpanProcessor,
        max_queue_size: usize,
    ) -> Self {
        let processor = processor.clone();
        let capacity = max_queue_size as u64;
        self.with_queue(name, move || {
            let stats = processor.stats();
            QueueStats {
                queued: stats.queued,
                capacity,
                dropped: stats.dropped_queue_full,
            }
        })
    }

    /// The share of its capacity (above 0, at most 1) from which a queue counts as
    /// saturated. Default 0.9.
    pub fn with_saturation(mut self, ratio: f64) -> Self {
        self.saturation = ratio;
        self
    }

    /// Checks the settings and builds the check.
    pub fn build(self) -> Result<PipelineCheck, ConfigError> {
        if !(self.saturation > 0.0 && self.saturation <= 1.0) {
            return Err(ConfigError::new(
                "saturation",
                self.saturation,
                "a ratio above 0 and at most 1",
            ));
        }
        Ok(PipelineCheck {
            exporters: self.exporters,
            seen: Mutex::new(Seen {
                exporters: Vec::new(),
                queues: vec![0; self.queues.len()],
            }),
            queues: self.queues,
            saturation: self.saturation,
        })
    }
}

impl PipelineCheck {
    /// One run: compares the counters with the previous run's.
    fn evaluate(&self) -> CheckResult {
        let mut problems = Vec::new();
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let exporters = self.exporters.as_ref().map(|s| s()).unwrap_or_default();
        let mut now_seen = Vec::with_capacity(exporters.len());
        for stats in &exporters {
            let (exported, failed) = (stats.exported.get(), stats.failed.get());
            let (before_exported, before_failed) = seen
                .exporters
                .iter()
                .find(|(w, _, _)| std::ptr::eq(w.as_ptr(), Arc::as_ptr(stats)))
                .map_or((0, 0), |(_, e, f)| (*e, *f));
            let new_failed = failed.saturating_sub(before_failed);
            if new_failed > 0 && exported == before_exported {
                problems.push(format!(
                    "exporter `{}` ({}) is failing: {new_failed} items failed and none were exported since the last check",
                    stats.exporter, stats.signal
                ));
            }
            now_seen.push((Arc::downgrade(stats), exported, failed));
        }
        seen.exporters = now_seen;
        for ((name, source), before_dropped) in self.queues.iter().zip(seen.queues.iter_mut()) {
            let queue = source();
            if queue.capacity > 0 && queue.queued as f64 >= self.saturation * queue.capacity as f64
            {
                problems.push(format!(
                    "queue `{name}` is saturated: {} of {} places used",
                    queue.queued, queue.capacity
                ));
            }
            let dropped = queue.dropped.saturating_sub(*before_dropped);
            if dropped > 0 {
                problems.push(format!(
                    "queue `{name}` dropped {dropped} items since the last check"
                ));
            }
            *before_dropped = queue.dropped;
        }
        if problems.is_empty() {
            CheckResult::healthy().with_message(format!(
                "{} exporters and {} queues are fine",
                exporters.len(),
                self.queues.len()
            ))
        } else {
            CheckResult::unhealthy(problems.join("; "))
        }
    }
}

impl HealthCheck for PipelineCheck {
    fn check(&self) -> CheckFuture<'_> {
        let result = self.evaluate();
        Box::pin(async move { result })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::common::stats::register_exporter;
    use std::sync::atomic::{AtomicU64, Ordering};

    #[test]
    fn an_exporter_is_failing_only_while_nothing_gets_through() {
        let stats = register_exporter("test_pipeline", "traces");
        let mine = Arc::clone(&stats);
        let check = PipelineCheck::builder()
            .with_exporters(move || vec![Arc::clone(&mine)])
            .build()
            .unwrap();
        assert!(check.evaluate().is_healthy());
        stats.failed.add(5);
        let result = check.evaluate();
        assert!(!result.is_healthy());
        assert!(result
            .message()
            .unwrap()
            .contains("exporter `test_pipeline` (traces) is failing: 5 items failed"));
        // Failures with a success in between are transient.
        stats.failed.add(2);
        stats.exported.add(10);
        assert!(check.evaluate().is_healthy());
        // Nothing happening is not failing.
        assert!(check.evaluate().is_healthy());
    }

    #[test]
    fn a_queue_is_saturated_when_nearly_full_or_dropping() {
        let queued = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let (q, d) = (Arc::clone(&queued), Arc::clone(&dropped));
        let check = PipelineCheck::builder()
            .without_exporters()
            .with_queue("events", move || QueueStats {
                queued: q.load(Ordering::Relaxed),
                capacity: 100,
                dropped: d.load(Ordering::Relaxed),
            })
            .build()
            .unwrap();
        assert!(check.evaluate().is_healthy());
        queued.store(90, Ordering::Relaxed);
        assert_eq!(
            check.evaluate().message(),
            Some("queue `events` is saturated: 90 of 100 places used")
        );
        queued.store(10, Ordering::Relaxed);
        dropped.store(7, Ordering::Relaxed);
        assert_eq!(
            check.evaluate().message(),
            Some("queue `events` dropped 7 items since the last check")
        );
        assert!(check.evaluate().is_healthy());
    }

    #[test]
    fn the_saturation_ratio_is_validated() {
        for bad in [0.0, -0.5, 1.5, f64::NAN] {
            let err = PipelineCheck::builder()
                .with_saturation(bad)
                .build()
                .unwrap_err();
            assert_eq!(err.field, "saturation");
        }
    }
}
