//! A thread that produces a value every interval and hands it to a publisher, until it is
//! stopped or dropped: what the health monitor and the analytics publisher share.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

/// What one publish did.
pub(crate) enum Published {
    Sent,
    Dropped,
    /// Nobody listens any more: stop.
    Closed,
}

/// Wraps a callback so that a panic in it counts as a dropped value, not a dead thread.
pub(crate) fn guarded<T>(mut publish: impl FnMut(&T)) -> impl FnMut(T) -> Published {
    move |value| {
        let call = std::panic::AssertUnwindSafe(|| publish(&value));
        match std::panic::catch_unwind(call) {
            Ok(()) => Published::Sent,
            Err(_) => Published::Dropped,
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    published: AtomicU64,
    dropped: AtomicU64,
}

/// The running thread; dropping it stops the thread and waits for a publish in progress.
#[derive(Debug)]
pub(crate) struct Periodic {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    counts: Arc<Counts>,
}

impl Periodic {
    /// Starts thread `name`: at once and then every `interval`, `produce` a value (`None`
    /// ends the thread) and `publish` it.
    pub(crate) fn spawn<T>(
        name: &str,
        interval: Duration,
        mut produce: impl FnMut() -> Option<T> + Send + 'static,
        mut publish: impl FnMut(T) -> Published + Send + 'static,
    ) -> std::io::Result<Periodic> {
        let (stop, stopped) = mpsc::channel::<()>();
        let counts = Arc::new(Counts::default());
        let thread_counts = Arc::clone(&counts);
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || loop {
                let Some(value) = produce() else { return };
                match publish(value) {
                    Published::Sent => thread_counts.published.fetch_add(1, Ordering::Relaxed),
                    Published::Dropped => thread_counts.dropped.fetch_add(1, Ordering::Relaxed),
                    Published::Closed => return,
                };
                // Ends on stop() (a message) or on the handle being dropped (disconnect).
                if stopped.recv_timeout(interval) != Err(mpsc::RecvTimeoutError::Timeout) {
                    return;
                }
            })?;
        Ok(Periodic {
            stop: Some(stop),
            thread: Some(thread),
            counts,
        })
    }

    pub(crate) fn published(&self) -> u64 {
        self.counts.published.load(Ordering::Relaxed)
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::Relaxed)
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // A publisher that drops its own handle must not join itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}
