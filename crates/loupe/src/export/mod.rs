//! Exporters that ship with the core: in-memory (for tests) and stdout (for humans and
//! for machines reading JSON lines).

pub mod memory;
pub mod stdout;

pub use memory::{InMemoryMetricExporter, InMemorySpanExporter};
pub use stdout::{StdoutExporter, StdoutFormat};
