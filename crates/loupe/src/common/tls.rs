//! Per-thread helpers for the recording hot path.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_THREAD_INDEX: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // `const` initialisation makes each access a plain thread-pointer-relative load.
    static THREAD_INDEX: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// A small number that differs between concurrently running threads (assigned round-robin
/// on first use). Striped cells use it to pick a shard, so two threads never share one.
#[inline]
pub(crate) fn thread_index() -> usize {
    THREAD_INDEX
        .try_with(|cell| {
            let index = cell.get();
            if index != usize::MAX {
                return index;
            }
            let index = NEXT_THREAD_INDEX.fetch_add(1, Ordering::Relaxed);
            cell.set(index);
            index
        })
        // During thread teardown the slot is gone; any shard is correct, just slower.
        .unwrap_or(0)
}

/// Cache-line padding so neighbouring atomics written by different threads do not share a
/// line (128 bytes: x86 prefetches line pairs).
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Padded<T>(pub T);

impl<T> std::ops::Deref for Padded<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

/// The most shards a striped cell has.
pub(crate) const MAX_SHARDS: usize = 8;

/// How many shards striped cells use: a power of two, twice the parallelism so
/// round-robin thread indices rarely collide, but at most [`MAX_SHARDS`].
///
/// Every series of every instrument carries this many padded shards, so the cap is what
/// bounds memory on large hosts: at 64 shards a counter series took 8 KiB and an
/// explicit-bucket histogram series about 17 KiB (34 MiB for one histogram at the default
/// cardinality limit of 2000). At 8, past 8 threads recording the very same series at
/// once, some share a shard (a contended atomic add, still no lock).
pub(crate) fn shard_count() -> usize {
    static COUNT: AtomicUsize = AtomicUsize::new(0);
    let cached = COUNT.load(Ordering::Relaxed);
    if cached != 0 {
        return cached;
    }
    let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
    let count = (cpus * 2).next_power_of_two().clamp(2, MAX_SHARDS);
    COUNT.store(count, Ordering::Relaxed);
    count
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn striped_cells_have_a_power_of_two_of_shards_within_the_cap() {
        let n = shard_count();
        assert!(n.is_power_of_two() && (2..=MAX_SHARDS).contains(&n), "{n}");
        let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
        assert!(
            n >= (2 * cpus).min(MAX_SHARDS),
            "{n} shards for {cpus} CPUs"
        );
    }
}
