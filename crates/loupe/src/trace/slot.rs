//! Per-thread reuse of the heap blocks spans record into.
//!
//! A span builder takes a block ([`Recording`]) when it is created, fills it along its
//! chain of calls, and the span it starts keeps the same block: nothing of the span is
//! copied between the builder, the span and the moment it ends, where a processor moves
//! the data out. Before, the builder and the span carried their few hundred bytes
//! inline, and every move along `.with_attribute(..)` chains and out of `start` was a
//! copy of a struct just written, which stalls on store forwarding: those copies were the
//! largest single cost of a span.
//!
//! Ending a span (or dropping a builder, or starting an unsampled span) gives the block
//! back to the pool of the thread doing it. Bounded: at most [`MAX_POOLED`] blocks per
//! thread (about the deepest nesting of live spans worth keeping; ≈ 22 KiB), anything
//! beyond is freed.

use super::limits::SpanLimits;
use super::span::{Recording, SpanData, SpanKind, Status};
use super::tracer::Parent;
use std::borrow::Cow;
use std::cell::RefCell;

/// Blocks kept per thread.
pub(crate) const MAX_POOLED: usize = 64;

thread_local! {
    // Boxes, not the blocks themselves: builders and spans own a `Box`, and pooling
    // the box is what keeps its allocation.
    #[allow(clippy::vec_box)]
    static POOL: RefCell<Vec<Box<Recording>>> = const { RefCell::new(Vec::new()) };
}

/// A block for a new span builder: reused when this thread has one, reset to what a
/// builder starts from except for its name and scope, which the builder writes (the
/// caller converts the name straight into the block; passed in here, it would be
/// spilled to the stack and copied back, a copy that stalls on store forwarding). The
/// limits and the provider are written when the span starts.
///
/// Only what `start` does not overwrite is reset, field by field: assigning a whole
/// `Recording` would build it on the stack and copy it in.
#[inline]
pub(crate) fn take() -> Box<Recording> {
    let reused = POOL
        .try_with(|pool| pool.try_borrow_mut().ok()?.pop())
        .ok()
        .flatten();
    let Some(mut rec) = reused else {
        return fresh();
    };
    let data = &mut rec.data;
    // `give_back` emptied these.
    debug_assert!(data.attributes.is_empty() && data.events.is_empty() && data.links.is_empty());
    data.kind = SpanKind::Internal;
    data.dropped_events_count = 0;
    data.status = Status::Unset;
    rec.parent = Parent::Current;
    rec.start_time_given = false;
    rec
}

#[cold]
#[inline(never)]
fn fresh() -> Box<Recording> {
    Box::new(Recording {
        data: SpanData::empty(),
        limits: SpanLimits::default(),
        provider: 0,
        parent: Parent::Current,
        start_time_given: false,
    })
}

/// Gives a block back to this thread's pool (or frees it when the pool is full). What the
/// block still owns (a builder's attributes, say) is released, except the attribute
/// vector's room, which the next span on this thread reuses.
#[inline]
pub(crate) fn give_back(mut rec: Box<Recording>) {
    let data = &mut rec.data;
    if !data.attributes.is_empty() {
        crate::common::attribute::clear_attributes(&mut data.attributes);
    }
    if data.links.capacity() > 0 || data.events.capacity() > 0 {
        data.links = Vec::new();
        data.events = Vec::new();
    }
    if let Cow::Owned(_) = data.name {
        data.name = Cow::Borrowed("");
    }
    rec.parent = Parent::Current;
    let _ = POOL.try_with(|pool| {
        if let Ok(mut pool) = pool.try_borrow_mut() {
            if pool.len() < MAX_POOLED {
                pool.push(rec);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::InMemorySpanExporter;
    use crate::trace::{SimpleSpanProcessor, TracerProvider};

    fn pooled() -> usize {
        POOL.with(|pool| pool.borrow().len())
    }

    use std::time::SystemTime;

    #[test]
    fn a_block_is_reused_and_carries_nothing_over_from_the_last_span() {
        let exporter = InMemorySpanExporter::default();
        let provider = TracerProvider::builder()
            .with_span_processor(SimpleSpanProcessor::new(exporter.clone()))
            .build()
            .unwrap();
        let tracer = provider.tracer("slots");
        let mut first = tracer
            .span_builder(String::from("first"))
            .with_kind(crate::trace::SpanKind::Server)
            .with_attribute("k", "v")
            .with_links([crate::trace::Link::new(crate::trace::SpanContext::INVALID)])
            .start();
        first.add_event("e", vec![]);
        first.set_status(Status::error("failed"));
        first.end();
        let before = pooled();
        assert!(before >= 1, "the ended span's block is back in the pool");
        tracer.start("second").end();
        assert_eq!(
            pooled(),
            before,
            "the second span took the block and gave it back"
        );
        let second = exporter.span("second").unwrap();
        assert_eq!(second.kind, SpanKind::Internal);
        assert!(second.attributes.is_empty());
        assert!(second.events.is_empty() && second.links.is_empty());
        assert_eq!(second.status, Status::Unset);
        assert_eq!(second.dropped_events_count, 0);
        assert!(second.end_time >= second.start_time);
        assert!(second.start_time > SystemTime::UNIX_EPOCH);
    }

    #[test]
    fn the_pool_keeps_at_most_the_documented_memory_per_thread() {
        // README: at most 64 blocks, about 22 KiB.
        let bytes = MAX_POOLED * std::mem::size_of::<Recording>();
        assert!(bytes <= 24 * 1024, "{bytes} bytes");
    }

    #[test]
    fn a_dropped_builder_gives_its_block_back_and_the_pool_is_bounded() {
        let provider = TracerProvider::builder().build().unwrap();
        let tracer = provider.tracer("slots");
        drop(tracer.span_builder("unused").with_attribute("k", "v"));
        assert!(pooled() >= 1);
        // More live spans than the pool keeps: the extra blocks are freed when they end.
        let spans: Vec<_> = (0..MAX_POOLED + 10).map(|_| tracer.start("live")).collect();
        drop(spans);
        assert_eq!(pooled(), MAX_POOLED);
    }
}
