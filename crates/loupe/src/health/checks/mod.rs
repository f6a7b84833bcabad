//! The built-in checks.

pub(super) mod command;
pub(super) mod disk;
pub(super) mod http;
pub(super) mod pipeline;
pub(super) mod tcp;
