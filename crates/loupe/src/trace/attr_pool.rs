//! Per-thread reuse of span attribute vectors.
//!
//! A span's attributes are allocated on the thread that records it and were freed on the
//! batch processor's export thread. With glibc's allocator that cross-thread free takes
//! the recording thread's arena lock, and the contention cost more than the rest of the
//! span. Instead, the export thread clears the vectors it exported and hands them back,
//! through the buffer of the thread that ended the span (usually the one that started
//! it), and span builders on that thread take their attribute vector from here.
//!
//! Bounded: at most [`MAX_POOLED`] vectors per thread, each with a capacity of at most
//! [`MAX_CAPACITY`]; anything else is simply freed. On their way back, a thread buffer
//! holds at most as many as the batch queue holds spans, until that thread's next span.

use crate::common::attribute::KeyValue;
use std::cell::RefCell;

/// Vectors kept per thread.
///
/// The default queue (2048): a round of the export thread that drains late can bring
/// back more than a batch, and a pool smaller than the round meant spans allocating
/// while vectors waited. A thread that records bursts keeps at most 2048 vectors,
/// ≈460 KiB with the usual capacity of four attributes (≈1.8 MiB at [`MAX_CAPACITY`]).
pub(crate) const MAX_POOLED: usize = 2048;
/// How many attributes' worth of the next pooled vector is fetched ahead.
const PREFETCH_ATTRIBUTES: usize = 4;
/// Larger vectors are not worth keeping.
pub(crate) const MAX_CAPACITY: usize = 16;

thread_local! {
    static POOL: RefCell<Vec<Vec<KeyValue>>> = const { RefCell::new(Vec::new()) };
}

/// An empty attribute vector, reused when this thread has one.
#[inline]
pub(crate) fn take() -> Vec<KeyValue> {
    let v = POOL
        .try_with(|pool| {
            let mut pool = pool.try_borrow_mut().ok()?;
            let v = pool.pop();
            // The next span's vector: fetched now, while this span records, so that its
            // first writes do not wait for the line to leave the export thread's core.
            if let Some(next) = pool.last() {
                crate::common::prefetch::for_write(
                    next.as_ptr(),
                    PREFETCH_ATTRIBUTES * std::mem::size_of::<KeyValue>(),
                );
            }
            v
        })
        .ok()
        .flatten();
    v.unwrap_or_default()
}

/// Gives `attributes` a pooled vector when it has no allocation yet (a span's first
/// attribute); a vector that already has room is left as it is.
#[inline]
pub(crate) fn provide(attributes: &mut Vec<KeyValue>) {
    if attributes.capacity() == 0 {
        *attributes = take();
    }
}

/// Moves `returned` (cleared vectors recorded on this thread) into this thread's pool,
/// all of them, up to [`MAX_POOLED`]; any beyond are freed here, on the thread that
/// allocated them. Swapped in whole when the pool is empty (`returned` keeps the pool's
/// old, empty list).
///
/// Called on the first span after each hand-back, whatever the pool holds. Waiting
/// until the pool ran low lost vectors both ways: while the pool was above the mark,
/// `returned` filled up and the export thread freed every further vector (taking this
/// thread's allocator lock), and once the pool ran dry before the next hand-back, spans
/// allocated new ones. Measured with a counter: 36 % of spans allocated.
#[inline]
pub(crate) fn refill(returned: &mut Vec<Vec<KeyValue>>) {
    let _ = POOL.try_with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            if pool.is_empty() {
                std::mem::swap(&mut *pool, returned);
                pool.truncate(MAX_POOLED);
            } else {
                let room = MAX_POOLED.saturating_sub(pool.len());
                let from = returned.len().saturating_sub(room);
                pool.extend(returned.drain(from..));
            }
        }
    });
    returned.clear();
}

/// Whether `v` (cleared) is worth handing back.
#[inline]
pub(crate) fn keep(v: &Vec<KeyValue>) -> bool {
    (1..=MAX_CAPACITY).contains(&v.capacity())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::InMemorySpanExporter;
    use crate::trace::{BatchSpanProcessor, TracerProvider};
    use std::time::Duration;

    #[test]
    fn exported_attribute_vectors_come_back_to_the_thread_that_recorded_them() {
        let exporter = InMemorySpanExporter::default();
        let provider = TracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::new(exporter.clone()))
            .build()
            .unwrap();
        let tracer = provider.tracer("pool");
        tracer
            .span_builder("a")
            .with_attribute("k", "v")
            .with_attribute("n", 1_i64)
            .start()
            .end();
        provider.force_flush(Duration::from_secs(5)).unwrap();
        // The exporter saw the attributes whole.
        assert_eq!(exporter.finished_spans()[0].attributes.len(), 2);
        while take().capacity() > 0 {} // start from an empty pool
                                       // The next span this thread records collects the cleared vector...
        tracer.start("b").end();
        let reused = take();
        assert!(reused.is_empty());
        assert!(
            reused.capacity() >= 2,
            "a recycled vector: {}",
            reused.capacity()
        );
        // ...and a builder takes it instead of allocating.
        POOL.with(|pool| pool.borrow_mut().push(reused));
        let span = tracer.span_builder("c").with_attribute("k", "v").start();
        assert!(POOL.with(|pool| pool.borrow().is_empty()));
        drop(span);
    }

    #[test]
    fn a_round_larger_than_a_batch_brings_every_vector_back_and_the_pool_stays_bounded() {
        use crate::trace::BatchConfig;
        let exporter = InMemorySpanExporter::default();
        // A batch larger than what is recorded before the flush: nothing wakes the
        // export thread early, so one round drains everything.
        let config = BatchConfig {
            max_queue_size: 4 * MAX_POOLED,
            max_export_batch_size: 2 * MAX_POOLED,
            ..BatchConfig::default()
        };
        let provider = TracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::with_config(exporter.clone(), config).unwrap())
            .build()
            .unwrap();
        let tracer = provider.tracer("pool");
        let record = |n: usize| {
            for i in 0..n {
                tracer
                    .span_builder("s")
                    .with_attribute("i", i as i64)
                    .start()
                    .end();
            }
        };
        // Start from an empty pool. Then three default batches' worth in one round:
        // before, only 1024 came back and the export thread freed the rest.
        while take().capacity() > 0 {}
        record(1536);
        provider.force_flush(Duration::from_secs(5)).unwrap();
        assert_eq!(exporter.finished_spans().len(), 1536);
        tracer.start("collect").end(); // the first span after a hand-back collects it
        let pooled = || POOL.with(|pool| pool.borrow().len());
        assert_eq!(pooled(), 1536, "every vector came back");

        // More than the pool keeps: the rest is freed, and the pool keeps its bound.
        record(3 * MAX_POOLED);
        provider.force_flush(Duration::from_secs(5)).unwrap();
        tracer.start("collect").end();
        assert_eq!(pooled(), MAX_POOLED);
    }
}
