//! The data model shared by every signal, aligned with OTLP.

pub mod attribute;
pub(crate) mod background;
pub(crate) mod clock;
pub mod error;
pub(crate) mod periodic;
pub(crate) mod prefetch;
pub mod resource;
pub mod scope;
pub mod stats;
pub(crate) mod text;
pub(crate) mod time;
pub(crate) mod tls;
