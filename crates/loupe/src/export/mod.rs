//! Exporters that ship with the core: in-memory (for tests) and stdout (for humans and
//! for machines reading JSON lines).

pub mod memory;
#[cfg(feature = "otlp")]
pub mod otlp;
#[cfg(feature = "prometheus")]
pub mod prometheus;
#[cfg(feature = "remote-write")]
pub mod remote_write;
pub mod stdout;
#[cfg(feature = "http-export")]
pub mod transport;

pub use memory::{InMemoryMetricExporter, InMemorySpanExporter};
pub use stdout::{StdoutExporter, StdoutFormat};
