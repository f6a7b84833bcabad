//! Recycled log records.
//!
//! A record is logged on the application's thread and dropped on a sink's thread. With
//! one allocation for the shared record and one for its fields, every record cost two
//! `malloc`s on one thread and two `free`s on another; in bursts the allocator handed the
//! freed memory back to the kernel and took fresh, zeroed pages for the next burst. The
//! sink threads now give finished records back here, their field vectors emptied but
//! keeping their capacity, and `Logger` fills them in place.
//!
//! Bounded: no more records wait here than the largest sink queue of any logger
//! provider can hold (2048 by default; see [`allow`]), at most [`POOL_MAX`], plus a few
//! per logging thread. A record whose field vector grew beyond [`MAX_KEPT_FIELDS`] is
//! freed instead. So what the pool keeps is what the queues were configured to hold.

use super::{LogRecord, Severity};
use crate::common::attribute::Value;
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// The most records kept for reuse, across every logger provider, whatever the queues.
pub(crate) const POOL_MAX: usize = 1 << 16;
/// A record whose field vector can hold more than this is not kept.
pub(crate) const MAX_KEPT_FIELDS: usize = 32;
/// How many records a logging thread takes from the pool at once.
const TAKE: usize = 64;

static POOL: Mutex<Vec<Arc<LogRecord>>> = Mutex::new(Vec::new());
/// How many records the pool keeps: the largest queue a provider was built with.
static LIMIT: AtomicUsize = AtomicUsize::new(0);

/// Lets the pool keep up to `queue_size` records (a provider with that queue size was
/// built), within [`POOL_MAX`].
pub(crate) fn allow(queue_size: usize) {
    LIMIT.fetch_max(queue_size.min(POOL_MAX), Ordering::Relaxed);
}

thread_local! {
    static CACHE: RefCell<Vec<Arc<LogRecord>>> = const { RefCell::new(Vec::new()) };
}

/// A recycled record nobody else holds, with no fields, body or event name; `None` when
/// the pool is empty.
pub(crate) fn take() -> Option<Arc<LogRecord>> {
    CACHE
        .try_with(|cache| {
            let mut cache = cache.try_borrow_mut().ok()?;
            if cache.is_empty() {
                let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
                let from = pool.len().saturating_sub(TAKE);
                cache.extend(pool.drain(from..));
            }
            cache.pop()
        })
        .ok()
        .flatten()
}

/// A record observed now with `severity` and `body`, then completed by `fill`: a
/// recycled one when the pool has one, else a new one.
pub(crate) fn record(
    severity: Severity,
    body: Value,
    fill: impl FnOnce(&mut LogRecord),
) -> Arc<LogRecord> {
    if let Some(mut record) = take() {
        if let Some(r) = Arc::get_mut(&mut record) {
            r.refill(severity, body);
            fill(r);
            return record;
        }
    }
    let mut r = LogRecord::new(severity, body);
    fill(&mut r);
    Arc::new(r)
}

/// Empties `record` for reuse when this is its last holder and it is small enough to
/// keep; `false` leaves it alone (another sink still holds it, or it is too big).
pub(crate) fn reset(record: &mut Arc<LogRecord>) -> bool {
    match Arc::get_mut(record) {
        Some(r) if r.attributes.capacity() <= MAX_KEPT_FIELDS => {
            crate::common::attribute::clear_attributes(&mut r.attributes);
            r.body = None;
            r.event_name = None;
            true
        }
        _ => false,
    }
}

/// Gives `records` (each emptied by [`reset`]) back to the pool, keeping what fits
/// under the limit and freeing the rest. Leaves `records` empty.
pub(crate) fn give_back(records: &mut Vec<Arc<LogRecord>>) {
    if records.is_empty() {
        return;
    }
    let mut pool = POOL.lock().unwrap_or_else(PoisonError::into_inner);
    let room = LIMIT.load(Ordering::Relaxed).saturating_sub(pool.len());
    let keep = records.len().min(room);
    pool.extend(records.drain(..keep));
    drop(pool);
    records.clear();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::KeyValue;

    #[test]
    fn only_unshared_small_records_are_recycled() {
        let mut shared = Arc::new(LogRecord::new(Severity::Info, "x"));
        let other = Arc::clone(&shared);
        assert!(!reset(&mut shared), "another holder still reads it");
        drop(other);
        assert!(reset(&mut shared));
        assert!(shared.body.is_none() && shared.attributes.is_empty());

        // Fields that own memory and fields that own nothing are both cleared, and the
        // vector keeps its room.
        for fields in [
            vec![KeyValue::new("static", "static"), KeyValue::new("n", 1)],
            vec![
                KeyValue::new("static", "static"),
                KeyValue::new(String::from("key"), String::from("owned")),
            ],
        ] {
            let mut record = LogRecord::new(Severity::Info, "x");
            record.attributes = fields;
            let mut record = Arc::new(record);
            assert!(reset(&mut record));
            assert!(record.attributes.is_empty() && record.attributes.capacity() >= 2);
        }

        let mut big = LogRecord::new(Severity::Info, "x");
        big.attributes.reserve(MAX_KEPT_FIELDS + 1);
        assert!(!reset(&mut Arc::new(big)));
    }

    #[test]
    fn the_pool_is_bounded_and_handed_out_again() {
        // Other tests log concurrently, so only bounds are asserted, plus that a record
        // given back on this thread's turn can come out again.
        allow(usize::MAX);
        let mut records: Vec<_> = (0..POOL_MAX + 10)
            .map(|_| Arc::new(LogRecord::new(Severity::Info, "x")))
            .collect();
        for r in &mut records {
            assert!(reset(r));
        }
        give_back(&mut records);
        assert!(records.is_empty());
        assert!(POOL.lock().unwrap().len() <= POOL_MAX);
        let taken = take().expect("the pool was just filled");
        assert_eq!(Arc::strong_count(&taken), 1);
        assert!(taken.body.is_none());
    }
}
