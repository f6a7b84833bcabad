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

/// Waits for a background worker's answer to a flush or shutdown request, at most
/// `timeout`; a worker that is gone counts as shut down.
pub(crate) fn await_reply(
    reply: &std::sync::mpsc::Receiver<Result<(), ExportError>>,
    timeout: Duration,
) -> Result<(), ExportError> {
    match reply.recv_timeout(timeout) {
        Ok(result) => result,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Err(ExportError::Timeout(timeout)),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Err(ExportError::Shutdown),
    }
}

/// Joins a worker thread after a successful shutdown, unless called from that thread.
pub(crate) fn join_worker(handle: &std::sync::Mutex<Option<std::thread::JoinHandle<()>>>) {
    let taken = handle.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(handle) = taken {
        if handle.thread().id() != std::thread::current().id() {
            let _ = handle.join();
        }
    }
}

/// An error and its sources in one line ("connection refused" is usually a source).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
}

/// Logs a permanent export failure on stderr once per distinct message, so a misconfigured
/// endpoint is visible without flooding the log.
pub(crate) fn report_once(exporter: &str, error: &ExportError) {
    warn_once(format!("{exporter} exporter: {}", error_chain(error)));
}

/// Prints `loupe: {message}` on stderr the first time this message is seen (at most 1024
/// distinct messages are remembered).
pub(crate) fn warn_once(message: String) {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static SEEN: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    if seen.len() < 1024 && !seen.contains(&message) {
        eprintln!("loupe: {message}");
        seen.insert(message);
    }
}
