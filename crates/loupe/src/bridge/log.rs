//! The `log` bridge: a [`log::Log`] implementation that feeds a Loupe [`LoggerProvider`].
//!
//! Each `log` record becomes a [`LogRecord`](crate::logs::LogRecord): the level is the severity, the formatted
//! arguments the body (formatted only when the provider's filter keeps the record), the
//! target the scope — and what the filter matches — and the trace context that of Loupe's
//! current span, so `log::info!` inside a span is correlated with it.
//!
//! ```
//! use loupe::logs::{ConsoleSink, LogFormat, LoggerProvider};
//!
//! let provider = LoggerProvider::builder()
//!     .with_filter("warn,my_app=debug".parse()?)
//!     .with_sink(ConsoleSink::stdout(LogFormat::Json))
//!     .build()?;
//! loupe::bridge::log::install(provider.clone())?;
//! assert_eq!(log::max_level(), log::LevelFilter::Debug);
//!
//! log::debug!(target: "my_app::db", "connected"); // kept: `my_app` logs at debug
//! log::info!(target: "hyper", "ignored");         // dropped: the default is warn
//! provider.force_flush(std::time::Duration::from_secs(1))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Structured key-values (`log`'s `kv` feature) are not read: the feature is off.

use crate::common::attribute::Value;
use crate::logs::{LoggerProvider, Severity};
use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;
use std::time::Duration;

/// How long [`log::Log::flush`] waits for the sinks.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// A [`log::Log`] that emits to a Loupe [`LoggerProvider`]. Install it with [`install`],
/// or hand it to `log::set_boxed_logger` yourself.
#[derive(Debug, Clone)]
pub struct LoupeLogger {
    provider: LoggerProvider,
    /// The lowest severity number the filter keeps for any target (`u8::MAX`: none).
    floor: u8,
}

impl LoupeLogger {
    /// A logger that emits to `provider`, honouring its filter.
    pub fn new(provider: LoggerProvider) -> Self {
        LoupeLogger {
            floor: provider
                .filter()
                .most_verbose()
                .map_or(u8::MAX, |s| s as u8),
            provider,
        }
    }

    /// The most verbose `log` level the provider's filter keeps for some target: what
    /// [`install`] passes to [`log::set_max_level`] so that the `log` macros skip the rest
    /// without calling the logger.
    pub fn max_level(&self) -> log::LevelFilter {
        match self.provider.filter().most_verbose() {
            Some(Severity::Trace) => log::LevelFilter::Trace,
            Some(Severity::Debug) => log::LevelFilter::Debug,
            Some(Severity::Info) => log::LevelFilter::Info,
            Some(Severity::Warn) => log::LevelFilter::Warn,
            Some(Severity::Error) => log::LevelFilter::Error,
            // `log` has no level above error, so a fatal-only filter keeps nothing from it.
            Some(Severity::Fatal) | None => log::LevelFilter::Off,
        }
    }
}

/// Installs a [`LoupeLogger`] for `provider` as the process-wide `log` logger and sets
/// `log`'s maximum level from the provider's filter. Fails if a logger is already set.
pub fn install(provider: LoggerProvider) -> Result<(), log::SetLoggerError> {
    let logger = LoupeLogger::new(provider);
    let max = logger.max_level();
    log::set_boxed_logger(Box::new(logger))?;
    log::set_max_level(max);
    Ok(())
}

fn severity(level: log::Level) -> Severity {
    match level {
        log::Level::Error => Severity::Error,
        log::Level::Warn => Severity::Warn,
        log::Level::Info => Severity::Info,
        log::Level::Debug => Severity::Debug,
        log::Level::Trace => Severity::Trace,
    }
}

impl log::Log for LoupeLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        let severity = severity(metadata.level());
        (severity as u8) >= self.floor && self.provider.enabled(metadata.target(), severity)
    }

    fn log(&self, record: &log::Record<'_>) {
        if !log::Log::enabled(self, record.metadata()) {
            return;
        }
        let body = match record.args().as_str() {
            Some(literal) => Value::String(Cow::Borrowed(literal)),
            None => Value::String(Cow::Owned(format_args(record.args()))),
        };
        // Filled in place, in a record a sink thread gave back when there is one.
        self.provider
            .emit_filled(severity(record.level()), body, |filled| {
                filled.scope = crate::logs::interned_scope(record.target());
                filled.set_current_trace_context();
            });
    }

    fn flush(&self) {
        let _ = self.provider.force_flush(FLUSH_TIMEOUT);
    }
}

thread_local! {
    static FMT_BUF: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Formats into a reused buffer, then copies out: one exact allocation per message.
fn format_args(args: &fmt::Arguments<'_>) -> String {
    use std::fmt::Write as _;
    let mut buf = FMT_BUF
        .try_with(|cell| cell.try_borrow_mut().map(|mut s| std::mem::take(&mut *s)))
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    buf.clear();
    let _ = buf.write_fmt(*args);
    let out = buf.as_str().to_owned();
    if buf.capacity() <= 4096 {
        let _ = FMT_BUF.try_with(|cell| {
            if let Ok(mut slot) = cell.try_borrow_mut() {
                if slot.capacity() < buf.capacity() {
                    *slot = buf;
                }
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_max_level_is_the_most_verbose_directive() {
        let provider = |filter: &str| {
            LoggerProvider::builder()
                .with_filter(filter.parse().unwrap())
                .build()
                .unwrap()
        };
        let max = |filter| LoupeLogger::new(provider(filter)).max_level();
        assert_eq!(max("warn"), log::LevelFilter::Warn);
        assert_eq!(max("warn,my_app::db=trace"), log::LevelFilter::Trace);
        assert_eq!(max("off"), log::LevelFilter::Off);
        assert_eq!(max("fatal"), log::LevelFilter::Off);
    }

    #[test]
    fn scopes_are_confirmed_by_name_not_only_by_address() {
        let mut target = String::from("first::target");
        let first = crate::logs::interned_scope(&target);
        assert_eq!(first.name, "first::target");
        // Same address and length, other text.
        target.replace_range(.., "other::target");
        assert_eq!(crate::logs::interned_scope(&target).name, "other::target");
    }
}
