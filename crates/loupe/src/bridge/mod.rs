//! Bridges from the Rust logging and metrics facades into Loupe, so code that already uses
//! them lands in Loupe's pipeline:
//!
//! * [`tracing`] — a `tracing-subscriber` layer: spans become Loupe spans (with correct
//!   parents, so `#[instrument]` works), events become log records tied to their span.
//! * [`log`] — a `log` crate logger that feeds the log pipeline.
//! * [`metrics`] — a `metrics` crate recorder backed by Loupe instruments.

#[cfg(feature = "log")]
pub mod log;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "tracing")]
pub mod tracing;
