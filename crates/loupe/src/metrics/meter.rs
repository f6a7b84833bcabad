//! Meter providers (one metrics pipeline), meters (one per scope) and registration.

use super::instrument::{
    Callback, Counter, Descriptor, Gauge, Histogram, InstrumentCore, InstrumentKind, NumberKind,
    ObservableInstrument, Observer, UpDownCounter,
};
use super::reader::PeriodicReader;
use super::series::{AggregationKind, SeriesMap};
use crate::common::error::ExportError;
use crate::common::resource::Resource;
use crate::common::scope::InstrumentationScope;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Histogram buckets used when none are given: the LLM-Simulator `duration_buckets`
/// (seconds), which are also Prometheus' defaults.
pub const DEFAULT_HISTOGRAM_BOUNDARIES: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Series per instrument before new attribute sets fold into the overflow series.
pub const DEFAULT_CARDINALITY_LIMIT: usize = 2000;

/// Why an instrument could not be registered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricError {
    /// The name breaks the OpenTelemetry instrument-name rules.
    #[error(
        "invalid instrument name `{name}`: names start with a letter and contain only letters, digits, `_`, `.`, `-` and `/`, at most 255 characters"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// The name is already registered in this scope with another kind, number type or unit.
    #[error(
        "metric registration failed: duplicate metric name `{name}` in scope `{scope}`: registered as {existing}, requested as {requested}; use a unique metric name, or register it with the same kind and unit"
    )]
    Conflict {
        /// The instrument name.
        name: String,
        /// The meter's scope name.
        scope: String,
        /// The existing registration.
        existing: String,
        /// The conflicting request.
        requested: String,
    },
    /// Histogram boundaries must be finite and strictly increasing.
    #[error("invalid histogram boundaries {boundaries:?} for `{name}`: they must be finite and strictly increasing")]
    InvalidBoundaries {
        /// The instrument name.
        name: String,
        /// The rejected boundaries.
        boundaries: Vec<f64>,
    },
    /// A cardinality limit below 2 leaves no room for a real series beside the overflow one.
    #[error("invalid cardinality limit {limit} for `{name}`: it must be at least 2")]
    InvalidCardinalityLimit {
        /// The instrument name.
        name: String,
        /// The rejected limit.
        limit: usize,
    },
}

pub(crate) struct MeterShared {
    pub(crate) resource: Arc<Resource>,
    pub(crate) instruments: RwLock<Vec<Arc<InstrumentCore>>>,
    cardinality_limit: usize,
    readers: Mutex<Vec<PeriodicReader>>,
    pub(crate) start_time: std::time::SystemTime,
}

/// Owns a metrics pipeline: instruments, their series, and the readers that export them.
/// Cloning shares it.
#[derive(Clone)]
pub struct MeterProvider {
    pub(crate) shared: Arc<MeterShared>,
}

impl std::fmt::Debug for MeterProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.shared.instruments.read().map(|i| i.len()).unwrap_or(0);
        f.debug_struct("MeterProvider")
            .field("resource", &self.shared.resource)
            .field("instruments", &count)
            .finish()
    }
}

impl MeterProvider {
    /// Starts configuring a provider.
    pub fn builder() -> MeterProviderBuilder {
        MeterProviderBuilder {
            resource: Resource::default(),
            cardinality_limit: DEFAULT_CARDINALITY_LIMIT,
            readers: Vec::new(),
        }
    }

    /// A meter for an instrumentation scope.
    pub fn meter(&self, scope: impl Into<InstrumentationScope>) -> Meter {
        Meter {
            shared: Some(Arc::clone(&self.shared)),
            scope: scope.into().intern(),
        }
    }

    /// The provider's resource.
    pub fn resource(&self) -> &Arc<Resource> {
        &self.shared.resource
    }

    /// Collects cumulative points for every instrument now (what a Prometheus scrape
    /// needs). For delta temporality, use a [`ManualReader`](super::ManualReader).
    pub fn collect(&self) -> super::data::ResourceMetrics {
        super::collect::collect(&self.shared, super::Temporality::Cumulative, None)
    }

    /// Makes every periodic reader collect and export now, waiting at most `timeout`.
    pub fn force_flush(&self, timeout: Duration) -> Result<(), ExportError> {
        let readers = self
            .shared
            .readers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let deadline = std::time::Instant::now() + timeout;
        readers.iter().try_for_each(|r| {
            r.force_flush(deadline.saturating_duration_since(std::time::Instant::now()))
        })
    }

    /// Exports a last time and stops every periodic reader, waiting at most `timeout`.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), ExportError> {
        let readers = std::mem::take(
            &mut *self
                .shared
                .readers
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let deadline = std::time::Instant::now() + timeout;
        readers.iter().try_for_each(|r| {
            r.shutdown(deadline.saturating_duration_since(std::time::Instant::now()))
        })
    }
}

/// Configures a [`MeterProvider`].
#[must_use]
pub struct MeterProviderBuilder {
    resource: Resource,
    cardinality_limit: usize,
    readers: Vec<PeriodicReader>,
}

impl MeterProviderBuilder {
    /// The resource metrics are attached to; default [`Resource::default`].
    pub fn with_resource(mut self, resource: Resource) -> Self {
        self.resource = resource;
        self
    }

    /// Series per instrument (default 2000, at least 2) before new attribute sets fold into
    /// one series marked `otel.metric.overflow=true`.
    pub fn with_cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = limit.max(2);
        self
    }

    /// Adds a reader that collects and exports periodically.
    pub fn with_reader(mut self, reader: PeriodicReader) -> Self {
        self.readers.push(reader);
        self
    }

    /// Builds the provider and starts its readers.
    pub fn build(self) -> MeterProvider {
        crate::common::stats::sdk_stats_start();
        let shared = Arc::new(MeterShared {
            resource: Arc::new(self.resource),
            instruments: RwLock::new(Vec::new()),
            cardinality_limit: self.cardinality_limit,
            readers: Mutex::new(Vec::new()),
            start_time: std::time::SystemTime::now(),
        });
        for reader in &self.readers {
            reader.start(Arc::downgrade(&shared));
        }
        *shared.readers.lock().unwrap_or_else(|p| p.into_inner()) = self.readers;
        MeterProvider { shared }
    }
}

/// Creates instruments for one instrumentation scope. Cheap to clone.
#[derive(Clone)]
pub struct Meter {
    // `None` for [`Meter::noop`].
    shared: Option<Arc<MeterShared>>,
    scope: &'static InstrumentationScope,
}

impl std::fmt::Debug for Meter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meter").field("scope", &self.scope).finish()
    }
}

macro_rules! builders {
    ($($(#[$doc:meta])* $method:ident => $ty:ty, $kind:ident, $number:ident;)*) => {
        impl Meter {
            $(
                $(#[$doc])*
                pub fn $method(&self, name: impl Into<String>) -> InstrumentBuilder<'_, $ty> {
                    self.builder(name.into(), InstrumentKind::$kind, NumberKind::$number)
                }
            )*
        }
    };
}

builders! {
    /// A `u64` counter.
    u64_counter => Counter<u64>, Counter, U64;
    /// An `f64` counter.
    f64_counter => Counter<f64>, Counter, F64;
    /// An `i64` up-down counter.
    i64_up_down_counter => UpDownCounter<i64>, UpDownCounter, I64;
    /// An `f64` up-down counter.
    f64_up_down_counter => UpDownCounter<f64>, UpDownCounter, F64;
    /// A `u64` gauge.
    u64_gauge => Gauge<u64>, Gauge, U64;
    /// An `i64` gauge.
    i64_gauge => Gauge<i64>, Gauge, I64;
    /// An `f64` gauge.
    f64_gauge => Gauge<f64>, Gauge, F64;
    /// An `f64` histogram (explicit buckets by default).
    f64_histogram => Histogram<f64>, Histogram, F64;
    /// A `u64` histogram (explicit buckets by default).
    u64_histogram => Histogram<u64>, Histogram, U64;
    /// A `u64` counter read by a callback at each collection.
    u64_observable_counter => ObservableInstrument, ObservableCounter, U64;
    /// An `f64` counter read by a callback.
    f64_observable_counter => ObservableInstrument, ObservableCounter, F64;
    /// An `i64` up-down counter read by a callback.
    i64_observable_up_down_counter => ObservableInstrument, ObservableUpDownCounter, I64;
    /// A `u64` gauge read by a callback.
    u64_observable_gauge => ObservableInstrument, ObservableGauge, U64;
    /// An `i64` gauge read by a callback.
    i64_observable_gauge => ObservableInstrument, ObservableGauge, I64;
    /// An `f64` gauge read by a callback.
    f64_observable_gauge => ObservableInstrument, ObservableGauge, F64;
}

impl Meter {
    /// A meter whose instruments record nothing (each is the instrument's `noop()`), so
    /// code written against a [`Meter`] can run with telemetry disabled or serve as an
    /// overhead baseline. Builders still validate names, boundaries and cardinality
    /// limits; a name registered twice with different kinds is not detected, since
    /// nothing is registered.
    pub fn noop() -> Meter {
        static NOOP: std::sync::OnceLock<&'static InstrumentationScope> =
            std::sync::OnceLock::new();
        Meter {
            shared: None,
            scope: NOOP.get_or_init(|| InstrumentationScope::new("loupe.noop").intern()),
        }
    }

    /// Whether this meter's instruments record (false for [`Meter::noop`]).
    pub fn is_enabled(&self) -> bool {
        self.shared.is_some()
    }

    /// The meter's scope.
    pub fn scope(&self) -> &'static InstrumentationScope {
        self.scope
    }

    fn builder<I>(
        &self,
        name: String,
        kind: InstrumentKind,
        number: NumberKind,
    ) -> InstrumentBuilder<'_, I> {
        InstrumentBuilder {
            meter: self,
            name,
            description: String::new(),
            unit: String::new(),
            kind,
            number,
            boundaries: None,
            exponential: None,
            cardinality_limit: None,
            callback: None,
            _instrument: PhantomData,
        }
    }
}

/// Describes an instrument before registration. Created by the [`Meter`] methods.
#[must_use = "an instrument builder does nothing until `build` is called"]
pub struct InstrumentBuilder<'a, I> {
    meter: &'a Meter,
    name: String,
    description: String,
    unit: String,
    kind: InstrumentKind,
    number: NumberKind,
    boundaries: Option<Vec<f64>>,
    exponential: Option<(usize, i8)>,
    cardinality_limit: Option<usize>,
    callback: Option<Callback>,
    _instrument: PhantomData<fn() -> I>,
}

impl<I> InstrumentBuilder<'_, I> {
    /// A human-readable description (the HELP line in Prometheus).
    pub fn with_description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// The unit, in UCUM (`s`, `ms`, `By`, `{request}`). Part of the identity.
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }

    /// Overrides the provider's cardinality limit for this instrument (at least 2).
    pub fn with_cardinality_limit(mut self, limit: usize) -> Self {
        self.cardinality_limit = Some(limit);
        self
    }

    fn register(self) -> Result<Arc<InstrumentCore>, MetricError> {
        validate_name(&self.name)?;
        if let Some(limit) = self.cardinality_limit.filter(|l| *l < 2) {
            return Err(MetricError::InvalidCardinalityLimit {
                name: self.name,
                limit,
            });
        }
        let aggregation = match self.kind {
            InstrumentKind::Counter | InstrumentKind::UpDownCounter => match self.number {
                NumberKind::F64 => AggregationKind::FloatSum,
                _ => AggregationKind::IntSum,
            },
            InstrumentKind::Gauge
            | InstrumentKind::ObservableCounter
            | InstrumentKind::ObservableUpDownCounter
            | InstrumentKind::ObservableGauge => AggregationKind::LastValue,
            InstrumentKind::Histogram => match self.exponential {
                Some((max_size, max_scale)) => AggregationKind::Exponential {
                    max_size,
                    max_scale,
                },
                None => {
                    let bounds = self
                        .boundaries
                        .clone()
                        .unwrap_or_else(|| DEFAULT_HISTOGRAM_BOUNDARIES.to_vec());
                    if bounds.iter().any(|b| !b.is_finite())
                        || bounds.windows(2).any(|w| w[0] >= w[1])
                    {
                        return Err(MetricError::InvalidBoundaries {
                            name: self.name,
                            boundaries: bounds,
                        });
                    }
                    AggregationKind::Histogram(Arc::from(bounds))
                }
            },
        };
        let Some(shared) = &self.meter.shared else {
            // A core that no provider holds: an observable callback never runs, and
            // synchronous instruments are replaced by their `noop()`.
            return Ok(self.into_core(aggregation, DEFAULT_CARDINALITY_LIMIT));
        };
        let mut instruments = shared
            .instruments
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = instruments.iter().find(|i| {
            std::ptr::eq(i.descriptor.scope, self.meter.scope)
                && i.descriptor.name.eq_ignore_ascii_case(&self.name)
        }) {
            let d = &existing.descriptor;
            let same = d.kind == self.kind
                && d.number == self.number
                && d.unit == self.unit
                && existing.series.kind() == &aggregation;
            if same && self.callback.is_none() {
                return Ok(Arc::clone(existing));
            }
            return Err(MetricError::Conflict {
                name: self.name.clone(),
                scope: self.meter.scope.name.clone(),
                existing: describe(d.kind, d.number, &d.unit),
                requested: if same {
                    "a second observable instrument with its own callback".into()
                } else {
                    describe(self.kind, self.number, &self.unit)
                },
            });
        }
        let limit = self.cardinality_limit.unwrap_or(shared.cardinality_limit);
        let core = self.into_core(aggregation, limit);
        instruments.push(Arc::clone(&core));
        Ok(core)
    }
}

impl<I> InstrumentBuilder<'_, I> {
    fn into_core(self, aggregation: AggregationKind, limit: usize) -> Arc<InstrumentCore> {
        static NEXT_ID: AtomicU64 = AtomicU64::new(1);
        Arc::new(InstrumentCore {
            descriptor: Descriptor {
                name: self.name,
                description: self.description,
                unit: self.unit,
                kind: self.kind,
                number: self.number,
                scope: self.meter.scope,
            },
            series: SeriesMap::new(NEXT_ID.fetch_add(1, Ordering::Relaxed), aggregation, limit),
            callbacks: self.callback.into_iter().collect(),
            dropped: Default::default(),
        })
    }
}

fn describe(kind: InstrumentKind, number: NumberKind, unit: &str) -> String {
    format!(
        "{kind:?}<{}> with unit `{unit}`",
        format!("{number:?}").to_lowercase()
    )
}

/// OpenTelemetry instrument names: `[A-Za-z][A-Za-z0-9_.\-/]{0,254}`.
fn validate_name(name: &str) -> Result<(), MetricError> {
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 255
        && bytes[0].is_ascii_alphabetic()
        && bytes
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'/'));
    if ok {
        Ok(())
    } else {
        Err(MetricError::InvalidName {
            name: name.to_owned(),
        })
    }
}

macro_rules! build_sync {
    ($($ty:ident),*) => {
        $(impl<T> InstrumentBuilder<'_, $ty<T>> {
            /// Registers the instrument, or returns the one already registered under this
            /// name with the same kind and unit.
            pub fn build(self) -> Result<$ty<T>, MetricError> {
                let enabled = self.meter.is_enabled();
                let core = self.register()?;
                Ok(if enabled { $ty::from_core(core) } else { $ty::noop() })
            }
        })*
    };
}

build_sync!(Counter, UpDownCounter, Gauge, Histogram);

impl<T> InstrumentBuilder<'_, Histogram<T>> {
    /// Explicit bucket upper bounds (finite, strictly increasing). Default
    /// [`DEFAULT_HISTOGRAM_BOUNDARIES`].
    pub fn with_boundaries(mut self, boundaries: Vec<f64>) -> Self {
        self.boundaries = Some(boundaries);
        self
    }

    /// Uses a base-2 exponential histogram with at most `max_size` buckets per sign
    /// (OpenTelemetry's default is 160) instead of explicit buckets: accurate percentiles
    /// without choosing bounds.
    pub fn with_exponential_buckets(mut self, max_size: usize) -> Self {
        self.exponential = Some((max_size.max(2), 20));
        self
    }
}

impl InstrumentBuilder<'_, ObservableInstrument> {
    /// The callback that reports values at each collection. Required.
    pub fn with_callback(
        mut self,
        callback: impl Fn(&Observer<'_>) + Send + Sync + 'static,
    ) -> Self {
        self.callback = Some(Box::new(callback));
        self
    }

    /// Registers the instrument.
    pub fn build(self) -> Result<ObservableInstrument, MetricError> {
        self.register().map(|core| ObservableInstrument { core })
    }
}

#[cfg(test)]
mod tests;
