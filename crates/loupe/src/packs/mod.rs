//! Instrumentation packs for the seed systems: ready-made spans and metrics under the names
//! their documents use.

pub mod llm;
pub mod plugin;
pub mod stream;
