//! Where log records go: the sink trait, the bounded queue and thread in front of every
//! sink, and the console and exporter sinks.

use super::format::LogFormat;
use super::processor::LogProcessor;
use super::{LogBatch, LogExporter, LogRecord};
use crate::common::error::{report_once, ExportError};
use crate::common::resource::Resource;
use crate::common::stats::{register_exporter, ExporterStats};
use std::collections::VecDeque;
use std::io::{IsTerminal, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// What a sink gets along with each record.
#[derive(Debug, Clone, Copy)]
pub struct SinkContext<'a> {
    /// The resource of the provider the record came from.
    pub resource: &'a Resource,
    /// The sink's own health counters (`loupe.sdk.exporter.*` with `signal="logs"`): count
    /// records in `exported` when delivered and in `failed` when lost.
    pub stats: &'a ExporterStats,
}

/// A destination for log records. Each sink runs on its own thread behind a bounded queue,
/// so a sink may block (write a file, send a request) without slowing the code that logs
/// or the other sinks.
pub trait LogSink: Send + 'static {
    /// A short name for Loupe's own metrics: `console`, `file`, `elasticsearch`, `otlp`.
    fn name(&self) -> &'static str;

    /// Writes or buffers one record.
    fn emit(&mut self, record: &LogRecord, cx: SinkContext<'_>) -> Result<(), ExportError>;

    /// Delivers whatever the sink buffers.
    fn flush(&mut self, _cx: SinkContext<'_>) -> Result<(), ExportError> {
        Ok(())
    }

    /// How often the sink's thread calls [`flush`](LogSink::flush) on its own (buffering
    /// sinks); `None` flushes only when asked and after each drained batch.
    fn flush_interval(&self) -> Option<Duration> {
        None
    }

    /// Flushes and releases resources; nothing is emitted afterwards.
    fn shutdown(&mut self, cx: SinkContext<'_>) -> Result<(), ExportError> {
        self.flush(cx)
    }
}

/// Writes records to standard output or standard error.
#[derive(Debug)]
pub struct ConsoleSink {
    format: LogFormat,
    stderr: bool,
    buf: Vec<u8>,
}

impl ConsoleSink {
    /// Writes to standard output in `format`. A pretty format is coloured only when
    /// standard output is a terminal and `NO_COLOR` is unset.
    pub fn stdout(format: LogFormat) -> Self {
        ConsoleSink {
            format: colour_if_terminal(format, std::io::stdout().is_terminal()),
            stderr: false,
            buf: Vec::with_capacity(8192),
        }
    }

    /// Writes to standard error, colouring a pretty format on a terminal.
    pub fn stderr(format: LogFormat) -> Self {
        ConsoleSink {
            format: colour_if_terminal(format, std::io::stderr().is_terminal()),
            stderr: true,
            buf: Vec::with_capacity(8192),
        }
    }
}

fn colour_if_terminal(format: LogFormat, terminal: bool) -> LogFormat {
    match format {
        LogFormat::Pretty { .. } => LogFormat::Pretty {
            color: terminal && std::env::var_os("NO_COLOR").unwrap_or_default().is_empty(),
        },
        other => other,
    }
}

impl LogSink for ConsoleSink {
    fn name(&self) -> &'static str {
        "console"
    }

    fn emit(&mut self, record: &LogRecord, cx: SinkContext<'_>) -> Result<(), ExportError> {
        self.format.write(record, &mut self.buf);
        cx.stats.exported.bump();
        if self.buf.len() >= 64 * 1024 {
            self.flush(cx)?;
        }
        Ok(())
    }

    fn flush(&mut self, _cx: SinkContext<'_>) -> Result<(), ExportError> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let result = if self.stderr {
            std::io::stderr().lock().write_all(&self.buf)
        } else {
            std::io::stdout().lock().write_all(&self.buf)
        };
        self.buf.clear();
        result.map_err(|e| ExportError::from_source("writing log records to the console", e))
    }
}

/// Sends records through a [`LogExporter`] (such as OTLP) in batches: a batch goes when it
/// reaches `batch_size` records or when `delay` has passed since the last export.
pub struct ExporterSink {
    name: &'static str,
    exporter: Arc<dyn LogExporter>,
    batch: Vec<LogRecord>,
    batch_size: usize,
    delay: Duration,
    timeout: Duration,
}

impl std::fmt::Debug for ExporterSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExporterSink")
            .field("name", &self.name)
            .field("batch_size", &self.batch_size)
            .field("delay", &self.delay)
            .finish()
    }
}

impl ExporterSink {
    /// Batches of up to 512 records, at least every second, 30 s export timeout — the
    /// OpenTelemetry batch log processor's defaults (001 `export_delay_ms: 1000`).
    pub fn new(name: &'static str, exporter: Arc<dyn LogExporter>) -> Self {
        ExporterSink {
            name,
            exporter,
            batch: Vec::new(),
            batch_size: 512,
            delay: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
        }
    }

    /// Records per export (at least 1).
    #[must_use]
    pub fn with_batch_size(mut self, n: usize) -> Self {
        self.batch_size = n.max(1);
        self
    }

    /// The longest a record waits before its batch is exported.
    #[must_use]
    pub fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// How long one export may take.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// Keeps every record it is given, for tests of your own logging. Clones share the same
/// storage. Records reach a sink on its own thread: call
/// [`LoggerProvider::force_flush`](super::LoggerProvider::force_flush) before reading.
#[derive(Clone, Debug, Default)]
pub struct InMemoryLogSink {
    records: Arc<Mutex<Vec<LogRecord>>>,
}

impl InMemoryLogSink {
    /// Every record emitted so far, in order.
    pub fn records(&self) -> Vec<LogRecord> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Forgets every record so far.
    pub fn reset(&self) {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}

impl LogSink for InMemoryLogSink {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn emit(&mut self, record: &LogRecord, _: SinkContext<'_>) -> Result<(), ExportError> {
        self.records
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(record.clone());
        Ok(())
    }
}

impl LogSink for ExporterSink {
    fn name(&self) -> &'static str {
        self.name
    }

    fn emit(&mut self, record: &LogRecord, cx: SinkContext<'_>) -> Result<(), ExportError> {
        self.batch.push(record.clone());
        if self.batch.len() >= self.batch_size {
            self.flush(cx)?;
        }
        Ok(())
    }

    fn flush(&mut self, cx: SinkContext<'_>) -> Result<(), ExportError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let started = Instant::now();
        let result = self.exporter.export(LogBatch {
            resource: cx.resource,
            records: &self.batch,
            timeout: self.timeout,
        });
        // Exporters with their own stats (OTLP) count delivery themselves.
        let n = self.batch.len() as u64;
        self.batch.clear();
        cx.stats.record_duration(started.elapsed());
        match result {
            Ok(()) => {
                cx.stats.exported.add(n);
                Ok(())
            }
            Err(e) => {
                cx.stats.failed.add(n);
                Err(e)
            }
        }
    }

    fn flush_interval(&self) -> Option<Duration> {
        Some(self.delay)
    }

    fn shutdown(&mut self, cx: SinkContext<'_>) -> Result<(), ExportError> {
        let flushed = self.flush(cx);
        let _ = self.exporter.shutdown();
        flushed
    }
}

/// How often a sink thread wakes to drain its queue when nothing else wakes it.
const DRAIN_INTERVAL: Duration = Duration::from_millis(50);

struct QueueState {
    records: VecDeque<Arc<LogRecord>>,
    flush_requested: u64,
    flush_done: u64,
    shutdown: bool,
    stopped: bool,
}

/// The bounded queue in front of one sink and the thread that drains it.
pub(crate) struct SinkQueue {
    state: Mutex<QueueState>,
    wake: Condvar,
    done: Condvar,
    capacity: usize,
    pub(crate) stats: Arc<ExporterStats>,
    name: &'static str,
}

impl SinkQueue {
    /// Starts the thread for `sink`, with a queue of `capacity` records.
    pub(crate) fn start(
        mut sink: Box<dyn LogSink>,
        capacity: usize,
        resource: Resource,
        processors: Arc<[Box<dyn LogProcessor>]>,
    ) -> std::io::Result<(Arc<SinkQueue>, thread::JoinHandle<()>)> {
        let name = sink.name();
        let queue = Arc::new(SinkQueue {
            state: Mutex::new(QueueState {
                records: VecDeque::with_capacity(capacity.min(4096)),
                flush_requested: 0,
                flush_done: 0,
                shutdown: false,
                stopped: false,
            }),
            wake: Condvar::new(),
            done: Condvar::new(),
            capacity: capacity.max(1),
            stats: register_exporter(name, "logs"),
            name,
        });
        let worker = Arc::clone(&queue);
        let handle = thread::Builder::new()
            .name(format!("loupe-log-{name}"))
            .spawn(move || worker.run(sink.as_mut(), &resource, &processors))?;
        Ok((queue, handle))
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a record without waiting; a full queue drops it and counts the drop.
    pub(crate) fn push(&self, record: Arc<LogRecord>) {
        let mut state = self.lock();
        if state.shutdown {
            drop(state);
            self.stats.dropped.bump();
            return;
        }
        if state.records.len() >= self.capacity {
            drop(state);
            self.stats.dropped.bump();
            return;
        }
        state.records.push_back(record);
        // Wake the thread early only when half the queue is used, so logging does not
        // pay for a wake-up per record.
        let wake = state.records.len() == self.capacity / 2;
        drop(state);
        if wake {
            self.wake.notify_one();
        }
    }

    /// Asks the thread to deliver everything queued so far and waits up to `deadline`
    /// (`timeout` is what the caller asked for, for the error).
    pub(crate) fn flush(&self, deadline: Instant, timeout: Duration) -> Result<(), ExportError> {
        let mut state = self.lock();
        state.flush_requested += 1;
        let ticket = state.flush_requested;
        self.wait(state, deadline, timeout, |s| {
            s.flush_done >= ticket || s.stopped
        })
    }

    /// Tells the thread to drain, shut the sink down and exit; waits up to `deadline`.
    pub(crate) fn shutdown(&self, deadline: Instant, timeout: Duration) -> Result<(), ExportError> {
        let mut state = self.lock();
        state.shutdown = true;
        self.wait(state, deadline, timeout, |s| s.stopped)
    }

    /// Wakes the thread, then waits until `done` holds or `deadline` passes.
    fn wait(
        &self,
        mut state: MutexGuard<'_, QueueState>,
        deadline: Instant,
        timeout: Duration,
        done: impl Fn(&QueueState) -> bool,
    ) -> Result<(), ExportError> {
        self.wake.notify_one();
        while !done(&state) {
            let now = Instant::now();
            if now >= deadline {
                return Err(ExportError::Timeout(timeout));
            }
            state = self
                .done
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        Ok(())
    }

    fn run(
        &self,
        sink: &mut dyn LogSink,
        resource: &Resource,
        processors: &[Box<dyn LogProcessor>],
    ) {
        crate::common::background::mark_current_thread();
        let cx = SinkContext {
            resource,
            stats: &self.stats,
        };
        let report = |r: Result<(), ExportError>| {
            if let Err(e) = r {
                report_once(&format!("{} log sink", self.name), &e);
            }
        };
        let interval = sink.flush_interval();
        let mut next_flush = interval.map(|i| Instant::now() + i);
        let mut batch = VecDeque::new();
        let mut finished = Vec::new();
        loop {
            let (flush_ticket, shutdown) = {
                let mut state = self.lock();
                loop {
                    if !state.records.is_empty()
                        || state.flush_requested > state.flush_done
                        || state.shutdown
                    {
                        break;
                    }
                    let now = Instant::now();
                    let wait = match next_flush {
                        Some(at) if at <= now => break,
                        Some(at) => (at - now).min(DRAIN_INTERVAL),
                        None => DRAIN_INTERVAL,
                    };
                    let (s, timed_out) = self
                        .wake
                        .wait_timeout(state, wait)
                        .unwrap_or_else(|p| p.into_inner());
                    state = s;
                    if timed_out.timed_out() && !state.records.is_empty() {
                        break;
                    }
                }
                std::mem::swap(&mut batch, &mut state.records);
                (state.flush_requested, state.shutdown)
            };
            for mut record in batch.drain(..) {
                let result = if processors.is_empty() {
                    Some(sink.emit(&record, cx))
                } else if let Some(only) = Arc::get_mut(&mut record) {
                    // No other sink still reads it: process it in place.
                    processors
                        .iter()
                        .all(|p| p.process(only))
                        .then(|| sink.emit(only, cx))
                } else {
                    let mut owned = LogRecord::clone(&record);
                    processors
                        .iter()
                        .all(|p| p.process(&mut owned))
                        .then(|| sink.emit(&owned, cx))
                };
                if let Some(result) = result {
                    report(result);
                }
                if super::pool::reset(&mut record) {
                    finished.push(record);
                }
            }
            super::pool::give_back(&mut finished);
            let due = next_flush.is_some_and(|at| at <= Instant::now());
            if shutdown {
                report(sink.shutdown(cx));
                let mut state = self.lock();
                state.flush_done = flush_ticket;
                state.stopped = true;
                // Anything queued after the last drain is lost: count it.
                let late = state.records.len() as u64;
                state.records.clear();
                drop(state);
                self.stats.dropped.add(late);
                self.done.notify_all();
                return;
            }
            if interval.is_none() || due || flush_ticket > self.lock().flush_done {
                report(sink.flush(cx));
                next_flush = interval.map(|i| Instant::now() + i);
            }
            let mut state = self.lock();
            if flush_ticket > state.flush_done {
                state.flush_done = flush_ticket;
                drop(state);
                self.done.notify_all();
            }
        }
    }
}
