//! The aggregator and its periodic publisher (000 §7.1's aggregation task, on a thread).

use super::insights::PerformanceAnalyzer;
use super::snapshot::AnalyticsSnapshot;
use super::AnalyticsError;
use crate::common::error::ConfigError;
use crate::common::periodic::{guarded, Periodic, Published};
use crate::metrics::MeterProvider;
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// Summarises a [`MeterProvider`]'s metrics into [`AnalyticsSnapshot`]s, on demand or
/// periodically on a thread of its own.
///
/// It holds the provider weakly: once every other handle is dropped, snapshots are empty
/// and publishers stop.
#[derive(Clone)]
pub struct MetricsAggregator {
    // A weak handle, upgraded per snapshot, so the aggregator never keeps a pipeline alive.
    provider: Arc<dyn Fn() -> Option<MeterProvider> + Send + Sync>,
    analyzer: Option<Arc<PerformanceAnalyzer>>,
}

impl std::fmt::Debug for MetricsAggregator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsAggregator")
            .field("provider", &(self.provider)())
            .field("analyzer", &self.analyzer)
            .finish()
    }
}

impl MetricsAggregator {
    /// An aggregator over `provider`'s metrics, without an analyser.
    pub fn new(provider: &MeterProvider) -> Self {
        let weak = Arc::downgrade(&provider.shared);
        MetricsAggregator {
            provider: Arc::new(move || weak.upgrade().map(|shared| MeterProvider { shared })),
            analyzer: None,
        }
    }

    /// Fills each snapshot's `insights` with `analyzer`'s findings.
    #[must_use]
    pub fn with_analyzer(mut self, analyzer: PerformanceAnalyzer) -> Self {
        self.analyzer = Some(Arc::new(analyzer));
        self
    }

    /// Collects cumulative metrics now and summarises them; `None` once the provider is gone.
    pub fn try_snapshot(&self) -> Option<AnalyticsSnapshot> {
        let metrics = (self.provider)()?.collect();
        let mut snapshot = AnalyticsSnapshot::from_metrics(&metrics);
        if let Some(analyzer) = &self.analyzer {
            snapshot.insights = analyzer.analyze(&snapshot);
        }
        Some(snapshot)
    }

    /// Like [`try_snapshot`](Self::try_snapshot), but an empty snapshot once the provider is gone.
    pub fn snapshot(&self) -> AnalyticsSnapshot {
        self.try_snapshot().unwrap_or_else(|| AnalyticsSnapshot {
            taken_at: std::time::SystemTime::now(),
            counters: Vec::new(),
            gauges: Vec::new(),
            histograms: Vec::new(),
            insights: Vec::new(),
        })
    }

    /// Calls `publish` with a snapshot at once and then every `interval`, on a thread of
    /// the publisher's own; a slow callback delays only the next snapshot, never the SDK.
    /// A panic in `publish` is caught and counted as dropped.
    pub fn publish(
        &self,
        interval: Duration,
        publish: impl FnMut(&AnalyticsSnapshot) + Send + 'static,
    ) -> Result<AnalyticsPublisher, AnalyticsError> {
        self.start(interval, guarded(publish))
    }

    /// Sends a snapshot at once and then every `interval` on a bounded channel of
    /// `capacity`; when it is full the snapshot is dropped and counted, never waited for.
    /// The publisher stops when the receiver is dropped.
    pub fn publish_channel(
        &self,
        interval: Duration,
        capacity: usize,
    ) -> Result<(AnalyticsPublisher, mpsc::Receiver<AnalyticsSnapshot>), AnalyticsError> {
        if capacity == 0 {
            return Err(ConfigError::new("capacity", 0, "an integer of at least 1").into());
        }
        let (tx, rx) = mpsc::sync_channel(capacity);
        let publisher = self.start(interval, move |snapshot| match tx.try_send(snapshot) {
            Ok(()) => Published::Sent,
            Err(mpsc::TrySendError::Full(_)) => Published::Dropped,
            Err(mpsc::TrySendError::Disconnected(_)) => Published::Closed,
        })?;
        Ok((publisher, rx))
    }

    fn start(
        &self,
        interval: Duration,
        publish: impl FnMut(AnalyticsSnapshot) -> Published + Send + 'static,
    ) -> Result<AnalyticsPublisher, AnalyticsError> {
        if interval.is_zero() {
            return Err(ConfigError::new("interval", "0", "a positive duration").into());
        }
        let aggregator = self.clone();
        let periodic = Periodic::spawn(
            "loupe-analytics",
            interval,
            move || aggregator.try_snapshot(),
            publish,
        )
        .map_err(AnalyticsError::Spawn)?;
        Ok(AnalyticsPublisher { periodic })
    }
}

/// Publishes snapshots periodically until stopped or dropped; made by
/// [`MetricsAggregator::publish`] or [`MetricsAggregator::publish_channel`].
#[derive(Debug)]
pub struct AnalyticsPublisher {
    periodic: Periodic,
}

impl AnalyticsPublisher {
    /// Snapshots delivered so far (callback calls, or snapshots sent on the channel); each
    /// is counted just after its delivery returns.
    pub fn published(&self) -> u64 {
        self.periodic.published()
    }

    /// Snapshots dropped because the channel was full or the callback panicked.
    pub fn dropped(&self) -> u64 {
        self.periodic.dropped()
    }

    /// Stops publishing and waits for a publish in progress to finish (dropping the
    /// publisher does the same).
    pub fn stop(self) {}
}
