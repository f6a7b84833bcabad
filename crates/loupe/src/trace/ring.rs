//! One recording thread's ended spans on their way to the batch processor's export
//! thread: a ring that only that thread writes and only the export thread reads.
//!
//! Handing a span over is a copy into the next slot and a plain store of the new tail:
//! no locked instruction. A lock (or any atomic read-modify-write) is a full barrier on
//! x86: it waits until every store the span made has reached the cache, some of them to
//! lines the export thread had last. With a mutex around each hand-off that wait was
//! 11–17 ns of a ~130 ns span; without it the stores drain while the thread goes on.
//!
//! The export thread exports the written slots where they are, then lets each span go
//! except its attribute vector, which it clears and leaves in the slot. When the
//! recording thread writes that slot on its next lap, it takes the vector back for the
//! span block it is done with (see `slot.rs`), so the next span on the thread records
//! into memory this thread allocated, without a pool in between. Vectors never cross
//! threads to be freed, which with glibc would take this thread's allocator lock.
//!
//! Credits bound the queue across threads: the ring may be written while `tail < limit`,
//! and the batch processor raises `limit` by a chunk taken from a shared pool. Credits a
//! thread holds but does not use go back to the pool when the thread recorded nothing for
//! a whole round of the export thread, by lowering `limit` to `tail`. A span written by a
//! thread that read the old limit just before it was lowered is then past the limit: the
//! next round sees it, raises `limit` to cover it, and reports it owed, so the pool stays
//! exact (the batch processor keeps back as many credits from the next export).

use super::span::SpanData;
use crate::common::attribute::KeyValue;
use crate::common::prefetch;
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::ptr::{addr_of, addr_of_mut};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How many slots ahead the recording thread fetches the ring for writing: the export
/// thread had those lines last, and the fetch takes a span's time or more to arrive.
const PREFETCH_SLOTS: usize = 4;
/// How many attributes' worth of the next reused vector are fetched for writing.
const PREFETCH_ATTRIBUTES: usize = 4;
/// Attribute vectors larger than this are freed rather than left for reuse.
const KEEP_CAPACITY: usize = 16;

/// A value on a cache line of its own: each side writes its own index, and a shared line
/// would move between the cores at every span.
#[repr(align(64))]
struct Line<T>(T);

/// The recording thread's side.
struct Producer {
    /// Spans written, ever.
    tail: AtomicUsize,
    /// The last `head` this side read (an underestimate of the real one).
    head_seen: AtomicUsize,
}

/// The export thread's side.
struct Consumer {
    /// Spans let go, ever.
    head: AtomicUsize,
    /// `tail` as the last round saw it: unchanged at the next round means the thread idled.
    last_tail: AtomicUsize,
    /// Set while a round drains, so that only one caller ever does.
    draining: AtomicBool,
}

/// What [`SpanRing::push`] did with a span.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Pushed {
    /// Written; this many spans wait in the ring (counted with a head that may be old,
    /// so at most this many).
    Queued(usize),
    /// The ring has no free slot: the export thread is behind.
    Full,
    /// The thread's credits are used up (see the module docs).
    NoCredits,
    /// The processor shut down.
    Closed,
}

/// A single-producer, single-consumer ring of ended spans (see the module docs).
pub(crate) struct SpanRing {
    producer: Line<Producer>,
    consumer: Line<Consumer>,
    limit: Line<AtomicUsize>,
    closed: AtomicBool,
    mask: usize,
    slots: Box<[UnsafeCell<MaybeUninit<SpanData>>]>,
}

// SAFETY: the slots are shared by one writer (the thread that owns the ring's producer
// side: the batch processor keeps each ring in one thread's local storage and pushes
// only from there) and one reader (`drain`, which lets one caller at a time in). A slot
// is written only while it is not between `head` and `tail`, and read only while it is;
// `tail` and `head` are published with release stores and read with acquire loads.
unsafe impl Sync for SpanRing {}
// SAFETY: spans are `Send`; the ring owns them.
unsafe impl Send for SpanRing {}

impl SpanRing {
    /// A ring of `capacity` slots, rounded up to a power of two (at least 2). The slots
    /// are allocated but not touched: memory is committed as the ring is first written.
    pub(crate) fn new(capacity: usize) -> SpanRing {
        let capacity = capacity.max(2).next_power_of_two();
        let mut slots = Vec::with_capacity(capacity);
        // SAFETY: the elements are `MaybeUninit`, for which no bytes are invalid; none is
        // written here, so the pages stay untouched until the ring first uses them.
        unsafe { slots.set_len(capacity) };
        let slots = slots.into_boxed_slice();
        SpanRing {
            producer: Line(Producer {
                tail: AtomicUsize::new(0),
                head_seen: AtomicUsize::new(0),
            }),
            consumer: Line(Consumer {
                head: AtomicUsize::new(0),
                last_tail: AtomicUsize::new(0),
                draining: AtomicBool::new(false),
            }),
            limit: Line(AtomicUsize::new(0)),
            closed: AtomicBool::new(false),
            mask: capacity - 1,
            slots,
        }
    }

    /// How many slots the ring has.
    pub(crate) fn capacity(&self) -> usize {
        self.mask + 1
    }

    fn slot(&self, index: usize) -> *mut SpanData {
        self.slots[index & self.mask].get().cast()
    }

    /// Moves `span` into the next slot (leaving it owning nothing but, after the ring's
    /// first lap, the attribute vector of the span that had the slot before, cleared).
    /// Only the ring's own thread may call this.
    #[inline]
    pub(crate) fn push(&self, span: &mut SpanData) -> Pushed {
        let p = &self.producer.0;
        if self.closed.load(Ordering::Relaxed) {
            return Pushed::Closed;
        }
        let tail = p.tail.load(Ordering::Relaxed);
        let mut head = p.head_seen.load(Ordering::Relaxed);
        if tail - head > self.mask {
            head = self.refresh_head();
            if tail - head > self.mask {
                return Pushed::Full;
            }
        }
        if tail >= self.limit.0.load(Ordering::Relaxed) {
            return Pushed::NoCredits;
        }
        let slot = self.slot(tail);
        // SAFETY: the slot is outside `head..tail` (checked above), so the export thread
        // is done with it and nobody else writes it. In the first lap it holds nothing;
        // after that, a span the export thread let go, which owns nothing but its
        // attribute vector (see `release`): that vector is read out before the slot is
        // overwritten, so it is owned once, by `span`.
        unsafe {
            if tail > self.mask {
                let reused = addr_of!((*slot).attributes).read();
                span.move_to(slot);
                addr_of_mut!(span.attributes).write(reused);
            } else {
                span.move_to(slot);
            }
        }
        p.tail.store(tail + 1, Ordering::Release);
        self.fetch_ahead(tail, head);
        Pushed::Queued(tail + 1 - head)
    }

    /// Fetches for writing what the next spans write first: ring slots a few places on,
    /// and the attribute vector the span after next takes back from its slot.
    #[inline(always)]
    fn fetch_ahead(&self, tail: usize, head: usize) {
        prefetch::for_write(
            self.slot(tail + PREFETCH_SLOTS),
            std::mem::size_of::<SpanData>(),
        );
        let next = tail + 1;
        if next > self.mask && next - head <= self.mask {
            // SAFETY: slot `next` is let go (outside `head..tail`, as the check shows), so
            // it holds a released span and the export thread no longer touches it.
            let attributes = unsafe { &*addr_of!((*self.slot(next)).attributes) };
            prefetch::for_write(
                attributes.as_ptr(),
                PREFETCH_ATTRIBUTES * std::mem::size_of::<KeyValue>(),
            );
        }
    }

    /// Reads the export thread's progress anew; returns the new head.
    fn refresh_head(&self) -> usize {
        let head = self.consumer.0.head.load(Ordering::Acquire);
        self.producer.0.head_seen.store(head, Ordering::Relaxed);
        head
    }

    /// How many spans wait, with a fresh reading of the export thread's progress. Only
    /// the ring's own thread may call this.
    pub(crate) fn queued_now(&self) -> usize {
        let head = self.refresh_head();
        self.producer.0.tail.load(Ordering::Relaxed) - head
    }

    /// How many spans wait (from any thread; a snapshot).
    pub(crate) fn queued(&self) -> usize {
        let head = self.consumer.0.head.load(Ordering::Acquire);
        let tail = self.producer.0.tail.load(Ordering::Acquire);
        tail.saturating_sub(head)
    }

    /// Adds `credits` to what the thread may write.
    pub(crate) fn add_credits(&self, credits: usize) {
        self.limit.0.fetch_add(credits, Ordering::AcqRel);
    }

    /// Refuses further spans.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Whether the ring was closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Hands the waiting spans to `export` (as up to two runs, in the order written), then
    /// lets them go, keeping their attribute vectors in their slots; returns how many
    /// there were. One caller at a time: a second concurrent caller gets 0.
    pub(crate) fn drain(&self, export: impl FnOnce(&[SpanData], &[SpanData])) -> usize {
        let c = &self.consumer.0;
        if c.draining.swap(true, Ordering::Acquire) {
            return 0;
        }
        let head = c.head.load(Ordering::Relaxed);
        let tail = self.producer.0.tail.load(Ordering::Acquire);
        let count = tail - head;
        if count > 0 {
            let (start, end) = (head & self.mask, tail & self.mask);
            let base: *const SpanData = self.slots.as_ptr().cast();
            // SAFETY: slots `head..tail` were written (the acquire load of `tail` makes
            // the writes visible) and the writer does not touch them until `head` moves
            // past them, below. `UnsafeCell<MaybeUninit<T>>` has `T`'s layout.
            let (first, second) = unsafe {
                if start < end {
                    (std::slice::from_raw_parts(base.add(start), count), &[][..])
                } else {
                    (
                        std::slice::from_raw_parts(base.add(start), self.capacity() - start),
                        std::slice::from_raw_parts(base, end),
                    )
                }
            };
            export(first, second);
            for index in head..tail {
                if let Some(ahead) = index.checked_add(PREFETCH_SLOTS).filter(|a| *a < tail) {
                    // SAFETY: a written slot, as above.
                    let attributes = unsafe { &*addr_of!((*self.slot(ahead)).attributes) };
                    prefetch::for_read(
                        attributes.as_ptr(),
                        attributes.len() * std::mem::size_of::<KeyValue>(),
                    );
                }
                // SAFETY: a written slot, as above, and only this caller touches it.
                release(unsafe { &mut *self.slot(index) });
            }
            c.head.store(tail, Ordering::Release);
        }
        c.draining.store(false, Ordering::Release);
        count
    }

    /// After a round (the export thread only): credits the thread holds but did not use
    /// since the last round go back (all of them when `gone`, the thread having exited),
    /// and spans written past a lowered limit are counted owed. Returns
    /// `(credits back, credits owed)`.
    pub(crate) fn reconcile(&self, gone: bool) -> (usize, usize) {
        let c = &self.consumer.0;
        // The limit first: a thread that raises it after this reading fails the exchange.
        let limit = self.limit.0.load(Ordering::Acquire);
        let tail = self.producer.0.tail.load(Ordering::Acquire);
        let idle = gone || tail == c.last_tail.load(Ordering::Relaxed);
        c.last_tail.store(tail, Ordering::Relaxed);
        let exchange = || {
            self.limit
                .0
                .compare_exchange(limit, tail, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        };
        if tail > limit {
            if exchange() {
                return (0, tail - limit);
            }
        } else if idle && limit > tail && exchange() {
            return (limit - tail, 0);
        }
        (0, 0)
    }
}

/// Lets an exported span go, leaving in its place a span that owns only its attribute
/// vector, cleared (or none, if it grew too large to keep).
fn release(span: &mut SpanData) {
    let mut attributes = std::mem::take(&mut span.attributes);
    if (1..=KEEP_CAPACITY).contains(&attributes.capacity()) {
        crate::common::attribute::clear_attributes(&mut attributes);
    } else {
        attributes = Vec::new();
    }
    // SAFETY: `move_to` only needs somewhere to copy the span to; the copy is dropped
    // right away, which frees what the span owned, and leaves it owning nothing.
    unsafe {
        let mut gone = MaybeUninit::<SpanData>::uninit();
        span.move_to(gone.as_mut_ptr());
        gone.assume_init_drop();
    }
    span.attributes = attributes;
}

impl Drop for SpanRing {
    fn drop(&mut self) {
        let tail = *self.producer.0.tail.get_mut();
        // Every slot written at least once holds a span (waiting or let go).
        for index in 0..tail.min(self.capacity()) {
            // SAFETY: written, as above; nothing else can reach the ring now.
            unsafe { std::ptr::drop_in_place(self.slot(index)) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(attributes: Vec<KeyValue>) -> SpanData {
        SpanData {
            attributes,
            ..SpanData::empty()
        }
    }

    fn drain_all(ring: &SpanRing) -> Vec<SpanData> {
        let mut out = Vec::new();
        ring.drain(|a, b| out.extend(a.iter().chain(b).cloned()));
        out
    }

    #[test]
    fn a_slot_is_no_larger_than_the_batch_config_docs_say() {
        // `BatchConfig::max_queue_size` promises about 240 bytes a place.
        let size = std::mem::size_of::<SpanData>();
        assert!(size <= 256, "a span slot is {size} bytes");
    }

    #[test]
    fn spans_come_out_in_order_across_the_wrap_and_each_side_owns_its_copy() {
        let ring = SpanRing::new(4);
        ring.add_credits(100);
        let mut written = 0_i64;
        let mut read = Vec::new();
        for round in [3, 4, 1, 4, 2] {
            for _ in 0..round {
                let mut s = span(vec![KeyValue::new("n", written)]);
                s.name = format!("owned {written}").into();
                assert!(matches!(ring.push(&mut s), Pushed::Queued(_)));
                assert!(s.name.is_empty(), "the ring owns the name now");
                written += 1;
            }
            read.extend(drain_all(&ring));
        }
        let ns: Vec<_> = read.iter().map(|s| s.attributes[0].value.clone()).collect();
        let expected: Vec<_> = (0..written).map(crate::Value::I64).collect();
        assert_eq!(ns, expected);
        assert_eq!(read[13].name, "owned 13");
        assert_eq!(ring.queued(), 0);
    }

    #[test]
    fn a_full_ring_refuses_until_drained_and_credits_bound_it() {
        let ring = SpanRing::new(2);
        assert_eq!(ring.push(&mut span(vec![])), Pushed::NoCredits);
        ring.add_credits(3);
        assert_eq!(ring.push(&mut span(vec![])), Pushed::Queued(1));
        assert_eq!(ring.push(&mut span(vec![])), Pushed::Queued(2));
        assert_eq!(ring.push(&mut span(vec![])), Pushed::Full);
        assert_eq!(drain_all(&ring).len(), 2);
        assert_eq!(ring.push(&mut span(vec![])), Pushed::Queued(1));
        assert_eq!(ring.push(&mut span(vec![])), Pushed::NoCredits);
        ring.close();
        assert_eq!(ring.push(&mut span(vec![])), Pushed::Closed);
    }

    #[test]
    fn a_vector_comes_back_to_the_writer_on_the_next_lap_cleared() {
        let ring = SpanRing::new(2);
        ring.add_credits(10);
        let mut first = span(Vec::with_capacity(4));
        first.attributes.push(KeyValue::new("k", "v"));
        let kept = first.attributes.as_ptr();
        ring.push(&mut first);
        ring.push(&mut span(vec![]));
        drain_all(&ring);
        // The same slot, one lap on: the writer gets the first span's vector back.
        let mut third = span(vec![KeyValue::new("x", 1_i64)]);
        ring.push(&mut third);
        assert_eq!(third.attributes.as_ptr(), kept);
        assert!(third.attributes.is_empty() && third.attributes.capacity() == 4);
        // Large vectors are not kept.
        let mut big = span(Vec::with_capacity(KEEP_CAPACITY + 1));
        big.attributes.push(KeyValue::new("k", "v"));
        ring.push(&mut big);
        drain_all(&ring);
        ring.push(&mut span(vec![]));
        let mut after_big = span(vec![]);
        ring.push(&mut after_big);
        assert_eq!(after_big.attributes.capacity(), 0);
    }

    #[test]
    fn idle_credits_go_back_and_spans_past_a_lowered_limit_are_owed() {
        let ring = SpanRing::new(8);
        ring.add_credits(5);
        ring.push(&mut span(vec![]));
        // The thread wrote since the last round: it keeps its credits.
        assert_eq!(ring.reconcile(false), (0, 0));
        // No span in a whole round: the four unused credits go back.
        assert_eq!(ring.reconcile(false), (4, 0));
        assert_eq!(ring.push(&mut span(vec![])), Pushed::NoCredits);
        // A thread that read the old limit just before it was lowered writes one more
        // span: as if the check had passed.
        ring.add_credits(1);
        ring.push(&mut span(vec![]));
        ring.limit.0.store(1, Ordering::Relaxed);
        assert_eq!(ring.reconcile(false), (0, 1));
        assert_eq!(ring.push(&mut span(vec![])), Pushed::NoCredits);
        // A thread that exited gives back everything it held.
        ring.add_credits(3);
        assert_eq!(ring.reconcile(true), (3, 0));
    }
}
