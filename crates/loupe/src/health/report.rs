//! What the registry knows at one moment: the overall status and each check's state, in the
//! shape `GET /health` serves and the health monitor publishes.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::time::SystemTime;

/// The service's overall health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Every check is healthy (or has not run yet).
    Healthy,
    /// A non-critical check is unhealthy; the service still works, with less.
    Degraded,
    /// A critical check is unhealthy.
    Unhealthy,
    /// [`HealthRegistry::begin_shutdown`](super::HealthRegistry::begin_shutdown) was called.
    ShuttingDown,
}

impl HealthStatus {
    /// `healthy`, `degraded`, `unhealthy` or `shutting_down`, as in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Healthy => "healthy",
            HealthStatus::Degraded => "degraded",
            HealthStatus::Unhealthy => "unhealthy",
            HealthStatus::ShuttingDown => "shutting_down",
        }
    }

    /// Whether the service should keep receiving traffic: healthy or degraded.
    pub fn is_serving(self) -> bool {
        matches!(self, HealthStatus::Healthy | HealthStatus::Degraded)
    }
}

impl std::fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The state of one check after its thresholds are applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Not run yet, or failing fewer times in a row than its unhealthy threshold before
    /// its first success. Counts as healthy for the overall status.
    Pending,
    /// Healthy.
    Healthy,
    /// Failed its unhealthy threshold's worth of runs in a row, and has not yet passed its
    /// healthy threshold's worth since.
    Unhealthy,
}

impl CheckStatus {
    /// `pending`, `healthy` or `unhealthy`, as in the JSON body.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Pending => "pending",
            CheckStatus::Healthy => "healthy",
            CheckStatus::Unhealthy => "unhealthy",
        }
    }
}

impl std::fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check's state, as `GET /health` shows it under `checks.<name>`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckReport {
    /// The name it was registered under (the key in the JSON `checks` object).
    #[serde(skip)]
    pub name: String,
    /// Its status after thresholds.
    pub status: CheckStatus,
    /// Whether its being unhealthy makes the service unhealthy (or only degraded).
    pub critical: bool,
    /// What the latest run said (a success may carry details too).
    pub message: Option<String>,
    /// The reason of the latest failure; cleared when the check turns healthy.
    pub last_error: Option<String>,
    /// Failed runs in a row, up to now.
    pub consecutive_failures: u32,
    /// Successful runs in a row, up to now.
    pub consecutive_successes: u32,
    /// When the latest run finished (RFC 3339, UTC, in JSON); `None` before the first run.
    #[serde(serialize_with = "serialize_optional_time")]
    pub last_checked: Option<SystemTime>,
    /// How long the latest run took, in milliseconds.
    pub last_duration_ms: Option<f64>,
}

/// Everything the registry knows at one moment: the body of `GET /health` and what the
/// health monitor publishes.
///
/// Serialized, it reads like 003's structured response, with each check as an object:
///
/// ```json
/// {"status": "degraded", "ready": true, "version": "1.4.2", "uptime_seconds": 3600,
///  "timestamp": "2025-06-01T12:00:00.250Z",
///  "checks": {"database": {"status": "healthy", "critical": true, "message": null,
///                          "last_error": null, "consecutive_failures": 0,
///                          "consecutive_successes": 12,
///                          "last_checked": "2025-06-01T11:59:58Z", "last_duration_ms": 0.4}}}
/// ```
///
/// Fields given by [`HealthRegistryBuilder::with_details`](super::HealthRegistryBuilder::with_details)
/// follow at the top level.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HealthReport {
    /// The overall status.
    pub status: HealthStatus,
    /// Whether `GET /ready` answers 200.
    pub ready: bool,
    /// The service's version, if the registry was given one.
    pub version: Option<String>,
    /// Whole seconds since the registry was built.
    pub uptime_seconds: u64,
    /// When this report was made (RFC 3339, UTC, in JSON).
    #[serde(serialize_with = "serialize_time")]
    pub timestamp: SystemTime,
    /// Every check, in registration order (a JSON object keyed by name).
    #[serde(serialize_with = "serialize_checks")]
    pub checks: Vec<CheckReport>,
    /// The application's own fields (003's `queries_running`, `streams_active`, ...).
    #[serde(flatten)]
    pub details: serde_json::Map<String, serde_json::Value>,
}

impl HealthReport {
    /// The check registered as `name`.
    pub fn check(&self, name: &str) -> Option<&CheckReport> {
        self.checks.iter().find(|c| c.name == name)
    }

    /// Whether the service is healthy or degraded (000's `system_healthy`).
    pub fn is_healthy(&self) -> bool {
        self.status.is_serving()
    }

    /// The report as a JSON value (for publishing on a bus, e.g. 000's `system.health`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// The topic 000's health monitor publishes on.
pub const SYSTEM_HEALTH_TOPIC: &str = "system.health";

/// The top-level keys of a report; application details may not replace them.
pub(crate) const RESERVED_KEYS: [&str; 6] = [
    "status",
    "ready",
    "version",
    "uptime_seconds",
    "timestamp",
    "checks",
];

fn serialize_time<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::common::time::rfc3339(*t))
}

fn serialize_optional_time<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => serialize_time(t, s),
        None => s.serialize_none(),
    }
}

fn serialize_checks<S: Serializer>(checks: &[CheckReport], s: S) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(checks.len()))?;
    for check in checks {
        map.serialize_entry(&check.name, check)?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn a_report_serializes_checks_as_an_object_with_rfc3339_times() {
        let mut details = serde_json::Map::new();
        details.insert("streams_active".into(), 10.into());
        let report = HealthReport {
            status: HealthStatus::Degraded,
            ready: true,
            version: Some("1.4.2".into()),
            uptime_seconds: 3600,
            timestamp: UNIX_EPOCH + Duration::from_millis(1_748_779_200_250),
            checks: vec![CheckReport {
                name: "redis".into(),
                status: CheckStatus::Unhealthy,
                critical: false,
                message: Some("connection refused".into()),
                last_error: Some("connection refused".into()),
                consecutive_failures: 3,
                consecutive_successes: 0,
                last_checked: Some(UNIX_EPOCH + Duration::from_secs(1_748_779_198)),
                last_duration_ms: Some(0.5),
            }],
            details,
        };
        let json = report.to_json();
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["timestamp"], "2025-06-01T12:00:00.250Z");
        assert_eq!(json["streams_active"], 10);
        let redis = &json["checks"]["redis"];
        assert_eq!(redis["status"], "unhealthy");
        assert_eq!(redis["critical"], false);
        assert_eq!(redis["consecutive_failures"], 3);
        assert_eq!(redis["last_checked"], "2025-06-01T11:59:58Z");
        assert!(redis.get("name").is_none());
        assert!(report.is_healthy());
    }
}
