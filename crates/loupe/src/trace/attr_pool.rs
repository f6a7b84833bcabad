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
//! [`MAX_CAPACITY`]; anything else is simply freed.

use crate::common::attribute::KeyValue;
use std::cell::RefCell;

/// Vectors kept per thread (and per thread buffer waiting to be handed back).
///
/// Above the default export batch (512), so that a whole drained batch comes back even
/// when the export thread drains late: with 256, half of each batch was freed on the
/// export thread and allocated again on the recording thread. A thread that records
/// bursts keeps at most 2 × 1024 vectors, ≈460 KiB with the usual capacity of four
/// attributes (≈1.8 MiB at [`MAX_CAPACITY`]).
pub(crate) const MAX_POOLED: usize = 1024;
/// Larger vectors are not worth keeping.
pub(crate) const MAX_CAPACITY: usize = 16;

thread_local! {
    static POOL: RefCell<Vec<Vec<KeyValue>>> = const { RefCell::new(Vec::new()) };
}

/// An empty attribute vector, reused when this thread has one.
#[inline]
pub(crate) fn take() -> Vec<KeyValue> {
    POOL.try_with(|pool| pool.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Gives `attributes` a pooled vector when it has no allocation yet (a span's first
/// attribute); a vector that already has room is left as it is.
#[inline]
pub(crate) fn provide(attributes: &mut Vec<KeyValue>) {
    if attributes.capacity() == 0 {
        *attributes = take();
    }
}

/// Below this many pooled vectors, [`refill`] tops the pool up.
const LOW: usize = 128;

/// Moves `returned` (cleared vectors recorded on this thread) into this thread's pool
/// when the pool runs low: swapped in whole when it is empty (`returned` keeps the
/// pool's old, empty list), else appended up to [`MAX_POOLED`]. Topping up before the
/// pool is empty matters when the export thread returns vectors in small rounds: a pool
/// that only refills once empty runs dry between rounds, and every span in the gap
/// allocates (and the export thread frees as many).
#[inline]
pub(crate) fn refill(returned: &mut Vec<Vec<KeyValue>>) {
    let _ = POOL.try_with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            if pool.is_empty() {
                std::mem::swap(&mut *pool, returned);
            } else if pool.len() < LOW {
                let room = MAX_POOLED.saturating_sub(pool.len());
                let from = returned.len().saturating_sub(room);
                pool.extend(returned.drain(from..));
            }
        }
    });
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
}
