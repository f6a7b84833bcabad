//! [`CheckOptions`]: how often a check runs, how long it may take, its thresholds and
//! whether it is critical.

use crate::common::error::ConfigError;
use std::time::Duration;

/// How one check is run and judged. Defaults are 002's: every 30 s, 5 s timeout,
/// unhealthy after 3 failures in a row, healthy again after 2 successes in a row, critical.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Time between the starts of two runs (002 `interval`). Default 30 s.
    pub interval: Duration,
    /// Longest one run may take (002 `timeout`); a run still going then is cancelled —
    /// a command is killed — and counts as a failure. Default 5 s.
    pub timeout: Duration,
    /// Failures in a row that turn the check unhealthy (002 `unhealthy_threshold`).
    /// Default 3.
    pub unhealthy_threshold: u32,
    /// Successes in a row that turn an unhealthy check healthy again (002
    /// `healthy_threshold`). Default 2.
    pub healthy_threshold: u32,
    /// Whether the check being unhealthy makes the service unhealthy (`true`) or only
    /// degraded (`false`). Default `true`.
    pub critical: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            interval: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            unhealthy_threshold: 3,
            healthy_threshold: 2,
            critical: true,
        }
    }
}

impl CheckOptions {
    /// Sets the time between the starts of two runs.
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Sets the longest one run may take.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets the failures in a row that turn the check unhealthy.
    #[must_use]
    pub fn with_unhealthy_threshold(mut self, failures: u32) -> Self {
        self.unhealthy_threshold = failures;
        self
    }

    /// Sets the successes in a row that turn an unhealthy check healthy again.
    #[must_use]
    pub fn with_healthy_threshold(mut self, successes: u32) -> Self {
        self.healthy_threshold = successes;
        self
    }

    /// Makes the check non-critical: when it is unhealthy the service is only degraded.
    #[must_use]
    pub fn non_critical(mut self) -> Self {
        self.critical = false;
        self
    }

    /// Checks the options, naming the first invalid one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.interval.is_zero() {
            return Err(ConfigError::new("interval", "0", "a positive duration"));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new("timeout", "0", "a positive duration"));
        }
        if self.unhealthy_threshold == 0 {
            return Err(ConfigError::new(
                "unhealthy_threshold",
                0,
                "an integer of at least 1",
            ));
        }
        if self.healthy_threshold == 0 {
            return Err(ConfigError::new(
                "healthy_threshold",
                0,
                "an integer of at least 1",
            ));
        }
        Ok(())
    }
}
