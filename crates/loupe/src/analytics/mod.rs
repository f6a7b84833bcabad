//! In-process analytics over the SDK's metrics (seed 000 §7.1 and §7.4).
//!
//! A [`MetricsAggregator`] collects a [`MeterProvider`](crate::metrics::MeterProvider)
//! and summarises it into an [`AnalyticsSnapshot`]: counter totals, gauge values and
//! histogram count/sum/min/max with p50, p90, p95 and p99. It can publish snapshots
//! periodically, on a thread of its own, to a callback
//! ([`MetricsAggregator::publish`]) or a bounded `std::sync::mpsc` channel
//! ([`MetricsAggregator::publish_channel`]); a full channel drops the snapshot rather
//! than wait, so the SDK is never blocked.
//!
//! A [`PerformanceAnalyzer`] turns a snapshot into [`Insight`]s — category, severity, a
//! message with the numbers and recommendations — for latency percentiles, error rates,
//! queue depths and resource use, each against configurable [`Threshold`]s.
//!
//! # Percentile accuracy
//!
//! Percentiles from exponential histograms (`with_exponential_buckets`) lie in the
//! bucket of the exact value, so their relative error is at most the bucket width
//! `2^(2^-scale) - 1`, reported as [`Estimate::Exponential`]. For **≤ 1%** the scale must
//! stay at 7 or above (0.54%): 128 buckets per doubling of the range, so a histogram
//! spanning 2^16 (e.g. 10 µs to 650 ms) needs `with_exponential_buckets(2048)`. The
//! default 160 buckets over the same range ends at scale 3 (a 9% bound), although on
//! smooth data the in-bucket interpolation is usually far closer than the bound.
//! Explicit-bucket histograms are interpolated linearly inside a bucket
//! ([`Estimate::Interpolated`]) and carry no bound at all.
//!
//! ```
//! use loupe::analytics::{InsightCategory, MetricsAggregator, PerformanceAnalyzer, Severity, Threshold};
//! use loupe::metrics::MeterProvider;
//! use std::time::Duration;
//!
//! let provider = MeterProvider::builder().build();
//! let meter = provider.meter("checkout");
//! let requests = meter.u64_counter("requests").build()?;
//! let latency = meter
//!     .f64_histogram("request.duration")
//!     .with_unit("ms")
//!     .with_exponential_buckets(2048)
//!     .build()?;
//! for ms in 1..=1000 {
//!     requests.add(1, &[]);
//!     latency.record(f64::from(ms), &[]);
//! }
//!
//! let analyzer = PerformanceAnalyzer::builder()
//!     .latency_p99("request.duration", Threshold::new(500.0, 2000.0))
//!     .build();
//! let aggregator = MetricsAggregator::new(&provider).with_analyzer(analyzer);
//!
//! let snapshot = aggregator.snapshot();
//! assert_eq!(snapshot.counter_total("requests"), Some(1000.0));
//! let p99 = snapshot.histogram("request.duration", &[]).unwrap().percentiles.unwrap().p99;
//! assert!((p99 - 990.0).abs() / 990.0 <= 0.01);
//! assert_eq!(snapshot.insights[0].category, InsightCategory::Latency);
//! assert_eq!(snapshot.insights[0].severity, Severity::Warning);
//!
//! // Or every 10 s on a channel of at most 4 pending snapshots:
//! let (publisher, snapshots) = aggregator.publish_channel(Duration::from_secs(10), 4)?;
//! let first = snapshots.recv_timeout(Duration::from_secs(5)).unwrap();
//! assert_eq!(first.counter_total("requests"), Some(1000.0));
//! publisher.stop();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod aggregator;
mod insights;
mod percentiles;
mod snapshot;

pub use aggregator::{AnalyticsPublisher, MetricsAggregator};
pub use insights::{
    Insight, InsightCategory, PerformanceAnalyzer, PerformanceAnalyzerBuilder, Severity, Threshold,
    CPU_UTILIZATION, DEFAULT_ERROR_RATE_MIN_TOTAL, MEMORY_USAGE,
};
pub use percentiles::{Estimate, Percentiles};
pub use snapshot::{AnalyticsSnapshot, CounterSummary, GaugeSummary, HistogramSummary};

use crate::common::error::ConfigError;

/// Why an analytics publisher could not be started.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// A setting is invalid; the message names it, its value and what is allowed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The publisher's thread could not be started.
    #[error(
        "cannot start the analytics publisher thread: {0}; the system is out of threads or memory"
    )]
    Spawn(#[source] std::io::Error),
}
