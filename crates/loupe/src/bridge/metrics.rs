//! The `metrics` bridge: a [`metrics::Recorder`] backed by Loupe instruments, so
//! `metrics::counter!`, `gauge!` and `histogram!` land in a Loupe [`Meter`].
//!
//! * A **counter** becomes a Loupe `u64` counter; each label set is one series, bound once
//!   at registration so every increment is a striped atomic add.
//! * A **gauge** becomes a Loupe `f64` gauge. `set`, `increment` and `decrement` update the
//!   series' current value (kept per series as an atomic) and record the result.
//! * A **histogram** becomes a Loupe `f64` histogram with the default buckets
//!   ([`DEFAULT_HISTOGRAM_BOUNDARIES`](crate::metrics::DEFAULT_HISTOGRAM_BOUNDARIES),
//!   in seconds).
//!
//! Labels become string attributes. The same key (name and labels) registered twice gets
//! handles to the same series.
//!
//! **Descriptions and units** (`describe_counter!` …) are applied when the Loupe instrument
//! is created, i.e. at the first registration of that name. Describe before recording, as
//! `metrics` recommends: a description that arrives after the first registration is
//! ignored, because a Loupe instrument's descriptor does not change once created.
//! Units are written in UCUM (`s`, `ms`, `By`, `%`, `{count}` …).
//!
//! **Names** that break OpenTelemetry's instrument-name rules have each offending
//! character replaced by `_` (and an `m` prefixed if they do not start with a letter). A
//! name already registered in the meter with another kind (a counter and a gauge both
//! called `queue`) gets no-op handles for the later kind, counted in
//! [`sdk_stats().instrument_conflicts`](crate::common::stats::SdkStats::instrument_conflicts).
//!
//! ```
//! use loupe::metrics::{MeterProvider, MetricData, NumberValue};
//! use loupe::bridge::metrics::LoupeRecorder;
//!
//! let provider = MeterProvider::builder().build();
//! let recorder = LoupeRecorder::new(provider.meter("my_app"));
//! metrics::with_local_recorder(&recorder, || {
//!     metrics::counter!("jobs.done", "queue" => "email").increment(3);
//!     metrics::gauge!("jobs.waiting").set(12.0);
//! });
//! // In an application: `loupe::bridge::metrics::install(meter)?` once at start-up.
//!
//! let metrics = provider.collect();
//! let MetricData::Sum { points, .. } = &metrics.metric("jobs.done").unwrap().data else {
//!     unreachable!()
//! };
//! assert_eq!(points[0].value, NumberValue::U64(3));
//! ```

use crate::common::attribute::KeyValue;
use crate::common::stats::sdk_stats;
use crate::metrics::{
    BoundCounter, BoundGauge, BoundHistogram, Counter, Gauge, Histogram, Meter, MetricError,
};
use metrics::{
    CounterFn, GaugeFn, HistogramFn, Key, KeyName, Metadata, Recorder, SetRecorderError,
    SharedString, Unit,
};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// A [`metrics::Recorder`] that records into a Loupe [`Meter`]. Cheap to clone: clones
/// share the series.
#[derive(Clone)]
pub struct LoupeRecorder {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for LoupeRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoupeRecorder")
            .field("meter", &self.inner.meter)
            .finish()
    }
}

/// Installs a [`LoupeRecorder`] for `meter` as the process-wide `metrics` recorder.
/// Fails (handing the recorder back) if one is already installed.
pub fn install(meter: Meter) -> Result<(), SetRecorderError<LoupeRecorder>> {
    metrics::set_global_recorder(LoupeRecorder::new(meter))
}

struct Inner {
    meter: Meter,
    /// Units and descriptions by kind and name, from the `describe_*` calls.
    descriptions: Mutex<HashMap<(Kind, String), Description>>,
    /// Loupe instruments by name (registration is the slow path: a plain lock will do).
    instruments: Mutex<Instruments>,
    counters: Series<CounterSeries>,
    gauges: Series<GaugeSeries>,
    histograms: Series<HistogramSeries>,
}

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

struct Description {
    unit: Option<Unit>,
    text: SharedString,
}

#[derive(Default)]
struct Instruments {
    counters: HashMap<String, Counter<u64>>,
    gauges: HashMap<String, Gauge<f64>>,
    histograms: HashMap<String, Histogram<f64>>,
}

impl LoupeRecorder {
    /// A recorder whose instruments are created in `meter`.
    pub fn new(meter: Meter) -> Self {
        LoupeRecorder {
            inner: Arc::new(Inner {
                meter,
                descriptions: Mutex::default(),
                instruments: Mutex::default(),
                counters: Series::default(),
                gauges: Series::default(),
                histograms: Series::default(),
            }),
        }
    }

    fn describe(&self, kind: Kind, key: KeyName, unit: Option<Unit>, text: SharedString) {
        self.inner
            .descriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert((kind, key.as_str().to_owned()), Description { unit, text });
    }
}

impl Inner {
    /// The Loupe instrument for `name`, created on first use with its description.
    fn instrument<I: Clone>(
        &self,
        kind: Kind,
        name: &str,
        pick: impl Fn(&mut Instruments) -> &mut HashMap<String, I>,
        build: impl Fn(&Meter, String, &str, &str) -> Result<I, MetricError>,
        noop: impl Fn() -> I,
    ) -> I {
        let mut instruments = self.instruments.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = pick(&mut instruments).get(name) {
            return existing.clone();
        }
        let (unit, description) = self
            .descriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&(kind, name.to_owned()))
            .map(|d| (d.unit.map_or("", ucum), d.text.to_string()))
            .unwrap_or_default();
        let instrument = match build(&self.meter, instrument_name(name), unit, &description) {
            Ok(instrument) => instrument,
            Err(_) => {
                // A conflict: the name is registered with another kind or unit.
                sdk_stats().instrument_conflicts.bump();
                noop()
            }
        };
        pick(&mut instruments).insert(name.to_owned(), instrument.clone());
        instrument
    }
}

/// The attributes of a key's labels.
fn attributes(key: &Key) -> Vec<KeyValue> {
    key.labels()
        .map(|l| KeyValue::new(l.key().to_owned(), l.value().to_owned()))
        .collect()
}

/// `name` made a valid OpenTelemetry instrument name.
fn instrument_name(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-' | '/') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic()) {
        out.insert(0, 'm');
    }
    out.truncate(255);
    out
}

/// A `metrics` unit in UCUM, as OpenTelemetry writes units.
fn ucum(unit: Unit) -> &'static str {
    match unit {
        Unit::Count => "{count}",
        Unit::Percent => "%",
        Unit::Seconds => "s",
        Unit::Milliseconds => "ms",
        Unit::Microseconds => "us",
        Unit::Nanoseconds => "ns",
        Unit::Tebibytes => "TiBy",
        Unit::Gibibytes => "GiBy",
        Unit::Mebibytes => "MiBy",
        Unit::Kibibytes => "KiBy",
        Unit::Bytes => "By",
        Unit::TerabitsPerSecond => "Tbit/s",
        Unit::GigabitsPerSecond => "Gbit/s",
        Unit::MegabitsPerSecond => "Mbit/s",
        Unit::KilobitsPerSecond => "kbit/s",
        Unit::BitsPerSecond => "bit/s",
        Unit::CountPerSecond => "{count}/s",
    }
}

impl Recorder for LoupeRecorder {
    fn describe_counter(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(Kind::Counter, key, unit, description);
    }

    fn describe_gauge(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(Kind::Gauge, key, unit, description);
    }

    fn describe_histogram(&self, key: KeyName, unit: Option<Unit>, description: SharedString) {
        self.describe(Kind::Histogram, key, unit, description);
    }

    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> metrics::Counter {
        let series = self.inner.counters.get_or_insert(key, || {
            let counter = self.inner.instrument(
                Kind::Counter,
                key.name(),
                |i| &mut i.counters,
                |meter, name, unit, description| {
                    meter
                        .u64_counter(name)
                        .with_unit(unit)
                        .with_description(description)
                        .build()
                },
                Counter::noop,
            );
            CounterSeries {
                bound: counter.bind(&attributes(key)),
                absolute: AtomicU64::new(0),
            }
        });
        metrics::Counter::from_arc(series)
    }

    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> metrics::Gauge {
        let series = self.inner.gauges.get_or_insert(key, || {
            let gauge = self.inner.instrument(
                Kind::Gauge,
                key.name(),
                |i| &mut i.gauges,
                |meter, name, unit, description| {
                    meter
                        .f64_gauge(name)
                        .with_unit(unit)
                        .with_description(description)
                        .build()
                },
                Gauge::noop,
            );
            GaugeSeries {
                bound: gauge.bind(&attributes(key)),
                value: AtomicU64::new(0f64.to_bits()),
            }
        });
        metrics::Gauge::from_arc(series)
    }

    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> metrics::Histogram {
        let series = self.inner.histograms.get_or_insert(key, || {
            let histogram = self.inner.instrument(
                Kind::Histogram,
                key.name(),
                |i| &mut i.histograms,
                |meter, name, unit, description| {
                    meter
                        .f64_histogram(name)
                        .with_unit(unit)
                        .with_description(description)
                        .build()
                },
                Histogram::noop,
            );
            HistogramSeries(histogram.bind(&attributes(key)))
        });
        metrics::Histogram::from_arc(series)
    }
}

/// One counter series.
struct CounterSeries {
    bound: BoundCounter<u64>,
    /// The largest value passed to `absolute` so far.
    absolute: AtomicU64,
}

impl CounterFn for CounterSeries {
    fn increment(&self, value: u64) {
        self.bound.add(value);
    }

    /// Raises the counter to `value` by adding the difference from the largest absolute
    /// value seen before (nothing if `value` is not larger), so late or reordered calls
    /// never count twice. Increments are not part of that baseline: a series should be
    /// fed either by `increment` or by `absolute`, not both.
    fn absolute(&self, value: u64) {
        let previous = self.absolute.fetch_max(value, Ordering::Relaxed);
        if value > previous {
            self.bound.add(value - previous);
        }
    }
}

/// One gauge series: the current value, as `f64` bits, and the Loupe series it feeds.
struct GaugeSeries {
    bound: BoundGauge<f64>,
    value: AtomicU64,
}

impl GaugeSeries {
    fn update(&self, change: impl Fn(f64) -> f64) {
        let result = self
            .value
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                let next = change(f64::from_bits(bits));
                next.is_finite().then(|| next.to_bits())
            });
        match result {
            Ok(previous) => self.publish(change(f64::from_bits(previous))),
            // NaN or infinite: the Loupe gauge drops and counts it; the value stays.
            Err(current) => self.bound.record(change(f64::from_bits(current))),
        }
    }

    /// Records `value`, then again whatever another thread stored meanwhile, so the last
    /// value recorded is the last value stored even when updates race.
    fn publish(&self, mut value: f64) {
        loop {
            self.bound.record(value);
            let now = f64::from_bits(self.value.load(Ordering::Acquire));
            if now.to_bits() == value.to_bits() {
                return;
            }
            value = now;
        }
    }
}

impl GaugeFn for GaugeSeries {
    fn increment(&self, value: f64) {
        self.update(|current| current + value);
    }

    fn decrement(&self, value: f64) {
        self.update(|current| current - value);
    }

    fn set(&self, value: f64) {
        self.update(|_| value);
    }
}

/// One histogram series.
struct HistogramSeries(BoundHistogram<f64>);

impl HistogramFn for HistogramSeries {
    fn record(&self, value: f64) {
        self.0.record(value);
    }
}

/// Series by key, sharded so that registrations from many threads rarely share a lock.
/// `metrics` macros register on every call, so the lookup is the hot path.
struct Series<T> {
    shards: [RwLock<SeriesMap<T>>; SHARDS],
}

const SHARDS: usize = 16;

// `metrics::Key` caches its hash, and its `Hash` writes only that hash: use it as is.
#[allow(clippy::mutable_key_type)]
type SeriesMap<T> = HashMap<Key, Arc<T>, BuildHasherDefault<KeyHashPassThrough>>;

impl<T> Default for Series<T> {
    fn default() -> Self {
        Series {
            shards: std::array::from_fn(|_| RwLock::default()),
        }
    }
}

impl<T> Series<T> {
    #[allow(clippy::mutable_key_type)]
    fn get_or_insert(&self, key: &Key, create: impl FnOnce() -> T) -> Arc<T> {
        let shard = &self.shards[(key.get_hash() as usize) % SHARDS];
        if let Some(found) = shard.read().unwrap_or_else(|p| p.into_inner()).get(key) {
            return Arc::clone(found);
        }
        // Create outside the shard's lock: it takes the instrument locks.
        let created = Arc::new(create());
        let mut map = shard.write().unwrap_or_else(|p| p.into_inner());
        Arc::clone(map.entry(key.clone()).or_insert(created))
    }
}

/// A hasher that passes `metrics::Key`'s precomputed hash through.
#[derive(Default)]
struct KeyHashPassThrough(u64);

impl Hasher for KeyHashPassThrough {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not used by `Key`; fold bytes in anyway so the hasher is correct for any input.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_made_valid_instrument_names() {
        assert_eq!(instrument_name("http.requests"), "http.requests");
        assert_eq!(instrument_name("queue:depth total"), "queue_depth_total");
        assert_eq!(instrument_name("5xx"), "m5xx");
        assert_eq!(instrument_name(""), "m");
    }
}
