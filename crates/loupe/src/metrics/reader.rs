//! Readers: when metrics are collected and where they go.

use super::collect::{collect, DeltaState};
use super::data::{ResourceMetrics, Temporality};
use super::meter::{MeterProvider, MeterShared};
use crate::common::error::ExportError;
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Sends collected metrics somewhere. Runs on the reader's own thread: it may block.
pub trait MetricExporter: Send + Sync + 'static {
    /// Exports one collection.
    fn export(&self, metrics: &ResourceMetrics) -> Result<(), ExportError>;

    /// The temporality this exporter wants; default cumulative.
    fn temporality(&self) -> Temporality {
        Temporality::Cumulative
    }

    /// Delivers anything the exporter buffers itself.
    fn force_flush(&self) -> Result<(), ExportError> {
        Ok(())
    }

    /// Releases resources; no export follows.
    fn shutdown(&self) -> Result<(), ExportError> {
        Ok(())
    }
}

impl<T: MetricExporter + ?Sized> MetricExporter for Arc<T> {
    fn export(&self, metrics: &ResourceMetrics) -> Result<(), ExportError> {
        (**self).export(metrics)
    }
    fn temporality(&self) -> Temporality {
        (**self).temporality()
    }
    fn force_flush(&self) -> Result<(), ExportError> {
        (**self).force_flush()
    }
    fn shutdown(&self) -> Result<(), ExportError> {
        (**self).shutdown()
    }
}

/// Transforms a collection before it is exported (filter, rename, add attributes).
pub trait MetricProcessor: Send + Sync + 'static {
    /// Edits the collected metrics in place.
    fn process(&self, metrics: &mut ResourceMetrics);
}

impl<F: Fn(&mut ResourceMetrics) + Send + Sync + 'static> MetricProcessor for F {
    fn process(&self, metrics: &mut ResourceMetrics) {
        self(metrics)
    }
}

/// Collects on demand, keeping the state delta temporality needs.
pub struct ManualReader {
    provider: MeterProvider,
    temporality: Temporality,
    state: Mutex<DeltaState>,
}

impl std::fmt::Debug for ManualReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManualReader")
            .field("temporality", &self.temporality)
            .finish()
    }
}

impl ManualReader {
    /// A reader of `provider` with the given temporality.
    pub fn new(provider: &MeterProvider, temporality: Temporality) -> Self {
        ManualReader {
            provider: provider.clone(),
            temporality,
            state: Mutex::new(DeltaState::default()),
        }
    }

    /// Collects now. With delta temporality, each point covers the time since the previous
    /// call on this reader.
    pub fn collect(&self) -> ResourceMetrics {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        collect(&self.provider.shared, self.temporality, Some(&mut state))
    }
}

enum Request {
    Flush,
    Shutdown,
}

#[derive(Default)]
struct Control {
    requests: Vec<(Request, std::sync::mpsc::Sender<Result<(), ExportError>>)>,
}

struct ReaderInner {
    exporter: Box<dyn MetricExporter>,
    processors: Vec<Box<dyn MetricProcessor>>,
    interval: Duration,
    control: Mutex<Control>,
    wake: Condvar,
    handle: Mutex<Option<JoinHandle<()>>>,
}

/// Collects and exports every `interval` on its own thread (default 60 s, as
/// `OTEL_METRIC_EXPORT_INTERVAL`), and once more at shutdown.
#[derive(Clone)]
pub struct PeriodicReader {
    inner: Arc<ReaderInner>,
}

impl std::fmt::Debug for PeriodicReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeriodicReader")
            .field("interval", &self.inner.interval)
            .finish()
    }
}

/// Configures a [`PeriodicReader`].
#[must_use]
pub struct PeriodicReaderBuilder {
    exporter: Box<dyn MetricExporter>,
    processors: Vec<Box<dyn MetricProcessor>>,
    interval: Duration,
}

impl PeriodicReaderBuilder {
    /// Time between exports; default 60 s. Zero is raised to 1 ms.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// Adds a processor applied to each collection before export, in order.
    pub fn with_processor(mut self, processor: impl MetricProcessor) -> Self {
        self.processors.push(Box::new(processor));
        self
    }

    /// Builds the reader; it starts when its provider is built.
    pub fn build(self) -> PeriodicReader {
        PeriodicReader {
            inner: Arc::new(ReaderInner {
                exporter: self.exporter,
                processors: self.processors,
                interval: self.interval,
                control: Mutex::new(Control::default()),
                wake: Condvar::new(),
                handle: Mutex::new(None),
            }),
        }
    }
}

impl PeriodicReader {
    /// Starts configuring a reader for `exporter`.
    pub fn builder(exporter: impl MetricExporter) -> PeriodicReaderBuilder {
        PeriodicReaderBuilder {
            exporter: Box::new(exporter),
            processors: Vec::new(),
            interval: Duration::from_secs(60),
        }
    }

    pub(crate) fn start(&self, provider: Weak<MeterShared>) {
        let inner = Arc::clone(&self.inner);
        let spawned = thread::Builder::new()
            .name("loupe-metric-export".into())
            .spawn(move || run(&inner, provider));
        if let Ok(handle) = spawned {
            *self.inner.handle.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        }
    }

    fn request(&self, request: Request, timeout: Duration) -> Result<(), ExportError> {
        let is_worker = self
            .inner
            .handle
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .map(|h| h.thread().id())
            == Some(thread::current().id());
        if is_worker {
            return Ok(());
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.inner
            .control
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .requests
            .push((request, tx));
        self.inner.wake.notify_all();
        crate::common::error::await_reply(&rx, timeout)
    }

    /// Collects and exports now, waiting at most `timeout`.
    pub fn force_flush(&self, timeout: Duration) -> Result<(), ExportError> {
        self.request(Request::Flush, timeout)
    }

    /// Exports a last time and stops, waiting at most `timeout`.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        let result = self.request(Request::Shutdown, timeout);
        if result.is_ok() {
            crate::common::error::join_worker(&self.inner.handle);
        }
        result
    }
}

fn run(inner: &ReaderInner, provider: Weak<MeterShared>) {
    let mut state = DeltaState::default();
    let temporality = inner.exporter.temporality();
    let mut next = Instant::now() + inner.interval;
    loop {
        let requests = {
            let mut control = inner.control.lock().unwrap_or_else(|p| p.into_inner());
            while control.requests.is_empty() && Instant::now() < next {
                let wait = next.saturating_duration_since(Instant::now());
                control = inner
                    .wake
                    .wait_timeout(control, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            std::mem::take(&mut control.requests)
        };
        let result = match provider.upgrade() {
            Some(shared) => {
                let mut metrics = collect(&shared, temporality, Some(&mut state));
                drop(shared);
                for p in &inner.processors {
                    p.process(&mut metrics);
                }
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    inner.exporter.export(&metrics)
                }))
                .unwrap_or_else(|_| Err(ExportError::failed("the metric exporter panicked")))
            }
            None => Err(ExportError::Shutdown),
        };
        next = Instant::now() + inner.interval;
        let stop = provider.strong_count() == 0
            || requests.iter().any(|(r, _)| matches!(r, Request::Shutdown));
        for (request, reply) in requests {
            let outcome = match (&result, request) {
                (Err(e), _) => Err(ExportError::failed(e.to_string())),
                (Ok(()), Request::Flush) => inner.exporter.force_flush(),
                (Ok(()), Request::Shutdown) => inner.exporter.shutdown(),
            };
            let _ = reply.send(outcome);
        }
        if stop {
            return;
        }
    }
}
