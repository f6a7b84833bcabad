//! Exporters that ship with the core: in-memory (for tests) and stdout (for humans and
//! for machines reading JSON lines).

#[cfg(feature = "http-export")]
pub mod analytics_hub;
pub mod memory;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "prometheus")]
pub mod prometheus;
#[cfg(feature = "remote-write")]
pub mod remote_write;
pub mod statsd;
pub mod stdout;
#[cfg(feature = "http-export")]
pub mod transport;
#[cfg(feature = "http-export")]
pub mod zipkin;

#[cfg(feature = "http-export")]
pub use analytics_hub::{AnalyticsHubConfig, AnalyticsHubExporter};
pub use memory::{InMemoryMetricExporter, InMemorySpanExporter};
pub use statsd::{StatsdExporter, StatsdExporterBuilder, StatsdFlavor};
pub use stdout::{StdoutExporter, StdoutFormat};
#[cfg(feature = "http-export")]
pub use zipkin::{ZipkinExporter, ZipkinExporterBuilder};
