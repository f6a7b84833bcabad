//! Base-2 exponential histogram aggregation (OpenTelemetry `ExponentialHistogram`).
//!
//! At scale `s` the bucket boundaries are the powers of `base = 2^(2^-s)`, and bucket
//! `i` holds magnitudes in `(base^i, base^(i+1)]` (upper-inclusive, as the spec says).
//! Positive and negative values share one scale. When a value would not fit in
//! `max_size` buckets, the scale drops by the minimum `k`, merging bucket `i` into
//! `i >> k`. Subnormal magnitudes are rounded up to `f64::MIN_POSITIVE`, which the
//! data model explicitly permits; it keeps every value in 2 buckets at scale -10.

use std::iter::once;

/// Finest supported scale: the index of `f64::MAX` (2^30 - 1) still fits in an `i32`.
pub const MAX_SCALE: i8 = 20;
/// Coarsest supported scale: every positive normal `f64` fits in two buckets there.
pub const MIN_SCALE: i8 = -10;
/// Default buckets per sign, as recommended by the OpenTelemetry SDK spec.
pub const DEFAULT_MAX_SIZE: usize = 160;

const MANTISSA_MASK: u64 = (1 << 52) - 1;
const EXP_BIAS: i64 = 1023;

/// `x * 2^e` for `x` in [1, 2] without `powi` rounding; saturates to inf / 0 far out of range.
fn ldexp(mut x: f64, mut e: i64) -> f64 {
    let pow2 = |e: i64| f64::from_bits(((e + EXP_BIAS) as u64) << 52); // e in [-1022, 1023]
    if e > 1025 {
        return f64::INFINITY;
    }
    if e < -1100 {
        return 0.0;
    }
    // Steps keep intermediates normal, so at most the final product rounds.
    while e > 1023 {
        x *= pow2(1023);
        e -= 1023;
    }
    while e < -1022 {
        x *= pow2(-1022);
        e += 1022;
    }
    x * pow2(e)
}

/// Boundary `2^(j / 2^scale)` inside the binade [1, 2], for `scale > 0` and `0 <= j <= 2^scale`.
fn binade_boundary(scale: i8, j: i64) -> f64 {
    let n = 1i64 << scale;
    if j >= n {
        2.0 // exact, so the top of each binade is exactly the next power of two
    } else {
        (j as f64 / n as f64).exp2()
    }
}

/// Bucket index of a finite magnitude `v > 0` at a scale in `MIN_SCALE..=MAX_SCALE`.
fn map_to_index(v: f64, scale: i8) -> i32 {
    // frexp by bit manipulation: v = m * 2^e with m in [1, 2).
    let bits = v.max(f64::MIN_POSITIVE).to_bits();
    let e = ((bits >> 52) & 0x7ff) as i64 - EXP_BIAS;
    let exact_pow2 = bits & MANTISSA_MASK == 0;
    if scale <= 0 {
        // Exact powers of two belong to the bucket below (upper-inclusive bounds).
        let idx0 = if exact_pow2 { e - 1 } else { e };
        return (idx0 >> scale.unsigned_abs()) as i32;
    }
    if exact_pow2 {
        return ((e << scale) - 1) as i32;
    }
    // Logarithm method on the significand only: the exponent part of the index is exact,
    // and log2 of a value in (1, 2) has an absolute error far below the bucket width.
    let m = f64::from_bits((EXP_BIAS as u64) << 52 | (bits & MANTISSA_MASK));
    let n = 1i64 << scale;
    let x = m.log2() * n as f64;
    let mut j = (x.ceil() as i64 - 1).clamp(0, n - 1);
    // log2 can be an ulp off; near a boundary, settle against the exact boundaries that
    // `lower_boundary` reports so mapping and boundaries always agree.
    if (x - x.round()).abs() < 1e-6 {
        while j > 0 && m <= binade_boundary(scale, j) {
            j -= 1;
        }
        while j < n - 1 && m > binade_boundary(scale, j + 1) {
            j += 1;
        }
    }
    ((e << scale) + j) as i32
}

/// Floor-shift of a bucket index by `k` (index `i` at scale `s` is `i >> k` at `s - k`).
fn shr(idx: i64, k: u32) -> i64 {
    idx >> k.min(63)
}

/// How much a scale must drop to reach `to` (0 if it is already there or below).
fn diff(from: i8, to: i8) -> u32 {
    (i32::from(from) - i32::from(to)).max(0) as u32
}

/// Index range `(lo, hi)` after downscaling by `k`.
fn at(r: Option<(i64, i64)>, k: u32) -> Option<(i64, i64)> {
    r.map(|(lo, hi)| (shr(lo, k), shr(hi, k)))
}

/// Smallest range covering both inputs.
fn union(a: Option<(i64, i64)>, b: Option<(i64, i64)>) -> Option<(i64, i64)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.0.min(b.0), a.1.max(b.1))),
        (a, b) => a.or(b),
    }
}

/// Smallest `k <= max_k` such that both index ranges fit in `max_size` buckets at scale - k.
fn needed_downscale(ranges: [Option<(i64, i64)>; 2], max_size: usize, max_k: u32) -> u32 {
    let fits = |k: u32| {
        ranges
            .iter()
            .flatten()
            .all(|&(lo, hi)| ((shr(hi, k) - shr(lo, k)) as u64) < max_size as u64)
    };
    (0..=max_k).find(|&k| fits(k)).unwrap_or(max_k)
}

/// Mutable, single-writer state (callers wrap it in a Mutex per shard).
#[derive(Debug, Clone)]
pub struct ExpoHistogramState {
    max_size: usize,
    max_scale: i8,
    scale: i8,
    count: u64,
    zero_count: u64,
    sum: f64,
    min: f64,
    max: f64,
    // Invariant: no leading/trailing zero buckets, so the ends give the range in O(1).
    positive: ExpoBuckets,
    negative: ExpoBuckets,
}

impl Default for ExpoHistogramState {
    /// Spec defaults: 160 buckets per sign, starting at the finest scale (20).
    fn default() -> Self {
        Self::new(DEFAULT_MAX_SIZE, MAX_SCALE)
    }
}

impl ExpoHistogramState {
    /// Empty state; `max_size` is clamped to >= 2 and `max_scale` to `[-10, 20]` so indices fit.
    pub fn new(max_size: usize, max_scale: i8) -> Self {
        let max_scale = max_scale.clamp(MIN_SCALE, MAX_SCALE);
        Self {
            max_size: max_size.max(2),
            max_scale,
            scale: max_scale,
            count: 0,
            zero_count: 0,
            sum: 0.0,
            min: 0.0,
            max: 0.0,
            positive: ExpoBuckets::default(),
            negative: ExpoBuckets::default(),
        }
    }

    /// Records one value, downscaling if needed; returns false (and ignores it) if not finite.
    pub fn record(&mut self, v: f64) -> bool {
        if !v.is_finite() {
            return false;
        }
        if self.count == 0 {
            (self.min, self.max) = (v, v);
        } else {
            (self.min, self.max) = (self.min.min(v), self.max.max(v));
        }
        self.count = self.count.saturating_add(1);
        self.sum += v;
        if v == 0.0 {
            self.zero_count = self.zero_count.saturating_add(1);
            return true;
        }
        let mut idx = i64::from(map_to_index(v.abs(), self.scale));
        let (this, other) = if v > 0.0 {
            (&self.positive, &self.negative)
        } else {
            (&self.negative, &self.positive)
        };
        if !this.covers(idx) {
            let ranges = [union(this.ends(), Some((idx, idx))), other.ends()];
            let k = needed_downscale(ranges, self.max_size, diff(self.scale, MIN_SCALE));
            if k > 0 {
                self.positive = self.positive.downscaled(k);
                self.negative = self.negative.downscaled(k);
                self.scale = (i32::from(self.scale) - k as i32) as i8;
                idx = shr(idx, k);
            }
        }
        let target = if v > 0.0 {
            &mut self.positive
        } else {
            &mut self.negative
        };
        target.add(idx, 1);
        true
    }

    /// Copy of the current cumulative state, for export or merging across shards.
    pub fn snapshot(&self) -> ExpoSnapshot {
        let has_data = self.count > 0;
        ExpoSnapshot {
            scale: self.scale,
            zero_count: self.zero_count,
            positive: self.positive.clone(),
            negative: self.negative.clone(),
            count: self.count,
            sum: self.sum,
            min: has_data.then_some(self.min),
            max: has_data.then_some(self.max),
        }
    }

    /// Back to empty at `max_scale`, keeping allocations for reuse.
    pub fn reset(&mut self) {
        self.scale = self.max_scale;
        (self.count, self.zero_count) = (0, 0);
        (self.sum, self.min, self.max) = (0.0, 0.0, 0.0);
        for b in [&mut self.positive, &mut self.negative] {
            b.offset = 0;
            b.counts.clear();
        }
    }
}

/// Bucket counts for one sign; `counts[i]` counts bucket index `offset + i`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpoBuckets {
    /// Bucket index of `counts[0]`.
    pub offset: i32,
    /// Per-bucket counts; leading/trailing zeros are allowed but not produced by the state.
    pub counts: Vec<u64>,
}

impl ExpoBuckets {
    /// Non-zero buckets as `(index, count)`, ascending by index.
    fn nonzero(&self) -> impl DoubleEndedIterator<Item = (i64, u64)> + '_ {
        let off = i64::from(self.offset);
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, &c)| c != 0)
            .map(move |(i, &c)| (off + i as i64, c))
    }

    /// Sum of all counts (saturating, so garbage input cannot panic).
    fn total(&self) -> u64 {
        self.counts.iter().fold(0, |a, &c| a.saturating_add(c))
    }

    /// First and last index with a non-zero count.
    fn nonzero_range(&self) -> Option<(i64, i64)> {
        let mut it = self.nonzero();
        let lo = it.next()?.0;
        Some((lo, it.next_back().map_or(lo, |(i, _)| i)))
    }

    /// Index range of a trimmed vector (O(1); the state keeps its buckets trimmed).
    fn ends(&self) -> Option<(i64, i64)> {
        let off = i64::from(self.offset);
        (!self.counts.is_empty()).then(|| (off, off + self.counts.len() as i64 - 1))
    }

    /// Whether `idx` already has a slot, i.e. recording it needs no growth.
    fn covers(&self, idx: i64) -> bool {
        let rel = idx - i64::from(self.offset);
        rel >= 0 && (rel as u64) < self.counts.len() as u64
    }

    /// Zeroed buckets spanning `range` (empty if `None`).
    fn with_span(range: Option<(i64, i64)>) -> Self {
        range.map_or_else(Self::default, |(lo, hi)| Self {
            offset: lo as i32,
            counts: vec![0; (hi - lo + 1) as usize],
        })
    }

    /// Adds `c` at `idx`, growing the vector at either end as needed.
    fn add(&mut self, idx: i64, c: u64) {
        if self.counts.is_empty() {
            self.offset = idx as i32;
        } else if idx < i64::from(self.offset) {
            let grow = (i64::from(self.offset) - idx) as usize;
            self.counts.resize(self.counts.len() + grow, 0);
            self.counts.rotate_right(grow);
            self.offset = idx as i32;
        }
        let rel = (idx - i64::from(self.offset)) as usize;
        if rel >= self.counts.len() {
            self.counts.resize(rel + 1, 0);
        }
        self.counts[rel] = self.counts[rel].saturating_add(c);
    }

    /// Adds (or subtracts, saturating) `src`'s counts downscaled by `k`; out-of-span ones are dropped.
    fn fold_in(&mut self, src: &ExpoBuckets, k: u32, subtract: bool) {
        let off = i64::from(self.offset);
        for (idx, c) in src.nonzero() {
            let rel = shr(idx, k) - off;
            if let Some(slot) = usize::try_from(rel)
                .ok()
                .and_then(|r| self.counts.get_mut(r))
            {
                *slot = if subtract {
                    slot.saturating_sub(c)
                } else {
                    slot.saturating_add(c)
                };
            }
        }
    }

    /// Copy at a scale `k` lower, trimmed.
    fn downscaled(&self, k: u32) -> Self {
        let mut out = Self::with_span(at(self.nonzero_range(), k));
        out.fold_in(self, k, false);
        out
    }

    /// Drops leading and trailing zero buckets.
    fn trim(&mut self) {
        let Some((lo, hi)) = self.nonzero_range() else {
            *self = Self::default();
            return;
        };
        let off = i64::from(self.offset);
        self.counts.truncate((hi - off + 1) as usize);
        self.counts.drain(..(lo - off) as usize);
        self.offset = lo as i32;
    }
}

/// A point-in-time copy, the shape exporters need (OTLP ExponentialHistogramDataPoint).
#[derive(Debug, Clone, PartialEq)]
pub struct ExpoSnapshot {
    /// Resolution: boundaries are powers of `2^(2^-scale)`.
    pub scale: i8,
    /// Count of values whose magnitude is exactly zero.
    pub zero_count: u64,
    /// Buckets of positive values.
    pub positive: ExpoBuckets,
    /// Buckets of negative values, indexed by magnitude.
    pub negative: ExpoBuckets,
    /// Number of recorded values (zero_count plus all bucket counts).
    pub count: u64,
    /// Sum of recorded values.
    pub sum: f64,
    /// Smallest recorded value; `None` when empty or for a delta.
    pub min: Option<f64>,
    /// Largest recorded value; `None` when empty or for a delta.
    pub max: Option<f64>,
}

impl ExpoSnapshot {
    /// An empty snapshot at `scale`, the neutral starting point for `merge`.
    pub fn empty(scale: i8) -> Self {
        Self {
            scale,
            zero_count: 0,
            positive: ExpoBuckets::default(),
            negative: ExpoBuckets::default(),
            count: 0,
            sum: 0.0,
            min: None,
            max: None,
        }
    }

    /// Whether any bucket (of either sign) has a non-zero count.
    fn has_buckets(&self) -> bool {
        self.positive
            .counts
            .iter()
            .chain(&self.negative.counts)
            .any(|&c| c != 0)
    }

    /// Merge another snapshot into self (used to combine per-thread shards). Either may have the larger scale; the result uses the smaller scale, further reduced if needed so each sign fits in `max_size` buckets.
    ///
    /// A side with no bucket counts does not constrain the scale (nothing of it needs
    /// rescaling), so `ExpoSnapshot::empty(_)` is a neutral element.
    pub fn merge(&mut self, other: &ExpoSnapshot, max_size: usize) {
        let scale = match (self.has_buckets(), other.has_buckets()) {
            (true, false) => self.scale,
            (false, true) => other.scale,
            _ => self.scale.min(other.scale),
        };
        let (ks, ko) = (diff(self.scale, scale), diff(other.scale, scale));
        let span = |a: &ExpoBuckets, b: &ExpoBuckets, k: u32| {
            union(at(a.nonzero_range(), ks + k), at(b.nonzero_range(), ko + k))
        };
        let ranges = [
            span(&self.positive, &other.positive, 0),
            span(&self.negative, &other.negative, 0),
        ];
        let k = needed_downscale(ranges, max_size.max(2), diff(scale, MIN_SCALE));
        let combine = |a: &ExpoBuckets, b: &ExpoBuckets| {
            let mut out = ExpoBuckets::with_span(span(a, b, k));
            out.fold_in(a, ks + k, false);
            out.fold_in(b, ko + k, false);
            out
        };
        self.positive = combine(&self.positive, &other.positive);
        self.negative = combine(&self.negative, &other.negative);
        self.scale = (i32::from(scale) - k as i32) as i8;
        self.zero_count = self.zero_count.saturating_add(other.zero_count);
        self.count = self.count.saturating_add(other.count);
        self.sum += other.sum;
        self.min = self.min.into_iter().chain(other.min).reduce(f64::min);
        self.max = self.max.into_iter().chain(other.max).reduce(f64::max);
    }

    /// Delta between this cumulative snapshot and an earlier cumulative snapshot `prev` of the same series (prev.scale >= self.scale because scale only decreases). Result: counts, sum, zero_count subtracted (saturating), min/max set to None (they cannot be derived for a delta).
    pub fn delta_since(&self, prev: &ExpoSnapshot) -> ExpoSnapshot {
        let scale = if prev.has_buckets() {
            self.scale.min(prev.scale)
        } else {
            self.scale
        };
        let (ks, kp) = (diff(self.scale, scale), diff(prev.scale, scale));
        let sub = |cur: &ExpoBuckets, old: &ExpoBuckets| {
            let mut out = cur.downscaled(ks);
            out.fold_in(old, kp, true);
            out.trim();
            out
        };
        ExpoSnapshot {
            scale,
            zero_count: self.zero_count.saturating_sub(prev.zero_count),
            positive: sub(&self.positive, &prev.positive),
            negative: sub(&self.negative, &prev.negative),
            count: self.count.saturating_sub(prev.count),
            sum: self.sum - prev.sum,
            min: None,
            max: None,
        }
    }

    /// Estimate the q-quantile (0.0..=1.0) from the buckets: find the bucket holding the rank and return a point inside it, clamped to [min, max] when known. None if count == 0 or q is out of range/NaN.
    ///
    /// A bucket holding `c` values is modelled as those values spread evenly in log space,
    /// the `r`-th at `(r + 0.5) / c` of the way through it: a one-value bucket yields its
    /// geometric midpoint, and a crowded one is interpolated, which keeps the error well
    /// under half a bucket width. q = 0 / q = 1 return the exact min / max when known.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        if self.count == 0 || !(0.0..=1.0).contains(&q) {
            return None;
        }
        if q == 0.0 && self.min.is_some() {
            return self.min;
        }
        if q == 1.0 && self.max.is_some() {
            return self.max;
        }
        let total = self
            .zero_count
            .saturating_add(self.positive.total())
            .saturating_add(self.negative.total());
        if total == 0 {
            return None;
        }
        // 0-based rank of the wanted value among all values in ascending order.
        let rank = (q * (total - 1) as f64).round() as u64;
        // Ascending order: largest negative magnitudes first, then zero, then positives.
        let slots = (self.negative.nonzero().rev().map(|(i, c)| (-1, i, c)))
            .chain(once((0, 0, self.zero_count)))
            .chain(self.positive.nonzero().map(|(i, c)| (1, i, c)));
        let mut seen = 0u64;
        for (sign, idx, c) in slots {
            if rank >= seen.saturating_add(c) {
                seen = seen.saturating_add(c);
                continue;
            }
            let frac = ((rank - seen) as f64 + 0.5) / c as f64;
            let v = match sign {
                0 => 0.0,
                1 => self.point_in(idx, frac),
                _ => -self.point_in(idx, 1.0 - frac), // ascending values = descending magnitudes
            };
            // Not f64::clamp: it panics if min > max, which a hand-made snapshot could hold.
            let v = self.min.map_or(v, |m| v.max(m));
            return Some(self.max.map_or(v, |m| v.min(m)));
        }
        self.max
    }

    /// Magnitude `frac` of the way (in log space) through bucket `idx`, capped to finite.
    fn point_in(&self, idx: i64, frac: f64) -> f64 {
        let scale = self.scale.clamp(MIN_SCALE, MAX_SCALE);
        let lb = Self::lower_boundary(scale, idx as i32);
        let v = lb * (frac * (-f64::from(scale)).exp2()).exp2();
        v.min(f64::MAX)
    }

    /// Lower boundary of bucket `index` at this scale: base^index.
    ///
    /// Exact at scale <= 0; within an ulp above that (and exactly the boundary `record`
    /// maps against). `scale` is clamped to [-10, 20]; results saturate to 0 / inf.
    pub fn lower_boundary(scale: i8, index: i32) -> f64 {
        let scale = scale.clamp(MIN_SCALE, MAX_SCALE);
        let index = i64::from(index);
        if scale <= 0 {
            return ldexp(1.0, index << scale.unsigned_abs());
        }
        let (q, r) = (index >> scale, index & ((1 << scale) - 1));
        ldexp(binade_boundary(scale, r), q)
    }
}

#[cfg(test)]
mod tests;
