//! Recording cells: where measurements land. Every cell is striped across cache-line-padded
//! shards picked by thread, so threads recording the same series never share a line.

use super::exponential::{ExpoHistogramState, ExpoSnapshot};
use crate::common::tls::{shard_count, thread_index, Padded};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

fn shards<T>(make: impl Fn() -> T) -> (Box<[Padded<T>]>, usize) {
    let n = shard_count();
    ((0..n).map(|_| Padded(make())).collect(), n - 1)
}

/// A striped 64-bit sum. Integers add with wrapping arithmetic (i64 as two's complement);
/// floats add through a compare-and-swap on the bit pattern (uncontended per shard).
pub(crate) struct StripedSum {
    cells: Box<[Padded<AtomicU64>]>,
    mask: usize,
}

impl StripedSum {
    pub(crate) fn new() -> Self {
        let (cells, mask) = shards(|| AtomicU64::new(0));
        StripedSum { cells, mask }
    }

    #[inline]
    fn cell(&self) -> &AtomicU64 {
        // `mask` is `len - 1` of a power-of-two length: the index is always in bounds.
        &self.cells[thread_index() & self.mask]
    }

    #[inline]
    pub(crate) fn add_int(&self, v: u64) {
        self.cell().fetch_add(v, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn add_float(&self, v: f64) {
        let cell = self.cell();
        let mut current = cell.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(current) + v).to_bits();
            match cell.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(actual) => current = actual,
            }
        }
    }

    pub(crate) fn int_total(&self) -> u64 {
        self.cells
            .iter()
            .fold(0u64, |acc, c| acc.wrapping_add(c.load(Ordering::Relaxed)))
    }

    pub(crate) fn float_total(&self) -> f64 {
        self.cells
            .iter()
            .map(|c| f64::from_bits(c.load(Ordering::Relaxed)))
            .sum()
    }
}

/// The last value recorded (gauges, and observable instruments' latest observation).
pub(crate) struct LastValue {
    bits: AtomicU64,
    has_value: AtomicBool,
}

impl LastValue {
    pub(crate) fn new() -> Self {
        LastValue {
            bits: AtomicU64::new(0),
            has_value: AtomicBool::new(false),
        }
    }

    #[inline]
    pub(crate) fn set(&self, bits: u64) {
        self.bits.store(bits, Ordering::Relaxed);
        self.has_value.store(true, Ordering::Release);
    }

    pub(crate) fn get(&self) -> Option<u64> {
        self.has_value
            .load(Ordering::Acquire)
            .then(|| self.bits.load(Ordering::Relaxed))
    }

    pub(crate) fn clear(&self) {
        self.has_value.store(false, Ordering::Release);
    }
}

struct HistShard {
    counts: Box<[AtomicU64]>,
    count: AtomicU64,
    sum: AtomicU64,
    min: AtomicU64,
    max: AtomicU64,
}

fn fetch_update_f64(cell: &AtomicU64, v: f64, keep: impl Fn(f64, f64) -> bool) {
    let mut current = cell.load(Ordering::Relaxed);
    while !keep(f64::from_bits(current), v) {
        match cell.compare_exchange_weak(current, v.to_bits(), Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

/// A point-in-time copy of an explicit-bucket histogram.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct HistSnapshot {
    pub(crate) counts: Vec<u64>,
    pub(crate) count: u64,
    pub(crate) sum: f64,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
}

/// An explicit-bucket histogram: bucket `i` counts values in `(bounds[i-1], bounds[i]]`,
/// the last bucket everything above the last bound.
pub(crate) struct HistogramCells {
    bounds: Arc<[f64]>,
    shards: Box<[Padded<HistShard>]>,
    mask: usize,
}

impl HistogramCells {
    pub(crate) fn new(bounds: Arc<[f64]>) -> Self {
        let buckets = bounds.len() + 1;
        let (shards, mask) = shards(|| HistShard {
            counts: (0..buckets).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum: AtomicU64::new(0f64.to_bits()),
            min: AtomicU64::new(f64::INFINITY.to_bits()),
            max: AtomicU64::new(f64::NEG_INFINITY.to_bits()),
        });
        HistogramCells {
            bounds,
            shards,
            mask,
        }
    }

    #[inline]
    pub(crate) fn record(&self, v: f64) {
        let bucket = self.bounds.partition_point(|b| *b < v);
        let shard = &self.shards[thread_index() & self.mask];
        if let Some(c) = shard.counts.get(bucket) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        shard.count.fetch_add(1, Ordering::Relaxed);
        let mut sum = shard.sum.load(Ordering::Relaxed);
        loop {
            let next = (f64::from_bits(sum) + v).to_bits();
            match shard
                .sum
                .compare_exchange_weak(sum, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => break,
                Err(actual) => sum = actual,
            }
        }
        fetch_update_f64(&shard.min, v, |cur, v| cur <= v);
        fetch_update_f64(&shard.max, v, |cur, v| cur >= v);
    }

    pub(crate) fn bounds(&self) -> &Arc<[f64]> {
        &self.bounds
    }

    pub(crate) fn snapshot(&self) -> HistSnapshot {
        let mut snap = HistSnapshot {
            counts: vec![0; self.bounds.len() + 1],
            count: 0,
            sum: 0.0,
            min: None,
            max: None,
        };
        for shard in self.shards.iter() {
            for (total, c) in snap.counts.iter_mut().zip(shard.counts.iter()) {
                *total += c.load(Ordering::Relaxed);
            }
            snap.count += shard.count.load(Ordering::Relaxed);
            snap.sum += f64::from_bits(shard.sum.load(Ordering::Relaxed));
            let (min, max) = (
                f64::from_bits(shard.min.load(Ordering::Relaxed)),
                f64::from_bits(shard.max.load(Ordering::Relaxed)),
            );
            if min.is_finite() {
                snap.min = Some(snap.min.map_or(min, |m| m.min(min)));
            }
            if max.is_finite() {
                snap.max = Some(snap.max.map_or(max, |m| m.max(max)));
            }
        }
        snap
    }
}

/// A base-2 exponential histogram, one state per shard (uncontended locks), merged on read.
pub(crate) struct ExponentialCells {
    shards: Box<[Padded<Mutex<ExpoHistogramState>>]>,
    mask: usize,
    max_size: usize,
}

impl ExponentialCells {
    pub(crate) fn new(max_size: usize, max_scale: i8) -> Self {
        let (shards, mask) = shards(|| Mutex::new(ExpoHistogramState::new(max_size, max_scale)));
        ExponentialCells {
            shards,
            mask,
            max_size,
        }
    }

    #[inline]
    pub(crate) fn record(&self, v: f64) {
        let shard = &self.shards[thread_index() & self.mask];
        shard.lock().unwrap_or_else(|p| p.into_inner()).record(v);
    }

    pub(crate) fn snapshot(&self) -> ExpoSnapshot {
        let mut merged: Option<ExpoSnapshot> = None;
        for shard in self.shards.iter() {
            let snap = shard.lock().unwrap_or_else(|p| p.into_inner()).snapshot();
            match &mut merged {
                None => merged = Some(snap),
                Some(m) => m.merge(&snap, self.max_size),
            }
        }
        merged.unwrap_or_else(|| ExpoSnapshot::empty(20))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn striped_sums_add_across_threads() {
        let sum = Arc::new(StripedSum::new());
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let sum = Arc::clone(&sum);
                std::thread::spawn(move || (0..10_000).for_each(|_| sum.add_int(1)))
            })
            .collect();
        handles.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(sum.int_total(), 40_000);
        let f = StripedSum::new();
        f.add_float(0.5);
        f.add_float(0.25);
        assert_eq!(f.float_total(), 0.75);
    }

    #[test]
    fn histogram_buckets_are_upper_inclusive() {
        let h = HistogramCells::new(Arc::from(vec![1.0, 2.0]));
        for v in [0.5, 1.0, 1.5, 2.0, 3.0] {
            h.record(v);
        }
        let s = h.snapshot();
        assert_eq!(s.counts, vec![2, 2, 1]);
        assert_eq!(
            (s.count, s.sum, s.min, s.max),
            (5, 8.0, Some(0.5), Some(3.0))
        );
    }
}
