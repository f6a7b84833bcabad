//! 000 §7.3's health monitor: the overall health, published every interval.

use super::registry::HealthRegistry;
use super::report::HealthReport;
use super::HealthError;
use crate::common::error::ConfigError;
use crate::common::periodic::{guarded, Periodic, Published};
use std::time::Duration;

/// Publishes a registry's [`HealthReport`] every interval until stopped or dropped; made
/// by [`HealthRegistry::monitor`] or [`HealthRegistry::monitor_channel`].
///
/// It runs on a thread of its own, so a slow publisher delays only the next report, never
/// the checks or Loupe's exporters.
#[derive(Debug)]
pub struct HealthMonitor {
    periodic: Periodic,
}

impl HealthMonitor {
    /// Reports published so far (callback calls, or reports sent on the channel).
    pub fn published(&self) -> u64 {
        self.periodic.published()
    }

    /// Reports dropped because the channel was full.
    pub fn dropped(&self) -> u64 {
        self.periodic.dropped()
    }

    /// Stops publishing and waits for a publish in progress to finish (dropping the
    /// monitor does the same).
    pub fn stop(self) {}
}

impl HealthRegistry {
    /// Calls `publish` with a report at once and then every `interval`, on a thread of the
    /// monitor's own — 000's health monitor, which publishes on [`SYSTEM_HEALTH_TOPIC`]
    /// (`system.health`):
    ///
    /// [`SYSTEM_HEALTH_TOPIC`]: super::SYSTEM_HEALTH_TOPIC
    ///
    /// ```
    /// use loupe::health::{HealthRegistry, SYSTEM_HEALTH_TOPIC};
    /// use std::time::Duration;
    ///
    /// let registry = HealthRegistry::new();
    /// let monitor = registry.monitor(Duration::from_secs(30), |report| {
    ///     // e.g. transport.publish(SYSTEM_HEALTH_TOPIC, report.to_json())
    ///     println!("{SYSTEM_HEALTH_TOPIC}: {}", report.to_json());
    /// })?;
    /// # drop(monitor);
    /// # Ok::<(), loupe::health::HealthError>(())
    /// ```
    ///
    /// A panic in `publish` is caught and counted as a dropped report; the monitor goes on.
    pub fn monitor(
        &self,
        interval: Duration,
        publish: impl FnMut(&HealthReport) + Send + 'static,
    ) -> Result<HealthMonitor, HealthError> {
        self.start_monitor(interval, guarded(publish))
    }

    /// Sends a report at once and then every `interval` on a bounded channel of `capacity`
    /// reports; when the channel is full the report is dropped and counted
    /// ([`HealthMonitor::dropped`]). The receiver works from async code (`recv().await`)
    /// and from plain threads (`blocking_recv()`); the monitor stops when it is dropped.
    pub fn monitor_channel(
        &self,
        interval: Duration,
        capacity: usize,
    ) -> Result<(HealthMonitor, tokio::sync::mpsc::Receiver<HealthReport>), HealthError> {
        if capacity == 0 {
            return Err(ConfigError::new("capacity", 0, "an integer of at least 1").into());
        }
        let (tx, rx) = tokio::sync::mpsc::channel(capacity);
        let monitor = self.start_monitor(interval, move |report| match tx.try_send(report) {
            Ok(()) => Published::Sent,
            Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => Published::Dropped,
            Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => Published::Closed,
        })?;
        Ok((monitor, rx))
    }

    fn start_monitor(
        &self,
        interval: Duration,
        publish: impl FnMut(HealthReport) -> Published + Send + 'static,
    ) -> Result<HealthMonitor, HealthError> {
        if interval.is_zero() {
            return Err(ConfigError::new("interval", "0", "a positive duration").into());
        }
        let registry = self.clone();
        let periodic = Periodic::spawn(
            "loupe-health-monitor",
            interval,
            move || Some(registry.report()),
            publish,
        )
        .map_err(HealthError::Spawn)?;
        Ok(HealthMonitor { periodic })
    }
}
