//! The `health.checks` list (002's `HealthConfig { checks: vec![HealthCheck { … }] }`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// One health check `loupe::init` registers. In YAML, 002's shape:
///
/// ```yaml
/// health:
///   checks:
///     - name: database
///       check: { type: tcp, host: database, port: 5432 }
///       interval_secs: 30
///       timeout_secs: 5
///       unhealthy_threshold: 3
///       healthy_threshold: 2
///     - name: redis
///       check: { type: http, url: "http://redis:8001/health", method: GET, expected_status: 200 }
///     - name: disk-space
///       check: { type: script, command: [check-disk-space, --threshold, "90"] }
///       interval_secs: 300
///       timeout_secs: 30
///       unhealthy_threshold: 2
///       healthy_threshold: 1
///       critical: false
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheckConfig {
    /// The check's name in `/health`.
    pub name: String,
    /// What to check.
    pub check: CheckConfig,
    /// Seconds between runs.
    #[serde(default = "default_interval")]
    pub interval_secs: u64,
    /// Seconds one run may take.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
    /// Failures in a row that make the check unhealthy.
    #[serde(default = "default_unhealthy")]
    pub unhealthy_threshold: u32,
    /// Successes in a row that make it healthy again.
    #[serde(default = "default_healthy")]
    pub healthy_threshold: u32,
    /// Whether failing makes the service unhealthy (`true`) or only degraded.
    #[serde(default = "default_critical")]
    pub critical: bool,
}

fn default_interval() -> u64 {
    30
}
fn default_timeout() -> u64 {
    5
}
fn default_unhealthy() -> u32 {
    3
}
fn default_healthy() -> u32 {
    2
}
fn default_critical() -> bool {
    true
}

/// 002's `Check`: TCP, HTTP, script, plus disk space.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum CheckConfig {
    /// A TCP connection can be opened.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// An HTTP request answers the expected status.
    Http {
        /// The URL.
        url: String,
        /// The method (default GET).
        #[serde(default = "default_method")]
        method: String,
        /// The status that means healthy (default 200).
        #[serde(default = "default_status")]
        expected_status: u16,
        /// Request headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    /// A command exits with status 0 (killed at the timeout).
    #[serde(alias = "command")]
    Script {
        /// Program and arguments.
        command: Vec<String>,
    },
    /// A file system has enough free space.
    Disk {
        /// A path on the file system.
        path: PathBuf,
        /// Minimum free space, in percent.
        #[serde(default)]
        min_free_percent: Option<f64>,
        /// Minimum free space, in bytes.
        #[serde(default)]
        min_free_bytes: Option<u64>,
    },
}

fn default_method() -> String {
    "GET".into()
}
fn default_status() -> u16 {
    200
}
