//! The batch span processor: hands ended spans to a background thread in batches, never
//! blocking the thread that ended them.
//!
//! Each recording thread writes into its own ring, without a lock (`ring.rs`); a ring
//! that is full because the export thread is behind sends spans to an overflow vector
//! under an uncontended lock instead. The global queue bound is enforced with credits
//! that threads take from a shared pool in chunks, so the pool is touched once per
//! chunk, not once per span; idle threads' credits go back to it. When the pool is empty
//! the span is dropped and counted. The worker drains all buffers every
//! `scheduled_delay`, when a buffer fills a batch, when the pool runs low, or on
//! flush/shutdown, and exports the spans from where they are.

use super::export::{SpanBatch, SpanExporter};
use super::processor::SpanProcessor;
use super::ring::{Pushed, SpanRing};
use super::span::SpanData;
use crate::common::error::{ConfigError, ExportError};
use crate::common::resource::Resource;
use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::{self, JoinHandle, Thread};
use std::time::{Duration, Instant};

/// Batching settings. Defaults follow OpenTelemetry and the seeds: queue 2048, batch 512,
/// delay 5 s, export timeout 30 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// Most spans waiting for export (`OTEL_BSP_MAX_QUEUE_SIZE`); more are dropped.
    ///
    /// Each thread that ends sampled spans hands them over through a ring of its own
    /// with this many places (up to 65 536), about 240 bytes each: 480 KiB per thread
    /// at the default, committed as the ring is first written round.
    pub max_queue_size: usize,
    /// Most spans per export call (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`).
    pub max_export_batch_size: usize,
    /// Longest wait between exports (`OTEL_BSP_SCHEDULE_DELAY`).
    pub scheduled_delay: Duration,
    /// How long an export may take (`OTEL_BSP_EXPORT_TIMEOUT`).
    pub export_timeout: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(5),
            export_timeout: Duration::from_secs(30),
        }
    }
}

impl BatchConfig {
    /// Checks the settings, naming the first invalid one.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_queue_size == 0 || self.max_queue_size > 1 << 24 {
            return Err(ConfigError::new(
                "max_queue_size",
                self.max_queue_size,
                "an integer from 1 to 16777216",
            ));
        }
        if self.max_export_batch_size == 0 || self.max_export_batch_size > self.max_queue_size {
            return Err(ConfigError::new(
                "max_export_batch_size",
                self.max_export_batch_size,
                "an integer from 1 to max_queue_size",
            ));
        }
        if self.scheduled_delay.is_zero() {
            return Err(ConfigError::new(
                "scheduled_delay",
                "0",
                "a positive duration",
            ));
        }
        if self.export_timeout.is_zero() {
            return Err(ConfigError::new(
                "export_timeout",
                "0",
                "a positive duration",
            ));
        }
        Ok(())
    }
}

/// Counters of what the batch processor did, for the SDK's own metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchStats {
    /// Spans handed to the exporter successfully.
    pub exported: u64,
    /// Spans dropped because the queue was full.
    pub dropped_queue_full: u64,
    /// Spans in batches the exporter failed (or panicked) on.
    pub export_failed: u64,
    /// Export calls made.
    pub export_calls: u64,
    /// Spans waiting in the queue now.
    pub queued: u64,
}

/// One recording thread's spans on their way to the export thread.
struct ThreadBuffer {
    /// Where spans go: written without a lock (see `ring.rs`).
    ring: SpanRing,
    /// Where spans go when the ring is full (the export thread is behind): the slow path.
    overflow: Mutex<Vec<SpanData>>,
    /// Spans this thread dropped for a full queue, not yet counted in the totals.
    dropped: AtomicU64,
}

impl ThreadBuffer {
    fn new(capacity: usize) -> Self {
        ThreadBuffer {
            ring: SpanRing::new(capacity),
            overflow: Mutex::new(Vec::new()),
            dropped: AtomicU64::new(0),
        }
    }

    fn is_empty(&self) -> bool {
        self.ring.queued() == 0
            && self.dropped.load(Ordering::Relaxed) == 0
            && self.overflow.lock().map(|o| o.is_empty()).unwrap_or(true)
    }
}

enum Request {
    Flush(mpsc::Sender<Result<(), ExportError>>),
    Shutdown(mpsc::Sender<Result<(), ExportError>>),
}

struct Inner {
    id: u64,
    config: BatchConfig,
    chunk: usize,
    exporter: Box<dyn SpanExporter>,
    resource: OnceLock<Arc<Resource>>,
    buffers: Mutex<Vec<Arc<ThreadBuffer>>>,
    /// Buffers of threads that exited, for new threads to take.
    idle_buffers: Mutex<Vec<Arc<ThreadBuffer>>>,
    /// Slots per thread ring.
    ring_capacity: usize,
    /// Credits owed by spans written past a lowered limit (see `ring.rs`), kept back
    /// from the next exports. Only the export thread touches it.
    owed: AtomicUsize,
    free_credits: AtomicUsize,
    requests: Mutex<Vec<Request>>,
    wake_pending: AtomicBool,
    worker: OnceLock<Thread>,
    handle: Mutex<Option<JoinHandle<()>>>,
    shut_down: AtomicBool,
    exported: AtomicU64,
    dropped_queue_full: AtomicU64,
    export_failed: AtomicU64,
    export_calls: AtomicU64,
    /// The exporter's own health counters, if it has them: queue drops are added there too.
    exporter_stats: Option<Arc<crate::common::stats::ExporterStats>>,
}

thread_local! {
    static BUFFERS: RefCell<Vec<(u64, Arc<ThreadBuffer>)>> = const { RefCell::new(Vec::new()) };
}

/// Batches ended spans and exports them from a background thread.
///
/// Cloning gives another handle to the same processor (e.g. to read [`stats`](Self::stats)
/// after moving it into a provider).
#[derive(Clone)]
pub struct BatchSpanProcessor {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for BatchSpanProcessor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchSpanProcessor")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl BatchSpanProcessor {
    /// A processor with the default [`BatchConfig`].
    pub fn new(exporter: impl SpanExporter) -> Self {
        Self::with_config(exporter, BatchConfig::default())
            .expect("the default batch configuration is valid")
    }

    /// A processor with the given settings, or the setting that is out of range.
    pub fn with_config(
        exporter: impl SpanExporter,
        config: BatchConfig,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        let exporter_stats = exporter.stats();
        let inner = Arc::new(Inner {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            config,
            chunk: (config.max_queue_size / 32).clamp(1, 64),
            exporter: Box::new(exporter),
            resource: OnceLock::new(),
            buffers: Mutex::new(Vec::new()),
            idle_buffers: Mutex::new(Vec::new()),
            // The whole queue: credits bound what a thread holds, so up to this size a
            // ring is never full and the overflow's lock is never taken. The pages are
            // committed only as the ring is written.
            ring_capacity: config.max_queue_size.clamp(2, MAX_RING),
            owed: AtomicUsize::new(0),
            free_credits: AtomicUsize::new(config.max_queue_size),
            requests: Mutex::new(Vec::new()),
            wake_pending: AtomicBool::new(false),
            worker: OnceLock::new(),
            handle: Mutex::new(None),
            shut_down: AtomicBool::new(false),
            exported: AtomicU64::new(0),
            dropped_queue_full: AtomicU64::new(0),
            export_failed: AtomicU64::new(0),
            export_calls: AtomicU64::new(0),
            exporter_stats,
        });
        // The worker holds a weak reference: dropping every handle without shutdown still
        // ends the thread.
        let weak = Arc::downgrade(&inner);
        let handle = thread::Builder::new()
            .name("loupe-span-export".into())
            .spawn(move || run(weak))
            .map_err(|e| {
                ConfigError::new("batch worker thread", e, "a system that can start a thread")
            })?;
        let _ = inner.worker.set(handle.thread().clone());
        *inner.handle.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(BatchSpanProcessor { inner })
    }

    /// What the processor has done so far.
    pub fn stats(&self) -> BatchStats {
        let inner = &self.inner;
        let mut queued_in_buffers = 0;
        let mut dropped_in_buffers = 0;
        for buf in inner
            .buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
        {
            let overflow = buf.overflow.lock().map(|o| o.len()).unwrap_or(0);
            queued_in_buffers += (buf.ring.queued() + overflow) as u64;
            dropped_in_buffers += buf.dropped.load(Ordering::Relaxed);
        }
        BatchStats {
            exported: inner.exported.load(Ordering::Relaxed),
            dropped_queue_full: inner.dropped_queue_full.load(Ordering::Relaxed)
                + dropped_in_buffers,
            export_failed: inner.export_failed.load(Ordering::Relaxed),
            export_calls: inner.export_calls.load(Ordering::Relaxed),
            queued: queued_in_buffers,
        }
    }

    fn request(
        &self,
        make: impl FnOnce(mpsc::Sender<Result<(), ExportError>>) -> Request,
        timeout: Duration,
    ) -> Result<(), ExportError> {
        let inner = &self.inner;
        if inner.worker.get().map(Thread::id) == Some(thread::current().id()) {
            // Called from inside the exporter: waiting on ourselves would deadlock.
            return Ok(());
        }
        let (tx, rx) = mpsc::channel();
        inner
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(make(tx));
        // Even a polling worker: it would otherwise see the request at its next round.
        inner.wake_now();
        crate::common::error::await_reply(&rx, timeout)
    }
}

impl SpanProcessor for BatchSpanProcessor {
    #[inline]
    fn on_end(&self, mut span: SpanData) {
        self.on_end_in_place(&mut span);
    }

    #[inline]
    fn on_end_in_place(&self, span: &mut SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let inner = &self.inner;
        let pushed = BUFFERS.try_with(|cache| {
            if let Ok(cached) = cache.try_borrow() {
                if let Some((_, buf)) = cached.iter().find(|(id, _)| *id == inner.id) {
                    inner.push(buf, span);
                    return;
                }
            }
            let buf = inner.register_buffer();
            if let Ok(mut cached) = cache.try_borrow_mut() {
                cached.retain(|(_, b)| !b.ring.is_closed());
                cached.push((inner.id, Arc::clone(&buf)));
            }
            inner.push(&buf, span);
        });
        if pushed.is_err() {
            // Thread teardown: no buffer can be kept, so the span is lost. Count it.
            inner.count_dropped(1);
        }
    }

    fn force_flush(&self, timeout: Duration) -> Result<(), ExportError> {
        if self.inner.shut_down.load(Ordering::Acquire) {
            return Err(ExportError::Shutdown);
        }
        self.request(Request::Flush, timeout)
    }

    fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        if self.inner.shut_down.swap(true, Ordering::AcqRel) {
            return Err(ExportError::Shutdown);
        }
        let result = self.request(Request::Shutdown, timeout);
        if result.is_ok() {
            crate::common::error::join_worker(&self.inner.handle);
        }
        result
    }

    fn set_resource(&self, resource: &Arc<Resource>) {
        let _ = self.inner.resource.set(Arc::clone(resource));
    }
}

impl Inner {
    /// Counts spans dropped for a full queue, here and in the exporter's health counters.
    fn count_dropped(&self, n: u64) {
        self.dropped_queue_full.fetch_add(n, Ordering::Relaxed);
        if let Some(stats) = &self.exporter_stats {
            stats.dropped.add(n);
        }
    }

    fn register_buffer(&self) -> Arc<ThreadBuffer> {
        // The buffer of a thread that exited, if any: its ring's memory is in use already
        // and its slots hold attribute vectors to reuse.
        let reused = self
            .idle_buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .pop();
        let buf = reused.unwrap_or_else(|| Arc::new(ThreadBuffer::new(self.ring_capacity)));
        self.buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&buf));
        buf
    }

    /// Moves `span` into this thread's buffer (leaving it owning nothing but a cleared
    /// attribute vector to reuse).
    #[inline]
    fn push(&self, buf: &ThreadBuffer, span: &mut SpanData) {
        let mut pushed = buf.ring.push(span);
        if pushed == Pushed::NoCredits {
            pushed = self.refill(&buf.ring, span);
        }
        match pushed {
            Pushed::Queued(queued) => {
                if queued >= self.config.max_export_batch_size {
                    self.behind(&buf.ring);
                }
            }
            Pushed::Full => self.push_overflow(buf, span),
            Pushed::NoCredits => {
                buf.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Pushed::Closed => {}
        }
    }

    /// Takes a chunk of credits for `ring` and pushes again (twice at most: a limit
    /// lowered under a span written past it needs a chunk to cover that span too).
    #[cold]
    #[inline(never)]
    fn refill(&self, ring: &SpanRing, span: &mut SpanData) -> Pushed {
        for _ in 0..2 {
            let credits = self.take_credits(self.chunk);
            if credits == 0 {
                return Pushed::NoCredits;
            }
            ring.add_credits(credits);
            match ring.push(span) {
                Pushed::NoCredits => continue,
                other => return other,
            }
        }
        Pushed::NoCredits
    }

    /// A batch or more waits in the ring, as far as this thread last knew: wakes the
    /// worker if that is still so.
    #[cold]
    #[inline(never)]
    fn behind(&self, ring: &SpanRing) {
        let queued = ring.queued_now();
        let batch = self.config.max_export_batch_size;
        if queued >= 2 * batch {
            // A worker that polls has fallen a whole batch behind: wake it now. Left to
            // its next poll, the ring would fill and spans take the overflow's lock.
            self.wake_now();
        } else if queued >= batch {
            self.wake();
        }
    }

    /// The ring is full: the export thread is behind. The span takes a credit of its own
    /// and waits in a vector under a lock, and the worker is woken even if it polls.
    #[cold]
    #[inline(never)]
    fn push_overflow(&self, buf: &ThreadBuffer, span: &mut SpanData) {
        if self.take_credits(1) == 0 {
            buf.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut overflow = buf.overflow.lock().unwrap_or_else(|p| p.into_inner());
        let len = overflow.len();
        if len % self.config.max_export_batch_size == 0 {
            // Once as the ring fills, and once a batch: a wake-up is a system call.
            self.wake_now();
        }
        overflow.reserve(1);
        // SAFETY: `reserve` made room at `len`, which holds nothing; the length covers
        // the slot once it is written.
        unsafe {
            span.move_to(overflow.as_mut_ptr().add(len));
            overflow.set_len(len + 1);
        }
    }

    /// Takes up to `want` credits from the shared pool; 0 when the queue is full.
    fn take_credits(&self, want: usize) -> usize {
        let mut free = self.free_credits.load(Ordering::Relaxed);
        loop {
            if free == 0 {
                self.wake_now();
                return 0;
            }
            let take = free.min(want);
            match self.free_credits.compare_exchange_weak(
                free,
                free - take,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    if free - take < self.config.max_queue_size / 2 {
                        self.wake_now();
                    }
                    return take;
                }
                Err(actual) => free = actual,
            }
        }
    }

    /// Wakes the worker even when it polls: the queue is filling faster than it drains.
    fn wake_now(&self) {
        self.wake_pending.store(true, Ordering::Release);
        if let Some(worker) = self.worker.get() {
            worker.unpark();
        }
    }

    fn wake(&self) {
        // One unpark per wake-up cycle: the worker clears the flag when it runs. Read
        // first: while the worker polls the flag stays set, and a read leaves the cache
        // line shared where a swap would take it from the worker at every span.
        if !self.wake_pending.load(Ordering::Acquire)
            && !self.wake_pending.swap(true, Ordering::AcqRel)
        {
            if let Some(worker) = self.worker.get() {
                worker.unpark();
            }
        }
    }

    /// Exports what every thread's ring and overflow hold, straight from where it is,
    /// then gives back the credits idle threads hold (see `ring.rs`).
    fn drain_and_export(
        &self,
        spare: &mut Vec<Vec<SpanData>>,
        close: bool,
    ) -> (Result<(), ExportError>, usize) {
        let mut result = Ok(());
        let mut drained = 0;
        let buffers: Vec<_> = self
            .buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let batch_size = self.config.max_export_batch_size;
        let mut export_all = |spans: &[SpanData]| {
            for chunk in spans.chunks(batch_size) {
                if let Err(e) = self.export(chunk) {
                    result = Err(e);
                }
            }
        };
        for buf in &buffers {
            if close {
                buf.ring.close();
            }
            let from_ring = buf.ring.drain(|first, second| {
                export_all(first);
                export_all(second);
            });
            self.give_back(from_ring);
            drained += from_ring;
            let mut spans = spare.pop().unwrap_or_default();
            std::mem::swap(
                &mut *buf.overflow.lock().unwrap_or_else(|p| p.into_inner()),
                &mut spans,
            );
            drained += spans.len();
            export_all(&spans);
            self.give_back(spans.len());
            spans.clear();
            spare.push(spans);
            let dropped = buf.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                self.count_dropped(dropped);
            }
            // The registry and `buffers` hold the rest: the thread is gone.
            let gone = Arc::strong_count(buf) <= 2;
            self.settle(buf.ring.reconcile(gone));
        }
        drop(buffers);
        let mut idle = Vec::new();
        // A buffer only the registry holds belongs to a thread that exited. Forget it once
        // it holds nothing (the thread may have recorded more after it was drained), with
        // the credits it still held.
        self.buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|b| {
                let keep = Arc::strong_count(b) > 1 || !b.is_empty();
                if !keep {
                    self.settle(b.ring.reconcile(true));
                    if !b.ring.is_closed() {
                        idle.push(Arc::clone(b));
                    }
                }
                keep
            });
        if !idle.is_empty() {
            let mut kept = self.idle_buffers.lock().unwrap_or_else(|p| p.into_inner());
            kept.extend(idle);
            kept.truncate(MAX_IDLE_BUFFERS);
        }
        (result, drained)
    }

    /// Applies what a ring's reconciliation found: credits back to the pool, or owed.
    fn settle(&self, (back, owed): (usize, usize)) {
        if back > 0 {
            self.free_credits.fetch_add(back, Ordering::AcqRel);
        }
        if owed > 0 {
            self.owed.fetch_add(owed, Ordering::Relaxed);
        }
    }

    fn export(&self, spans: &[SpanData]) -> Result<(), ExportError> {
        let count = spans.len();
        let default_resource;
        let resource = match self.resource.get() {
            Some(r) => r,
            None => {
                default_resource = Arc::new(Resource::default());
                &default_resource
            }
        };
        let batch = SpanBatch {
            resource,
            spans,
            timeout: self.config.export_timeout,
        };
        let outcome = catch_unwind(AssertUnwindSafe(|| self.exporter.export(batch)))
            .unwrap_or_else(|_| Err(ExportError::failed("the span exporter panicked")));
        self.export_calls.fetch_add(1, Ordering::Relaxed);
        match &outcome {
            Ok(()) => self.exported.fetch_add(count as u64, Ordering::Relaxed),
            Err(_) => self
                .export_failed
                .fetch_add(count as u64, Ordering::Relaxed),
        };
        outcome
    }

    /// Gives the credits of `count` spans that left their buffer back to the pool: only
    /// once their places are free, or a thread could take a credit for a place the
    /// export thread still holds and find its ring full.
    fn give_back(&self, count: usize) {
        // Spans written past a lowered limit took credits that had gone back: keep as
        // many back now.
        let owed = self.owed.load(Ordering::Relaxed).min(count);
        if owed > 0 {
            self.owed.fetch_sub(owed, Ordering::Relaxed);
        }
        if count > owed {
            self.free_credits.fetch_add(count - owed, Ordering::AcqRel);
        }
    }
}

/// Buffers of exited threads kept for new threads.
const MAX_IDLE_BUFFERS: usize = 8;

/// The most slots a thread's ring has (≈ 15 MiB). With a larger queue, a thread that is
/// that far ahead of the export thread spills into its overflow vector.
const MAX_RING: usize = 1 << 16;

/// The shortest and longest wait between two rounds of a worker that polls.
const POLL_MIN: Duration = Duration::from_micros(20);
const POLL_MAX: Duration = Duration::from_millis(5);

/// The export thread. Idle, it sleeps until the scheduled delay or until a recording
/// thread wakes it (a full batch, a queue half used, a flush). Under sustained load (a
/// round drained at least a full batch) it polls instead: it keeps `wake_pending` set, so
/// recording threads skip the wake-up (a system call that, on a virtual machine, costs
/// an exit: it was ~7 % of a span), and sleeps for about the time the last round's rate
/// takes to fill one batch. A round that drains less than a batch ends the polling; the
/// next full buffer wakes the worker again, since `wake_pending` is then clear.
fn run(weak: Weak<Inner>) {
    crate::common::background::mark_current_thread();
    unsafe {
        let param = libc::sched_param { sched_priority: 0 };
        libc::sched_setscheduler(0, libc::SCHED_BATCH, &param);
    }
    let Some(config) = weak.upgrade().map(|inner| inner.config) else {
        return;
    };
    let mut next_export = Instant::now() + config.scheduled_delay;
    let mut spare: Vec<Vec<SpanData>> = Vec::new();
    let mut poll: Option<Duration> = None;
    let mut last_round = Instant::now();
    // Set when a round ended the polling: one more round runs before the worker sleeps.
    // A span that filled a buffer while the flag still said "polling" skipped its
    // wake-up; that round finds it, and later spans see the cleared flag and wake.
    let mut recheck = false;
    loop {
        let Some(mut inner) = weak.upgrade() else {
            return;
        };
        match poll {
            Some(wait) => {
                drop(inner);
                thread::park_timeout(wait);
                let Some(again) = weak.upgrade() else { return };
                inner = again;
            }
            None => {
                let now = Instant::now();
                if !recheck && now < next_export && !inner.wake_pending.load(Ordering::Acquire) {
                    drop(inner);
                    thread::park_timeout(next_export - now);
                    continue;
                }
                inner.wake_pending.store(false, Ordering::Release);
            }
        }
        let was_polling = poll.is_some();
        if drain_round(&inner, &mut spare, &mut poll, &mut last_round, config) {
            return;
        }
        recheck = was_polling && poll.is_none();
        if Instant::now() >= next_export {
            next_export = Instant::now() + config.scheduled_delay;
        }
    }
}

/// One round of the worker: drains the buffers, exports, answers requests, and decides
/// whether to poll next (see [`run`]). True when the processor shut down.
fn drain_round(
    inner: &Inner,
    spare: &mut Vec<Vec<SpanData>>,
    poll: &mut Option<Duration>,
    last_round: &mut Instant,
    config: BatchConfig,
) -> bool {
    let requests = std::mem::take(&mut *inner.requests.lock().unwrap_or_else(|p| p.into_inner()));
    let shutting_down = requests.iter().any(|r| matches!(r, Request::Shutdown(_)));
    let started = Instant::now();
    let since_last = started.saturating_duration_since(*last_round);
    *last_round = started;
    let (result, drained) = inner.drain_and_export(spare, shutting_down);
    let outcome = |then: &dyn Fn() -> Result<(), ExportError>| match &result {
        Ok(()) => then(),
        Err(e) => Err(ExportError::failed(e.to_string())),
    };
    for request in requests {
        match request {
            Request::Flush(reply) => {
                let _ = reply.send(outcome(&|| inner.exporter.force_flush()));
            }
            Request::Shutdown(reply) => {
                let _ = reply.send(outcome(&|| inner.exporter.shutdown()));
            }
        }
    }
    if shutting_down {
        return true;
    }
    let batch = config.max_export_batch_size;
    if drained >= batch {
        // The rate of the last round: wait about as long as half a batch takes to fill,
        // so that buffers are drained before they reach a batch (a full buffer makes
        // every span ask for a wake-up).
        let per_batch = since_last.mul_f64(batch as f64 / 2.0 / drained as f64);
        *poll = Some(per_batch.clamp(POLL_MIN, POLL_MAX));
        inner.wake_pending.store(true, Ordering::Release);
    } else if poll.take().is_some() {
        inner.wake_pending.store(false, Ordering::Release);
    }
    false
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.shut_down.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::InMemorySpanExporter;
    use crate::trace::TracerProvider;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_worker_runs_as_background_work() {
        let bsp = BatchSpanProcessor::new(InMemorySpanExporter::default());
        let worker = "loupe-span-expo"; // the thread's name as /proc keeps it
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // The worker marks itself as it starts.
            match crate::common::background::policy_of_thread(worker) {
                Some(policy) if policy == libc::SCHED_BATCH as u32 => break,
                other => assert!(Instant::now() < deadline, "worker policy: {other:?}"),
            }
            thread::yield_now();
        }
        bsp.shutdown(Duration::from_secs(5)).unwrap();
    }

    #[test]
    fn a_worker_that_polls_is_woken_once_a_buffer_is_a_whole_batch_behind() {
        let exporter = InMemorySpanExporter::default();
        let config = BatchConfig {
            max_export_batch_size: 4,
            // Nothing but a wake-up makes this worker run a round.
            scheduled_delay: Duration::from_secs(3600),
            ..BatchConfig::default()
        };
        let bsp = BatchSpanProcessor::with_config(exporter.clone(), config).unwrap();
        let provider = TracerProvider::builder()
            .with_span_processor(bsp.clone())
            .build()
            .unwrap();
        let tracer = provider.tracer("wake");
        provider.force_flush(Duration::from_secs(5)).unwrap(); // the worker is idle
                                                               // As while the worker polls: a full buffer does not wake it.
        bsp.inner.wake_pending.store(true, Ordering::Release);
        for _ in 0..2 * config.max_export_batch_size {
            tracer.start("s").end();
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while exporter.finished_spans().len() < 2 * config.max_export_batch_size {
            assert!(
                Instant::now() < deadline,
                "two batches waited for the next poll: {} exported",
                exporter.finished_spans().len()
            );
            thread::yield_now();
        }
    }
}
