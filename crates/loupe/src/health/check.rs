//! The [`HealthCheck`] trait and what one run of a check returns.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// The future one run of a check returns. Boxed so that [`HealthCheck`] stays object-safe
/// and checks of different types can sit in one registry.
pub type CheckFuture<'a> = Pin<Box<dyn Future<Output = CheckResult> + Send + 'a>>;

/// Something whose health can be probed: a dependency (database, cache, upstream API), a
/// resource (disk), or a part of the service itself.
///
/// A check only answers "healthy or not, and why" for one run. Scheduling, timeouts,
/// thresholds and criticality are the [`HealthRegistry`](super::HealthRegistry)'s job, so
/// a check stays a few lines:
///
/// ```
/// use loupe::health::{CheckFuture, CheckResult, HealthCheck};
///
/// struct QueueDepth(std::sync::Arc<std::sync::atomic::AtomicUsize>);
///
/// impl HealthCheck for QueueDepth {
///     fn check(&self) -> CheckFuture<'_> {
///         let depth = self.0.load(std::sync::atomic::Ordering::Relaxed);
///         Box::pin(async move {
///             if depth < 1000 {
///                 CheckResult::healthy().with_message(format!("{depth} queued"))
///             } else {
///                 CheckResult::unhealthy(format!("{depth} queued; the consumer is stuck"))
///             }
///         })
///     }
/// }
/// ```
///
/// Runs happen on Loupe's I/O thread: a check must not block it. Do blocking work with
/// `tokio::task::spawn_blocking`, or in a command check.
pub trait HealthCheck: Send + Sync + 'static {
    /// Runs the check once.
    fn check(&self) -> CheckFuture<'_>;
}

impl<T: HealthCheck + ?Sized> HealthCheck for Box<T> {
    fn check(&self) -> CheckFuture<'_> {
        (**self).check()
    }
}

impl<T: HealthCheck + ?Sized> HealthCheck for Arc<T> {
    fn check(&self) -> CheckFuture<'_> {
        (**self).check()
    }
}

/// The outcome of one run of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckResult {
    healthy: bool,
    message: Option<String>,
}

impl CheckResult {
    /// A successful run.
    pub fn healthy() -> Self {
        CheckResult {
            healthy: true,
            message: None,
        }
    }

    /// A failed run; `reason` says what is wrong and, ideally, what to look at.
    pub fn unhealthy(reason: impl Into<String>) -> Self {
        CheckResult {
            healthy: false,
            message: Some(reason.into()),
        }
    }

    /// Attaches (or replaces) the message, e.g. the free space of a healthy disk.
    #[must_use]
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Whether the run succeeded.
    pub fn is_healthy(&self) -> bool {
        self.healthy
    }

    /// What the check said, if anything: the reason for a failure, or details of a success.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }
}

/// A check made of an async closure; see [`check_fn`].
pub struct FnCheck<F>(F);

impl<F> std::fmt::Debug for FnCheck<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FnCheck")
    }
}

/// A check from a closure returning a future, for checks too small for a type of their own:
///
/// ```
/// use loupe::health::{check_fn, CheckResult};
///
/// let pool = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(8));
/// let check = check_fn(move || {
///     let idle = pool.load(std::sync::atomic::Ordering::Relaxed);
///     async move {
///         if idle > 0 {
///             CheckResult::healthy()
///         } else {
///             CheckResult::unhealthy("no idle database connection")
///         }
///     }
/// });
/// # let _ = check;
/// ```
pub fn check_fn<F, Fut>(f: F) -> FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckResult> + Send + 'static,
{
    FnCheck(f)
}

impl<F, Fut> HealthCheck for FnCheck<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = CheckResult> + Send + 'static,
{
    fn check(&self) -> CheckFuture<'_> {
        Box::pin((self.0)())
    }
}

/// Keeps at most `max` bytes of `text`, cut on a character boundary, marking the cut.
pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_carry_their_message() {
        let ok = CheckResult::healthy().with_message("12 GiB free");
        assert!(ok.is_healthy());
        assert_eq!(ok.message(), Some("12 GiB free"));
        let bad = CheckResult::unhealthy("connection refused");
        assert!(!bad.is_healthy());
        assert_eq!(bad.message(), Some("connection refused"));
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo".to_string(), 2), "h…");
        assert_eq!(truncate("short".to_string(), 10), "short");
    }
}
