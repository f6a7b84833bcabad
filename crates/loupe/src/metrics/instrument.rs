//! Instrument handles: the dynamic path (attributes per call) and pre-bound handles.

use super::cells::StripedSum;
use super::series::{Aggregator, Series, SeriesMap};
use crate::common::attribute::KeyValue;
use crate::common::scope::InstrumentationScope;
use crate::common::stats::sdk_stats;
use std::marker::PhantomData;
use std::sync::Arc;

/// What kind of instrument a name is registered as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InstrumentKind {
    /// Monotonic sum.
    Counter,
    /// Sum that may go down.
    UpDownCounter,
    /// Last value.
    Gauge,
    /// Distribution.
    Histogram,
    /// Monotonic sum read by a callback at collection.
    ObservableCounter,
    /// Sum that may go down, read by a callback.
    ObservableUpDownCounter,
    /// Last value, read by a callback.
    ObservableGauge,
}

/// The number type of an instrument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NumberKind {
    /// Unsigned integers.
    U64,
    /// Signed integers.
    I64,
    /// Floats.
    F64,
}

/// What identifies an instrument, with its description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    /// The name as registered.
    pub name: String,
    /// The description of the first registration.
    pub description: String,
    /// The unit.
    pub unit: String,
    /// The kind.
    pub kind: InstrumentKind,
    /// The number type.
    pub number: NumberKind,
    /// The meter's scope.
    pub scope: &'static InstrumentationScope,
}

pub(crate) type Callback = Box<dyn Fn(&Observer<'_>) + Send + Sync>;

pub(crate) struct InstrumentCore {
    pub(crate) descriptor: Descriptor,
    pub(crate) series: SeriesMap,
    pub(crate) callbacks: Vec<Callback>,
    /// Measurements dropped for being invalid (NaN, negative increments).
    pub(crate) dropped: crate::common::stats::StatCounter,
}

impl InstrumentCore {
    #[inline]
    fn record_f64(&self, v: f64, attrs: &[KeyValue]) {
        if self.accept(v) {
            self.series.with_series(attrs, |s| {
                record_into(s, v.to_bits(), v, self.descriptor.number)
            });
        }
    }

    /// Drops NaN, infinities and negative counter increments, counting them.
    #[inline]
    fn accept(&self, v: f64) -> bool {
        if !v.is_finite() {
            sdk_stats().non_finite_measurements.bump();
            self.dropped.bump();
            return false;
        }
        if v < 0.0 && self.descriptor.kind == InstrumentKind::Counter {
            sdk_stats().negative_increments.bump();
            self.dropped.bump();
            return false;
        }
        true
    }
}

/// Records into a series. `bits` is the raw value (u64, i64 as two's complement, or f64
/// bits); `float` the same value as f64 for histograms.
#[inline]
fn record_into(series: &Series, bits: u64, float: f64, number: NumberKind) {
    match &series.agg {
        Aggregator::Sum(sum) => match number {
            NumberKind::F64 => sum.add_float(float),
            NumberKind::U64 | NumberKind::I64 => sum.add_int(bits),
        },
        Aggregator::LastValue(cell) => cell.set(bits),
        Aggregator::Histogram(h) => h.record(float),
        Aggregator::Exponential(h) => h.record(float),
    }
}

/// Passed to observable instruments' callbacks to report current values.
pub struct Observer<'a> {
    pub(crate) core: &'a InstrumentCore,
}

impl Observer<'_> {
    /// Reports a `u64` value (for `u64` instruments).
    pub fn observe_u64(&self, value: u64, attributes: &[KeyValue]) {
        self.observe_bits(value, value as f64, attributes);
    }

    /// Reports an `i64` value (for `i64` instruments).
    pub fn observe_i64(&self, value: i64, attributes: &[KeyValue]) {
        self.observe_bits(value as u64, value as f64, attributes);
    }

    /// Reports an `f64` value (for `f64` instruments). NaN and infinities are dropped.
    pub fn observe_f64(&self, value: f64, attributes: &[KeyValue]) {
        if value.is_finite() {
            self.observe_bits(value.to_bits(), value, attributes);
        } else {
            sdk_stats().non_finite_measurements.bump();
        }
    }

    fn observe_bits(&self, bits: u64, float: f64, attributes: &[KeyValue]) {
        let number = self.core.descriptor.number;
        // Convert between number types so a mismatched observe still reports the value.
        let bits = match number {
            NumberKind::F64 => float.to_bits(),
            NumberKind::U64 | NumberKind::I64 => bits,
        };
        self.core.series.with_series(attributes, |s| {
            if let Aggregator::LastValue(cell) = &s.agg {
                cell.set(bits);
            }
        });
    }
}

macro_rules! instrument {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        pub struct $name<T> {
            pub(crate) core: Option<Arc<InstrumentCore>>,
            _number: PhantomData<fn(T)>,
        }

        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                $name { core: self.core.clone(), _number: PhantomData }
            }
        }

        impl<T> std::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).field("descriptor", &self.core.as_ref().map(|c| &c.descriptor)).finish()
            }
        }

        impl<T> $name<T> {
            pub(crate) fn from_core(core: Arc<InstrumentCore>) -> Self {
                $name { core: Some(core), _number: PhantomData }
            }

            /// An instrument that records nothing (for disabled telemetry).
            pub fn noop() -> Self {
                $name { core: None, _number: PhantomData }
            }

            /// The instrument's name, unit and kind (`None` for a no-op instrument).
            pub fn descriptor(&self) -> Option<&Descriptor> {
                self.core.as_ref().map(|c| &c.descriptor)
            }
        }
    };
}

instrument!(
    /// A monotonic sum: requests served, bytes sent. Negative increments are dropped.
    Counter
);
instrument!(
    /// A sum that may go down: queue length, active requests.
    UpDownCounter
);
instrument!(
    /// The last value recorded: temperature, pool size.
    Gauge
);
instrument!(
    /// A distribution: latencies, sizes. NaN and infinite values are dropped.
    Histogram
);

/// A series-bound handle for hot code: no attribute lookup per call.
///
/// ```
/// # let provider = loupe::metrics::MeterProvider::builder().build();
/// let requests = provider.meter("http").u64_counter("http.requests").build()?;
/// let ok = requests.bind(&[loupe::KeyValue::new("status", "ok")]);
/// ok.add(1); // a striped relaxed atomic add
/// # Ok::<(), loupe::metrics::MetricError>(())
/// ```
pub struct Bound<T> {
    series: Option<Arc<Series>>,
    core: Option<Arc<InstrumentCore>>,
    _number: PhantomData<fn(T)>,
}

impl<T> Clone for Bound<T> {
    fn clone(&self) -> Self {
        Bound {
            series: self.series.clone(),
            core: self.core.clone(),
            _number: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Bound<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound")
            .field("attributes", &self.series.as_ref().map(|s| &s.attributes))
            .finish()
    }
}

fn bind<T>(core: &Option<Arc<InstrumentCore>>, attrs: &[KeyValue]) -> Bound<T> {
    Bound {
        series: core.as_ref().map(|c| c.series.bind(attrs)),
        core: core.clone(),
        _number: PhantomData,
    }
}

impl<T> Bound<T> {
    #[inline]
    fn sum(&self) -> Option<&StripedSum> {
        match &self.series.as_ref()?.agg {
            Aggregator::Sum(sum) => Some(sum),
            _ => None,
        }
    }

    #[inline]
    fn record_float(&self, v: f64) {
        if let (Some(series), Some(core)) = (&self.series, &self.core) {
            if core.accept(v) {
                record_into(series, v.to_bits(), v, core.descriptor.number);
            }
        }
    }
}

/// A bound counter handle.
pub type BoundCounter<T> = Bound<Counter<T>>;
/// A bound up-down counter handle.
pub type BoundUpDownCounter<T> = Bound<UpDownCounter<T>>;
/// A bound histogram handle.
pub type BoundHistogram<T> = Bound<Histogram<T>>;
/// A bound gauge handle.
pub type BoundGauge<T> = Bound<Gauge<T>>;

impl Counter<u64> {
    /// Adds `value` to the series for `attributes`.
    #[inline]
    pub fn add(&self, value: u64, attributes: &[KeyValue]) {
        if let Some(core) = &self.core {
            core.series.with_series(attributes, |s| {
                record_into(s, value, value as f64, NumberKind::U64)
            });
        }
    }

    /// A handle bound to one attribute set, for hot code.
    pub fn bind(&self, attributes: &[KeyValue]) -> Bound<Counter<u64>> {
        bind(&self.core, attributes)
    }
}

impl Bound<Counter<u64>> {
    /// Adds `value`: one relaxed atomic add on this thread's shard.
    #[inline]
    pub fn add(&self, value: u64) {
        if let Some(sum) = self.sum() {
            sum.add_int(value);
        }
    }
}

impl Counter<f64> {
    /// Adds `value`; negative, NaN and infinite increments are dropped and counted.
    #[inline]
    pub fn add(&self, value: f64, attributes: &[KeyValue]) {
        if let Some(core) = &self.core {
            core.record_f64(value, attributes);
        }
    }

    /// A handle bound to one attribute set, for hot code.
    pub fn bind(&self, attributes: &[KeyValue]) -> Bound<Counter<f64>> {
        bind(&self.core, attributes)
    }
}

impl Bound<Counter<f64>> {
    /// Adds `value`; negative, NaN and infinite increments are dropped and counted.
    #[inline]
    pub fn add(&self, value: f64) {
        self.record_float(value);
    }
}

impl UpDownCounter<i64> {
    /// Adds `value` (negative to subtract).
    #[inline]
    pub fn add(&self, value: i64, attributes: &[KeyValue]) {
        if let Some(core) = &self.core {
            core.series.with_series(attributes, |s| {
                record_into(s, value as u64, value as f64, NumberKind::I64)
            });
        }
    }

    /// A handle bound to one attribute set, for hot code.
    pub fn bind(&self, attributes: &[KeyValue]) -> Bound<UpDownCounter<i64>> {
        bind(&self.core, attributes)
    }
}

impl Bound<UpDownCounter<i64>> {
    /// Adds `value` (negative to subtract).
    #[inline]
    pub fn add(&self, value: i64) {
        if let Some(sum) = self.sum() {
            sum.add_int(value as u64);
        }
    }
}

impl UpDownCounter<f64> {
    /// Adds `value`; NaN and infinities are dropped and counted.
    #[inline]
    pub fn add(&self, value: f64, attributes: &[KeyValue]) {
        if let Some(core) = &self.core {
            core.record_f64(value, attributes);
        }
    }

    /// A handle bound to one attribute set, for hot code.
    pub fn bind(&self, attributes: &[KeyValue]) -> Bound<UpDownCounter<f64>> {
        bind(&self.core, attributes)
    }
}

impl Bound<UpDownCounter<f64>> {
    /// Adds `value`; NaN and infinities are dropped and counted.
    #[inline]
    pub fn add(&self, value: f64) {
        self.record_float(value);
    }
}

macro_rules! recorder {
    ($inst:ident, $method:ident, $doc:literal) => {
        impl $inst<f64> {
            #[doc = $doc]
            #[inline]
            pub fn $method(&self, value: f64, attributes: &[KeyValue]) {
                if let Some(core) = &self.core {
                    core.record_f64(value, attributes);
                }
            }

            /// A handle bound to one attribute set, for hot code.
            pub fn bind(&self, attributes: &[KeyValue]) -> Bound<$inst<f64>> {
                bind(&self.core, attributes)
            }
        }

        impl Bound<$inst<f64>> {
            #[doc = $doc]
            #[inline]
            pub fn $method(&self, value: f64) {
                self.record_float(value);
            }
        }

        impl $inst<u64> {
            #[doc = $doc]
            #[inline]
            pub fn $method(&self, value: u64, attributes: &[KeyValue]) {
                if let Some(core) = &self.core {
                    core.series.with_series(attributes, |s| {
                        record_into(s, value, value as f64, NumberKind::U64)
                    });
                }
            }

            /// A handle bound to one attribute set, for hot code.
            pub fn bind(&self, attributes: &[KeyValue]) -> Bound<$inst<u64>> {
                bind(&self.core, attributes)
            }
        }

        impl Bound<$inst<u64>> {
            #[doc = $doc]
            #[inline]
            pub fn $method(&self, value: u64) {
                if let Some(series) = &self.series {
                    record_into(series, value, value as f64, NumberKind::U64);
                }
            }
        }
    };
}

recorder!(
    Histogram,
    record,
    "Records one measurement; NaN and infinite values are dropped and counted."
);
recorder!(
    Gauge,
    record,
    "Sets the current value; NaN and infinite values are dropped and counted."
);

impl Gauge<i64> {
    /// Sets the current value.
    #[inline]
    pub fn record(&self, value: i64, attributes: &[KeyValue]) {
        if let Some(core) = &self.core {
            core.series.with_series(attributes, |s| {
                record_into(s, value as u64, value as f64, NumberKind::I64)
            });
        }
    }

    /// A handle bound to one attribute set, for hot code.
    pub fn bind(&self, attributes: &[KeyValue]) -> Bound<Gauge<i64>> {
        bind(&self.core, attributes)
    }
}

impl Bound<Gauge<i64>> {
    /// Sets the current value.
    #[inline]
    pub fn record(&self, value: i64) {
        if let Some(series) = &self.series {
            record_into(series, value as u64, value as f64, NumberKind::I64);
        }
    }
}

/// A registered observable instrument; its callback runs at each collection. Keep it (or
/// drop it: the callback stays registered for the provider's lifetime).
#[derive(Clone)]
pub struct ObservableInstrument {
    pub(crate) core: Arc<InstrumentCore>,
}

impl std::fmt::Debug for ObservableInstrument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ObservableInstrument")
            .field("descriptor", &self.core.descriptor)
            .finish()
    }
}

impl ObservableInstrument {
    /// The instrument's name, unit and kind.
    pub fn descriptor(&self) -> &Descriptor {
        &self.core.descriptor
    }
}
