//! Errors shared across signals.

use std::time::Duration;

/// A configuration value outside what Loupe accepts.
///
/// The message names the field, the value and what is allowed, so it can be fixed without
/// reading the source.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid configuration: `{field}` = {value} (allowed: {allowed})")]
pub struct ConfigError {
    /// The configuration field, as users write it.
    pub field: &'static str,
    /// The rejected value, rendered.
    pub value: String,
    /// What the field accepts.
    pub allowed: &'static str,
}

impl ConfigError {
    pub(crate) fn new(field: &'static str, value: impl ToString, allowed: &'static str) -> Self {
        ConfigError {
            field,
            value: value.to_string(),
            allowed,
        }
    }
}

/// Why an export, flush or shutdown did not complete.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The operation did not finish within its timeout; the data may still be delivered later.
    #[error("timed out after {0:?}; the exporter may be slow or its endpoint unreachable")]
    Timeout(Duration),
    /// The pipeline was already shut down; nothing more is accepted.
    #[error("the pipeline is shut down; create a new one to record more telemetry")]
    Shutdown,
    /// The exporter failed; the source says why.
    #[error("export failed: {message}")]
    Failed {
        /// What failed, in words.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

impl ExportError {
    /// An export failure with a message and no underlying error.
    pub fn failed(message: impl Into<String>) -> Self {
        ExportError::Failed {
            message: message.into(),
            source: None,
        }
    }

    /// An export failure wrapping an underlying error.
    pub fn from_source(
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        ExportError::Failed {
            message: message.into(),
            source: Some(Box::new(source)),
        }
    }
}
