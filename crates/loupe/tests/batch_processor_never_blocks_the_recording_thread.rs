//! The batch processor hands spans to its own thread: recording never waits on the
//! exporter, a full queue drops (and counts) spans, and flush/shutdown are bounded by
//! their timeouts with or without a Tokio runtime in the host.

use loupe::trace::{
    BatchConfig, BatchSpanProcessor, InMemorySpanExporter, SpanBatch, SpanExporter, TracerProvider,
};
use loupe::ExportError;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(20);

/// An exporter that blocks every export until the test opens the gate.
#[derive(Clone, Default)]
struct GatedExporter {
    gate: Arc<(Mutex<bool>, Condvar)>,
    inner: InMemorySpanExporter,
}

impl GatedExporter {
    fn open(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }
}

impl SpanExporter for GatedExporter {
    fn export(&self, batch: SpanBatch<'_>) -> Result<(), ExportError> {
        let mut open = self.gate.0.lock().unwrap();
        while !*open {
            open = self.gate.1.wait(open).unwrap();
        }
        drop(open);
        self.inner.export(batch)
    }
}

fn small_queue() -> BatchConfig {
    BatchConfig {
        max_queue_size: 16,
        max_export_batch_size: 4,
        scheduled_delay: Duration::from_millis(50),
        ..Default::default()
    }
}

/// Runs `f` on another thread and fails the test if it does not finish in time (a hang
/// here means recording or flushing blocked).
fn finishes<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(DEADLINE)
        .expect("the call blocked: it did not return within the deadline")
}

#[test]
fn ended_spans_reach_the_exporter_with_parents() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    let tracer = provider.tracer("test");
    tracer.in_span("parent", |_| {
        tracer.start("child");
    });
    provider.force_flush(DEADLINE).unwrap();
    let child = exporter.span("child").unwrap();
    let parent = exporter.span("parent").unwrap();
    assert_eq!(child.parent_span_id, parent.span_context.span_id());
    assert_eq!(
        child.span_context.trace_id(),
        parent.span_context.trace_id()
    );
    assert!(!parent.parent_span_id.is_valid());
}

#[test]
fn a_full_queue_drops_and_counts_spans_instead_of_blocking() {
    let exporter = GatedExporter::default();
    let bsp = BatchSpanProcessor::with_config(exporter.clone(), small_queue()).unwrap();
    let provider = TracerProvider::builder()
        .with_span_processor(bsp.clone())
        .build()
        .unwrap();
    let tracer = provider.tracer("test");
    // The exporter is stuck, so at most the queue (16) plus the batch held by the stuck
    // export (4) can be kept; recording must still return at once.
    finishes(move || {
        for _ in 0..500 {
            tracer.start("span");
        }
    });
    let stats = bsp.stats();
    assert!(stats.dropped_queue_full >= 500 - 16 - 4, "{stats:?}");
    exporter.open();
    provider.force_flush(DEADLINE).unwrap();
    let stats = bsp.stats();
    assert_eq!(stats.exported + stats.dropped_queue_full, 500, "{stats:?}");
    assert_eq!(exporter.inner.finished_spans().len() as u64, stats.exported);
}

#[test]
fn force_flush_on_a_hung_exporter_times_out_instead_of_deadlocking() {
    let exporter = GatedExporter::default();
    let provider = TracerProvider::builder()
        .with_span_processor(
            BatchSpanProcessor::with_config(exporter.clone(), small_queue()).unwrap(),
        )
        .build()
        .unwrap();
    provider.tracer("test").start("span");
    let flush = finishes({
        let provider = provider.clone();
        move || provider.force_flush(Duration::from_millis(200))
    });
    assert!(matches!(flush, Err(ExportError::Timeout(_))), "{flush:?}");
    exporter.open();
    provider.force_flush(DEADLINE).unwrap();
    assert_eq!(exporter.inner.finished_spans().len(), 1);
}

#[test]
fn a_panicking_exporter_is_counted_and_the_pipeline_keeps_going() {
    struct Panics;
    impl SpanExporter for Panics {
        fn export(&self, _: SpanBatch<'_>) -> Result<(), ExportError> {
            panic!("exporter bug")
        }
    }
    let bsp = BatchSpanProcessor::new(Panics);
    let provider = TracerProvider::builder()
        .with_span_processor(bsp.clone())
        .build()
        .unwrap();
    provider.tracer("t").start("a");
    assert!(provider.force_flush(DEADLINE).is_err());
    provider.tracer("t").start("b");
    assert!(provider.force_flush(DEADLINE).is_err());
    assert_eq!(bsp.stats().export_failed, 2);
}

#[test]
fn dropping_the_provider_flushes_and_later_spans_are_discarded() {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    let tracer = provider.tracer("test");
    tracer.start("before");
    let mut late = tracer.start("late");
    let mut elsewhere = tracer.start("ended on a thread that never ended a span");
    let lost_before = loupe::common::stats::sdk_stats().spans_after_shutdown.get();
    drop(provider);
    // `tracer` still holds the pipeline, but it is shut down: the span is not exported.
    late.end();
    tracer.start("after");
    std::thread::spawn(move || elsewhere.end()).join().unwrap();
    let names: Vec<_> = exporter
        .finished_spans()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, vec!["before"]);
    // Not silently: both are counted, and the count is a metric of every meter provider.
    let lost = loupe::common::stats::sdk_stats().spans_after_shutdown.get();
    assert!(lost >= lost_before + 3, "{lost_before} -> {lost}");
    let collected = loupe::metrics::MeterProvider::builder().build().collect();
    let metric = collected
        .metric("loupe.sdk.input.dropped")
        .expect("published");
    let loupe::metrics::MetricData::Sum { points, .. } = &metric.data else {
        panic!("a sum: {metric:?}");
    };
    assert!(points.iter().any(|p| p
        .attributes
        .iter()
        .any(|kv| kv.value.to_string() == "span_after_shutdown")
        && p.value.as_f64() >= 3.0));
}

#[test]
fn shutdown_twice_reports_the_second_call() {
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::new(InMemorySpanExporter::default()))
        .build()
        .unwrap();
    provider.shutdown(DEADLINE).unwrap();
    assert!(matches!(
        provider.shutdown(DEADLINE),
        Err(ExportError::Shutdown)
    ));
}

#[test]
fn invalid_batch_settings_name_the_field() {
    let err = BatchSpanProcessor::with_config(
        InMemorySpanExporter::default(),
        BatchConfig {
            max_export_batch_size: 4096,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(err.field, "max_export_batch_size");
    assert!(err.to_string().contains("max_queue_size"), "{err}");
}

fn flush_and_shutdown_inside_async(provider: TracerProvider, exporter: InMemorySpanExporter) {
    provider.tracer("test").start("in-runtime");
    // Blocking calls from inside the runtime: export runs on Loupe's own thread, so this
    // cannot wait on the (blocked) runtime.
    provider.force_flush(DEADLINE).unwrap();
    assert_eq!(exporter.finished_spans().len(), 1);
    provider.tracer("test").start("at-shutdown");
    provider.shutdown(DEADLINE).unwrap();
    assert_eq!(exporter.finished_spans().len(), 2);
}

fn pipeline() -> (TracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = TracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::new(exporter.clone()))
        .build()
        .unwrap();
    (provider, exporter)
}

#[test]
fn flush_and_shutdown_work_without_a_runtime() {
    let (provider, exporter) = pipeline();
    finishes(move || flush_and_shutdown_inside_async(provider, exporter));
}

#[tokio::test(flavor = "current_thread")]
async fn flush_and_shutdown_work_on_a_current_thread_runtime() {
    let (provider, exporter) = pipeline();
    tokio::task::yield_now().await;
    flush_and_shutdown_inside_async(provider, exporter);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_and_shutdown_work_on_a_multi_thread_runtime() {
    let (provider, exporter) = pipeline();
    let handle = tokio::spawn(async move {
        tokio::task::yield_now().await;
        flush_and_shutdown_inside_async(provider, exporter);
    });
    tokio::time::timeout(DEADLINE, handle)
        .await
        .expect("no deadlock")
        .unwrap();
}

#[test]
fn many_threads_recording_at_once_lose_nothing_with_room_in_the_queue() {
    let exporter = InMemorySpanExporter::default();
    let bsp = BatchSpanProcessor::with_config(
        exporter.clone(),
        BatchConfig {
            max_queue_size: 100_000,
            ..Default::default()
        },
    )
    .unwrap();
    let provider = TracerProvider::builder()
        .with_span_processor(bsp.clone())
        .build()
        .unwrap();
    std::thread::scope(|s| {
        for _ in 0..4 {
            let tracer = provider.tracer("t");
            s.spawn(move || {
                for _ in 0..2_000 {
                    tracer.start("s");
                }
            });
        }
    });
    provider.force_flush(DEADLINE).unwrap();
    assert_eq!(exporter.finished_spans().len(), 8_000);
    assert_eq!(bsp.stats().dropped_queue_full, 0);
}

/// A thread's spans go through a ring of at most 65 536 places; with a larger queue and
/// an exporter that is stuck, a thread gets further ahead than that and the rest of its
/// spans wait elsewhere. None is lost (those that waited elsewhere may be exported before
/// older ones still in the ring: export order is not part of the contract).
#[test]
fn a_thread_far_ahead_of_a_stuck_exporter_loses_nothing() {
    let exporter = GatedExporter::default();
    let bsp = BatchSpanProcessor::with_config(
        exporter.clone(),
        BatchConfig {
            max_queue_size: 1 << 17,
            ..Default::default()
        },
    )
    .unwrap();
    let provider = TracerProvider::builder()
        .with_span_processor(bsp.clone())
        .build()
        .unwrap();
    let tracer = provider.tracer("ahead");
    let count = (1 << 16) + 3_000;
    for i in 0..count {
        tracer
            .span_builder("s")
            .with_attribute("i", i as i64)
            .start();
    }
    assert_eq!(bsp.stats().exported, 0, "the exporter is still stuck");
    exporter.open();
    provider.force_flush(DEADLINE).unwrap();
    let spans = exporter.inner.finished_spans();
    let mut seen: Vec<i64> = spans
        .iter()
        .map(|s| match s.attributes.as_slice() {
            [kv] => match kv.value {
                loupe::Value::I64(i) => i,
                ref other => panic!("attribute i is {other:?}"),
            },
            other => panic!("attributes: {other:?}"),
        })
        .collect();
    seen.sort_unstable();
    assert_eq!(seen, (0..count as i64).collect::<Vec<_>>());
    assert_eq!(bsp.stats().dropped_queue_full, 0);
}

/// Waits until `done` holds, failing the test at the deadline.
fn wait_until(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + DEADLINE;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Under sustained load the export thread polls instead of being woken for every batch.
/// When the load stops it must go back to being woken: a full batch recorded afterwards
/// is exported without a flush, long before the scheduled delay (an hour here).
#[test]
fn after_a_burst_a_full_batch_still_wakes_the_export_thread() {
    let exporter = InMemorySpanExporter::default();
    let config = BatchConfig {
        max_queue_size: 1 << 16,
        max_export_batch_size: 64,
        scheduled_delay: Duration::from_secs(3600),
        ..Default::default()
    };
    let bsp = BatchSpanProcessor::with_config(exporter.clone(), config).unwrap();
    let provider = TracerProvider::builder()
        .with_span_processor(bsp.clone())
        .build()
        .unwrap();
    let tracer = provider.tracer("burst");
    // A burst: many full batches, so the worker polls.
    let burst = 20_000;
    for _ in 0..burst {
        tracer
            .span_builder("burst")
            .with_attribute("k", 1_i64)
            .start();
    }
    // The burst's tail (less than a batch, if polling ended before it) waits for the
    // scheduled delay, as in any batch processor: flush it.
    finishes({
        let provider = provider.clone();
        move || provider.force_flush(DEADLINE)
    })
    .unwrap();
    assert_eq!(bsp.stats().exported, burst);
    assert_eq!(bsp.stats().dropped_queue_full, 0);
    // Quiet for ten times the longest poll (5 ms): the worker's next round found less
    // than a batch and it went back to sleep, to be woken by the next full buffer. (Were
    // it still polling, the batch below would be exported all the same; what fails
    // here is a worker left asleep for the scheduled delay.)
    std::thread::sleep(Duration::from_millis(50));
    // Then exactly one full batch: it must wake the worker.
    for _ in 0..64 {
        tracer.start("after");
    }
    wait_until("the batch after the burst is exported", || {
        exporter
            .finished_spans()
            .iter()
            .filter(|s| s.name == "after")
            .count()
            == 64
    });
    // A flush while the worker polls is answered promptly, too.
    for _ in 0..burst {
        tracer.start("again");
    }
    finishes(move || provider.force_flush(DEADLINE)).unwrap();
}
