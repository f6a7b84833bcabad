//! The batch span processor: hands ended spans to a background thread in batches, never
//! blocking the thread that ended them.
//!
//! Each recording thread appends to its own buffer (an uncontended lock). The global queue
//! bound is enforced with credits that threads take from a shared pool in chunks, so the
//! pool is touched once per chunk, not once per span. When the pool is empty the span is
//! dropped and counted. The worker drains all buffers every `scheduled_delay`, when a
//! buffer fills a batch, when the pool runs low, or on flush/shutdown.

use super::export::{SpanBatch, SpanExporter};
use super::processor::SpanProcessor;
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

#[derive(Default)]
struct ThreadBuffer {
    spans: Vec<SpanData>,
    /// Cleared attribute vectors of this thread's exported spans, on their way back to it
    /// (see `attr_pool`).
    returned: Vec<Vec<crate::KeyValue>>,
    credits: usize,
    dropped: u64,
    closed: bool,
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
    buffers: Mutex<Vec<Arc<Mutex<ThreadBuffer>>>>,
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
    static BUFFERS: RefCell<Vec<(u64, Arc<Mutex<ThreadBuffer>>)>> = const { RefCell::new(Vec::new()) };
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
            let buf = buf.lock().unwrap_or_else(|p| p.into_inner());
            queued_in_buffers += buf.spans.len() as u64;
            dropped_in_buffers += buf.dropped;
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
                cached.retain(|(_, b)| !b.lock().map(|b| b.closed).unwrap_or(true));
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

    fn register_buffer(&self) -> Arc<Mutex<ThreadBuffer>> {
        let buf = Arc::new(Mutex::new(ThreadBuffer::default()));
        self.buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Arc::clone(&buf));
        buf
    }

    /// Moves `span` into this thread's buffer (leaving it empty).
    #[inline]
    fn push(&self, buf: &Mutex<ThreadBuffer>, span: &mut SpanData) {
        let mut b = buf.lock().unwrap_or_else(|p| p.into_inner());
        if b.closed {
            return;
        }
        if b.credits == 0 {
            b.credits = self.take_credits();
            if b.credits == 0 {
                b.dropped += 1;
                return;
            }
        }
        b.credits -= 1;
        // Room first, so the span is copied once, straight into its slot: `push` of a
        // `mem::replace` copied it to the stack and back, and the second copy's loads
        // waited on the first one's stores.
        b.spans.reserve(1);
        let len = b.spans.len();
        // SAFETY: `reserve` made room at `len`, which holds nothing; the length covers
        // the slot once it is written.
        unsafe {
            span.move_to(b.spans.as_mut_ptr().add(len));
            b.spans.set_len(len + 1);
        }
        // A later span's place: the export thread read it last (see `common::prefetch`).
        // Several spans ahead, so that the line has arrived when the span is written.
        let ahead = len + SLOT_PREFETCH_AHEAD;
        if ahead < b.spans.capacity() {
            crate::common::prefetch::for_write(
                b.spans.as_ptr().wrapping_add(ahead),
                std::mem::size_of::<SpanData>(),
            );
        }
        if !b.returned.is_empty() {
            super::attr_pool::refill(&mut b.returned);
        }
        let (len, batch) = (b.spans.len(), self.config.max_export_batch_size);
        drop(b);
        if len >= batch {
            if len % batch == 0 && len >= 2 * batch {
                // A worker that polls has fallen a whole batch behind: wake it now. Left
                // to its next poll, the round grows without bound, and so does the
                // churn of attribute vectors beyond what the pool keeps.
                self.wake_now();
            } else {
                self.wake();
            }
        }
    }

    fn take_credits(&self) -> usize {
        let mut free = self.free_credits.load(Ordering::Relaxed);
        loop {
            if free == 0 {
                self.wake_now();
                return 0;
            }
            let take = free.min(self.chunk);
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

    /// Swaps every thread's buffer for an empty one that keeps its capacity (so buffers
    /// never regrow from zero), then exports straight from the swapped-out buffers.
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
        for buf in &buffers {
            let mut spans = spare.pop().unwrap_or_default();
            let mut b = buf.lock().unwrap_or_else(|p| p.into_inner());
            std::mem::swap(&mut b.spans, &mut spans);
            // Return unused credits, so idle threads do not hold queue space.
            let unused = std::mem::take(&mut b.credits);
            let dropped = std::mem::take(&mut b.dropped);
            b.closed = close;
            if close {
                // A closed buffer is never pushed to again: nothing would take these.
                b.returned = Vec::new();
            }
            drop(b);
            self.free_credits.fetch_add(unused, Ordering::AcqRel);
            if dropped > 0 {
                self.count_dropped(dropped);
            }
            drained += spans.len();
            for chunk in spans.chunks(batch_size) {
                if let Err(e) = self.export(chunk) {
                    result = Err(e);
                }
            }
            self.recycle(buf, &mut spans);
            spare.push(spans);
        }
        drop(buffers);
        // A buffer only the registry holds belongs to a thread that exited. Forget it once
        // it holds nothing: the thread may have recorded more after it was drained.
        self.buffers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|b| {
                Arc::strong_count(b) > 1
                    || b.lock()
                        .map(|b| !b.spans.is_empty() || b.dropped > 0)
                        .unwrap_or(false)
            });
        (result, drained)
    }

    /// Lets the exported spans go, leaving `spans` empty, and returns their attribute
    /// vectors, cleared, to the recording thread's buffer, where its next span moves
    /// them into its pool (`attr_pool`).
    ///
    /// All of them, up to as many as the queue holds spans (memory those spans held
    /// anyway): a round can drain more than the pool keeps when the worker runs late,
    /// and a vector freed here would be freed on a thread that did not allocate it,
    /// which takes the recording thread's allocator lock while it records.
    ///
    /// Another core wrote the attributes: those a few spans on are fetched ahead (see
    /// `common::prefetch`). Fetching the spans themselves ahead measured no better.
    fn recycle(&self, buf: &Mutex<ThreadBuffer>, spans: &mut Vec<SpanData>) {
        use crate::common::prefetch;
        let mut back: Vec<Vec<crate::KeyValue>> = Vec::with_capacity(spans.len());
        for i in 0..spans.len() {
            if let Some(near) = spans.get(i + PREFETCH_AHEAD) {
                let attributes = &near.attributes;
                let bytes = attributes.len() * std::mem::size_of::<crate::KeyValue>();
                prefetch::for_read(attributes.as_ptr(), bytes);
            }
            let span = &mut spans[i];
            if super::attr_pool::keep(&span.attributes) {
                let mut attributes = std::mem::take(&mut span.attributes);
                crate::common::attribute::clear_attributes(&mut attributes);
                back.push(attributes);
            }
        }
        spans.clear();
        if back.is_empty() {
            return;
        }
        let mut b = buf.lock().unwrap_or_else(|p| p.into_inner());
        if b.closed {
            return;
        }
        let room = self.config.max_queue_size.saturating_sub(b.returned.len());
        back.truncate(room);
        if b.returned.is_empty() {
            b.returned = back;
        } else {
            b.returned.append(&mut back);
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
        self.free_credits.fetch_add(count, Ordering::AcqRel);
        outcome
    }
}

/// How many spans ahead the export thread fetches the attributes it will clear.
const PREFETCH_AHEAD: usize = 4;

/// How many places ahead a recording thread fetches its buffer for writing.
const SLOT_PREFETCH_AHEAD: usize = 4;

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
