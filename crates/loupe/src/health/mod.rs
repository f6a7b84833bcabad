//! Health checks, the `/health`, `/ready` and `/live` endpoints, and a health monitor.
//!
//! * A [`HealthCheck`] probes one thing and answers healthy or unhealthy, with a message.
//!   Built in: [`TcpCheck`] (connect), [`HttpCheck`] (method, expected status, headers),
//!   [`CommandCheck`] (exit code; killed at its timeout), [`DiskSpaceCheck`] (free bytes or
//!   percent) and [`PipelineCheck`] (Loupe's own exporters failing or queues saturated).
//!   [`check_fn`] turns an async closure into a check.
//! * A [`HealthRegistry`] runs each check on its own interval with its own timeout on
//!   Loupe's I/O thread, turns results into a status with thresholds (N failures in a row
//!   to turn unhealthy, M successes to recover; 002's defaults 3 and 2), and computes the
//!   overall [`HealthStatus`]: healthy, degraded (a non-critical check is unhealthy),
//!   unhealthy (a critical one is) or shutting down. Transitions are logged and counted.
//! * [`HealthRegistry::router`] is an axum router serving `GET /health` (003's JSON body;
//!   200 when healthy or degraded, 503 otherwise), `GET /ready` (503 while not ready or
//!   shutting down) and `GET /live`; it merges with
//!   [`PrometheusExporter::router`](crate::export::prometheus::PrometheusExporter::router)
//!   and runs standalone with [`serve`].
//! * [`HealthRegistry::monitor`] publishes a [`HealthReport`] every interval to a callback or
//!   a channel (000's `system.health` topic).
//!
//! ```
//! use loupe::health::{self, CheckOptions, HealthPaths, HealthRegistry, HealthStatus, TcpCheck};
//! use std::time::Duration;
//!
//! let database = std::net::TcpListener::bind("127.0.0.1:0")?; // stands in for a database
//! let registry = HealthRegistry::builder().with_version("1.4.2").build()?;
//! registry.register(
//!     "database",
//!     TcpCheck::to(database.local_addr()?),
//!     CheckOptions::default().with_interval(Duration::from_secs(10)),
//! )?;
//! registry.register(
//!     "disk",
//!     health::DiskSpaceCheck::builder("/").min_free_percent(1.0).build()?,
//!     CheckOptions::default().non_critical(),
//! )?;
//!
//! // Mount the endpoints next to /metrics, or serve them on their own port:
//! let router = registry.router(&HealthPaths::default())?;
//! let server = health::serve(router, "127.0.0.1:0".parse()?)?;
//! println!("probe http://{}/ready", server.local_addr());
//!
//! // The first runs start at once; wait for the database check's.
//! let deadline = std::time::Instant::now() + Duration::from_secs(5);
//! while registry.check_report("database").unwrap().last_checked.is_none() {
//!     assert!(std::time::Instant::now() < deadline);
//!     std::thread::sleep(Duration::from_millis(10));
//! }
//! assert_eq!(registry.status(), HealthStatus::Healthy);
//!
//! // On SIGTERM: stop receiving traffic, drain, then stop.
//! registry.begin_shutdown();
//! assert!(!registry.is_ready());
//! server.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod check;
mod checks;
mod endpoints;
mod monitor;
mod options;
mod registry;
mod report;

pub use check::{check_fn, CheckFuture, CheckResult, FnCheck, HealthCheck};
pub use checks::command::CommandCheck;
pub use checks::disk::{DiskSpaceCheck, DiskSpaceCheckBuilder};
pub use checks::http::{HttpCheck, HttpCheckBuilder};
pub use checks::pipeline::{PipelineCheck, PipelineCheckBuilder, QueueStats};
pub use checks::tcp::TcpCheck;
pub use endpoints::{serve, HealthPaths};
pub use monitor::HealthMonitor;
pub use options::CheckOptions;
pub use registry::{HealthRegistry, HealthRegistryBuilder, Transition, TransitionCounts};
pub use report::{CheckReport, CheckStatus, HealthReport, HealthStatus, SYSTEM_HEALTH_TOPIC};

use crate::common::error::ConfigError;

/// Why a health registry, check or monitor could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// A setting is invalid; the message names it, its value and what is allowed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Two checks were registered under one name.
    #[error("a health check named `{0}` is already registered; give each check its own name")]
    DuplicateCheck(String),
    /// The transition counter could not be registered with the meter provider.
    #[error("cannot register the `loupe.health.transitions` counter: {0}")]
    Metrics(#[from] crate::metrics::MetricError),
    /// The monitor's thread could not be started.
    #[error("cannot start the health monitor thread: {0}; the system is out of threads or memory")]
    Spawn(#[source] std::io::Error),
}
