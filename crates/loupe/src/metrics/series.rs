//! Attribute sets → series, with the cardinality limit and a per-thread lookup cache.
//!
//! The dynamic recording path (`counter.add(1, &attrs)`) hashes the attributes without
//! allocating (order-insensitively), then checks a small direct-mapped per-thread cache.
//! Only a miss takes the instrument's read lock; only a new attribute set takes the write
//! lock. Past the cardinality limit, new sets fold into one overflow series.

use super::cells::{ExponentialCells, HistogramCells, LastValue, StripedSum};
use crate::common::attribute::{normalize, KeyValue, Value};
use crate::common::stats::sdk_stats;
use rustc_hash::{FxHashMap, FxHasher};
use std::borrow::Cow;
use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

/// How an instrument aggregates its measurements.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum AggregationKind {
    IntSum,
    FloatSum,
    LastValue,
    Histogram(Arc<[f64]>),
    Exponential { max_size: usize, max_scale: i8 },
}

pub(crate) enum Aggregator {
    Sum(StripedSum),
    LastValue(LastValue),
    Histogram(HistogramCells),
    Exponential(ExponentialCells),
}

impl Aggregator {
    fn new(kind: &AggregationKind) -> Self {
        match kind {
            AggregationKind::IntSum | AggregationKind::FloatSum => {
                Aggregator::Sum(StripedSum::new())
            }
            AggregationKind::LastValue => Aggregator::LastValue(LastValue::new()),
            AggregationKind::Histogram(bounds) => {
                Aggregator::Histogram(HistogramCells::new(Arc::clone(bounds)))
            }
            AggregationKind::Exponential {
                max_size,
                max_scale,
            } => Aggregator::Exponential(ExponentialCells::new(*max_size, *max_scale)),
        }
    }
}

/// One attribute set of one instrument and its cells.
pub(crate) struct Series {
    pub(crate) id: u64,
    pub(crate) attributes: Arc<[KeyValue]>,
    pub(crate) start_time: SystemTime,
    pub(crate) agg: Aggregator,
}

impl Series {
    /// Whether `attrs` (in any order, without duplicates) is this series' attribute set.
    #[inline]
    fn matches(&self, attrs: &[KeyValue]) -> bool {
        if attrs.len() != self.attributes.len() {
            return false;
        }
        // Callers usually pass attributes in the same order every time.
        if attrs
            .iter()
            .zip(self.attributes.iter())
            .all(|(a, b)| kv_eq(a, b))
        {
            return true;
        }
        attrs
            .iter()
            .all(|kv| self.attributes.iter().any(|s| kv_eq(s, kv)))
    }
}

/// Equality that first compares string pointers: attribute strings are usually the same
/// `&'static str` every call, which makes the comparison a pointer check, not a `memcmp`.
#[inline]
fn str_eq(a: &str, b: &str) -> bool {
    (a.as_ptr() == b.as_ptr() && a.len() == b.len()) || a == b
}

#[inline]
fn kv_eq(a: &KeyValue, b: &KeyValue) -> bool {
    str_eq(a.key.as_str(), b.key.as_str())
        && match (&a.value, &b.value) {
            (Value::String(x), Value::String(y)) => str_eq(x, y),
            (x, y) => x == y,
        }
}

/// A cheap identity for a string: its address for static strings (no bytes read), its
/// content for owned ones. Equal identities are verified by [`kv_eq`], so a collision
/// only costs a cache miss.
#[inline]
#[allow(clippy::ptr_arg)] // The variant matters: static strings are identified by address.
fn str_identity(s: &Cow<'static, str>) -> u64 {
    match s {
        Cow::Borrowed(b) => (b.as_ptr() as u64) ^ ((b.len() as u64) << 48),
        Cow::Owned(o) => {
            let mut h = FxHasher::default();
            o.hash(&mut h);
            h.finish()
        }
    }
}

#[inline]
fn value_identity(v: &Value) -> u64 {
    match v {
        Value::Bool(b) => u64::from(*b) ^ 0xB001,
        Value::I64(i) => *i as u64,
        Value::F64(f) => f.to_bits(),
        Value::String(s) => str_identity(s),
        Value::Array(_) => {
            let mut h = FxHasher::default();
            v.hash(&mut h);
            h.finish()
        }
    }
}

/// The per-thread cache's key for a raw attribute slice: order-insensitive, and cheap.
#[inline]
fn identity_hash(attrs: &[KeyValue]) -> u64 {
    attrs.iter().fold(0u64, |acc, kv| {
        let h = (str_identity(kv.key.as_cow()).rotate_left(29) ^ value_identity(&kv.value))
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        acc.wrapping_add(h ^ (h >> 32))
    })
}

/// The attribute set `otel.metric.overflow=true` that overflowing measurements fold into.
pub(crate) fn overflow_attributes() -> Vec<KeyValue> {
    vec![KeyValue::new("otel.metric.overflow", Value::Bool(true))]
}

#[inline]
fn hash_kv(kv: &KeyValue) -> u64 {
    let mut h = FxHasher::default();
    kv.hash(&mut h);
    h.finish()
}

/// An order-insensitive hash: the sum of per-attribute hashes.
#[inline]
pub(crate) fn hash_attributes(attrs: &[KeyValue]) -> u64 {
    attrs
        .iter()
        .fold(0u64, |acc, kv| acc.wrapping_add(hash_kv(kv)))
}

#[derive(Default)]
struct Table {
    by_hash: FxHashMap<u64, Vec<Arc<Series>>>,
    all: Vec<Arc<Series>>,
    overflow: Option<Arc<Series>>,
}

/// All series of one instrument.
pub(crate) struct SeriesMap {
    instrument_id: u64,
    kind: AggregationKind,
    cardinality_limit: usize,
    table: RwLock<Table>,
    overflowed: AtomicU64,
}

const CACHE_SLOTS: usize = 256;

struct CacheSlot {
    instrument_id: u64,
    hash: u64,
    series: Arc<Series>,
}

thread_local! {
    static CACHE: RefCell<Vec<Option<CacheSlot>>> = const { RefCell::new(Vec::new()) };
}

#[inline]
fn slot_index(instrument_id: u64, hash: u64) -> usize {
    ((hash ^ instrument_id.wrapping_mul(0x9E37_79B9_7F4A_7C15)) >> 3) as usize & (CACHE_SLOTS - 1)
}

static NEXT_SERIES_ID: AtomicU64 = AtomicU64::new(1);

impl SeriesMap {
    pub(crate) fn new(instrument_id: u64, kind: AggregationKind, cardinality_limit: usize) -> Self {
        SeriesMap {
            instrument_id,
            kind,
            cardinality_limit: cardinality_limit.max(2),
            table: RwLock::new(Table::default()),
            overflowed: AtomicU64::new(0),
        }
    }

    pub(crate) fn kind(&self) -> &AggregationKind {
        &self.kind
    }

    /// Measurements folded into the overflow series so far.
    pub(crate) fn overflowed(&self) -> u64 {
        self.overflowed.load(Ordering::Relaxed)
    }

    /// Runs `f` on the series for `attrs`, creating it if needed.
    #[inline]
    pub(crate) fn with_series(&self, attrs: &[KeyValue], f: impl FnOnce(&Series)) {
        let hash = identity_hash(attrs);
        let slot = slot_index(self.instrument_id, hash);
        let mut f = Some(f);
        let _ = CACHE.try_with(|cache| {
            if let Ok(cache) = cache.try_borrow() {
                if let Some(Some(hit)) = cache.get(slot) {
                    if hit.instrument_id == self.instrument_id
                        && hit.hash == hash
                        && hit.series.matches(attrs)
                    {
                        if let Some(f) = f.take() {
                            f(&hit.series);
                        }
                    }
                }
            }
        });
        let Some(f) = f else { return };
        let (series, cacheable) = self.lookup_or_insert(attrs);
        if cacheable {
            let _ = CACHE.try_with(|cache| {
                if let Ok(mut cache) = cache.try_borrow_mut() {
                    if cache.is_empty() {
                        cache.resize_with(CACHE_SLOTS, || None);
                    }
                    cache[slot] = Some(CacheSlot {
                        instrument_id: self.instrument_id,
                        hash,
                        series: Arc::clone(&series),
                    });
                }
            });
        }
        f(&series);
    }

    /// The series for `attrs`, for a bound handle.
    pub(crate) fn bind(&self, attrs: &[KeyValue]) -> Arc<Series> {
        self.lookup_or_insert(attrs).0
    }

    /// Returns the series and whether the raw attributes may be cached for it.
    fn lookup_or_insert(&self, attrs: &[KeyValue]) -> (Arc<Series>, bool) {
        let mut normalized: Vec<KeyValue> = attrs.to_vec();
        let before = normalized.len();
        normalized.retain(|kv| !kv.key.as_str().is_empty());
        if normalized.len() != before {
            sdk_stats()
                .metric_empty_keys
                .add((before - normalized.len()) as u64);
        }
        normalize(&mut normalized);
        let hash = hash_attributes(&normalized);
        // The cache compares raw attributes against the stored set: only sets without
        // duplicate or empty keys can match it exactly.
        let cacheable = normalized.len() == attrs.len();
        {
            let table = self.table.read().unwrap_or_else(|p| p.into_inner());
            if let Some(found) = find(&table, hash, &normalized) {
                return (found, cacheable);
            }
        }
        let mut table = self.table.write().unwrap_or_else(|p| p.into_inner());
        if let Some(found) = find(&table, hash, &normalized) {
            return (found, cacheable);
        }
        // The overflow series counts toward the limit, so real series stop one short of it.
        if table.all.len() + 1 >= self.cardinality_limit {
            self.overflowed.fetch_add(1, Ordering::Relaxed);
            let kind = &self.kind;
            let overflow = table
                .overflow
                .get_or_insert_with(|| Arc::new(new_series(overflow_attributes(), kind)));
            return (Arc::clone(overflow), false);
        }
        let series = Arc::new(new_series(normalized, &self.kind));
        table
            .by_hash
            .entry(hash)
            .or_default()
            .push(Arc::clone(&series));
        table.all.push(Arc::clone(&series));
        (series, cacheable)
    }

    /// Every series, the overflow series last.
    pub(crate) fn snapshot(&self) -> Vec<Arc<Series>> {
        let table = self.table.read().unwrap_or_else(|p| p.into_inner());
        let mut all = table.all.clone();
        all.extend(table.overflow.iter().cloned());
        all
    }
}

fn new_series(attributes: Vec<KeyValue>, kind: &AggregationKind) -> Series {
    Series {
        id: NEXT_SERIES_ID.fetch_add(1, Ordering::Relaxed),
        attributes: attributes.into(),
        start_time: SystemTime::now(),
        agg: Aggregator::new(kind),
    }
}

fn find(table: &Table, hash: u64, normalized: &[KeyValue]) -> Option<Arc<Series>> {
    table
        .by_hash
        .get(&hash)?
        .iter()
        .find(|s| *s.attributes == *normalized)
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(map: &SeriesMap, attrs: &[KeyValue]) {
        map.with_series(attrs, |s| {
            if let Aggregator::Sum(sum) = &s.agg {
                sum.add_int(1)
            }
        });
    }

    #[test]
    fn attribute_order_does_not_split_series() {
        let map = SeriesMap::new(1, AggregationKind::IntSum, 2000);
        count(&map, &[KeyValue::new("a", 1i64), KeyValue::new("b", "x")]);
        count(&map, &[KeyValue::new("b", "x"), KeyValue::new("a", 1i64)]);
        let all = map.snapshot();
        assert_eq!(all.len(), 1);
        let Aggregator::Sum(sum) = &all[0].agg else {
            panic!("sum expected")
        };
        assert_eq!(sum.int_total(), 2);
    }

    #[test]
    fn past_the_limit_sets_fold_into_the_overflow_series() {
        let map = SeriesMap::new(2, AggregationKind::IntSum, 10);
        for i in 0..25i64 {
            count(&map, &[KeyValue::new("i", i)]);
        }
        let all = map.snapshot();
        assert_eq!(all.len(), 10, "9 real series plus the overflow series");
        let overflow = all.last().unwrap();
        assert_eq!(*overflow.attributes, *overflow_attributes());
        let Aggregator::Sum(sum) = &overflow.agg else {
            panic!("sum expected")
        };
        assert_eq!(sum.int_total(), 16);
        assert_eq!(map.overflowed(), 16);
        // A set that already has a series keeps using it.
        count(&map, &[KeyValue::new("i", 0i64)]);
        assert_eq!(map.overflowed(), 16);
    }

    #[test]
    fn empty_keys_are_dropped_and_counted() {
        let before = sdk_stats().metric_empty_keys.get();
        let map = SeriesMap::new(3, AggregationKind::IntSum, 100);
        count(&map, &[KeyValue::new("", 1i64), KeyValue::new("k", 2i64)]);
        assert_eq!(*map.snapshot()[0].attributes, [KeyValue::new("k", 2i64)]);
        assert!(sdk_stats().metric_empty_keys.get() > before);
    }
}
